"""Train the default survival model shipped in ResponsePredictor/Resources/Models/nsclc_os_ct/.

Overall survival of non-small-cell lung cancer patients from the radiomic features of the primary
tumor on a pre-treatment CT (our ``FeatureExtractor``, preset ``ct``) and clinical covariates (age,
T, N and M stage, histology), with a penalised Cox model (``coxnet``): a risk score, and the
probability of surviving 2 years (730.5 days) with a bootstrap interval.

Data: the 150 public NSCLC crops in ``$RP_DATA_DIR/nsclc_crops`` (see shared/data/README.md). The
feature table is cached in benchmarks/data/ (``scripts/nsclc_features.py`` writes it; this script
calls it when the cache is missing or ``--recompute-features`` is given). Crops without features
(empty masks) are listed in the model card with the reason, never dropped silently.

Also measures, by the same nested cross-validation, the comparators that put the default model's
figures in context (clinical covariates alone, radiomics alone, a random survival forest) and
writes them with figures to benchmarks/results/nsclc_survival.{md,json} and nsclc_survival_*.png.

    nice .venv/bin/python scripts/train_default_model.py [--data-dir DIR] [--recompute-features] [--no-comparison]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nsclc_features  # noqa: E402  (the sibling script that computes the cached feature table)

from ResponsePredictorLib.features import load_settings  # noqa: E402
from ResponsePredictorLib.predict import CardInfo, SurvivalModel, SurvivalOutcome, cross_validate, read_table, save_model, train_model  # noqa: E402
from ResponsePredictorLib.predict.persistence import library_versions  # noqa: E402
from ResponsePredictorLib.predict.validation import Validation  # noqa: E402
from ResponsePredictorLib.report import curves  # noqa: E402
from ResponsePredictorLib.resources import resource_path  # noqa: E402
from ResponsePredictorLib.tables import CASE_COLUMN  # noqa: E402

REPO_ROOT = nsclc_features.REPO_ROOT
MODEL_DIR = resource_path("Models", "nsclc_os_ct")
RESULTS = REPO_ROOT / "benchmarks" / "results"
OUTCOME = SurvivalOutcome("SurvivalTime", "Event")
HORIZON = 730.5  # 2 years, in days (the unit of survival.csv)
CLINICAL = ["age", "Tstage", "Nstage", "Mstage", "Histology"]
SEED, FOLDS, REPEATS, BOOTSTRAP = 0, 5, 5, 100
# Histology as the provider spelt it, folded into one name per type.
HISTOLOGY = {"adenocarcinoma": "adenocarcinoma", "squamous cell carcinoma": "squamous cell carcinoma",
             "large cell": "large cell", "nos": "nos", "nsclc nos (not otherwise specified)": "nos"}

CARD = CardInfo(
    name="NSCLC overall survival from CT radiomics and clinical stage (ResponsePredictor default model)",
    intended_use=(
        "Research use only: not a medical device and not for clinical decisions. For adults with non-small-cell lung "
        "cancer (NSCLC): a pre-treatment CT with the primary tumor segmented, features computed by ResponsePredictor's "
        "`ct` preset (`responsepredictor features IMAGE MASK --preset ct`), plus age (years), T, N and M stage (numbers) "
        "and histology (adenocarcinoma, squamous cell carcinoma, large cell, nos); an unknown clinical value may be left "
        "empty and takes the training median. Gives a risk score, the probability of death within 2 years and of "
        "surviving 2 years with a bootstrap interval, and each feature's contribution to the risk score."
    ),
    data=(
        "150 NSCLC patients of a public survival-prediction challenge: 101 from NSCLC-Radiomics (Lung1, source 'l1', "
        "TCIA, CC BY-NC 3.0) and 49 from NSCLC-Radiogenomics (source 'l2', TCIA, CC BY 3.0). Per patient a 92 mm cube "
        "of CT around the primary tumor (int16 HU, 1 mm voxels as stated by the provider) and the expert tumor mask; "
        "clinical.csv and survival.csv as provided. Features: ResponsePredictor FeatureExtractor, preset `ct` (387 "
        "pyradiomics features). The source cohort is not a feature. Because part of the training data is CC BY-NC "
        "3.0, use this model for non-commercial research only."
    ),
    outcome_definition=(
        "Overall survival: SurvivalTime in days, Event 1 = death, 0 = alive at last follow-up (censored), as provided. "
        "Horizon for survival probability, AUC and Brier score: 2 years (730.5 days)."
    ),
)


def build_table(data_dir: Path, recompute: bool) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """Features, clinical covariates and survival of every crop with features; the others with their reason."""
    if recompute or not nsclc_features.FEATURES_CSV.is_file():
        nsclc_features.main_compute(data_dir)
    features = read_table(nsclc_features.FEATURES_CSV)
    cases = pd.read_csv(nsclc_features.CASES_CSV, dtype={CASE_COLUMN: str})
    excluded = [{"case": row.case, "reason": row.reason} for row in cases.itertuples() if row.status == "excluded"]
    folder = data_dir / "nsclc_crops"
    clinical = pd.read_csv(folder / "clinical.csv", dtype={"PatientID": str}).set_index("PatientID")
    clinical["Histology"] = clinical["Histology"].str.strip().str.lower().map(HISTOLOGY)
    survival = pd.read_csv(folder / "survival.csv", dtype={"PatientID": str}).set_index("PatientID")
    table = features.join(clinical[CLINICAL], how="left").join(survival[list(OUTCOME.columns)], how="left")
    without_outcome = table[list(OUTCOME.columns)].isna().any(axis=1)
    excluded += [{"case": case, "reason": "no survival data in survival.csv"} for case in table.index[without_outcome]]
    return table[~without_outcome], excluded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=nsclc_features.DEFAULT_DATA_DIR)
    parser.add_argument("--recompute-features", action="store_true", help="extract the features from the crops again")
    parser.add_argument("--no-comparison", action="store_true", help="train the default model only")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    table, excluded = build_table(args.data_dir, args.recompute_features)
    started = time.perf_counter()
    model = SurvivalModel(learner="coxnet", horizon=HORIZON, n_bootstrap=BOOTSTRAP, random_state=SEED)
    notes = [
        f"{len(excluded)} crop(s) excluded (listed above); {int(pd.read_csv(nsclc_features.CASES_CSV)['touches_border'].sum())} "
        "crops whose tumor touches the crop border were kept: their shape features describe the cropped tumor, as a "
        "user's cropped scan would.",
        "The two source cohorts differ in follow-up and event rate (l1: mostly deceased, l2: mostly censored); the model "
        "has not been validated on a third cohort.",
    ]
    card = CardInfo(**{**CARD.__dict__, "notes": notes})
    result = train_model(table, OUTCOME, model=model, folds=FOLDS, repeats=REPEATS, n_jobs=args.jobs, info=card,
                         excluded_cases=excluded)
    fingerprint = save_model(result.model, OUTCOME, MODEL_DIR, result.card, result.card_markdown,
                             load_settings(preset=nsclc_features.PRESET))
    print(result.validation.summary())
    print(f"default model -> {MODEL_DIR} (fingerprint {fingerprint}) in {time.perf_counter() - started:.0f} s")
    if not args.no_comparison:
        compare(table, result.validation, args.jobs)


def compare(table: pd.DataFrame, default: Validation, jobs: int) -> None:
    """The default model next to simpler and other models, by the same nested cross-validation."""
    y = OUTCOME.values(table)
    radiomics = [column for column in table.columns if column not in CLINICAL and column not in OUTCOME.columns]
    variants = {
        "coxnet, radiomics + clinical (default model)": default,
        "coxnet, clinical only": ("coxnet", CLINICAL),
        "coxnet, radiomics only": ("coxnet", radiomics),
        "random survival forest, radiomics + clinical": ("rsf", radiomics + CLINICAL),
    }
    results: dict[str, Validation] = {}
    for name, variant in variants.items():
        started = time.perf_counter()
        if isinstance(variant, Validation):
            results[name] = variant
            continue
        learner, columns = variant
        model = SurvivalModel(learner=learner, horizon=HORIZON, n_bootstrap=0, random_state=SEED)
        results[name] = cross_validate(model, table[columns], y, folds=FOLDS, repeats=REPEATS, random_state=SEED, n_jobs=jobs)
        print(f"{name}: C-index {results[name].metrics['c_index']} in {time.perf_counter() - started:.0f} s", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {"horizon_days": HORIZON, "folds": FOLDS, "repeats": REPEATS, "seed": SEED, "cases": len(table),
               "events": int(y["event"].sum()), "versions": library_versions(),
               "models": {name: result.to_dict() for name, result in results.items()}}
    (RESULTS / "nsclc_survival.json").write_text(json.dumps(summary, indent=2))
    log_rank = figures(table, y, results["coxnet, radiomics + clinical (default model)"])
    lines = [
        "# NSCLC overall survival: the default model and its comparators", "",
        "Generated by `scripts/train_default_model.py`; do not edit by hand. "
        f"{len(table)} patients ({int(y['event'].sum())} deaths) of the public NSCLC crops; nested cross-validation "
        f"({REPEATS} x {FOLDS}-fold stratified by event, 5-fold inner folds, seed {SEED}); means over test folds with 95% "
        "intervals from resampling the patients. AUC and Brier score at 2 years (730.5 days), weighted for censoring.",
        "", "| model | C-index | 2-year AUC | 2-year Brier score |", "|---|---|---|---|",
    ]
    for name, result in results.items():
        m = result.metrics
        lines.append(f"| {name} | {_cell(m['c_index'])} | {_cell(m['auc_at_horizon'])} | {_cell(m['brier_at_horizon'])} |")
    lines += ["", "![Kaplan-Meier curves of the out-of-fold risk tertiles](nsclc_survival_km.png)", "",
              "Kaplan-Meier curves of the patients split at the tertiles of their out-of-fold predicted risk (averaged over "
              f"the repeats), with 95% bands and the number at risk; log-rank test between the tertiles: {log_rank}.", "",
              "![2-year calibration](nsclc_survival_calibration.png)", "",
              "2-year survival predicted (out of fold) against observed (Kaplan-Meier) in groups of patients."]
    (RESULTS / "nsclc_survival.md").write_text("\n".join(lines) + "\n")


def _cell(estimate) -> str:
    return f"{estimate.value:.3f} ({estimate.lower:.3f}-{estimate.upper:.3f})"


def figures(table: pd.DataFrame, y: np.ndarray, validation: Validation) -> str:
    """The out-of-fold risk tertiles' Kaplan-Meier curves (the cohort report's figure, with the number at risk
    and the log-rank test) and the 2-year calibration; returns the log-rank p-value as text."""
    risk = validation.predictions["risk"].reindex(table.index).to_numpy()
    km = curves.kaplan_meier(y["time"] / 365.25, y["event"], risk, RESULTS / "nsclc_survival_km.png", groups=3,
                             time_label="years since the scan")
    figure = Figure(figsize=(5.5, 5.0), layout="constrained")
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    axes.plot([row["predicted"] for row in validation.calibration], [row["observed"] for row in validation.calibration],
              "o-", label="groups of equal size")
    axes.set(xlabel="predicted 2-year survival", ylabel="observed (Kaplan-Meier)", title="2-year calibration (out of fold)",
             xlim=(0, 1), ylim=(0, 1), aspect="equal")
    axes.legend(loc="upper left")
    curves.save_figure(figure, RESULTS / "nsclc_survival_calibration.png")
    return curves.format_p(km.p_value)

if __name__ == "__main__":
    main()
