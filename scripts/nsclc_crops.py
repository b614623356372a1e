"""The public NSCLC crops (``nsclc_crops`` in the shared data) read as volumes.

Each ``images/patient_NNN.npz`` holds a 92 mm cube of CT (``scan``, int16 HU) around the primary
tumor and the expert's tumor mask (``mask``). The files carry no geometry; their provider states
1 mm voxels, which is what the volumes get (origin 0, axes LPS).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ResponsePredictorLib.volume import Volume

GEOMETRY = dict(spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))


def crop_paths(data_dir: Path) -> list[Path]:
    """Every crop file under ``data_dir``, sorted by patient."""
    return sorted((data_dir / "nsclc_crops" / "images").glob("patient_*.npz"))


def case_id(path: Path) -> str:
    """``patient_070.npz`` -> ``070``: the PatientID of clinical.csv and survival.csv."""
    return path.stem.split("_")[1]


def cohorts(data_dir: Path) -> dict[int, str]:
    """Each listed patient's source cohort (l1 NSCLC-Radiomics, l2 NSCLC-Radiogenomics), from clinical.csv."""
    with open(data_dir / "nsclc_crops" / "clinical.csv", newline="") as stream:
        return {int(row["PatientID"]): row["SourceDataset"] for row in csv.DictReader(stream)}


def read_crop(path: Path) -> tuple[Volume, Volume]:
    """The crop's CT and its expert tumor mask (0/1; empty for a few crops)."""
    with np.load(path, allow_pickle=False) as crop:
        return Volume(crop["scan"], **GEOMETRY), Volume((crop["mask"] > 0).astype(np.uint8), **GEOMETRY)
