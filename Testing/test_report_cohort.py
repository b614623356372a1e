"""Cohort report: curves' numbers against scikit-learn / scikit-survival / independent formulas, and
the HTML page (parses, links resolve, failed cases listed, text escaped) on a synthetic run folder.

The run folder is built here in the cohort runner's layout (OUT_DIR/results.csv, OUT_DIR/cases/<case>/
result.json and report.png): the same files ``responsepredictor run`` writes.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from scipy.stats import chi2, mannwhitneyu
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_curve
from sksurv.nonparametric import kaplan_meier_estimator

from ResponsePredictorLib.errors import InputError, TableError
from ResponsePredictorLib.report import curves
from ResponsePredictorLib.report.cohort_report import cohort_report


def synthetic_binary(n: int = 80, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    probability = rng.uniform(0.05, 0.95, n)
    return (rng.uniform(size=n) < probability).astype(int), probability


def synthetic_survival(n: int = 90, seed: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    event_time = rng.exponential(365.0 * np.exp(-risk))
    censor_time = rng.uniform(100, 1500, n)
    return np.round(np.minimum(event_time, censor_time)) + 1, (event_time <= censor_time).astype(int), risk


def assert_picture(path: Path, min_size: tuple[int, int] = (400, 400)) -> None:
    pixels = imread(path)
    assert pixels.shape[0] >= min_size[0] and pixels.shape[1] >= min_size[1]
    grey = pixels[..., :3].mean(axis=2)
    assert grey.std() > 0.05  # not a blank canvas
    assert (grey < 0.5).mean() > 0.005  # ink: lines and text


def test_roc_equals_sklearn_and_the_mann_whitney_statistic(tmp_path):
    outcome, probability = synthetic_binary()
    curve = curves.roc(outcome, probability, tmp_path / "roc.png")
    fpr, tpr, _ = roc_curve(outcome, probability)
    np.testing.assert_allclose(curve.false_positive_rate, fpr)
    np.testing.assert_allclose(curve.true_positive_rate, tpr)
    # AUC is the probability that a positive case outranks a negative one: Mann-Whitney U / (n1 n0).
    u = mannwhitneyu(probability[outcome == 1], probability[outcome == 0]).statistic
    assert curve.auc == pytest.approx(u / (outcome.sum() * (len(outcome) - outcome.sum())))
    assert (curve.cases, curve.positives) == (80, int(outcome.sum()))
    assert_picture(tmp_path / "roc.png")


def test_calibration_equals_sklearn(tmp_path):
    outcome, probability = synthetic_binary()
    curve = curves.calibration(outcome, probability, tmp_path / "calibration.png", bins=5)
    observed, predicted = calibration_curve(outcome, probability, n_bins=5, strategy="quantile")
    np.testing.assert_allclose(curve.observed, observed)
    np.testing.assert_allclose(curve.predicted, predicted)
    assert curve.brier == pytest.approx(np.mean((probability - outcome) ** 2))
    assert_picture(tmp_path / "calibration.png")


def log_rank_two_groups(time: np.ndarray, event: np.ndarray, group: np.ndarray) -> float:
    """The two-group log-rank chi-square, from its textbook definition (observed - expected)^2 / variance."""
    difference = variance = 0.0
    for t in np.unique(time[event == 1]):
        at_risk = time >= t
        n, n1 = at_risk.sum(), (at_risk & (group == 1)).sum()
        d, d1 = ((time == t) & (event == 1)).sum(), ((time == t) & (event == 1) & (group == 1)).sum()
        difference += d1 - d * n1 / n
        if n > 1:
            variance += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    return difference**2 / variance


def test_kaplan_meier_by_median_equals_sksurv_and_the_textbook_log_rank(tmp_path):
    time, event, risk = synthetic_survival()
    fit = curves.kaplan_meier(time, event, risk, tmp_path / "km.png", groups=2)
    high = risk > np.median(risk)
    assert [g.name for g in fit.groups] == ["low risk", "high risk"]
    assert [g.cases for g in fit.groups] == [int((~high).sum()), int(high.sum())]
    for group, chosen in zip(fit.groups, (~high, high)):
        steps, survival = kaplan_meier_estimator(event[chosen].astype(bool), time[chosen])
        np.testing.assert_allclose(group.time, steps)
        np.testing.assert_allclose(group.survival, survival)
        assert group.events == int(event[chosen].sum())
        assert np.all(group.lower <= group.survival) and np.all(group.survival <= group.upper)
        # The number at risk under the curves: everyone at 0, then those not yet dead or censored.
        assert group.at_risk == [int(np.sum(time[chosen] >= t)) for t in fit.at_risk_times]
        assert group.at_risk[0] == group.cases and group.at_risk[-1] < group.cases
    assert fit.at_risk_times[0] == 0 and len(fit.at_risk_times) >= 4 and fit.at_risk_times[-1] <= time.max()
    expected = log_rank_two_groups(time, event, high.astype(int))
    assert fit.chi_square == pytest.approx(expected, rel=1e-9)
    assert fit.p_value == pytest.approx(chi2.sf(expected, 1), rel=1e-9)
    assert fit.p_value < 0.05  # risk drives the event times in this cohort
    assert_picture(tmp_path / "km.png")


def test_kaplan_meier_by_tertiles(tmp_path):
    time, event, risk = synthetic_survival()
    fit = curves.kaplan_meier(time, event, risk, tmp_path / "km3.png", groups=3)
    assert [g.cases for g in fit.groups] == [30, 30, 30]
    assert fit.cut_points == pytest.approx(list(np.quantile(risk, [1 / 3, 2 / 3])))
    # Higher predicted risk, earlier events: the groups' median survival falls with risk.
    medians = [g.median_survival for g in fit.groups]
    assert all(m is not None for m in medians) and medians[0] > medians[1] > medians[2]


def test_curves_refuse_outcomes_that_are_not_binary(tmp_path):
    with pytest.raises(TableError, match="0 or 1"):
        curves.roc(np.array([0, 1, 2]), np.array([0.1, 0.5, 0.9]), tmp_path / "roc.png")
    with pytest.raises(TableError, match="all the same"):
        curves.roc(np.ones(5), np.linspace(0, 1, 5), tmp_path / "roc.png")
    with pytest.raises(TableError, match="do not separate"):
        curves.kaplan_meier(np.arange(1.0, 11), np.ones(10), np.zeros(10), tmp_path / "km.png")
    assert not list(tmp_path.iterdir())


# -- the run folder --------------------------------------------------------------------------


def write_run(out_dir: Path, kind: str, n: int = 40, failed: int = 2, outcome_in_results: bool = True) -> pd.DataFrame:
    """A run folder as the cohort runner leaves it, with ``failed`` failed cases at the end."""
    rows, model = [], {"name": "test model", "kind": kind, "folder": "m", "fingerprint": "0" * 64}
    if kind == "binary":
        outcome, probability = synthetic_binary(n)
        model["outcome"] = {"kind": "binary", "column": "responder"}
        predictions = [{"prediction_probability": p, "prediction_lower": max(p - 0.1, 0), "prediction_upper": min(p + 0.1, 1),
                        "prediction_predicted": int(p >= 0.5)} for p in probability]
        outcomes = [{"responder": y} for y in outcome]
    else:
        time, event, risk = synthetic_survival(n)
        model["outcome"] = {"kind": "survival", "time": "days", "event": "died"}
        probability = 1 / (1 + np.exp(-risk))
        predictions = [{"prediction_risk": p, "prediction_lower": p * 0.8, "prediction_upper": min(p * 1.2, 1),
                        "prediction_survival": 1 - p, "prediction_score": r, "prediction_horizon": 730.0}
                       for p, r in zip(probability, risk)]
        outcomes = [{"days": t, "died": e} for t, e in zip(time, event)]
    for index in range(n):
        case = f"case{index:03d}"
        folder = out_dir / "cases" / case
        folder.mkdir(parents=True)
        status = "failed" if index >= n - failed else "done"
        error = f"Could not read /data/Smith_John/{case}/ct.nrrd as a medical image: <truncated>" if status == "failed" else ""
        record = {"format": "responsepredictor-case", "case": case, "status": status, "error": error or None,
                  "provenance": {"outcome_model": model} if status == "done" else {}}
        (folder / "result.json").write_text(json.dumps(record))
        if status == "done" and index % 2 == 0:
            (folder / "report.png").write_bytes((out_dir.parent / "picture.png").read_bytes())
        row = {"case": case, "status": status, "error": error, **(outcomes[index] if outcome_in_results else {})}
        if status == "done":
            row.update(predictions[index])
            row["original_firstorder_Mean"] = float(index)
        rows.append(row)
    pd.DataFrame(rows).to_csv(out_dir / "results.csv", index=False)
    return pd.DataFrame([{"case": r["case"], **o} for r, o in zip(rows, outcomes)])


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    curves.roc(*synthetic_binary(20), tmp_path / "picture.png")  # any real PNG as the cases' pictures
    return tmp_path / "out"


class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("a", "img"):
            self.links.append(attrs["href" if tag == "a" else "src"])

    def handle_data(self, data):
        self.texts.append(data)


def parse(path: Path) -> PageParser:
    parser = PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def assert_links_resolve(index: Path, parser: PageParser) -> None:
    from urllib.parse import unquote

    assert parser.links
    for link in parser.links:
        assert not Path(unquote(link)).is_absolute()
        assert (index.parent / unquote(link)).is_file(), link


def test_binary_cohort_page(run_dir):
    write_run(run_dir, "binary")
    index = cohort_report(run_dir)
    assert index == run_dir / "index.html"
    parser = parse(index)
    assert_links_resolve(index, parser)
    text = " ".join(parser.texts)
    assert "38 done, 2 failed of 40 cases" in text
    assert "report/roc.png" in parser.links and "report/calibration.png" in parser.links
    assert sum(link.endswith("report.png") for link in parser.links) == 19  # the done cases with a picture
    results = pd.read_csv(run_dir / "results.csv")
    done = results[results.status == "done"]
    from sklearn.metrics import roc_auc_score

    assert f"AUC {roc_auc_score(done.responder, done.prediction_probability):.3f}" in text
    # Failed cases with their error, escaped, and without the folders that name the patient.
    assert "case039" in text and "<truncated>" in text and "Smith_John" not in index.read_text()
    assert "&lt;truncated&gt;" in index.read_text()
    for name in ("roc.png", "calibration.png"):
        assert_picture(run_dir / "report" / name)


def test_survival_cohort_page_with_outcomes_from_a_separate_table(run_dir, tmp_path):
    outcomes = write_run(run_dir, "survival", n=60, outcome_in_results=False)
    outcomes.to_csv(tmp_path / "outcomes.csv", index=False)
    # Without the outcomes, the page says why it has no curves.
    text = " ".join(parse(cohort_report(run_dir)).texts)
    assert "No curves" in text and "days, died" in text
    index = cohort_report(run_dir, outcomes=tmp_path / "outcomes.csv", groups=3)
    parser = parse(index)
    assert_links_resolve(index, parser)
    assert "report/km.png" in parser.links
    text = " ".join(parser.texts)
    assert "58 done case(s) with a prediction and an outcome" in text and "tertiles" in text
    assert "risk by 730" in text
    assert_picture(run_dir / "report" / "km.png")


def test_explicit_outcome_columns_and_bad_requests(run_dir, tmp_path):
    write_run(run_dir, "survival", n=30)
    index = cohort_report(run_dir, time="days", event="died")
    assert "log-rank" in " ".join(parse(index).texts)
    with pytest.raises(TableError, match="lack the outcome column"):
        cohort_report(run_dir, outcome="responder")
    with pytest.raises(InputError, match="both the time and the event"):
        cohort_report(run_dir, time="days")
    with pytest.raises(InputError, match="results.csv"):
        cohort_report(tmp_path / "nowhere")
    (tmp_path / "bad.csv").write_text("patient,days\n1,2\n")
    with pytest.raises(TableError, match="no 'case' column"):
        cohort_report(run_dir, outcomes=tmp_path / "bad.csv")


def test_too_few_cases_give_a_note_not_a_curve(run_dir):
    write_run(run_dir, "binary", n=8, failed=1)
    text = " ".join(parse(cohort_report(run_dir)).texts)
    assert "At least 10 are needed" in text
    assert not (run_dir / "report" / "roc.png").exists()


def write_model_run(out_dir: Path, table: pd.DataFrame, saved) -> None:
    """A run folder whose done cases hold ``table``'s features, outcome and the saved model's predictions."""
    predictions = saved.model.outputs(table.drop(columns="responder"))
    record_model = {"name": "m", "kind": "binary", "folder": "m", "fingerprint": saved.fingerprint,
                    "outcome": {"kind": "binary", "column": "responder"}}
    for case in table.index:
        folder = out_dir / "cases" / case
        folder.mkdir(parents=True)
        record = {"format": "responsepredictor-case", "case": case, "status": "done", "provenance": {"outcome_model": record_model}}
        (folder / "result.json").write_text(json.dumps(record))
    results = table.assign(status="done", error="", **{f"prediction_{c}": predictions[c] for c in predictions.columns})
    results.reset_index().to_csv(out_dir / "results.csv", index=False)


def test_the_model_beside_its_references_on_the_run_s_patients(tmp_path):
    from predict_synthetic import VOLUME, radiomics_table, with_binary_outcome

    from ResponsePredictorLib.predict import BinaryModel, BinaryOutcome, load_model, save_model, train_model

    table = radiomics_table(160, seed=11)
    table = with_binary_outcome(table, 1.5 * (np.log(table[VOLUME].to_numpy()) - 10), seed=12)
    result = train_model(table.iloc[:100], BinaryOutcome("responder"), model=BinaryModel(learner="logistic", n_bootstrap=0),
                         folds=4, repeats=1, n_resamples=100)
    save_model(result.model, BinaryOutcome("responder"), tmp_path / "model", result.card, result.card_markdown,
               references=result.references)
    saved = load_model(tmp_path / "model")
    run_dir = tmp_path / "out"
    write_model_run(run_dir, table.iloc[100:], saved)
    text = " ".join(parse(cohort_report(run_dir, model=tmp_path / "model")).texts)
    assert "The model beside its references on these patients" in text
    assert "60 done case(s) with an outcome" in text
    for label in ("tumor volume alone", "clinical covariates alone", "plain learner, every feature"):
        assert label in text
    assert "difference in AUC" in text
    # Without the model folder the page has no comparison; another model is refused.
    assert "references" not in " ".join(parse(cohort_report(run_dir)).texts)
    save_model(result.model, BinaryOutcome("responder"), tmp_path / "bare", result.card, result.card_markdown)
    with pytest.raises(InputError, match="another outcome model"):
        cohort_report(run_dir, model=tmp_path / "bare")
