"""A prediction in words, the same in the case report, the Slicer panel and the terminal.

Light on purpose (no numpy, no model code): the Slicer panel imports it in Slicer's own process.
``model`` is the outcome model's record that a case carries in its provenance: its ``outcome``
(column names) and the card's ``outcome_definition`` (which names the event and the time unit).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

BASELINE = "(baseline)"  # the contributions' column for the model's share that no input explains
TIME_UNITS = ("days", "weeks", "months", "years")
DAYS_PER = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12, "years": 365.25}


def ranked_contributions(contributions: Mapping[str, float], count: int = 5) -> list[tuple[str, float]]:
    """The inputs that moved this prediction most, largest effect first (baseline and empty ones left out)."""
    shares = [(name, float(value)) for name, value in contributions.items()
              if name != BASELINE and value is not None and math.isfinite(float(value))]
    return sorted(shares, key=lambda item: abs(item[1]), reverse=True)[:count]


def grouped_contributions(contributions: Mapping[str, float]) -> list[tuple[str, float]]:
    """The contributions summed by scan and region ("primary scan tumor", "PET peri5mm", "clinical"), largest
    effect first: where in a multimodal case the prediction comes from."""
    from .features.columns import column_origin

    totals: dict[str, float] = {}
    for name, value in contributions.items():
        if name != BASELINE and value is not None and math.isfinite(float(value)):
            group = column_origin(name).group
            totals[group] = totals.get(group, 0.0) + float(value)
    return sorted(totals.items(), key=lambda item: abs(item[1]), reverse=True)


def event_words(outcome: Mapping[str, Any], definition: str = "") -> str:
    """The event a survival model predicts, in words: "death" when its definition says so, else its column."""
    return "death" if "death" in definition.lower() else str(outcome.get("event", "the event"))


def horizon_words(horizon: float, definition: str = "") -> str:
    """The prediction horizon in the unit the outcome definition names (e.g. 730.5 days -> "2 years")."""
    unit = next((unit for unit in TIME_UNITS if re.search(rf"\b(in|of) {unit}\b", definition.lower())), None)
    if unit is None:
        return f"time {horizon:g} (the model's time unit)"
    days = horizon * DAYS_PER[unit]
    for name in ("years", "months"):  # the largest unit giving a whole or half number reads best
        amount = days / DAYS_PER[name]
        if amount >= 1 and abs(2 * amount - round(2 * amount)) < 0.02:
            amount = round(2 * amount) / 2
            return f"{amount:g} {name[:-1] if amount == 1 else name}"
    return f"{horizon:g} {unit}"


def prediction_headline(kind: str | None, prediction: Mapping[str, Any], model: Mapping[str, Any] | None) -> tuple[str, str]:
    """The prediction in large type with its interval, and what it means in a smaller line under it."""
    model = model or {}
    outcome = model.get("outcome") or {}
    definition = str(model.get("outcome_definition") or "")
    if kind == "binary":
        column = outcome.get("column", "the outcome")
        return (f"Probability of {column}: {_with_interval(prediction, 'probability', 'lower', 'upper')}",
                f"Predicted {column} = {int(prediction.get('predicted', 0))} at the model's threshold")
    if kind == "survival":
        event = event_words(outcome, definition)
        within = f" within {horizon_words(float(prediction['horizon']), definition)}" if "horizon" in prediction else ""
        return (f"Risk of {event}{within}: {_with_interval(prediction, 'risk', 'lower', 'upper')}",
                f"Probability of no {event}{within}: "
                f"{_with_interval(prediction, 'survival', 'survival_lower', 'survival_upper')}; "
                f"risk score {float(prediction.get('score', math.nan)):.3g} (higher: earlier {event})")
    return ("No outcome model: tumor mask and features only.", "")


def _with_interval(prediction: Mapping[str, Any], value: str, lower: str, upper: str) -> str:
    if prediction.get(value) is None:
        return "not available"
    text = f"{float(prediction[value]):.0%}"
    if prediction.get(lower) is not None and prediction.get(upper) is not None:
        text += f" (95% interval {float(prediction[lower]):.0%}\u2013{float(prediction[upper]):.0%})"
    return text
