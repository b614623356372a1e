"""A prediction in words: the report, the Slicer panel and the demo all say it this way."""

from __future__ import annotations

import math

from ResponsePredictorLib.prediction_text import horizon_words, prediction_headline, ranked_contributions

SURVIVAL_MODEL = {
    "outcome": {"kind": "survival", "time": "SurvivalTime", "event": "Event"},
    "outcome_definition": "Overall survival: SurvivalTime in days, Event 1 = death, 0 = alive at last follow-up.",
}


def test_survival_prediction_names_the_event_and_the_horizon_in_its_unit():
    prediction = {"risk": 0.4976, "lower": 0.4228, "upper": 0.5884, "survival": 0.5024, "survival_lower": 0.41,
                  "survival_upper": 0.58, "score": 0.0686, "horizon": 730.5}
    big, small = prediction_headline("survival", prediction, SURVIVAL_MODEL)
    assert big == "Risk of death within 2 years: 50% (95% interval 42%\u201359%)"
    assert small == "Probability of no death within 2 years: 50% (95% interval 41%\u201358%); risk score 0.0686 (higher: earlier death)"
    # Without a definition the numbers stay, in the model's own words and units.
    big, _ = prediction_headline("survival", prediction, {"outcome": SURVIVAL_MODEL["outcome"]})
    assert big.startswith("Risk of Event within time 730.5 (the model's time unit): 50%")


def test_horizons_read_in_the_largest_fitting_unit():
    assert horizon_words(730.5, "time in days") == "2 years"
    assert horizon_words(182.6, "time in days") == "6 months"
    assert horizon_words(100, "time in days") == "100 days"
    assert horizon_words(12, "time in months") == "1 year"
    assert horizon_words(18, "time in months") == "1.5 years"


def test_binary_prediction_and_no_model():
    big, small = prediction_headline("binary", {"probability": 0.734, "lower": 0.61, "upper": 0.83, "predicted": 1},
                                     {"outcome": {"kind": "binary", "column": "responder"}})
    assert big == "Probability of responder: 73% (95% interval 61%\u201383%)"
    assert small == "Predicted responder = 1 at the model's threshold"
    assert prediction_headline(None, {}, None)[0].startswith("No outcome model")


def test_ranked_contributions_leave_out_the_baseline_and_empty_values():
    contributions = {"age": 0.2, "(baseline)": -3.0, "original_shape_Sphericity": -0.5, "N": 0.1, "T": math.nan}
    assert ranked_contributions(contributions, 2) == [("original_shape_Sphericity", -0.5), ("age", 0.2)]
    assert ranked_contributions(contributions) == [("original_shape_Sphericity", -0.5), ("age", 0.2), ("N", 0.1)]
