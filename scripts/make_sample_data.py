"""Write the demo's sample case into ResponsePredictor/Resources/SampleData from the public NSCLC crops.

The sample is patient 070 of the NSCLC-Radiogenomics collection (source cohort l2, CC BY 3.0), a
92 mm cube of CT around an adenocarcinoma with its expert tumor mask. The crops come without a
header; their provider states 1 mm isotropic voxels, which is what we write (origin 0, axes LPS).

    python scripts/make_sample_data.py [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

from ResponsePredictorLib.resources import resource_path
from ResponsePredictorLib.volume import write_volume
from nsclc_crops import read_crop

PATIENT = 70


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = os.environ.get("RP_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--data-dir", type=Path, default=Path(default))
    args = parser.parse_args()
    image, mask = read_crop(args.data_dir / "nsclc_crops" / "images" / f"patient_{PATIENT:03d}.npz")
    out = resource_path("SampleData")
    write_volume(image, out / f"nsclc{PATIENT:03d}_ct.nrrd")
    write_volume(mask, out / f"nsclc{PATIENT:03d}_tumor.nrrd")
    write_clinical(args.data_dir / "nsclc_crops" / "clinical.csv", out / f"nsclc{PATIENT:03d}_clinical.json")
    print(f"wrote the sample case into {out}")


def write_clinical(source: Path, target: Path) -> None:
    """The patient's covariates as the default survival model takes them (histology in lower case)."""
    with open(source, newline="") as stream:
        row = next(r for r in csv.DictReader(stream) if int(r["PatientID"]) == PATIENT)
    clinical = {"age": float(row["age"]), "Tstage": int(row["Tstage"]), "Nstage": int(row["Nstage"]),
                "Mstage": int(row["Mstage"]), "Histology": row["Histology"].strip().lower()}
    target.write_text(json.dumps(clinical, indent=2) + "\n")


if __name__ == "__main__":
    main()
