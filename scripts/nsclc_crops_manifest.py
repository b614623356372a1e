"""Write NSCLC crops as NRRD files with a manifest, to validate a segmentation model on them.

By default it writes only the crops the default segmentation model was not trained on: every crop
whose patient is not among the training crops recorded in ``segmentation_training.json``. So the
held-back crops of its split, and any crops of other patients put into the data folder, are scored
by the product's own command:

    python scripts/nsclc_crops_manifest.py --out DIR [--data-dir ../shared/data] [--all]
    responsepredictor models validate DIR/manifest.csv -o DIR/validation.json

The manifest has the columns case, image, mask and cohort (l1 NSCLC-Radiomics, l2
NSCLC-Radiogenomics, from clinical.csv when the patient is listed there).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

from ResponsePredictorLib.volume import write_volume
from nsclc_crops import case_id, cohorts, crop_paths, read_crop

REPO = Path(__file__).resolve().parents[1]
TRAINING_RECORD = REPO / "benchmarks" / "results" / "segmentation_training.json"


def training_patients(record: Path) -> set[int]:
    """The patients whose crops trained the model that ``record`` describes."""
    return set(json.loads(record.read_text())["split"]["training_ids"])


def write_manifest(data_dir: Path, out: Path, leave_out: set[int]) -> tuple[Path, int, int]:
    """Writes the crops of the patients not in ``leave_out`` into ``out``; returns the manifest, and how
    many crops were written and left out."""
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    # New crops may come without a clinical table: their cohort column stays empty.
    cohort_of = cohorts(data_dir) if (data_dir / "nsclc_crops" / "clinical.csv").is_file() else {}
    rows, left_out = [], 0
    for path in crop_paths(data_dir):
        patient = case_id(path)
        if int(patient) in leave_out:
            left_out += 1
            continue
        image, mask = read_crop(path)
        image_file, mask_file = images / f"patient_{patient}_ct.nrrd", images / f"patient_{patient}_tumor.nrrd"
        write_volume(image, image_file)
        write_volume(mask, mask_file)
        rows.append({"case": f"patient_{patient}", "image": image_file.relative_to(out).as_posix(),
                     "mask": mask_file.relative_to(out).as_posix(), "cohort": cohort_of.get(int(patient), "")})
    manifest = out / "manifest.csv"
    with open(manifest, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=["case", "image", "mask", "cohort"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest, len(rows), left_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("RP_DATA_DIR", REPO.parent / "shared" / "data")))
    parser.add_argument("--out", type=Path, required=True, help="folder for the NRRD files and manifest.csv")
    parser.add_argument("--training-record", type=Path, default=TRAINING_RECORD,
                        help="the training record whose training crops are left out (default: the default model's)")
    parser.add_argument("--all", action="store_true", help="write every crop, the training crops too")
    args = parser.parse_args()
    if not crop_paths(args.data_dir):
        raise SystemExit(f"No crops found in {args.data_dir / 'nsclc_crops' / 'images'} (set --data-dir or RP_DATA_DIR).")
    leave_out = set() if args.all else training_patients(args.training_record)
    manifest, written, left_out = write_manifest(args.data_dir, args.out, leave_out)
    print(f"{written} crops written, {left_out} training crops left out: {manifest}")


if __name__ == "__main__":
    main()
