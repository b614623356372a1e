"""Benchmark: our radiomics engine against pyradiomics 3.0.1 (and fastrad), whole tumor and voxel maps, in one run.

1. Whole tumor, every preset (ct, mr, pet, ibsi) on every case: ``FeatureExtractor(settings, device="cpu")
   .extract(Volume, Volume)`` against ``RadiomicsFeatureExtractor(settings).execute(sitk, sitk, label=1)``:
   wall and CPU time, and every feature's value (same names, same order, |ours - pyradiomics| <=
   1e-4 |pyradiomics| + 1e-6). fastrad 1.0 (CPU) joins on the ``ct`` preset cut down to what it computes.
2. Voxel maps, every case, kernel radius 1, pyradiomics' defaults on the Original image: two sets of maps
   by ``compute_feature_maps(..., device="cpu")`` against pyradiomics' voxel mode (``backend="pyradiomics"``):
   wall and CPU time, our peak memory, and the agreement of every map.

    .venv-reference/bin/python benchmarks/bench_features.py             # or: make bench (hours, see README)
    .venv-reference/bin/python benchmarks/bench_features.py --quick     # two small cases, ct, set A: minutes

Cases: pyradiomics' lung2 and brain1, two NSCLC crops, the CT, PET and MR of sts_dev's STS_001 and STS_002,
from ``$RP_DATA_DIR`` (default ``../shared/data`` beside the repository). Threads: ``$RP_BENCH_THREADS``
(default 2) for every library. Results: ``benchmarks/results/features.{json,md}`` (the latest full run).
"""

from __future__ import annotations

import os

from bench_threads import THREADS  # first: it caps the thread pools before numpy and torch load

import argparse
import contextlib
import copy
import datetime
import gc
import json
import logging
import math
import multiprocessing
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

import fastrad
import numpy as np
import psutil
import SimpleITK as sitk
import torch
from radiomics import imageoperations
from radiomics.featureextractor import RadiomicsFeatureExtractor

from ResponsePredictorLib.features import FeatureExtractor, compute_feature_maps, load_settings
from ResponsePredictorLib.features.agreement import agreements
from ResponsePredictorLib.files import atomic_file
from ResponsePredictorLib.volume import Volume, read_mask, read_volume

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "scripts"))
from nsclc_crops import crop_paths, read_crop  # noqa: E402  (the scripts folder is not a package)

DEFAULT_DATA_DIR = Path(os.environ.get("RP_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
QUICK_OUT = REPO_ROOT / "out" / "bench_features_quick"  # a quick check never replaces the recorded results
PACKAGES = ("responsepredictor", "pyradiomics", "fastrad", "torch", "SimpleITK", "numpy")

PRESETS = ("ct", "mr", "pet", "ibsi")
FASTRAD_ENTRY = "ct for fastrad"  # the whole-tumor settings entry that fastrad joins
RTOL, ATOL = 1e-4, 1e-6  # a value agrees when |ours - pyradiomics| <= RTOL * |pyradiomics| + ATOL
# pyradiomics builds a dense Ng x Ng x 13 GLCM per image, and several temporaries of that size: a preset
# whose bin width meets another modality's range (pet's 0.25 SUV bins on CT: Ng ~ 6,600) would need
# tens of GB and is passed over (recorded) when the GLCM alone would exceed this.
WHOLE_TUMOR_GLCM_LIMIT = 2**30

NSCLC_POOL = 30  # the crops are chosen among the first 30 sorted crops with a tumour
STS_PATIENTS = ("STS_001", "STS_002")
STS_SCANS = ("CT", "PET", "MR_T1")

MAP_RADIUS = 1
# The maps' settings per modality: the Original image, no resampling, and the discretisation of the modality's
# preset (pyradiomics' default bin width of 25 suits HU; on SUVs it would leave one gray level, no texture).
MAP_SETTINGS: dict[str, dict[str, Any]] = {
    "CT": {"imageType": {"Original": {}}, "setting": {"binWidth": 25}},
    "MR": {"imageType": {"Original": {}}, "setting": {"normalize": True, "normalizeScale": 100, "binWidth": 5}},
    "PET": {"imageType": {"Original": {}}, "setting": {"binWidth": 0.25}},
}
MAP_SETS = {
    "A": ["original_firstorder_Mean", "original_firstorder_Entropy", "original_glcm_Contrast",
          "original_glcm_JointEntropy"],  # the four
    "B": ["original_firstorder_Median", "original_glcm_Imc1", "original_glrlm_RunEntropy",
          "original_glszm_ZoneEntropy", "original_gldm_DependenceVariance", "original_ngtdm_Busyness"],  # one per class
}
MAP_TOLERANCE = 1e-4  # largest relative difference per map (ResponsePredictorLib.features.agreement)
MAP_TARGET = 20.0  # the issue's goal: at least 20x pyradiomics' voxel mode on every tumor
# pyradiomics' voxel mode holds every kernel's matrices at once by default (voxelBatch -1); beyond about
# 3 GB for its largest matrix it would swap or fail, so it then gets batches of about 1 GB.
DEFAULT_BATCH_LIMIT = 3e9
BATCH_BYTES = 1e9

FASTRAD_REPEATS = 1  # fastrad is timed once after its warm-up: its runs are the slowest and its ratio needs less precision
FASTRAD_HEADROOM = 8 * 2**30  # address space fastrad may add: its shape class grows with the square of the surface

# A 1-minute load average above this at the start means another process holds a core: our torch threads then
# wait for each other (brain1's set-A maps took 1.2 s with 2 threads against 0.07 s with 1), pyradiomics' one
# thread barely notices, and the ratios say more about the load than about the engines.
BUSY_LOAD = 0.5

Timing = dict[str, list[float]]  # "wall" and "cpu": seconds of each timed call


# ------------------------------------------------------------------------------------------------
# Cases


@dataclass(eq=False)  # a case is itself: no comparison of its arrays
class Case:
    name: str
    source: str  # where in the data folder
    modality: str  # CT, MR or PET: which maps' settings apply
    image: Volume
    mask: Volume  # 0/1, on the image's grid

    @property
    def map_settings(self) -> dict[str, Any]:
        return MAP_SETTINGS[self.modality]

    @cached_property
    def voxels(self) -> int:
        return int(np.count_nonzero(self.mask.array))

    @cached_property
    def sitk_inputs(self) -> tuple[sitk.Image, sitk.Image]:
        """What a user of pyradiomics hands it: converted once, outside the timings."""
        return self.image.to_sitk(), self.mask.to_sitk()

    def describe(self) -> dict[str, Any]:
        return {"case": self.name, "source": self.source, "modality": self.modality, "voxels": self.voxels,
                "spacing_mm": [round(s, 4) for s in self.image.spacing], "shape": list(self.image.shape)}


def read_case(name: str, source: str, modality: str, image_path: Path, mask_path: Path) -> Case:
    image = read_volume(image_path)
    return Case(name, source, modality, image, read_mask(mask_path, image))


def pyradiomics_cases(data_dir: Path) -> list[Case]:
    folder = data_dir / "pyradiomics"
    return [read_case(name, f"pyradiomics/{name}", modality, folder / f"{name}_image.nrrd", folder / f"{name}_label.nrrd")
            for name, modality in (("lung2", "CT"), ("brain1", "MR"))]


def nsclc_cases(data_dir: Path) -> list[Case]:
    """Among the first NSCLC_POOL sorted crops with a tumour: the median-size tumour (lower median) and the largest."""
    pool: list[Case] = []
    for path in crop_paths(data_dir):
        image, mask = read_crop(path)
        if mask.array.any():
            pool.append(Case(path.stem, f"nsclc_crops/images/{path.name}", "CT", image, mask))
        if len(pool) == NSCLC_POOL:
            break
    by_size = sorted(pool, key=lambda case: case.voxels)
    return [by_size[(len(by_size) - 1) // 2], by_size[-1]]


def sts_cases(data_dir: Path) -> list[Case]:
    folder = data_dir / "sts_dev" / "nifti"
    return [read_case(f"{patient} {scan}", f"sts_dev/nifti/{patient}/{scan}", scan.split("_")[0],
                      folder / patient / f"{scan}_image.nii.gz", folder / patient / f"{scan}_mask.nii.gz")
            for patient in STS_PATIENTS for scan in STS_SCANS]


def all_cases(data_dir: Path) -> list[Case]:
    return [*pyradiomics_cases(data_dir), *nsclc_cases(data_dir), *sts_cases(data_dir)]


def smallest(cases: list[Case], count: int) -> list[Case]:
    """The ``count`` smallest tumours, in the set's order (the quick check)."""
    chosen = sorted(cases, key=lambda case: case.voxels)[:count]
    return [case for case in cases if case in chosen]


# ------------------------------------------------------------------------------------------------
# Timing


def measure(call: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall and CPU seconds (this process, all its threads) of one call, and its result.

    Wall time is what a user waits; CPU time is what the work costs, less disturbed by other processes."""
    gc.collect()  # garbage from the previous call is not this call's cost
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def time_interleaved(calls: dict[str, Callable[[], Any]], repeats: int, limits: Mapping[str, int]) -> dict[str, Timing]:
    """Each call ``repeats`` times (fewer for one in ``limits``), interleaved so that drift in the machine's
    load falls on all alike; the order rotates so that none always runs first."""
    names = list(calls)
    timings: dict[str, Timing] = {name: {"wall": [], "cpu": []} for name in names}
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            if repeat < limits.get(name, repeats):
                wall, cpu, _ = measure(calls[name])
                timings[name]["wall"].append(wall)
                timings[name]["cpu"].append(cpu)
    return timings


def medians(timing: Timing) -> dict[str, float]:
    return {clock: statistics.median(seconds) for clock, seconds in timing.items()}


def spread(values: list[float]) -> dict[str, float] | None:
    """min, median, max over cases (None when no case has the figure)."""
    return {"min": min(values), "median": statistics.median(values), "max": max(values)} if values else None


# ------------------------------------------------------------------------------------------------
# Whole tumor: values


def relative_difference(a: float, b: float) -> float:
    """|a - b| / max(|a|, |b|): symmetric, 0 when equal (NaN and NaN too), never a blow-up near zero."""
    if a == b or (math.isnan(a) and math.isnan(b)):
        return 0.0
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b))


def within_tolerance(ours: float, reference: float) -> bool:
    if math.isnan(ours) and math.isnan(reference):
        return True
    if not (math.isfinite(ours) and math.isfinite(reference)):
        return ours == reference  # an infinite pyradiomics value would otherwise admit any value
    return abs(ours - reference) <= RTOL * abs(reference) + ATOL


def value_agreement(ours: dict[str, float], reference: dict[str, float]) -> dict[str, Any]:
    """Feature by feature against pyradiomics: names and order, relative difference, the tolerance."""
    differences = {name: relative_difference(ours[name], value) for name, value in reference.items() if name in ours}
    failing = [name for name, value in reference.items() if name not in ours or not within_tolerance(ours[name], value)]
    same_names = list(ours) == list(reference)
    worst = max(differences, key=differences.__getitem__, default=None)
    return {
        "same_names_and_order": same_names,
        "features": len(reference),
        "max_relative_difference": differences[worst] if worst else None,
        "worst_feature": worst,
        "all_within_tolerance": same_names and not failing,
        "failing": [{"feature": name, "ours": ours.get(name), "pyradiomics": reference[name],
                     "relative_difference": differences.get(name)} for name in failing],
        "relative_difference": differences,
    }


def failure(error: Exception) -> str:
    """An error on one line (pyradiomics' schema errors span several), to record and print."""
    return f"{type(error).__name__}: " + " ".join(str(error).split())


def pyradiomics_features(result: Mapping[str, Any]) -> dict[str, float]:
    return {name: float(value) for name, value in result.items() if not name.startswith("diagnostics_")}


# ------------------------------------------------------------------------------------------------
# Whole tumor: fastrad


def fastrad_settings() -> tuple[dict[str, Any], list[str]]:
    """The ``ct`` preset cut down to what fastrad computes, and the cuts made."""
    ct = load_settings(preset="ct")
    supported = fastrad.FeatureSettings().feature_classes  # its default: every 3D class it implements
    setting = {**ct["setting"], "voxelArrayShift": 0}
    cuts = [f"imageType: Original only (ct also has {', '.join(k for k in ct['imageType'] if k != 'Original')})",
            f"voxelArrayShift: 0 (ct uses {ct['setting'].get('voxelArrayShift', 0)}; fastrad has no such shift)"]
    cuts += [f"featureClass {name}: not in fastrad" for name in ct["featureClass"] if name not in supported]
    classes = {name: None for name in ct["featureClass"] if name in supported}
    return {"imageType": {"Original": {}}, "featureClass": classes, "setting": setting}, cuts


FASTRAD_DIFFERENCES = [
    "fastrad has no resampling: it gets the image and mask as pyradiomics' imageoperations.resampleImage resamples "
    "and crops them with the same settings, timed as part of its path",
    "fastrad takes a binary mask: it is given mask == label",
    "fastrad's shape class takes an all-pairs distance matrix over the surface's vertices for the diameters; "
    f"it may add {FASTRAD_HEADROOM / 2**30:g} GiB of address space, beyond that its allocation fails and is recorded",
    "fastrad also returns features pyradiomics deprecated: listed, not compared",
]


@dataclass
class FastradResult:
    values: dict[str, float] = field(default_factory=dict)  # fastrad's names, "glcm:joint_average"
    failed: dict[str, str] = field(default_factory=dict)  # feature class -> why


class FastradPath:
    """fastrad fed what pyradiomics computes on, one extractor per feature class, so that a class that runs
    out of memory leaves the other classes' values to compare and says which class failed."""

    def __init__(self, classes: list[str], general: dict[str, Any]) -> None:
        self.general = general  # pyradiomics' merged settings, as its resampleImage reads them
        self.extractors = {name: fastrad.FeatureExtractor(fastrad.FeatureSettings(
            feature_classes=[name], bin_width=float(general["binWidth"]), device="cpu")) for name in classes}

    def __call__(self, case: Case) -> FastradResult:
        image, mask = imageoperations.resampleImage(*case.sitk_inputs, **self.general)
        spacing = tuple(reversed(image.GetSpacing()))  # fastrad wants (z, y, x)
        image_t = fastrad.MedicalImage(torch.from_numpy(sitk.GetArrayFromImage(image).astype(np.float32)), spacing)
        mask_t = fastrad.Mask(torch.from_numpy(sitk.GetArrayViewFromImage(mask) == self.general["label"]), spacing)
        result = FastradResult()
        for name, extractor in self.extractors.items():
            try:
                with address_space_headroom(FASTRAD_HEADROOM):
                    result.values.update(extractor.extract(image_t, mask_t))
            except (RuntimeError, MemoryError) as error:  # torch reports a refused allocation as RuntimeError
                result.failed[name] = short_reason(error)
        return result


@contextlib.contextmanager
def address_space_headroom(headroom: int) -> Iterator[None]:
    """Caps this process's address space at its present size plus ``headroom`` for the block, so that an
    oversized allocation fails as an exception in the class that made it instead of the system killing
    the benchmark; the cap is lifted afterwards (pyradiomics' voxel mode needs more)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = psutil.Process().memory_info().vms + headroom
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def short_reason(error: Exception) -> str:
    asked = re.search(r"allocate (\d+) bytes", str(error))
    if asked:  # torch's message is a C++ assertion; the size asked for is what matters
        return f"out of memory: one allocation of {int(asked.group(1)) / 2**30:.1f} GiB refused"
    return str(error).strip().splitlines()[-1][:200]


def fastrad_key(name: str) -> str:
    """Match key for a fastrad name ("firstorder:10th_percentile") or a pyradiomics one
    ("original_firstorder_10Percentile"): the names differ only in case, underscores and "th"."""
    feature_class, feature = name.split(":") if ":" in name else name.split("_", 2)[1:]
    return feature_class.lower() + ":" + re.sub(r"[^a-z0-9]", "", re.sub(r"(\d+)th", r"\1", feature).lower())


def fastrad_agreement(values: dict[str, float], reference: dict[str, float]) -> dict[str, Any]:
    """fastrad's values under pyradiomics' names, against pyradiomics (same tolerance as ours)."""
    names = {fastrad_key(name): name for name in reference}
    renamed = {names[fastrad_key(name)]: value for name, value in values.items() if fastrad_key(name) in names}
    agreement = value_agreement(renamed, {name: reference[name] for name in reference if name in renamed})
    del agreement["same_names_and_order"]  # fastrad has its own names and order
    agreement["within_tolerance"] = agreement["features"] - len(agreement["failing"])
    agreement["fastrad_only"] = sorted(name for name in values if fastrad_key(name) not in names)
    agreement["not_computed"] = [name for name in reference if name not in renamed]
    return agreement


# ------------------------------------------------------------------------------------------------
# Whole tumor: the runs


@dataclass
class WholeTumorEntry:
    """One set of settings and the extractors built for it, once, for every case."""

    name: str
    settings: dict[str, Any]
    ours: FeatureExtractor
    reference: RadiomicsFeatureExtractor
    fastrad: FastradPath | None = None


def whole_tumor_entries(presets: tuple[str, ...], with_fastrad: bool) -> list[WholeTumorEntry]:
    entries = []
    for name in presets:
        settings = load_settings(preset=name)
        entries.append(WholeTumorEntry(name, settings, FeatureExtractor(settings, device="cpu"),
                                       RadiomicsFeatureExtractor(copy.deepcopy(settings))))
    if with_fastrad:
        settings, _ = fastrad_settings()
        reference = RadiomicsFeatureExtractor(copy.deepcopy(settings))
        entries.append(WholeTumorEntry(FASTRAD_ENTRY, settings, FeatureExtractor(settings, device="cpu"), reference,
                                       FastradPath(list(settings["featureClass"]), reference.settings)))
    return entries


def estimated_gray_levels(case: Case, setting: Mapping[str, Any]) -> int:
    """pyradiomics' Ng on the original image (before resampling and filters: an estimate for the other images)."""
    if setting.get("binCount"):
        return int(setting["binCount"])
    values = case.image.array.astype(np.float64)
    if setting.get("normalize"):
        values = (values - values.mean()) / values.std() * setting.get("normalizeScale", 1)
    roi, width = values[case.mask.array > 0], setting.get("binWidth", 25)
    return int(math.floor(roi.max() / width) - math.floor(roi.min() / width)) + 1


def whole_tumor_case(entry: WholeTumorEntry, case: Case, repeats: int) -> dict[str, Any]:
    """Every path warmed up once (its values are the ones compared), then timed interleaved."""
    row: dict[str, Any] = {"case": case.name}
    gray_levels = estimated_gray_levels(case, entry.settings.get("setting") or {})
    glcm_bytes = gray_levels**2 * 13 * 8
    if "glcm" in entry.settings["featureClass"] and glcm_bytes > WHOLE_TUMOR_GLCM_LIMIT:
        row["skipped"] = (f"about {gray_levels} gray levels: pyradiomics' GLCM alone would need "
                          f"{glcm_bytes / 2**30:.1f} GiB per image")
        return row
    calls: dict[str, Callable[[], Any]] = {
        "ours": lambda: entry.ours.extract(case.image, case.mask, 1).features,
        "pyradiomics": lambda: pyradiomics_features(entry.reference.execute(*case.sitk_inputs, label=1)),
    }
    try:
        warm = {name: call() for name, call in calls.items()}
    except (ValueError, RuntimeError, MemoryError) as error:  # a case one engine refuses
        row["error"] = failure(error)
        return row
    limits = {}
    if entry.fastrad:
        fast = entry.fastrad(case)
        row["fastrad_failed"] = fast.failed
        row["fastrad_values"] = fastrad_agreement(fast.values, warm["pyradiomics"])
        if not fast.failed:  # an incomplete run has no comparable time
            calls["fastrad"] = lambda: entry.fastrad(case)
            limits["fastrad"] = FASTRAD_REPEATS
    timings = time_interleaved(calls, repeats, limits)
    row["seconds"] = timings
    row["median"] = {name: medians(timing) for name, timing in timings.items()}
    row["speedup"] = {clock: row["median"]["pyradiomics"][clock] / row["median"]["ours"][clock] for clock in ("wall", "cpu")}
    row["values"] = value_agreement(warm["ours"], warm["pyradiomics"])
    return row


def whole_tumor_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    timed = [row for row in rows if "speedup" in row]
    speedups = [row["speedup"]["wall"] for row in timed]
    fastrad = [row["median"]["pyradiomics"]["wall"] / row["median"]["fastrad"]["wall"]
               for row in timed if "fastrad" in row["median"]]
    differences = [row["values"]["max_relative_difference"] for row in timed]
    return {
        "cases_timed": len(timed),
        "cases_passed_over": [row["case"] for row in rows if "speedup" not in row],
        "speedup_wall": spread(speedups),
        "speedup_cpu": spread([row["speedup"]["cpu"] for row in timed]),
        # Over the cases timed; those passed over are listed with their reason.
        "faster_on_every_case": bool(timed) and min(speedups) > 1,
        "values_within_tolerance_on_every_case": bool(timed) and all(row["values"]["all_within_tolerance"] for row in timed),
        "max_relative_difference": max(differences) if differences else None,
        "fastrad_speed_vs_pyradiomics": spread(fastrad),
    }


def run_whole_tumor(cases: list[Case], presets: tuple[str, ...], with_fastrad: bool, repeats: int) -> dict[str, Any]:
    results = {}
    for entry in whole_tumor_entries(presets, with_fastrad):
        rows = []
        for case in cases:
            rows.append(whole_tumor_case(entry, case, repeats))
            print(progress_line(entry.name, rows[-1]), flush=True)
        results[entry.name] = {"cases": rows, "summary": whole_tumor_summary(rows)}
    return results


def progress_line(entry: str, row: dict[str, Any]) -> str:
    head = f"{entry:15s} {row['case']:14s}"
    if "speedup" not in row:
        return f"{head} {row.get('skipped') or row.get('error')}"
    wall = row["median"]
    text = (f"{head} ours {wall['ours']['wall']:7.3f} s  pyradiomics {wall['pyradiomics']['wall']:7.3f} s  "
            f"x{row['speedup']['wall']:.2f}  values {'ok' if row['values']['all_within_tolerance'] else 'MISMATCH'}")
    if "fastrad" in wall:
        text += f"  fastrad {wall['fastrad']['wall']:.3f} s"
    if row.get("fastrad_failed"):
        text += f"  fastrad failed: {', '.join(row['fastrad_failed'])}"
    return text


# ------------------------------------------------------------------------------------------------
# Voxel maps


def pyradiomics_voxel_batch(case: Case, names: list[str]) -> dict[str, Any]:
    """The voxelBatch pyradiomics runs with: its default (-1, every kernel at once) while the largest matrix
    of the requested classes stays under DEFAULT_BATCH_LIMIT, else batches of about BATCH_BYTES.

    Per kernel, pyradiomics allocates (float64 unless said): GLCM Ng x Ng x 13 angles; GLRLM Ng x Nr x 13 with
    Nr the longest side of the cropped image; GLSZM a (2 Ns + 1) int32 work array with Ns the tumor's voxels
    (mostly untouched, but one allocation for the whole batch, refused beyond the machine's memory); GLDM
    Ng x 27; NGTDM Ng x 3; first order only the kernel's 27 values."""
    setting = case.map_settings["setting"]
    width = setting["binWidth"]
    roi = case.image.array[case.mask.array > 0].astype(np.float64)
    if setting.get("normalize"):  # pyradiomics' normalisation: the whole image's mean and deviation
        roi = (roi - case.image.array.mean()) / case.image.array.std() * setting["normalizeScale"]
    gray_levels = int(math.floor(roi.max() / width) - math.floor(roi.min() / width)) + 1
    nonzero = np.nonzero(case.mask.array)
    longest_side = max(min(int(axis.max() - axis.min()) + 1 + 2 * MAP_RADIUS, size)
                       for axis, size in zip(nonzero, case.mask.array.shape))
    per_kernel = {"firstorder": 27 * 8, "glcm": gray_levels**2 * 13 * 8, "glrlm": gray_levels * longest_side * 13 * 8,
                  "glszm": (2 * case.voxels + 1) * 4, "gldm": gray_levels * 27 * 8, "ngtdm": gray_levels * 3 * 8}
    largest = max(per_kernel[name.split("_")[1]] for name in names)
    need = case.voxels * largest
    batch = -1 if need <= DEFAULT_BATCH_LIMIT else max(1, int(BATCH_BYTES // largest))
    return {"voxelBatch": batch, "gray_levels": gray_levels, "memory_need_gb": need / 1e9}


def our_maps(case: Case, names: list[str]) -> dict[str, Volume]:
    return compute_feature_maps(case.image, case.mask, names, case.map_settings, radius=MAP_RADIUS, device="cpu")


def our_peak_memory(case: Case, names: list[str]) -> dict[str, float]:
    """Resident set (MiB) of a fresh process that computes ``names`` on ``case``: before the maps (its imports
    and the case) and its peak during them. A process of its own, so that the peak is this case's alone."""
    plain = [Volume(v.array, v.spacing, v.origin, v.direction) for v in (case.image, case.mask)]  # no SimpleITK twin
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_peak_memory_child, Case(case.name, case.source, case.modality, *plain), names).result()


def _peak_memory_child(case: Case, names: list[str]) -> dict[str, float]:
    limit_threads()
    before = _memory_mib("VmRSS")
    # Linux: "5" resets the peak (VmHWM) to the present resident set, so that the peak read after is the maps'.
    # (getrusage's ru_maxrss would not do: Linux carries it over from the parent that spawned the process.)
    Path("/proc/self/clear_refs").write_text("5")
    our_maps(case, names)
    return {"before_maps_mib": before, "peak_mib": _memory_mib("VmHWM")}


def _memory_mib(field_name: str) -> float:
    """A memory field of /proc/self/status (given in KiB) in MiB."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field_name + ":"))
    return int(line.split()[1]) / 1024


def maps_case(case: Case, names: list[str], repeats: int) -> dict[str, Any]:
    """Ours warmed up (its maps are the ones compared), then timed ``repeats`` times before and after
    pyradiomics' single run (so that both see the same load); the median of ours."""
    batch = pyradiomics_voxel_batch(case, names)
    # pyradiomics' schema refuses voxelBatch -1 when written out: its default is had by leaving it out.
    reference_settings = case.map_settings if batch["voxelBatch"] < 0 else {
        **case.map_settings, "voxelSetting": {"voxelBatch": batch["voxelBatch"]}}
    row: dict[str, Any] = {"case": case.name, "kernels": case.voxels, "pyradiomics_batch": batch}
    try:
        ours = our_maps(case, names)
        before = [measure(lambda: our_maps(case, names))[:2] for _ in range(repeats)]
        wall, cpu, reference = measure(lambda: compute_feature_maps(
            case.image, case.mask, names, reference_settings, radius=MAP_RADIUS, backend="pyradiomics"))
        after = [measure(lambda: our_maps(case, names))[:2] for _ in range(repeats)]
    except (ValueError, RuntimeError, MemoryError) as error:
        row["error"] = failure(error)
        return row
    row["seconds"] = {"ours": {"wall": [w for w, _ in before + after], "cpu": [c for _, c in before + after]},
                      "pyradiomics": {"wall": [wall], "cpu": [cpu]}}
    row["median"] = {name: medians(timing) for name, timing in row["seconds"].items()}
    row["speedup"] = {clock: row["median"]["pyradiomics"][clock] / row["median"]["ours"][clock] for clock in ("wall", "cpu")}
    row["memory"] = our_peak_memory(case, names)
    row["agreement"] = {name: {"max_relative_difference": result.max_relative_difference,
                               "nan_mismatches": result.nan_mismatches, "voxels": result.voxels,
                               "within_tolerance": result.within(MAP_TOLERANCE)}
                        for name, result in agreements(ours, reference).items()}
    return row


def maps_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    timed = [row for row in rows if "speedup" in row]
    speedups = [row["speedup"]["wall"] for row in timed]
    return {
        "cases_timed": len(timed),
        "speedup_wall": spread(speedups),
        "speedup_cpu": spread([row["speedup"]["cpu"] for row in timed]),
        "cases_failed": [row["case"] for row in rows if "speedup" not in row],
        # A case that failed fails the goal: every tumor of the set must reach it.
        f"at_least_{MAP_TARGET:g}x_on_every_case": bool(timed) and len(timed) == len(rows) and min(speedups) >= MAP_TARGET,
        "every_map_within_tolerance": bool(timed) and all(
            a["within_tolerance"] for row in timed for a in row["agreement"].values()),
        "peak_memory_mib": spread([row["memory"]["peak_mib"] for row in timed]),
    }


def run_maps(cases: list[Case], sets: tuple[str, ...], repeats: int,
             checkpoint: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Every set on every case; ``checkpoint`` gets the results so far after each case (pyradiomics' voxel
    mode takes hours on the largest tumors: a run cut short keeps what it measured)."""
    results = {}
    for set_name in sets:
        rows = []
        for case in cases:
            rows.append(maps_case(case, MAP_SETS[set_name], repeats))
            print(maps_progress_line(set_name, rows[-1]), flush=True)
            results[set_name] = {"features": MAP_SETS[set_name], "cases": rows, "summary": maps_summary(rows)}
            checkpoint(results)
    return results


def maps_progress_line(set_name: str, row: dict[str, Any]) -> str:
    head = f"maps {set_name} {row['case']:14s} {row['kernels']:7d} kernels:"
    if "speedup" not in row:
        return f"{head} {row['error']}"
    agreed = all(a["within_tolerance"] for a in row["agreement"].values())
    return (f"{head} ours {row['median']['ours']['wall']:.3f} s, pyradiomics {row['median']['pyradiomics']['wall']:.2f} s "
            f"(voxelBatch {row['pyradiomics_batch']['voxelBatch']}), {_ratio(row['speedup']['wall'])}, "
            f"peak {row['memory']['peak_mib']:.0f} MiB, maps {'agree' if agreed else 'DIFFER'}")


# ------------------------------------------------------------------------------------------------
# Machine


def limit_threads() -> None:
    torch.set_num_threads(THREADS)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(THREADS)
    with contextlib.suppress(ImportError):  # optional: covers BLAS pools that ignore the environment variables
        from threadpoolctl import threadpool_limits

        threadpool_limits(THREADS)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                    if line.startswith("model name")), cpu)
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "cpu": cpu, "cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
        "threads": THREADS, "memory_gb": psutil.virtual_memory().total / 1e9, "platform": platform.platform(),
        "python": platform.python_version(), "repository": commit,
        "versions": {package: version(package) for package in PACKAGES},
    }


# ------------------------------------------------------------------------------------------------
# Markdown


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _ratio(value: float) -> str:
    return f"{value:.0f}x" if value >= 10 else f"{value:.2f}x"


def _mebibytes(value: float) -> str:
    return f"{value:.0f}"


def _range(values: dict[str, float] | None, show: Callable[[float], str] = _ratio) -> str:
    return "–" if values is None else " / ".join(show(values[key]) for key in ("min", "median", "max"))


def _yes(value: bool) -> str:
    return "yes" if value else "**no**"


def _case_label(case: dict[str, Any]) -> str:
    spacing = " x ".join(f"{s:.3g}" for s in case["spacing_mm"])
    return f"{case['case']} ({case['voxels']:,} voxels, {spacing} mm)"


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Radiomics engine benchmark: ours against pyradiomics 3.0.1 (and fastrad)", "",
        f"Written by `benchmarks/bench_features.py` on {report['date']} (`{report['command']}`); "
        f"run time {report['run_seconds'] / 60:.0f} min. See benchmarks/README.md.", "",
        f"- Machine: {m['cpu']}, {m['cpu_count']} CPUs ({m['cpus_usable']} usable), {m['memory_gb']:.0f} GB; "
        f"{m['threads']} threads for every library; {m['platform']}; Python {m['python']}; repository {m['repository']}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- Load average (1, 5, 15 min) at start: {report['load_start']}; at end: {report['load_end']}. On a shared "
        "machine read the ratios: both sides of each ratio ran interleaved in the same run.", "",
    ]
    if not report["complete"]:
        lines += ["**This run is not complete** (written as it went, then cut short or still going): the voxel maps "
                  "cover only the cases listed below.", ""]
    lines += [
        "## What was compared", "",
        "- **Whole tumor**: `FeatureExtractor(preset, device=\"cpu\").extract(Volume, Volume)` (the SimpleITK "
        "conversion included) against `RadiomicsFeatureExtractor(preset).execute(sitk, sitk, label=1)`, each built "
        f"once per preset. Each path warmed up once per case (those values are compared), then timed "
        f"{report['repeats']} time(s) interleaved in rotating order; the figure is the median. Speed-up = pyradiomics' time / ours. "
        f"Values: every feature within |ours - pyradiomics| <= {RTOL:g} x |pyradiomics| + {ATOL:g}, same names "
        "in the same order; the relative difference shown is |a - b| / max(|a|, |b|).",
        f"- **Voxel maps**, kernel radius {MAP_RADIUS}, pyradiomics' defaults on the Original image (binWidth 25, no "
        "resampling): `compute_feature_maps(..., device=\"cpu\")` warmed up, then timed "
        f"{report['repeats']} time(s) before and {report['repeats']} after one run of pyradiomics' voxel mode "
        "(`backend=\"pyradiomics\"`); the median of ours. pyradiomics runs with its default `voxelBatch: -1` (all "
        f"kernels at once) while its largest matrix stays under {DEFAULT_BATCH_LIMIT / 1e9:g} GB, else with batches "
        f"of about {BATCH_BYTES / 1e9:g} GB (shown per case). Our peak memory: the peak resident set "
        "(`VmHWM`, reset just before the call) of a fresh process computing the case's maps once, next to its "
        f"resident set before the maps (imports and the case). Agreement: the largest relative difference of each map, within {MAP_TOLERANCE:g}.",
    ]
    if FASTRAD_ENTRY in report["whole_tumor"]:
        lines.append(f"- **fastrad** (CPU) on `{FASTRAD_ENTRY}` (the ct preset cut down: "
                     + "; ".join(report["settings"]["fastrad_cuts"]) + "), timed once after its warm-up. "
                     + "; ".join(FASTRAD_DIFFERENCES) + ".")
    lines += [
        "", "Cases:", "",
        *(f"- {_case_label(case)}: `{case['source']}`" for case in report["cases"]),
        "", "## Summary", "",
        "Whole tumor, speed-up over pyradiomics (wall; min / median / max over cases):", "",
        _row("settings", "cases", "speed-up", "CPU-time ratio", "faster on every case timed", "values within tolerance",
             "largest rel. difference"),
        _row("---", "---:", "---:", "---:", "---", "---", "---:"),
    ]
    for name, entry in report["whole_tumor"].items():
        s = entry["summary"]
        passed = f" ({len(s['cases_passed_over'])} passed over)" if s["cases_passed_over"] else ""
        largest = "–" if s["max_relative_difference"] is None else f"{s['max_relative_difference']:.1e}"
        lines.append(_row(name, f"{s['cases_timed']}{passed}", _range(s["speedup_wall"]), _range(s["speedup_cpu"]),
                          _yes(s["faster_on_every_case"]), _yes(s["values_within_tolerance_on_every_case"]), largest))
    if FASTRAD_ENTRY in report["whole_tumor"]:
        s = report["whole_tumor"][FASTRAD_ENTRY]["summary"]
        lines += ["", f"fastrad's speed relative to pyradiomics (> 1: faster), over the cases it completed: "
                  f"{_range(s['fastrad_speed_vs_pyradiomics'])}."]
    if report["maps"]:
        lines += ["", "Voxel maps, speed-up over pyradiomics' voxel mode (start-up excluded; min / median / max):", "",
                  _row("set", "maps", "cases", "speed-up", "CPU-time ratio", f">= {MAP_TARGET:g}x on every case",
                       f"every map within {MAP_TOLERANCE:g}", "our peak RSS (MiB)"),
                  _row("---", "---", "---:", "---:", "---:", "---", "---", "---:")]
        for name, entry in report["maps"].items():
            s = entry["summary"]
            lines.append(_row(name, ", ".join(f.split("_", 1)[1] for f in entry["features"]), s["cases_timed"],
                              _range(s["speedup_wall"]), _range(s["speedup_cpu"]),
                              _yes(s[f"at_least_{MAP_TARGET:g}x_on_every_case"]), _yes(s["every_map_within_tolerance"]),
                              _range(s["peak_memory_mib"], _mebibytes)))
    lines += whole_tumor_tables(report["whole_tumor"])
    lines += maps_tables(report["maps"])
    settings = report["settings"]
    lines += ["", "## Settings", "", "The presets (`ResponsePredictor/Resources/Presets`), fastrad's cut of ct, and the "
              "voxel maps' mapping, which `compute_feature_maps` narrows to the requested classes and gives kernelRadius "
              f"{MAP_RADIUS} (pyradiomics also gets its voxelBatch):", "", "```json"]
    shown = {**settings["presets"], FASTRAD_ENTRY: settings["fastrad"], "maps": settings["maps"]}
    lines += ["{", ",\n".join(f" {json.dumps(name)}: {json.dumps(value)}" for name, value in shown.items()), "}", "```"]
    return "\n".join(lines) + "\n"


def whole_tumor_tables(results: dict[str, Any]) -> list[str]:
    lines = ["", "## Whole tumor, per case"]
    for name, entry in results.items():
        fastrad = name == FASTRAD_ENTRY
        lines += ["", f"### {name}", "",
                  _row("case", "ours (s)", "pyradiomics (s)", "speed-up", "CPU ratio", "features", "largest rel. difference",
                       "within tolerance", *(["fastrad (s)", "fastrad within tol. / compared"] if fastrad else [])),
                  _row("---", "---:", "---:", "---:", "---:", "---:", "---", "---", *(["---:", "---"] if fastrad else []))]
        failures = []
        for row in entry["cases"]:
            if "speedup" not in row:
                lines.append(f"| {row['case']} | passed over: {row.get('skipped') or row.get('error')} |")
                continue
            values, wall = row["values"], row["median"]
            failures += [(row["case"], failure) for failure in values["failing"]]
            extra = []
            if fastrad:
                agreed = row["fastrad_values"]
                timed = f"{wall['fastrad']['wall']:.3f}" if "fastrad" in wall else "failed: " + "; ".join(
                    f"{cls}: {why}" for cls, why in row["fastrad_failed"].items())
                extra = [timed, f"{agreed['within_tolerance']} / {agreed['features']}"]
            lines.append(_row(row["case"], f"{wall['ours']['wall']:.3f}", f"{wall['pyradiomics']['wall']:.3f}",
                              _ratio(row["speedup"]["wall"]), _ratio(row["speedup"]["cpu"]), values["features"],
                              f"{values['max_relative_difference']:.1e} ({values['worst_feature']})",
                              _yes(values["all_within_tolerance"]) + ("" if values["same_names_and_order"]
                                                                      else " (names or order differ)"), *extra))
        if failures:
            lines += ["", "Features outside the tolerance:", ""]
            lines += [f"- {case}: {f['feature']}: ours {f['ours']!r}, pyradiomics {f['pyradiomics']!r}" for case, f in failures]
    return lines


def maps_tables(results: dict[str, Any]) -> list[str]:
    lines = []
    for name, entry in results.items():
        lines += ["", f"## Voxel maps, set {name}, per case", "", "Maps: " + ", ".join(entry["features"]) + ".", "",
                  _row("case", "kernels", "Ng", "pyradiomics voxelBatch", "pyradiomics (s)", "ours (s)", "speed-up",
                       "CPU ratio", "our peak RSS (MiB; before the maps)", "largest rel. difference", "NaN mismatches"),
                  _row("---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:")]
        for row in entry["cases"]:
            if "speedup" not in row:
                lines.append(f"| {row['case']} | failed: {row['error']} |")
                continue
            agreement, batch, memory = row["agreement"], row["pyradiomics_batch"], row["memory"]
            worst = max(agreement, key=lambda map_name: agreement[map_name]["max_relative_difference"])
            lines.append(_row(row["case"], row["kernels"], batch["gray_levels"],
                              f"{'default' if batch['voxelBatch'] < 0 else batch['voxelBatch']} "
                              f"({batch['memory_need_gb']:.1f} GB at once)",
                              f"{row['median']['pyradiomics']['wall']:.2f}", f"{row['median']['ours']['wall']:.3f}",
                              _ratio(row["speedup"]["wall"]), _ratio(row["speedup"]["cpu"]),
                              f"{memory['peak_mib']:.0f} ({memory['before_maps_mib']:.0f})",
                              f"{agreement[worst]['max_relative_difference']:.1e} ({worst.split('_', 1)[1]})",
                              sum(a["nan_mismatches"] for a in agreement.values())))
    return lines


# ------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, help=f"folder for features.json and features.md (default {DEFAULT_OUT}; "
                        f"with --quick {QUICK_OUT})")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per case and path (median taken)")
    parser.add_argument("--quick", action="store_true",
                        help="a fast check: the two smallest tumours, the ct preset, map set A, one repeat")
    parser.add_argument("--no-maps", action="store_true", help="whole tumor only")
    parser.add_argument("--no-fastrad", action="store_true", help="leave fastrad out")
    parser.add_argument("--cases", nargs="+", metavar="NAME", help="only these cases (names as listed, e.g. 'STS_002 PET')")
    parser.add_argument("--presets", nargs="+", choices=PRESETS, help="only these presets")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 1
    args.out = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    return args


def write_results(out: Path, report: dict[str, Any]) -> None:
    with atomic_file(out / "features.json") as path:
        path.write_text(json.dumps(report, indent=1) + "\n")
    with atomic_file(out / "features.md") as path:
        path.write_text(markdown(report))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    needed = [args.data_dir / folder for folder in ("pyradiomics", "nsclc_crops", "sts_dev")]
    if not all(folder.is_dir() for folder in needed):
        print(f"Data folder not found or incomplete: {args.data_dir} (needs pyradiomics/, nsclc_crops/ and sts_dev/). "
              "Set RP_DATA_DIR or --data-dir to the shared data folder.", file=sys.stderr)
        return 2
    load_start, started = os.getloadavg(), time.perf_counter()
    if load_start[0] > BUSY_LOAD:
        print(f"warning: load average {load_start[0]:.1f} at the start: the machine is not idle, and the ratios "
              "will be distorted (see BUSY_LOAD)", file=sys.stderr)
    limit_threads()
    logging.getLogger("radiomics").setLevel(logging.ERROR)  # its per-case warnings would bury the progress

    cases = all_cases(args.data_dir)
    presets, sets = (PRESETS[:1], ("A",)) if args.quick else (PRESETS, tuple(MAP_SETS))
    if args.quick:
        cases = smallest(cases, 2)
    if args.cases:  # a closer look at some cases (more repeats, a quiet machine), written to its own --out
        unknown = sorted(set(args.cases) - {case.name for case in cases})
        if unknown:
            print(f"Unknown case(s): {', '.join(unknown)}; the cases are: {', '.join(c.name for c in cases)}", file=sys.stderr)
            return 2
        cases = [case for case in cases if case.name in args.cases]
    presets = tuple(args.presets or presets)
    print("cases: " + ", ".join(f"{case.name} ({case.voxels} voxels)" for case in cases), flush=True)
    whole_tumor = run_whole_tumor(cases, presets, not args.no_fastrad, args.repeats)

    def report(maps: dict[str, Any], complete: bool) -> dict[str, Any]:
        fastrad_cut, fastrad_cuts = fastrad_settings()
        return {
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": "bench_features.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": machine(),
            "load_start": [round(x, 2) for x in load_start],
            "load_end": [round(x, 2) for x in os.getloadavg()],
            "run_seconds": time.perf_counter() - started,
            "repeats": args.repeats,
            "tolerance": {"whole_tumor": {"rtol": RTOL, "atol": ATOL}, "maps": MAP_TOLERANCE},
            "settings": {
                "presets": {name: load_settings(preset=name) for name in presets},
                "fastrad": fastrad_cut, "fastrad_cuts": fastrad_cuts,
                "maps": MAP_SETTINGS, "map_radius": MAP_RADIUS,
                "pyradiomics_voxel_batch": {"default_below_bytes": DEFAULT_BATCH_LIMIT, "batch_bytes": BATCH_BYTES},
            },
            "cases": [case.describe() for case in cases],
            "whole_tumor": whole_tumor,
            "maps": maps,
            # False while the run goes on (or when it was cut short): the maps then cover the cases listed.
            "complete": complete,
        }
    maps: dict[str, Any] = {}
    write_results(args.out, report(maps, complete=args.no_maps))
    if not args.no_maps:
        maps = run_maps(cases, sets, args.repeats, lambda partial: write_results(args.out, report(partial, complete=False)))
    final = report(maps, complete=True)
    write_results(args.out, final)
    print(f"results written to {args.out}/features.{{json,md}} after {final['run_seconds'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
