"""Diagnostics of an extraction: versions, settings, and the image and region at each preprocessing step.

Named as pyradiomics' ``diagnostics_*`` entries (additionalInfo), so that tools reading those (the
IBSI compliance script maps them to IBSI's diagnostic tags) read ours the same way. The hashes are
SHA-1 digests of the voxel buffers, as SimpleITK's ``Hash``.
"""

from __future__ import annotations

import hashlib
import platform
from typing import Any

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from .. import __version__
from ..versions import installed_versions
from .names import DIAGNOSTICS_PREFIX
from .preprocessing import BoundingBox, PreparedCase
from .settings import ExtractionSettings



def _versions() -> dict[str, str]:
    return {
        "ResponsePredictor": __version__,
        "Numpy": np.__version__,
        "SimpleITK": sitk.Version().VersionString(),
        **installed_versions({"PyWavelet": "PyWavelets", "Torch": "torch"}),
        "Python": platform.python_version(),
    }


def _hash(image: sitk.Image) -> str:
    return hashlib.sha1(np.ascontiguousarray(sitk.GetArrayViewFromImage(image))).hexdigest()


def _image(image: sitk.Image, stage: str) -> dict[str, Any]:
    values = sitk.GetArrayViewFromImage(image)
    entries: dict[str, Any] = {}
    if stage == "original":
        entries |= {"Hash": _hash(image), "Dimensionality": f"{image.GetDimension()}D"}
    return entries | {
        "Spacing": image.GetSpacing(),
        "Size": image.GetSize(),
        "Mean": float(np.mean(values, dtype=np.float64)),
        "Minimum": float(np.min(values)),
        "Maximum": float(np.max(values)),
    }


def _mask(mask: sitk.Image, label: int, image: sitk.Image | None, stage: str) -> dict[str, Any]:
    array = sitk.GetArrayViewFromImage(mask)
    box = BoundingBox.of(array == label)
    entries: dict[str, Any] = {"Hash": _hash(mask)} if stage == "original" else {}
    entries |= {"Spacing": mask.GetSpacing(), "Size": mask.GetSize()}
    if box is None:
        return entries
    region = array[box.slices()] == label
    _, volumes = ndimage.label(region, structure=np.ones((3,) * region.ndim))
    centre = (np.argwhere(region).mean(axis=0)[::-1] + box.lower).tolist()  # (x, y, z) continuous index
    entries |= {
        "BoundingBox": (*box.lower, *(int(n) for n in box.size)),
        "VoxelNum": int(region.sum()),
        "VolumeNum": int(volumes),
        "CenterOfMassIndex": tuple(centre),
        "CenterOfMass": mask.TransformContinuousIndexToPhysicalPoint(centre),
    }
    if image is not None:
        values = sitk.GetArrayViewFromImage(image)[box.slices()][region].astype(np.float64)
        entries |= {"Mean": float(values.mean()), "Minimum": float(values.min()), "Maximum": float(values.max())}
    return entries


def case_diagnostics(image: sitk.Image, case: PreparedCase, settings: ExtractionSettings) -> dict[str, Any]:
    """The diagnostics of one extraction: ``image`` as given, the preprocessed ``case``."""
    label = int(case.settings["label"])
    entries: dict[str, Any] = {f"Versions_{name}": value for name, value in _versions().items()}
    entries["Configuration_Settings"] = dict(case.settings)
    entries["Configuration_EnabledImageTypes"] = dict(settings.image_types)
    sections = [("Image-original", _image(image, "original"))]
    sections.append(("Mask-original", _mask(case.mask_stages["original"], label, None, "original")))
    if case.resampled:
        sections.append(("Image-interpolated", _image(case.image, "interpolated")))
    for stage in ("interpolated", "corrected", "resegmented"):
        if stage in case.mask_stages:
            sections.append((f"Mask-{stage}", _mask(case.mask_stages[stage], label, case.image, stage)))
    for section, values in sections:
        entries |= {f"{section}_{name}": value for name, value in values.items()}
    return {f"{DIAGNOSTICS_PREFIX}{name}": value for name, value in entries.items()}
