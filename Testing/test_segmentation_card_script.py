"""The segmentation model card script: the shipped card comes from the repository's results file;
a trial run's results elsewhere get their card beside them and leave the shipped card untouched."""

from __future__ import annotations

import shutil
import subprocess
import sys

from conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "segmentation_model_card.py"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "segmentation_training.json"
SHIPPED_CARD = REPO_ROOT / "ResponsePredictor" / "Resources" / "Models" / "ModelCards" / "nsclc-ct-tumor-seeded.md"


def test_a_trial_runs_card_lands_beside_its_results_and_the_shipped_card_is_untouched(tmp_path):
    shipped = SHIPPED_CARD.read_bytes()
    trial = tmp_path / "trial.json"
    shutil.copy(RESULTS, trial)
    subprocess.run([sys.executable, str(SCRIPT), str(trial)], check=True, capture_output=True)
    assert SHIPPED_CARD.read_bytes() == shipped
    card = (tmp_path / "trial.card.md").read_text()
    assert card.startswith("# Model card: nsclc-ct-tumor-seeded")


def test_the_shipped_card_is_what_the_repositorys_results_make():
    # Regenerating it must change nothing: the card in the repository is never edited by hand.
    shipped = SHIPPED_CARD.read_bytes()
    try:
        subprocess.run([sys.executable, str(SCRIPT)], check=True, capture_output=True)
        assert SHIPPED_CARD.read_bytes() == shipped
    finally:
        SHIPPED_CARD.write_bytes(shipped)  # a failing run leaves the checkout as it found it
