"""The survival forest kept as arrays predicts exactly as scikit-survival's, and its TreeSHAP values are
the exact Shapley values (checked against the Shapley formula evaluated by brute force)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from sksurv.ensemble import RandomSurvivalForest

from predict_synthetic import feature_table, survival_outcome
from ResponsePredictorLib.predict.trees import LEAF, TreeEnsemble

COLUMNS = ["signal_a", "signal_b", "signal_c", "noise_0"]


@pytest.fixture(scope="module")
def fitted():
    table = feature_table(n=90)
    X, y = table[COLUMNS].to_numpy(), survival_outcome(table)
    forest = RandomSurvivalForest(n_estimators=6, min_samples_leaf=6, max_features=None, low_memory=False, random_state=0).fit(X, y)
    return forest, TreeEnsemble.from_survival_forest(forest), X


def test_risk_and_survival_match_scikit_survival(fitted):
    forest, trees, X = fitted
    np.testing.assert_allclose(trees.predict(X), forest.predict(X), rtol=1e-12)
    times = np.array([0.5, 50, 200, 600, 5000])
    expected = np.array([[curve(min(max(t, curve.x[0]), curve.x[-1])) if t >= curve.x[0] else 1.0 for t in times]
                         for curve in forest.predict_survival_function(X)])
    np.testing.assert_allclose(trees.survival_function(X, times), expected, atol=1e-6)  # leaf curves kept as float32


def _conditional_expectation(trees: TreeEnsemble, node: int, x: np.ndarray, known: set[int]) -> float:
    """E[f(x) | x_known] the way TreeSHAP defines it: unknown features follow the training cover."""
    if trees.left[node] == LEAF:
        return float(trees.value[node])
    feature = trees.feature[node]
    if feature in known:
        child = trees.left[node] if np.float32(x[feature]) <= trees.threshold[node] else trees.right[node]
        return _conditional_expectation(trees, child, x, known)
    left, right = trees.left[node], trees.right[node]
    return (trees.cover[left] * _conditional_expectation(trees, left, x, known)
            + trees.cover[right] * _conditional_expectation(trees, right, x, known)) / trees.cover[node]


def _brute_force_shapley(trees: TreeEnsemble, x: np.ndarray) -> np.ndarray:
    m = trees.n_features
    phi = np.zeros(m)
    for root in trees.roots:
        for feature in range(m):
            others = [f for f in range(m) if f != feature]
            for size in range(m):
                weight = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
                for subset in itertools.combinations(others, size):
                    with_feature = _conditional_expectation(trees, root, x, set(subset) | {feature})
                    phi[feature] += weight * (with_feature - _conditional_expectation(trees, root, x, set(subset)))
    return phi / len(trees.roots)


def test_tree_shap_is_exact(fitted):
    _, trees, X = fitted
    values = trees.shap_values(X[:6])
    for row, x in zip(values, X[:6]):
        np.testing.assert_allclose(row[:-1], _brute_force_shapley(trees, x), atol=1e-10)
    np.testing.assert_allclose(values.sum(axis=1), trees.predict(X[:6]), rtol=1e-10)
    np.testing.assert_allclose(values[:, -1], values[0, -1])  # one baseline for every case


def test_state_round_trip_and_corrupt_state(fitted):
    _, trees, X = fitted
    again = TreeEnsemble.from_state(trees.to_state())
    np.testing.assert_array_equal(again.predict(X), trees.predict(X))
    for node, target in ((0, len(trees.left) + 5), (int(trees.left[0]), 0)):  # past the end; a loop to the root
        state = trees.to_state()
        state["left"] = state["left"].copy()
        state["left"][node] = target
        with pytest.raises(ValueError, match="outside the forest or back up its tree"):
            TreeEnsemble.from_state(state)
