"""Write a multimodal manifest of the soft-tissue-sarcoma patients in ``sts_dev``: the PET as primary scan
with its mask, the CT with its own mask, the MR T1 with the PET's mask carried onto it; a patient's
missing scans as empty cells; the lung-metastasis outcome carried. The files stay where they are
(absolute paths), so nothing is copied:

    python scripts/sts_manifest.py --out DIR [--data-dir ../shared/data]
    responsepredictor run DIR/manifest.csv -o DIR/run --model none --preset pet --peritumoral 5,10
"""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("RP_DATA_DIR", REPO.parent / "shared" / "data"))
COLUMNS = ["case", "image", "mask", "image_CT", "mask_CT", "image_MR_T1", "lung_metastasis"]


def manifest_rows(data_dir: Path) -> list[dict[str, str]]:
    """One row per patient of ``sts_dev/cases.csv``."""
    folder = data_dir / "sts_dev"
    with open(folder / "cases.csv", newline="") as stream:
        patients = list(csv.DictReader(stream))
    rows = []
    for patient in patients:
        scans = folder / "nifti" / patient["patient"]

        def present(name: str) -> str:
            path = scans / name
            return str(path.resolve()) if path.is_file() else ""

        rows.append({"case": patient["patient"], "image": present("PET_image.nii.gz"), "mask": present("PET_mask.nii.gz"),
                     "image_CT": present("CT_image.nii.gz"), "mask_CT": present("CT_mask.nii.gz") if present("CT_image.nii.gz") else "",
                     "image_MR_T1": present("MR_T1_image.nii.gz"), "lung_metastasis": patient["lung_metastasis"]})
    return rows


def write_manifest(data_dir: Path, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "manifest.csv"
    with open(path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(manifest_rows(data_dir))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(write_manifest(args.data_dir, args.out))


if __name__ == "__main__":
    main()
