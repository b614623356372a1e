"""One case end to end: scan -> tumor mask (given or segmented) -> features -> prediction -> heatmap.

The models are loaded once, when the pipeline is built (the segmentation network when the first
case needs it), and used for every case after that.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..engine_status import report_progress
from ..errors import InputError, SettingsError
from ..features import FeatureExtractor, load_settings
from ..features.columns import check_scan_name, column_origin, extended_columns
from ..features.recipe import DICOM_MODALITY, FeatureRecipe, given_scans, named_settings
from ..features.settings import DEFAULT_PRESET
from ..predict import SavedModel, load_model
from ..resources import resource_path
from ..segment.prompts import as_points
from ..timing import StageClock
from ..volume import Volume
from .case import CaseInput, CaseResult
from .inputs import read_case_mask, read_image
from .provenance import covariate_values, digest, input_digest, software_versions
from .scans import DONE as SCAN_DONE
from .scans import CaseRegions, Primary, ScanResult, dicom_identity
from .settings import DEFAULT_MODEL, HEATMAP_METHODS, PipelineSettings

if TYPE_CHECKING:
    from ..loaded_model import LoadedModel

# Bumped when a change here changes what a case's outputs hold: results of older versions are redone.
RESULT_VERSION = 2  # 2: a DICOM PET is read in SUV body weight (was Bq/ml)


@dataclass(frozen=True)
class CaseFingerprint:
    """What decides whether an earlier result of a case can be kept: its inputs and the settings."""

    inputs: dict[str, Any]  # SHA-256 of the image and mask, seed, roi, covariate values
    settings_sha256: str
    key: str  # one digest of both


class Pipeline:
    """Models and settings for running cases; build once, ``run`` many cases."""

    def __init__(
        self,
        outcome: SavedModel | None,
        *,
        feature_settings: Mapping[str, Any] | None = None,
        segmentation: LoadedModel | str | Path | None = None,
        heatmap: str | None = "contribution",
        report: bool = True,
        device: str = "auto",
        keep_identifiers: bool = False,
        scan_settings: Mapping[str, Mapping[str, Any] | str] | None = None,
        peritumoral: Sequence[float] = (),
        peritumoral_body: bool = False,
        primary_modality: str | None = None,
        deep_features: LoadedModel | str | Path | None = None,
    ) -> None:
        if heatmap is not None and heatmap not in HEATMAP_METHODS:
            raise SettingsError(f"Unknown heatmap method {heatmap!r}; use {', '.join(HEATMAP_METHODS)} or none.")
        if heatmap is not None and outcome is None:
            raise SettingsError("A heatmap shows where a prediction comes from: it needs an outcome model.")
        self.outcome = outcome
        self.notes: list[str] = []  # said of every case this pipeline runs
        self.feature_settings, fallback = self._feature_settings(outcome, feature_settings)
        self.extractor = FeatureExtractor(self.feature_settings)
        self.deep = self._deep_extractor(outcome, deep_features, device)
        if primary_modality is None and fallback:
            primary_modality = DEFAULT_PRESET  # the settings are that preset's
        scans, modalities = given_scans(scan_settings or {})
        self.recipe = self._recipe(outcome, FeatureRecipe(
            self.feature_settings, scans, tuple(peritumoral), peritumoral_body, primary_modality,
            None if self.deep is None else self.deep.source, modalities))
        self.regions = CaseRegions(self.recipe, self.extractor, device)
        self._check_deep_modality()
        self.heatmap = self._explainable(heatmap)
        self.report = report
        self.device = device
        self.keep_identifiers = keep_identifiers
        self._segmentation = None if segmentation is None or isinstance(segmentation, (str, Path)) else segmentation
        self._segmentation_source = segmentation if isinstance(segmentation, (str, Path)) else None
        self._segmenter = None
        self._check_stages_available()

    @classmethod
    def from_settings(cls, settings: PipelineSettings) -> Pipeline:
        outcome = None
        if settings.model is not None:
            folder = resource_path("Models", "nsclc_os_ct") if settings.model == DEFAULT_MODEL else Path(settings.model)
            outcome = load_model(folder)
        explicit = None
        if settings.preset or settings.params:
            explicit = load_settings(preset=settings.preset, params=settings.params)
        scans = named_settings(settings.scan_presets, settings.scan_params)
        return cls(outcome, feature_settings=explicit, segmentation=settings.segmentation_model,
                   heatmap=settings.heatmap, report=settings.report, device=settings.device,
                   keep_identifiers=settings.keep_identifiers, scan_settings=scans, peritumoral=settings.peritumoral,
                   peritumoral_body=settings.peritumoral_body, primary_modality=settings.preset,
                   deep_features=settings.deep_features)

    @classmethod
    def from_defaults(cls, **settings: Any) -> Pipeline:
        """The embedded default models; keywords as ``PipelineSettings`` (e.g. ``heatmap=None``)."""
        return cls.from_settings(PipelineSettings(**settings))

    def _feature_settings(self, outcome: SavedModel | None,
                          explicit: Mapping[str, Any] | None) -> tuple[dict[str, Any], bool]:
        """The settings of the primary scan's features, and whether they are ``DEFAULT_PRESET``'s for want of others."""
        recorded = outcome.feature_settings if outcome is not None else None
        if recorded is not None:
            if explicit is not None and dict(explicit) != recorded:
                raise SettingsError(
                    f"The model {outcome.directory.name} was trained on features computed with its own recorded "
                    "settings; other feature settings would feed it numbers it does not know. Leave the preset and "
                    "parameter file out, or run without a model (features only)."
                )
            return dict(recorded), False
        if explicit is not None:
            return dict(explicit), False
        if outcome is not None:
            self.notes.append(f"The model does not record its feature settings; the '{DEFAULT_PRESET}' preset was used.")
        return load_settings(preset=DEFAULT_PRESET), True

    def _deep_extractor(self, outcome: SavedModel | None, given: LoadedModel | str | Path | None, device: str):
        """The deep features' extractor: of the model the outcome model was trained with (its weights checked), or
        of ``given`` (a loaded model, a catalog id or a folder; "default": the catalog's default), or None."""
        recorded = ((outcome.feature_recipe or {}).get("deep") if outcome is not None else None)
        if recorded is None and given is None:
            return None
        from ..embedding import DEFAULT_SOURCE, deep_extractor

        if recorded is None:
            return deep_extractor(given, device=device)
        if given is not None and str(given) not in (DEFAULT_SOURCE, recorded["model"]):
            raise SettingsError(f"The model {outcome.directory.name} was trained on the deep features of "
                                f"{recorded['model']}; leave --deep-features out or name that model.")
        extractor = deep_extractor(recorded["model"], device=device)
        if extractor.source["weights_sha256"] != recorded["weights_sha256"]:
            raise SettingsError(
                f"The model {outcome.directory.name} was trained on the deep features of {recorded['model']} "
                f"{recorded.get('version', '')} (weights {recorded['weights_sha256'][:12]}); this installation has "
                f"other weights under that name ({extractor.source['weights_sha256'][:12]}), whose features it does not know."
            )
        return extractor

    def _check_deep_modality(self) -> None:
        """Deep features of a network trained on one modality are refused on a primary scan of another."""
        modality = self.recipe.primary_modality
        if self.deep is None or modality is None:
            return
        network = self.deep.model.spec.modality.upper()
        if network not in (modality.upper(), DICOM_MODALITY[modality]):
            raise SettingsError(f"The deep features come from {self.deep.model.spec.id}, a network for {network} scans; the "
                                f"primary scan is {modality.upper()}. Use a network of that modality, or no deep features.")

    def _recipe(self, outcome: SavedModel | None, explicit: FeatureRecipe) -> FeatureRecipe:
        """The model's recorded scans, shells and deep features when it has them (other ones refused), else ``explicit``."""
        recorded = outcome.feature_recipe if outcome is not None else None
        if recorded is None:
            extended = [] if outcome is None else extended_columns(outcome.model.feature_names_in_)
            if extended:
                raise SettingsError(
                    f"The model {outcome.directory.name} reads features of other scans, peritumoral shells or deep "
                    f"features ({', '.join(extended[:3])}, ...) but does not record how they were computed (it was "
                    "trained without --preset or --params). Train it again with the settings its table was made with."
                )
            return explicit
        recipe = FeatureRecipe.from_dict(self.feature_settings, recorded)
        if explicit.deep is not None and recipe.deep is None:
            raise SettingsError(f"The model {outcome.directory.name} was not trained on deep features: leave "
                                "--deep-features out (the features it reads are computed without them).")
        if (explicit.scans or explicit.peritumoral_mm or explicit.body) and (explicit.scans, explicit.peritumoral_mm, explicit.body) != (
                {name: recipe.scans.get(name) for name in explicit.scans}, recipe.peritumoral_mm, recipe.body):
            raise SettingsError(
                f"The model {outcome.directory.name} records the settings of its scans and shells "
                f"({', '.join(recipe.scans) or 'no other scans'}; shells {list(recipe.peritumoral_mm) or 'none'}); "
                "leave the scan settings and peritumoral distances out, so that it is fed the features it knows."
            )
        return recipe

    def _explainable(self, heatmap: str | None) -> str | None:
        """The heatmap method, or None with a note when the model has nothing a contribution map could show
        (its inputs are all one number per tumor, e.g. a model on tumor volume alone)."""
        from ..explain.model_inputs import model_inputs

        if heatmap != "contribution":
            if heatmap is not None and model_inputs(self.outcome).extended:
                self.notes.append("No occlusion heatmap: it explains models of one scan's radiomic features, and this "
                                  "model also reads other scans, peritumoral shells or deep features (the contribution "
                                  "heatmap shows them).")
                return None
            return heatmap
        refusal = model_inputs(self.outcome).why_no_contribution_map()
        if refusal is None:
            return heatmap
        self.notes.append(refusal)  # said of every case, which keeps its prediction
        return None

    def _check_stages_available(self) -> None:
        # Said once, when the pipeline is built, rather than as the same failure on every case.
        wanted = {"explain": f"{self.heatmap}_map" if self.heatmap else None,
                  "report.case_report": "case_report" if self.report else None}
        for module, function in wanted.items():
            if function is None:
                continue
            try:
                getattr(importlib.import_module(f"..{module}", __package__), function)
            except (ImportError, AttributeError) as error:
                raise SettingsError(
                    f"This installation cannot make {'heatmaps' if module == 'explain' else 'case pictures'} "
                    f"({error}); turn that stage off (heatmap none / no report)."
                ) from None

    # -- models ----------------------------------------------------------------------------

    @property
    def segmentation_model(self) -> LoadedModel:
        """The segmentation network, loaded on first use (cohorts with given masks never load it)."""
        if self._segmentation is None:
            from ..catalog import load_model as load_segmentation_model  # torch and MONAI: only when segmenting

            self._segmentation = load_segmentation_model(self._segmentation_source, device=self.device,
                                                         allow_download=False)
        return self._segmentation

    def _segment(self, image: Volume, case: CaseInput):
        if self._segmenter is None:
            from ..segment.inference import Segmenter

            model = self.segmentation_model
            self._segmenter = Segmenter(model.spec, model.network, device=self.device)
        return self._segmenter.segment_roi(image, seed=case.seed, box=case.roi, negative=case.negative, probability=True)

    # -- fingerprints ----------------------------------------------------------------------

    def fingerprint(self, case: CaseInput) -> CaseFingerprint:
        """Digests of the case's inputs and of every setting that shapes its outputs."""
        segmented = case.mask is None
        inputs = {
            "image_sha256": input_digest(case.image),
            "mask_sha256": None if segmented else input_digest(case.mask),
            "seed": None if not segmented or case.seed is None else _points_record(case.seed),
            "roi": None if not segmented or case.roi is None else [float(c) for c in case.roi],
            "covariates": covariate_values(self._given_covariates(case.extra)),
        }
        if segmented and as_points(case.negative):  # only when given: a case without them keeps its earlier fingerprint
            inputs["negative"] = _points_record(case.negative, single=False)
        if case.scans:  # likewise: a case of one scan keeps its earlier fingerprint
            inputs["scans"] = {name: None if scan is None else {
                "image_sha256": input_digest(scan.image),
                "mask_sha256": None if scan.mask is None else input_digest(scan.mask)} for name, scan in case.scans.items()}
        settings = self.settings_record(segmented, list(case.scans))
        settings_sha256 = digest(settings)
        return CaseFingerprint(inputs, settings_sha256, digest([inputs, settings_sha256]))

    def settings_record(self, segmented: bool, scans: Sequence[str] = ()) -> dict[str, Any]:
        """Every setting that shapes a case's outputs (the segmentation model only where it segments; the
        other scans' and the shells' settings only where there are any)."""
        segmentation = None
        if segmented:
            model = self.segmentation_model
            segmentation = {"id": model.spec.id, "version": model.spec.version, "weights_sha256": model.weights_sha256}
        record = {
            "result_version": RESULT_VERSION,
            "feature_settings": self.feature_settings,
            "outcome_model": self.outcome.fingerprint if self.outcome is not None else None,
            "segmentation_model": segmentation,
            "heatmap": self.heatmap,
            "report": self.report,
            "keep_identifiers": self.keep_identifiers,
        }
        if scans or self.recipe.extended:
            record["feature_recipe"] = self.recipe.with_scans(scans).to_dict()
        return record

    def _given_covariates(self, extra: Mapping[str, Any]) -> dict[str, Any]:
        """The model's inputs found among the case's values, numbers as numbers (a manifest's "2" and
        Python's 2 are the same input)."""
        if self.outcome is None:
            return {}
        numeric = self.outcome.model.pipeline_.encoder.medians_
        given = {}
        for name in self.outcome.model.feature_names_in_:
            if name in extra:
                given[name] = _number_or_text(extra[name]) if name in numeric else extra[name]
        return given

    # -- running ---------------------------------------------------------------------------

    def run(self, case: CaseInput, fingerprint: CaseFingerprint | None = None) -> CaseResult:
        """The case end to end; bad input raises an ``InputError`` saying what is wrong."""
        if case.mask is None and case.seed is None and case.roi is None:
            raise InputError(f"Case {case.case}: give a mask, or a seed point or box (roi) to segment the tumor from.")
        for name in case.scans:
            check_scan_name(name)
        timings: dict[str, float] = {}
        warnings = list(self.notes)
        clock = StageClock(timings)
        fingerprint = fingerprint or self.fingerprint(case)
        clock.lap("fingerprint_s")
        # Fractions of one case run by the Slicer module (for a cohort, the runner counts cases).
        report_progress("read", 0.1, "Reading the scan")
        image, was_dicom = read_image(case.image)
        identity = dicom_identity(case.image, self.recipe.primary_modality, "The scan") if was_dicom else None
        clock.lap("read_s")
        probability = None
        if case.mask is not None:
            report_progress("read", 0.15, "Reading the tumor mask")
            mask, mask_source = read_case_mask(case.mask, image, case.image if was_dicom else None)
            clock.lap("mask_s")
        else:
            report_progress("segment", 0.15, "Segmenting the tumor")
            segmentation = self._segment(image, case)
            mask, probability, mask_source = segmentation.mask, segmentation.probability, "segmented"
            warnings += segmentation.warnings
            clock.lap("segment_s")
        report_progress("features", 0.4, "Computing the radiomic features")
        features = self.extractor.extract(image, mask).features
        features.update(self.regions.shell_features(None, image, mask, warnings))
        clock.lap("features_s")
        deep_view = None
        if self.deep is not None:
            report_progress("features", 0.5, "Computing the deep features")
            deep_view = self.deep.view(image, mask)
            features.update(deep_view.features)
            clock.lap("deep_features_s")
        scans: dict[str, ScanResult] = {}
        if case.scans:
            report_progress("features", 0.55, "Computing the other scans' features")
            scans, scan_features = self.regions.scans(case.scans, Primary(image, mask, identity), warnings)
            features.update(scan_features)
            clock.lap("scans_s")

        prediction: dict[str, float] = {}
        contributions: dict[str, float] = {}
        covariates: dict[str, Any] = {}
        heatmap = None
        if self.outcome is not None:
            report_progress("predict", 0.7, "Predicting the response")
            covariates = self._covariates(case, features, warnings, scans)
            prediction, contributions = self._predict(case.case, features, covariates)
            clock.lap("predict_s")
        if self.heatmap is not None:
            report_progress("heatmap", 0.75, "Making the heatmap")
            known = {**features, **covariates}  # a missing scan's features among the covariates, as unknown
            if self._maps_scan(None):
                heatmap = self._heatmap(image, mask, covariates, known, deep_view=deep_view)
            for result in scans.values():
                if result.status == SCAN_DONE and self._maps_scan(result.name):
                    result.heatmap = self._heatmap(result.image, result.mask, covariates, known, result.name)
            clock.lap("heatmap_s")

        provenance = {
            "software": software_versions(),
            "outcome_model": self._outcome_record(),
            "segmentation_model": self.settings_record(True)["segmentation_model"] if mask_source == "segmented" else None,
            "feature_settings_sha256": digest(self.feature_settings),
            "settings_sha256": fingerprint.settings_sha256,
            "inputs": fingerprint.inputs,
            "key": fingerprint.key,
            "mask_source": mask_source,
            "heatmap": self.heatmap,
        }
        if scans or self.recipe.extended:
            provenance["feature_recipe"] = self.recipe.with_scans(list(scans)).to_dict()
            provenance["scans"] = {name: result.record() for name, result in scans.items()}
        return CaseResult(
            case=case.case, image=image, mask=mask, probability=probability, features=features,
            prediction=prediction, contributions=contributions, heatmap=heatmap, timings=timings,
            provenance=provenance, warnings=warnings, covariates=covariates, extra=dict(case.extra),
            prediction_kind=self.outcome.model.kind if self.outcome is not None else None,
            image_was_dicom=was_dicom, source_image=None if isinstance(case.image, Volume) else Path(case.image),
            scans=scans,
        )

    def write(self, result: CaseResult, folder: str | Path) -> Path:
        """``write_case`` with this pipeline's report and identifier settings."""
        from .case_folder import write_case

        report_progress("write", 0.9, "Writing the results" + (" and the case report" if self.report else ""))
        return write_case(result, folder, report=self.report, keep_identifiers=self.keep_identifiers)

    def _covariates(self, case: CaseInput, features: Mapping[str, float], warnings: list[str],
                    scans: Mapping[str, ScanResult]) -> dict[str, Any]:
        """The clinical values the model takes besides the features: numbers as floats, categories as
        text, unknown as NaN (the model then uses its training median, or no category). The features of a
        scan the case lacks are unknown too, said once (the scan's warning)."""
        model = self.outcome.model
        encoder = model.pipeline_.encoder
        values: dict[str, Any] = {}
        done = {name for name, result in scans.items() if result.status == SCAN_DONE}
        unnamed: set[str] = set()  # scans the model reads that the case does not name, each said once
        for name in model.feature_names_in_:
            if name in features:
                continue
            scan = column_origin(name).scan
            if scan is not None and scan not in done:
                if scan not in scans and scan not in unnamed:
                    unnamed.add(scan)
                    warnings.append(f"No {scan} scan given for this case: the model takes its features as unknown.")
                values[name] = math.nan
                continue
            raw = case.extra.get(name)
            missing = raw is None or (isinstance(raw, float) and math.isnan(raw)) or str(raw).strip() == ""
            if name == model.batch:  # the centre ComBat harmonises by: needed, and checked by the model
                if missing:
                    raise InputError(f"Case {case.case}: the model harmonises the features across centres; give the "
                                     f"case's centre in the column '{name}'.")
                values[name] = str(raw).strip()
            elif missing:
                warnings.append(f"No value for '{name}': the model takes it as unknown.")
                values[name] = math.nan
            elif name in encoder.medians_:
                try:
                    values[name] = float(raw)
                except ValueError:
                    raise InputError(f"Case {case.case}: '{name}' must be a number; got {raw!r}.") from None
            else:
                values[name] = str(raw).strip()
                known = encoder.categories_[name]
                if values[name] not in known:
                    warnings.append(f"'{name}' = {values[name]!r} is not a value the model was trained on "
                                    f"({', '.join(known)}): the model takes it as unknown.")
        return values

    def _predict(self, case: str, features: Mapping[str, float], covariates: Mapping[str, Any]):
        model = self.outcome.model
        table = pd.DataFrame([{**features, **covariates}], index=pd.Index([case], name="case"))
        outputs = {name: float(value) for name, value in model.outputs(table).iloc[0].items()}
        if model.kind == "survival":
            outputs["horizon"] = float(model.horizon_)
        contributions = {name: float(value) for name, value in model.contributions(table).iloc[0].items()}
        return outputs, contributions

    def _heatmap(self, image: Volume, mask: Volume, covariates: Mapping[str, Any], features: Mapping[str, float],
                 scan: str | None = None, deep_view: Any = None):
        """The heatmap over the primary scan, or over another ``scan`` (its mapped features; contribution maps only)."""
        from .. import explain

        if self.heatmap == "contribution":
            if scan is None and self._inputs().deep_map:
                return explain.deep_feature_map(self.outcome, self.deep, image, mask, features, covariates, view=deep_view)
            settings = self.feature_settings if scan is None else self.recipe.scan_settings(scan)
            return explain.contribution_map(self.outcome, image, mask, covariates, device=self.device,
                                            settings=settings, case_features=features, scan=scan)
        return explain.occlusion_map(self.outcome, image, mask, covariates, settings=self.feature_settings)

    def _maps_scan(self, scan: str | None) -> bool:
        """Whether the heatmap method shows ``scan`` (None: the primary): occlusion the primary only, a
        contribution map a scan whose features the model maps."""
        if self.heatmap != "contribution":
            return scan is None
        inputs = self._inputs().on_scan(scan)
        return bool(inputs.mapped or (scan is None and inputs.deep))

    def _inputs(self):
        from ..explain.model_inputs import model_inputs

        return model_inputs(self.outcome)

    def _outcome_record(self) -> dict[str, Any] | None:
        if self.outcome is None:
            return None
        return {"name": self.outcome.card.get("name", self.outcome.directory.name), "folder": self.outcome.directory.name,
                "fingerprint": self.outcome.fingerprint, "kind": self.outcome.model.kind,
                "outcome": self.outcome.outcome.to_dict(), "intended_use": self.outcome.card.get("intended_use"),
                "outcome_definition": (self.outcome.card.get("outcome") or {}).get("definition")}


def _number_or_text(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _points_record(value: Any, single: bool = True) -> list:
    """Points as the fingerprint records them: one point as [x, y, z] (as before several were taken,
    so that earlier results still match), several (or ``single`` False) as a list of them."""
    points = [list(point) for point in as_points(value)]
    return points[0] if single and len(points) == 1 else points
