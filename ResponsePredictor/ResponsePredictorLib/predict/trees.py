"""A survival forest kept as flat arrays of tree nodes: prediction and exact TreeSHAP contributions.

scikit-survival's forest cannot be saved without pickle, and the one maintained TreeSHAP library
(``shap``) cannot be installed beside Slicer (it depends on a PyPI package named ``slicer``). So the
fitted trees are copied into arrays, which are saved as such and predicted from here, and their
contributions use the path-dependent TreeSHAP algorithm (Lundberg et al., Nature Machine Intelligence
2020, Algorithm 2), the same algorithm LightGBM's ``pred_contrib`` implements. Its values are the
exact Shapley values of E[f(x) | x_S] estimated from the training cases in each node;
``Testing/test_predict_trees.py`` checks them against the Shapley formula evaluated by brute force.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

LEAF = -1


@dataclass(frozen=True)
class TreeEnsemble:
    """Trees whose nodes are numbered across the whole forest; the forest averages its trees.

    A case goes left at a node when ``x[feature] <= threshold`` (scikit-learn's rule, on values cast
    to float32 as scikit-learn does). ``cover`` is the (bootstrap-weighted) number of training cases
    in a node, ``value`` a leaf's risk score, ``leaf_survival[leaf_row[node]]`` a leaf's survival
    probability at ``event_times``.
    """

    roots: np.ndarray
    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    cover: np.ndarray
    value: np.ndarray
    leaf_row: np.ndarray
    leaf_survival: np.ndarray
    event_times: np.ndarray
    n_features: int

    @classmethod
    def from_survival_forest(cls, forest: Any) -> TreeEnsemble:
        """Copy a fitted ``sksurv.ensemble.RandomSurvivalForest`` (``low_memory=False``)."""
        events = forest.is_event_time_
        parts: dict[str, list[np.ndarray]] = {name: [] for name in ("left", "right", "feature", "threshold", "cover", "value", "survival")}
        roots, offset = [], 0
        for estimator in forest.estimators_:
            tree = estimator.tree_
            is_leaf = tree.children_left == LEAF
            roots.append(offset)
            parts["left"].append(np.where(is_leaf, LEAF, tree.children_left + offset))
            parts["right"].append(np.where(is_leaf, LEAF, tree.children_right + offset))
            parts["feature"].append(np.where(is_leaf, LEAF, tree.feature))
            parts["threshold"].append(np.where(is_leaf, 0.0, tree.threshold))
            parts["cover"].append(tree.weighted_n_node_samples)
            # value[node, time, 0] is the node's cumulative hazard, [..., 1] its survival function.
            parts["value"].append(np.where(is_leaf, tree.value[:, events, 0].sum(axis=1), 0.0))
            parts["survival"].append(tree.value[is_leaf][:, events, 1])
            offset += tree.node_count
        left = np.concatenate(parts["left"])
        leaf_row = np.full(len(left), LEAF)
        leaf_row[left == LEAF] = np.arange(int(np.sum(left == LEAF)))
        return cls(
            roots=np.asarray(roots), left=left, right=np.concatenate(parts["right"]),
            feature=np.concatenate(parts["feature"]), threshold=np.concatenate(parts["threshold"]),
            cover=np.concatenate(parts["cover"]).astype(float), value=np.concatenate(parts["value"]),
            leaf_row=leaf_row, leaf_survival=np.concatenate(parts["survival"]).astype(np.float32),
            event_times=np.asarray(forest.unique_times_[events], float), n_features=int(forest.n_features_in_),
        )

    def apply(self, X: np.ndarray) -> np.ndarray:
        """The leaf each case reaches in each tree, shape (cases, trees)."""
        X = _as_float32(X)
        node = np.broadcast_to(self.roots, (len(X), len(self.roots))).copy()
        rows = np.arange(len(X))[:, None]
        while True:
            inner = self.left[node] != LEAF
            if not inner.any():
                return node
            goes_left = X[rows, np.where(inner, self.feature[node], 0)] <= self.threshold[node]
            node = np.where(inner, np.where(goes_left, self.left[node], self.right[node]), node)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.value[self.apply(X)].mean(axis=1)

    def survival_function(self, X: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Probability of being event-free at ``times``, shape (cases, times)."""
        survival = self.leaf_survival[self.leaf_row[self.apply(X)]].mean(axis=1, dtype=float)
        index = np.searchsorted(self.event_times, np.asarray(times, float), side="right") - 1
        return np.where(index >= 0, survival[:, np.clip(index, 0, None)], 1.0)

    def shap_values(self, X: np.ndarray) -> np.ndarray:
        """Exact TreeSHAP values of ``predict``, shape (cases, features + 1); last column the baseline."""
        X = _as_float32(X)
        phi = np.zeros((len(X), self.n_features + 1))
        for case, x in enumerate(X):
            for root in self.roots:
                _tree_shap(self, x, phi[case], root, [], 1.0, 1.0, LEAF)
        phi[:, -1] = np.mean([self._expected_value(root) for root in self.roots])
        return phi / np.array([len(self.roots)] * self.n_features + [1.0])

    def _expected_value(self, node: int) -> float:
        if self.left[node] == LEAF:
            return float(self.value[node])
        left, right = self.left[node], self.right[node]
        return (self.cover[left] * self._expected_value(left) + self.cover[right] * self._expected_value(right)) / self.cover[node]

    def to_state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TreeEnsemble:
        """Rebuild from ``to_state``; raises ValueError for arrays that do not form a forest."""
        arrays = {name: np.asarray(state[name]) for name in cls.__dataclass_fields__ if name != "n_features"}
        n_features, left, right = int(state["n_features"]), arrays["left"], arrays["right"]
        nodes = np.arange(len(left))
        if any(len(arrays[name]) != len(left) for name in ("right", "feature", "threshold", "cover", "value", "leaf_row")):
            raise ValueError("forest state: node arrays differ in length")
        inner = left != LEAF
        # Children after their parent (scikit-learn's depth-first order) is what makes every walk
        # down a tree end; a file could otherwise send a case round in a loop.
        if (np.any((right != LEAF) != inner) or np.any(left[inner] <= nodes[inner]) or np.any(right[inner] <= nodes[inner])
                or np.any(np.concatenate([left, right, arrays["roots"]]) >= len(left)) or np.any(arrays["roots"] < 0)):
            raise ValueError("forest state: a node points outside the forest or back up its tree")
        if np.any(arrays["feature"][inner] < 0) or np.any(arrays["feature"] >= n_features):
            raise ValueError("forest state: a split uses a feature the forest does not have")
        if (not np.array_equal(arrays["leaf_row"][~inner], np.arange(int(np.sum(~inner))))
                or arrays["leaf_survival"].shape != (int(np.sum(~inner)), len(arrays["event_times"]))):
            raise ValueError("forest state: leaf survival does not match the leaves and event times")
        return cls(**arrays, n_features=n_features)


def _as_float32(X: np.ndarray) -> np.ndarray:
    return np.asarray(X, dtype=np.float32)


# Path-dependent TreeSHAP. A path is a list of [feature, zero_fraction, one_fraction, weight]:
# the features split on from the root to the current node, the fraction of training cover that
# follows the path when the feature is unknown (zero) or known (one: 1 if x follows it, else 0),
# and the weights of the subsets of path features of each size.


def _extend(path: list[list[float]], zero: float, one: float, feature: int) -> None:
    depth = len(path)
    path.append([feature, zero, one, 1.0 if depth == 0 else 0.0])
    for i in range(depth - 1, -1, -1):
        path[i + 1][3] += one * path[i][3] * (i + 1) / (depth + 1)
        path[i][3] = zero * path[i][3] * (depth - i) / (depth + 1)


def _unwind(path: list[list[float]], index: int) -> list[list[float]]:
    depth = len(path) - 1
    _, zero, one, _ = path[index]
    path = [element.copy() for element in path]
    next_one = path[depth][3]
    for i in range(depth - 1, -1, -1):
        if one != 0:
            weight = path[i][3]
            path[i][3] = next_one * (depth + 1) / ((i + 1) * one)
            next_one = weight - path[i][3] * zero * (depth - i) / (depth + 1)
        else:
            path[i][3] = path[i][3] * (depth + 1) / (zero * (depth - i))
    weights = [element[3] for element in path[:depth]]
    del path[index]
    for element, weight in zip(path, weights):
        element[3] = weight
    return path


def _unwound_sum(path: list[list[float]], index: int) -> float:
    depth = len(path) - 1
    _, zero, one, _ = path[index]
    next_one, total = path[depth][3], 0.0
    for i in range(depth - 1, -1, -1):
        if one != 0:
            weight = next_one * (depth + 1) / ((i + 1) * one)
            total += weight
            next_one = path[i][3] - weight * zero * (depth - i) / (depth + 1)
        else:
            total += path[i][3] * (depth + 1) / (zero * (depth - i))
    return total


def _tree_shap(trees: TreeEnsemble, x: np.ndarray, phi: np.ndarray, node: int, parent: list[list[float]],
               zero: float, one: float, feature: int) -> None:
    path = [element.copy() for element in parent]
    _extend(path, zero, one, feature)
    if trees.left[node] == LEAF:
        for i in range(1, len(path)):
            phi[int(path[i][0])] += _unwound_sum(path, i) * (path[i][2] - path[i][1]) * trees.value[node]
        return
    split = int(trees.feature[node])
    hot, cold = (trees.left[node], trees.right[node]) if x[split] <= trees.threshold[node] else (trees.right[node], trees.left[node])
    incoming_zero = incoming_one = 1.0
    seen = next((i for i, element in enumerate(path) if element[0] == split), None)
    if seen is not None:  # a feature split on again: undo its first split and redo it here
        incoming_zero, incoming_one = path[seen][1], path[seen][2]
        path = _unwind(path, seen)
    cover = trees.cover[node]
    _tree_shap(trees, x, phi, hot, path, trees.cover[hot] / cover * incoming_zero, incoming_one, split)
    _tree_shap(trees, x, phi, cold, path, trees.cover[cold] / cover * incoming_zero, 0.0, split)
