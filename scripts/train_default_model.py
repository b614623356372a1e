"""Train the default survival model shipped in ResponsePredictor/Resources/Models/nsclc_os_ct/.

Overall survival of non-small-cell lung cancer patients from a pre-treatment CT of the primary tumor
(our ``FeatureExtractor``, preset ``ct``) and/or clinical covariates (age, T, N and M stage,
histology), with a penalised Cox model (``coxnet``): a risk score, and the probability of surviving 2
years (730.5 days) with a bootstrap interval. The model card is written for the inputs chosen.

Which inputs the model uses is decided by a rule fixed before the run and written in its card: of
the candidates, from the simplest, tumor volume alone, clinical covariates alone, volume + clinical,
radiomics + clinical, the model is the simplest one that is not clearly worse than the best by nested
cross-validation, "clearly worse" meaning that the paired difference of the best candidate's C-index
against it (the same folds, the same resamplings of the patients) has a 95% interval above 0.

Data: the 150 public NSCLC crops in ``$RP_DATA_DIR/nsclc_crops`` (see shared/data/README.md). The
feature table is cached in benchmarks/data/ (``scripts/nsclc_features.py`` writes it; this script
calls it when the cache is missing or ``--recompute-features`` is given). Crops without features
(empty masks) are listed in the model card with the reason, never dropped silently.

Also measures, by the same nested cross-validation, the radiomics + clinical model with its features
harmonised across the two source cohorts (ComBat by ``SourceDataset``, fitted in the training folds)
against the same model without, and writes every figure to benchmarks/results/nsclc_survival.{md,json}
and nsclc_survival_*.png.

    nice .venv/bin/python scripts/train_default_model.py [--data-dir DIR] [--recompute-features]
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
from ResponsePredictorLib.predict.references import Reference  # noqa: E402
from ResponsePredictorLib.predict.validation import LABELS, Validation  # noqa: E402
from ResponsePredictorLib.report import curves  # noqa: E402
from ResponsePredictorLib.resources import resource_path  # noqa: E402
from ResponsePredictorLib.tables import CASE_COLUMN  # noqa: E402

REPO_ROOT = nsclc_features.REPO_ROOT
MODEL_DIR = resource_path("Models", "nsclc_os_ct")
RESULTS = REPO_ROOT / "benchmarks" / "results"
OUTCOME = SurvivalOutcome("SurvivalTime", "Event")
HORIZON = 730.5  # 2 years, in days (the unit of survival.csv)
CLINICAL = ["age", "Tstage", "Nstage", "Mstage", "Histology"]
VOLUME = "original_shape_MeshVolume"
SOURCE = "SourceDataset"  # the source cohort (l1, l2): what ComBat harmonises by, never a feature
SEED, FOLDS, REPEATS, BOOTSTRAP = 0, 5, 5, 100
# Histology as the provider spelt it, folded into one name per type.
HISTOLOGY = {"adenocarcinoma": "adenocarcinoma", "squamous cell carcinoma": "squamous cell carcinoma",
             "large cell": "large cell", "nos": "nos", "nsclc nos (not otherwise specified)": "nos"}

def card(columns: list[str], chosen: str, notes: list[str]) -> CardInfo:
    """The model card's text for the inputs the rule chose."""
    clinical = [column for column in columns if column in CLINICAL]
    radiomic = [column for column in columns if column not in CLINICAL]
    inputs = ("tumor volume" if radiomic == [VOLUME]
              else f"{len(radiomic)} radiomic features" if radiomic else "")
    needs = "a pre-treatment CT with the primary tumor segmented, features computed by ResponsePredictor's `ct` preset " \
            "(`responsepredictor features IMAGE MASK --preset ct`)" if radiomic else "no image"
    if clinical:
        needs += (", plus age (years), T, N and M stage (numbers) and histology (adenocarcinoma, squamous cell carcinoma, "
                  "large cell, nos); an unknown clinical value may be left empty and takes the training median")
    return CardInfo(
        name=f"NSCLC overall survival from {' and '.join(filter(None, [inputs, 'clinical stage' if clinical else '']))} "
             "(ResponsePredictor default model)",
        intended_use=(
            "Research use only: not a medical device and not for clinical decisions. For adults with non-small-cell lung "
            f"cancer (NSCLC): needs {needs}. Gives a risk score, the probability of death within 2 years and of surviving "
            "2 years with a bootstrap interval, and each input's contribution to the risk score. Its inputs "
            f"({chosen}) were chosen by the rule stated under Limitations: the richer candidates were not shown to predict better."
        ),
        data=(
            "150 NSCLC patients of a public survival-prediction challenge: 101 from NSCLC-Radiomics (Lung1, source 'l1', "
            "TCIA, CC BY-NC 3.0) and 49 from NSCLC-Radiogenomics (source 'l2', TCIA, CC BY 3.0). Per patient a 92 mm cube "
            "of CT around the primary tumor (int16 HU, 1 mm voxels as stated by the provider) and the expert tumor mask; "
            "clinical.csv and survival.csv as provided. Features: ResponsePredictor FeatureExtractor, preset `ct` (387 "
            "pyradiomics features), of which the model uses the inputs above. The source cohort is not a feature. Because "
            "part of the training data is CC BY-NC 3.0, use this model for non-commercial research only."
        ),
        outcome_definition=(
            "Overall survival: SurvivalTime in days, Event 1 = death, 0 = alive at last follow-up (censored), as provided. "
            "Horizon for survival probability, AUC and Brier score: 2 years (730.5 days)."
        ),
        notes=notes,
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
    table = features.join(clinical[CLINICAL + [SOURCE]], how="left").join(survival[list(OUTCOME.columns)], how="left")
    without_outcome = table[list(OUTCOME.columns)].isna().any(axis=1)
    excluded += [{"case": case, "reason": "no survival data in survival.csv"} for case in table.index[without_outcome]]
    return table[~without_outcome], excluded


def candidates(table: pd.DataFrame) -> dict[str, list[str]]:
    """The inputs the default model may use, simplest first."""
    radiomics = [c for c in table.columns if c not in (*CLINICAL, SOURCE, *OUTCOME.columns)]
    return {"tumor volume alone": [VOLUME], "clinical alone": CLINICAL, "volume + clinical": [VOLUME, *CLINICAL],
            "radiomics + clinical": radiomics + CLINICAL}


def coxnet(**options) -> SurvivalModel:
    return SurvivalModel(learner="coxnet", horizon=HORIZON, random_state=SEED, **options)


def validate(table: pd.DataFrame, columns: list[str], jobs: int, references: list[Reference] = (), **options) -> Validation:
    used = list(dict.fromkeys([*columns, *(c for ref in references for c in ref.columns)]))
    return cross_validate(coxnet(n_bootstrap=0, **options), table[used], OUTCOME.values(table), folds=FOLDS,
                          repeats=REPEATS, random_state=SEED, n_jobs=jobs, references=references, columns=columns)


def best_of(results: dict[str, Validation]) -> str:
    return max(results, key=lambda name: results[name].metrics["c_index"].value)


def choose(table: pd.DataFrame, jobs: int) -> tuple[str, dict[str, Validation], Validation, Validation]:
    """The rule: (the chosen candidate, each candidate alone, the best against the others, ComBat against none)."""
    options = candidates(table)
    alone = {}
    for name, columns in options.items():
        started = time.perf_counter()
        alone[name] = validate(table, columns, jobs)
        print(f"{name}: C-index {alone[name].metrics['c_index']} in {time.perf_counter() - started:.0f} s", flush=True)
    best = best_of(alone)
    others = [Reference(name, tuple(columns), ("coxnet", None)) for name, columns in options.items() if name != best]
    against = validate(table, options[best], jobs, others)
    worse = {c.reference.name for c in against.comparisons if c.differences["c_index"].lower > 0}
    chosen = next(name for name in options if name == best or name not in worse)
    plain = Reference("radiomics + clinical, not harmonised", tuple(options["radiomics + clinical"]), ("coxnet", None))
    harmonised = validate(table, [*options["radiomics + clinical"], SOURCE], jobs, [plain], batch=SOURCE)
    return chosen, alone, against, harmonised


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=nsclc_features.DEFAULT_DATA_DIR)
    parser.add_argument("--recompute-features", action="store_true", help="extract the features from the crops again")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    table, excluded = build_table(args.data_dir, args.recompute_features)
    started = time.perf_counter()
    chosen, alone, against, harmonised = choose(table, args.jobs)
    best = best_of(alone)
    columns = candidates(table)[chosen]
    notes = [
        f"{len(excluded)} crop(s) excluded (listed above); {int(pd.read_csv(nsclc_features.CASES_CSV)['touches_border'].sum())} "
        "crops whose tumor touches the crop border were kept: their shape features describe the cropped tumor, as a "
        "user's cropped scan would.",
        "The two source cohorts differ in follow-up and event rate (l1: mostly deceased, l2: mostly censored); the model "
        "has not been validated on a third cohort.",
        "Inputs chosen by a rule fixed before training: of tumor volume alone, clinical alone, volume + clinical and "
        "radiomics + clinical (each a coxnet model, the same nested cross-validation), the simplest whose C-index is "
        f"not clearly below the best one's (the paired difference's 95% interval above 0). Best: {best} "
        f"({alone[best].metrics['c_index']}); chosen: {chosen}. Nested C-index of each: "
        + "; ".join(f"{name} {result.metrics['c_index']}" for name, result in alone.items()) + ".",
    ]
    # Every candidate's columns are in the table, so that the model is validated beside volume alone, clinical
    # alone and the plain learner on the same folds, whatever inputs it has.
    result = train_model(table.drop(columns=SOURCE), OUTCOME, model=coxnet(n_bootstrap=BOOTSTRAP), folds=FOLDS,
                         repeats=REPEATS, n_jobs=args.jobs, info=card(columns, chosen, notes), excluded_cases=excluded,
                         clinical=CLINICAL, columns=columns)
    fingerprint = save_model(result.model, OUTCOME, MODEL_DIR, result.card, result.card_markdown,
                             load_settings(preset=nsclc_features.PRESET), result.references)
    print(result.validation.summary())
    print(f"default model ({chosen}) -> {MODEL_DIR} (fingerprint {fingerprint}) in {time.perf_counter() - started:.0f} s")
    write_results(table, chosen, alone, against, harmonised, result.validation)


def write_results(table: pd.DataFrame, chosen: str, alone: dict[str, Validation], against: Validation,
                  harmonised: Validation, default: Validation) -> None:
    y = OUTCOME.values(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {"horizon_days": HORIZON, "folds": FOLDS, "repeats": REPEATS, "seed": SEED, "cases": len(table),
               "events": int(y["event"].sum()), "versions": library_versions(), "chosen": chosen,
               "candidates": {name: result.to_dict() for name, result in alone.items()},
               "best_against_others": against.to_dict(), "harmonised": harmonised.to_dict(), "default": default.to_dict()}
    (RESULTS / "nsclc_survival.json").write_text(json.dumps(summary, indent=2))
    log_rank = figures(table, y, default)
    differences = {c.reference.name: c.differences["c_index"] for c in against.comparisons}
    lines = [
        "# NSCLC overall survival: the default model, its candidates and references", "",
        "Generated by `scripts/train_default_model.py`; do not edit by hand. "
        f"{len(table)} patients ({int(y['event'].sum())} deaths) of the public NSCLC crops; nested cross-validation "
        f"({REPEATS} x {FOLDS}-fold stratified by event, 5-fold inner folds, seed {SEED}), coxnet for every candidate; "
        "means over test folds with 95% intervals from resampling the patients. AUC and Brier score at 2 years (730.5 "
        "days), weighted for censoring.", "",
        "## The candidates and the rule", "",
        "| candidate | columns | C-index | 2-year AUC | 2-year Brier score | best minus it, C-index |",
        "|---|---|---|---|---|---|",
    ]
    for name, result in alone.items():
        m, d = result.metrics, differences.get(name)
        gap = "(the best)" if d is None else d.signed()
        lines.append(f"| {name} | {len(candidates(table)[name])} | {cell(m['c_index'])} | {cell(m['auc_at_horizon'])} | "
                     f"{cell(m['brier_at_horizon'])} | {gap} |")
    lines += [
        "", f"Rule (fixed before the run): the simplest candidate not clearly worse than the best ({best_of(alone)}), "
        "clearly worse meaning that the best one's paired C-index difference against it has a 95% interval above 0. "
        f"Chosen: **{chosen}**.", "",
        "## The default model beside its references", "", "```", default.summary(), "```", "",
        "## Harmonising the two source cohorts", "",
        f"ComBat by `{SOURCE}` (l1, l2), fitted inside every training fold, on radiomics + clinical: "
        + "; ".join(f"{LABELS[n]} {harmonised.metrics[n]}" for n in ("c_index", "auc_at_horizon")) + ". "
        + harmonised.verdicts()[0] + " Harmonisation stays off by default unless it helps.", "",
        "![Kaplan-Meier curves of the out-of-fold risk tertiles](nsclc_survival_km.png)", "",
        "Kaplan-Meier curves of the patients split at the tertiles of the default model's out-of-fold predicted risk "
        f"(averaged over the repeats), with 95% bands and the number at risk; log-rank test between the tertiles: {log_rank}.",
        "", "![2-year calibration](nsclc_survival_calibration.png)", "",
        "2-year survival predicted (out of fold) against observed (Kaplan-Meier) in groups of patients.",
    ]
    (RESULTS / "nsclc_survival.md").write_text("\n".join(lines) + "\n")


def cell(estimate) -> str:
    """An estimate as the results tables show it: ``0.654 (0.595-0.713)``."""
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
