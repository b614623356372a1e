"""A cohort's predictions against its outcomes, as numbers and as PNG pictures.

Binary outcomes: the ROC curve (scikit-learn's ``roc_curve`` and ``roc_auc_score``) and the
calibration curve (``calibration_curve``, bins holding equal numbers of cases). Survival outcomes:
Kaplan-Meier curves of the predicted risk groups (scikit-survival's ``kaplan_meier_estimator``,
with its pointwise 95% confidence band) and the log-rank test between them (``compare_survival``).
Each function returns its numbers, so that the HTML page and the tests read the same figures the
picture shows. Figures are drawn with matplotlib's object interface (no pyplot: no global state).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..errors import TableError
from ..files import atomic_file
from ..optional_packages import SCIKIT_SURVIVAL, needs

GROUP_NAMES = {2: ("low risk", "high risk"), 3: ("low risk", "intermediate risk", "high risk")}
GROUP_COLOURS = ("tab:blue", "tab:orange", "tab:red")
DPI = 110


@dataclass(frozen=True)
class RocCurve:
    false_positive_rate: np.ndarray
    true_positive_rate: np.ndarray
    auc: float
    cases: int
    positives: int


@dataclass(frozen=True)
class CalibrationCurve:
    predicted: np.ndarray  # mean predicted probability per bin
    observed: np.ndarray  # fraction of positives per bin
    bins: int
    brier: float


@dataclass(frozen=True)
class RiskGroup:
    name: str
    cases: int
    events: int
    time: np.ndarray  # the Kaplan-Meier step times
    survival: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    median_survival: float | None  # None while the curve stays above one half
    at_risk: list[int]  # cases still followed and event-free at each of ``KaplanMeier.at_risk_times``


@dataclass(frozen=True)
class KaplanMeier:
    groups: list[RiskGroup]
    cut_points: list[float]  # predicted-risk values between the groups
    chi_square: float
    p_value: float
    at_risk_times: list[float]  # the time axis' ticks, where the number at risk is shown under the curves


def roc(outcome: np.ndarray, probability: np.ndarray, path: str | Path) -> RocCurve:
    """Draw the ROC curve of ``probability`` against the 0/1 ``outcome`` into ``path`` (PNG)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    outcome, probability = _binary(outcome), np.asarray(probability, float)
    fpr, tpr, _ = roc_curve(outcome, probability)
    curve = RocCurve(fpr, tpr, float(roc_auc_score(outcome, probability)), len(outcome), int(outcome.sum()))
    figure, axes = _figure()
    axes.plot(fpr, tpr, color="tab:blue", lw=2, drawstyle="steps-post", label=f"model (AUC {curve.auc:.3f})")
    axes.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="chance (AUC 0.5)")
    axes.set(xlim=(0, 1), ylim=(0, 1.01), aspect="equal", xlabel="1 - specificity (false positive rate)",
             ylabel="sensitivity (true positive rate)",
             title=f"ROC curve: {curve.cases} cases, {curve.positives} positive")
    axes.legend(loc="lower right")
    save_figure(figure, path)
    return curve


def calibration(outcome: np.ndarray, probability: np.ndarray, path: str | Path, bins: int = 5) -> CalibrationCurve:
    """Draw observed against predicted probability (``bins`` bins of equal case counts) into ``path``."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    outcome, probability = _binary(outcome), np.asarray(probability, float)
    bins = max(1, min(bins, len(outcome) // 5))  # at least about five cases per bin
    observed, predicted = calibration_curve(outcome, probability, n_bins=bins, strategy="quantile")
    curve = CalibrationCurve(predicted, observed, bins, float(brier_score_loss(outcome, probability)))
    figure, axes = _figure()
    axes.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="perfect calibration")
    axes.plot(predicted, observed, "o-", color="tab:blue", lw=2, label=f"model ({bins} bins of equal size)")
    axes.hist(probability, bins=20, range=(0, 1), weights=np.full(len(probability), 0.25 / len(probability)),
              color="tab:grey", alpha=0.4, label="predictions (distribution)")
    axes.set(xlim=(0, 1), ylim=(0, 1), aspect="equal", xlabel="predicted probability", ylabel="observed fraction positive",
             title=f"Calibration: {len(outcome)} cases, Brier score {curve.brier:.3f}")
    axes.legend(loc="upper left")
    save_figure(figure, path)
    return curve


def risk_groups(risk: np.ndarray, groups: int = 2) -> tuple[np.ndarray, list[float]]:
    """Each case's risk group (0 = lowest) by the median (2 groups) or tertiles (3) of ``risk``, and the cut points.

    A case exactly at a cut point joins the lower group.
    """
    if groups not in GROUP_NAMES:
        raise TableError(f"Risk groups: 2 (median split) or 3 (tertiles); got {groups}.")
    risk = np.asarray(risk, float)
    cuts = [float(c) for c in np.quantile(risk, np.arange(1, groups) / groups)]
    return np.digitize(risk, cuts, right=True), cuts


def kaplan_meier(time: np.ndarray, event: np.ndarray, risk: np.ndarray, path: str | Path, groups: int = 2,
                 time_label: str = "time") -> KaplanMeier:
    """Draw the Kaplan-Meier curves of the predicted risk groups into ``path``; log-rank test between them."""
    with needs(SCIKIT_SURVIVAL, "Kaplan-Meier curves"):
        from sksurv.compare import compare_survival
        from sksurv.nonparametric import kaplan_meier_estimator
        from sksurv.util import Surv

    time, event = np.asarray(time, float), _binary(event, both=False).astype(bool)
    if not event.any() or not np.all(np.isfinite(time)) or np.any(time < 0):
        raise TableError("Kaplan-Meier curves need times >= 0 for every case and at least one event.")
    membership, cuts = risk_groups(risk, groups)
    present = np.unique(membership)
    if present.size < 2:
        raise TableError("The predicted risks do not separate the cases into groups (too many equal values).")
    names = GROUP_NAMES[groups]
    figure = Figure(figsize=(8.0, 6.5), layout="constrained")
    # The curves above, the number at risk below on the same time axis (as clinical papers print it:
    # the curves' right end rests on few cases).
    axes, table = figure.subplots(2, 1, sharex=True, height_ratios=(5, 1))
    axes.grid(alpha=0.3)
    axes.set_xlim(0, float(time.max()))
    ticks = [float(t) for t in axes.get_xticks() if 0 <= t <= time.max()]
    found = []
    for index in present:
        chosen = membership == index
        steps, survival, (lower, upper) = kaplan_meier_estimator(event[chosen], time[chosen], conf_type="log-log")
        below = np.flatnonzero(survival <= 0.5)
        found.append(RiskGroup(names[index], int(chosen.sum()), int(event[chosen].sum()), steps, survival, lower, upper,
                               float(steps[below[0]]) if below.size else None,
                               [int(np.sum(time[chosen] >= t)) for t in ticks]))
    chi_square, p_value = compare_survival(Surv.from_arrays(event, time), membership)
    result = KaplanMeier(found, cuts, float(chi_square), float(p_value), ticks)

    for group, index in zip(found, present):
        colour = _group_colour(index, groups)
        # Each curve starts at time 0 with everyone alive.
        steps, survival = np.r_[0.0, group.time], np.r_[1.0, group.survival]
        axes.step(steps, survival, where="post", color=colour, lw=2,
                  label=f"{group.name}: {group.cases} cases, {group.events} events")
        axes.fill_between(steps, np.r_[1.0, group.lower], np.r_[1.0, group.upper], step="post", color=colour, alpha=0.15)
        censored = ~event[membership == index]
        at = np.sort(time[membership == index][censored])
        axes.plot(at, survival[np.searchsorted(steps, at, side="right") - 1], "|", color=colour, ms=8)
    axes.set(ylim=(0, 1.02), ylabel="survival probability",
             title=f"Kaplan-Meier by predicted risk group: log-rank {format_p(p_value)}")
    axes.legend(loc="upper right", title="95% bands shaded; | censored")
    rows = list(zip(found, present))[::-1]  # the first group on top
    for row, (group, index) in enumerate(rows):
        colour = _group_colour(index, groups)
        for tick, count in zip(ticks, group.at_risk):
            table.text(tick, row, str(count), ha="center", va="center", color=colour, fontsize=9)
    table.set(ylim=(-0.6, len(rows) - 0.4), yticks=range(len(rows)), yticklabels=[g.name for g, _ in rows],
              xlabel=time_label, title="number at risk")
    table.title.set_fontsize(9)
    table.tick_params(axis="y", length=0, pad=14)  # clear of the counts at time 0
    for side in ("top", "right", "left"):
        table.spines[side].set_visible(False)
    save_figure(figure, path)
    return result


def _group_colour(index: int, groups: int) -> str:
    """Blue for the lowest risk group, red for the highest, orange between (tertiles)."""
    return GROUP_COLOURS[index if groups == 3 else (0 if index == 0 else 2)]


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Write ``figure`` as a PNG, atomically."""
    path = Path(path)
    with atomic_file(path, suffix=".partial.png") as partial:
        figure.savefig(partial, format="png", dpi=DPI)
    return path


def _figure() -> tuple[Figure, object]:
    figure = Figure(figsize=(6.0, 5.5), layout="constrained")
    axes = figure.add_subplot()
    axes.grid(alpha=0.3)
    return figure, axes


def _binary(values: np.ndarray, both: bool = True) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype == bool:
        return values.astype(int)
    as_float = np.asarray(values, float)
    if not np.isin(as_float, (0.0, 1.0)).all():
        raise TableError(f"An outcome or event must be 0 or 1; found {sorted(set(as_float[~np.isin(as_float, (0.0, 1.0))]))[:5]}.")
    if both and np.unique(as_float).size < 2:
        raise TableError("The outcomes are all the same value; curves need both 0 and 1 among the cases.")
    return as_float.astype(int)


def format_p(value: float) -> str:
    """``p < 0.001`` or ``p = 0.023``."""
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"
