"""A case's regions beyond the primary scan's tumor: its other scans and the peritumoral shells.

Each other scan is read, checked against the primary scan (the same DICOM frame of reference when
both are DICOM, a modality that agrees with its name or its preset) and given a tumor mask: its own,
or the primary mask carried onto its grid (``regions.carry_mask``: partial-volume coverage, refused
when the scan does not show the whole tumor). A scan the case lacks is recorded as missing, not as a
failure: its columns stay empty and a model imputes them. Features are extracted per scan with that
scan's settings (``features.recipe``), prefixed by its name (``features.columns``); each shell's with
its distance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..features import FeatureExtractor
from ..features.columns import column_prefix
from ..features.recipe import DICOM_MODALITY, FeatureRecipe, without_shape
from ..volume import Volume
from .case import ScanInput
from .inputs import read_case_mask, read_image, series_folder

if TYPE_CHECKING:
    from ..dicom import SeriesIdentity
    from ..explain import Heatmap

DONE, MISSING = "done", "missing"
OWN_MASK, CARRIED = "own mask", "carried from the primary scan"


@dataclass
class ScanResult:
    """One other scan of a case: what was read and made of it (image and mask on its own grid)."""

    name: str
    status: str  # DONE or MISSING
    image: Volume | None = None
    mask: Volume | None = None
    mask_source: str | None = None
    heatmap: Heatmap | None = None

    def record(self) -> dict[str, Any]:
        """What the case's provenance says of the scan (its file is named by its digest in the inputs, never by
        its path, which may hold a patient's name)."""
        record: dict[str, Any] = {"status": self.status}
        if self.status == DONE:
            record.update(mask_source=self.mask_source, spacing_mm=list(self.image.spacing),
                          tumor_voxels=int((self.mask.array > 0).sum()))
        return record


@dataclass(frozen=True)
class Primary:
    """The primary scan as the other scans are checked against it (``identity``: its DICOM series', or None)."""

    image: Volume
    mask: Volume
    identity: SeriesIdentity | None


def dicom_identity(source: Any, modality: str | None, what: str, series_uid: str | None = None) -> SeriesIdentity:
    """The DICOM series' identity (``series_uid`` chooses one in a folder of several), refused when its Modality
    is not that of the preset ``modality`` (when known)."""
    from ..dicom import series_identity

    identity = series_identity(series_folder(source), series_uid)
    expected = DICOM_MODALITY.get(modality or "")
    if expected and identity.modality and identity.modality != expected:
        raise InputError(f"{what} is a DICOM {identity.modality} series, but its feature settings are for {expected} "
                         f"({modality} preset): check which scan was given, or give the settings of its modality.")
    return identity


class CaseRegions:
    """The feature extractors of a recipe, built once per pipeline and used for every case."""

    def __init__(self, recipe: FeatureRecipe, primary: FeatureExtractor, device: str = "auto", backend: str = "fast") -> None:
        self.recipe = recipe
        self.device = device
        self.backend = backend
        self._extractors: dict[tuple[str | None, bool], FeatureExtractor] = {(None, False): primary}

    def extractor(self, scan: str | None, shell: bool = False) -> FeatureExtractor:
        """The extractor of ``scan``'s (None: the primary's) tumor or shells."""
        key = (scan, shell)
        if key not in self._extractors:
            settings = self.recipe.primary if scan is None else self.recipe.scan_settings(scan)
            self._extractors[key] = FeatureExtractor(without_shape(settings) if shell else settings, backend=self.backend,
                                                     device=self.device)
        return self._extractors[key]

    def shell_features(self, scan: str | None, image: Volume, mask: Volume, warnings: list[str]) -> dict[str, float]:
        """Every shell's features on one scan (the primary when ``scan`` is None), prefixed."""
        if not self.recipe.peritumoral_mm:
            return {}
        from ..regions import body_mask, peritumoral_shell, shell_reaches_outside

        modality = self.recipe.modality(scan)
        within = body_mask(image) if self.recipe.body and modality == "ct" else None
        if self.recipe.body and modality is None:
            warnings.append(f"The {scan or 'primary'} scan's shells are not limited to the body: its modality is not "
                            "known (its settings come from a parameter file); the limit applies to CT scans.")
        features: dict[str, float] = {}
        for distance in self.recipe.peritumoral_mm:
            if shell_reaches_outside(mask, distance):
                warnings.append(f"The {distance:g} mm shell reaches past the edge of the {scan or 'primary'} scan: its "
                                "features cover the part inside the scan only.")
            shell = peritumoral_shell(mask, distance, within=within)
            values = self.extractor(scan, shell=True).extract(image, shell).features
            prefix = column_prefix(scan, distance)
            features.update({prefix + name: value for name, value in values.items()})
        return features

    def scans(self, scans: Mapping[str, ScanInput | None], primary: Primary,
              warnings: list[str]) -> tuple[dict[str, ScanResult], dict[str, float]]:
        """Every other scan of a case (``scan``), and all their features."""
        results, features = {}, {}
        for name, scan in scans.items():
            results[name], scan_features = self.scan(name, scan, primary, warnings)
            features.update(scan_features)
        return results, features

    def scan(self, name: str, scan: ScanInput | None, primary: Primary, warnings: list[str]) -> tuple[ScanResult, dict[str, float]]:
        """Scan ``name`` of a case read, given its mask, and its features (tumor and shells), prefixed."""
        if scan is None:
            warnings.append(f"No {name} scan for this case: its features are left empty (a model takes them as unknown).")
            return ScanResult(name, MISSING), {}
        image, was_dicom = read_image(scan.image)
        if was_dicom:
            identity = dicom_identity(scan.image, self.recipe.modality(name), f"The {name} scan")
            _check_frame_of_reference(name, identity, primary.identity)
        if scan.mask is not None:
            mask, _ = read_case_mask(scan.mask, image, scan.image if was_dicom else None)
            source = OWN_MASK
        else:
            from ..regions import carry_mask

            mask, source = carry_mask(primary.mask, image, what=f"the {name} scan"), CARRIED
        features = {column_prefix(name, None) + key: value
                    for key, value in self.extractor(name).extract(image, mask).features.items()}
        features.update(self.shell_features(name, image, mask, warnings))
        return ScanResult(name, DONE, image, mask, source), features


def _check_frame_of_reference(name: str, identity: SeriesIdentity, primary: SeriesIdentity | None) -> None:
    """Two DICOM scans in different frames of reference have coordinates that do not match."""
    if primary is None or not identity.frame_of_reference_uid or not primary.frame_of_reference_uid:
        return
    if identity.frame_of_reference_uid != primary.frame_of_reference_uid:
        raise InputError(
            f"The {name} scan is in another DICOM frame of reference than the primary scan "
            f"({identity.frame_of_reference_uid} vs {primary.frame_of_reference_uid}): their coordinates do not "
            "match, so the tumor cannot be placed on it. Register the scans first (e.g. in 3D Slicer) and give "
            f"the registered {name} scan as NRRD or NIfTI."
        )
