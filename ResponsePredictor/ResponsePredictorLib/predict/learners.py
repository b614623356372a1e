"""The learners: the last step of a model, fitted on the standardised matrix of ``preprocessing``.

Each learner is a scikit-learn estimator (hyper-parameters in the constructor, work in ``fit``) with
the same small interface, so that tuning, bootstrap intervals, contributions and persistence treat
them all alike:

- ``decision_function(X)``: log-odds of the outcome (binary) or a risk score (survival; higher =
  earlier event);
- ``contributions(X)``: each feature's exact additive share of ``decision_function`` for each case,
  last column the baseline (the value for a case with no feature information), so each row sums to
  the decision value;
- ``survival_function(X, times)`` (survival learners): probability of being event-free at ``times``;
- ``to_state()`` / ``from_state()``: the fitted model as JSON-able values, numpy arrays and LightGBM
  boosters (saved in LightGBM's own text format), never a pickle.

``param_grid`` is what inner cross-validation searches when the user gives no grid.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from ..optional_packages import SCIKIT_SURVIVAL, needs
from .trees import TreeEnsemble


class Learner(BaseEstimator):
    name: ClassVar[str]
    kind: ClassVar[str]  # "binary" or "survival"
    param_grid: ClassVar[dict[str, list[Any]]]
    fitted_attributes: ClassVar[tuple[str, ...]]
    # How ``preprocessing.FeatureFilter`` scales the columns for this learner (trees do not care).
    scaling: ClassVar[str] = "standard"

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def contributions(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def to_state(self) -> dict[str, Any]:
        return {"params": self.get_params(), **{name: getattr(self, name) for name in self.fitted_attributes}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Learner:
        learner = cls(**state["params"])
        for name in cls.fitted_attributes:
            setattr(learner, name, state[name])
        return learner


class LogisticLearner(Learner):
    """Penalised logistic regression: ``l1_ratio`` 1 is the lasso (selects features), 0 is ridge.

    Its columns are normal scores (each feature mapped through its training quantiles to a normal
    distribution, then standardised): against plainly standardised columns, its nested-CV AUC on the
    15 radMLBench tables rose on 10 (mean +0.015, from -0.052 on Arita2018 to +0.116 on C4KC-KiTS).
    Contributions are exact: coefficient times the scaled value, i.e. relative to the average
    training case; the baseline is the intercept.
    """

    name, kind = "logistic", "binary"
    scaling = "normal-scores"
    param_grid = {"C": [0.003, 0.01, 0.03, 0.1, 0.3, 1.0], "l1_ratio": [1.0, 0.0]}
    fitted_attributes = ("coef_", "intercept_")

    def __init__(self, C: float = 0.1, l1_ratio: float = 1.0, random_state: int = 0) -> None:
        self.C = C
        self.l1_ratio = l1_ratio
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> LogisticLearner:
        from sklearn.linear_model import LogisticRegression

        # liblinear solves the lasso and ridge paths fastest on a few hundred columns; it penalises
        # the intercept as a column of ``intercept_scaling``, which a large value makes negligible.
        solver = "liblinear" if self.l1_ratio in (0.0, 1.0) else "saga"
        model = LogisticRegression(
            C=self.C, l1_ratio=self.l1_ratio, solver=solver, intercept_scaling=100.0, max_iter=5000,
            random_state=self.random_state,
        ).fit(X, y)
        self.coef_ = model.coef_.ravel().astype(float)
        self.intercept_ = float(model.intercept_[0])
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return X @ self.coef_ + self.intercept_

    def contributions(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([X * self.coef_, np.full(len(X), self.intercept_)])


class LightGBMLearner(Learner):
    """Gradient-boosted trees (LightGBM) with settings for cohorts of tens to hundreds of cases.

    Contributions are LightGBM's exact TreeSHAP values (``pred_contrib``) in log-odds.
    """

    name, kind = "lightgbm", "binary"
    param_grid = {"min_child_samples": [15, 5], "feature_fraction": [0.1, 0.3]}
    fitted_attributes = ("booster_",)

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.03,
        num_leaves: int = 4,
        min_child_samples: int = 10,
        feature_fraction: float = 0.3,
        bagging_fraction: float = 0.8,
        lambda_l2: float = 1.0,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.lambda_l2 = lambda_l2
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> LightGBMLearner:
        import lightgbm

        params = {
            "objective": "binary", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples, "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction, "bagging_freq": 1, "lambda_l2": self.lambda_l2,
            "min_data_in_bin": 1, "seed": self.random_state, "deterministic": True,
            # One thread: trees on a few hundred cases are too small to gain from more, and
            # cross-validation runs folds in parallel instead.
            "num_threads": 1, "verbose": -1,
        }
        data = lightgbm.Dataset(X, label=y, params={"verbose": -1, "min_data_in_bin": 1})
        self.booster_ = lightgbm.train(params, data, num_boost_round=self.n_estimators)
        return self

    # Prediction in one thread too: a few small trees per case, and LightGBM's OpenMP threads spin
    # against other processes on a busy machine, turning milliseconds into a second.
    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.booster_.predict(X, raw_score=True, num_threads=1)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        return self.booster_.predict(X, pred_contrib=True, num_threads=1)


class EnsembleLearner(Learner):
    """The mean log-odds of two unlike learners: ridge logistic regression and LightGBM with small trees.

    A linear model and trees fail on different tables (radMLBench: logistic regression ahead by up to
    0.12 AUC on some, LightGBM ahead by as much on others); their mean rarely falls far behind either.
    Both members see the same columns: normal scores suit the linear member and change nothing for
    the trees, whose splits depend only on each column's order. Contributions are exact: the mean of
    the members' (coefficient times value; TreeSHAP), in log-odds.
    """

    name, kind = "ensemble", "binary"
    scaling = "normal-scores"
    param_grid = {"C": [0.01, 0.1, 1.0], "min_child_samples": [15, 5]}

    def __init__(self, C: float = 0.1, min_child_samples: int = 10, random_state: int = 0) -> None:
        self.C = C
        self.min_child_samples = min_child_samples
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> EnsembleLearner:
        self.linear_ = LogisticLearner(C=self.C, l1_ratio=0.0, random_state=self.random_state).fit(X, y)
        self.trees_ = LightGBMLearner(min_child_samples=self.min_child_samples, random_state=self.random_state).fit(X, y)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return (self.linear_.decision_function(X) + self.trees_.decision_function(X)) / 2

    def contributions(self, X: np.ndarray) -> np.ndarray:
        return (self.linear_.contributions(X) + self.trees_.contributions(X)) / 2

    def to_state(self) -> dict[str, Any]:  # the members' own states
        return {"params": self.get_params(), "linear": self.linear_.to_state(), "trees": self.trees_.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> EnsembleLearner:
        learner = cls(**state["params"])
        learner.linear_ = LogisticLearner.from_state(state["linear"])
        learner.trees_ = LightGBMLearner.from_state(state["trees"])
        return learner


class CoxnetLearner(Learner):
    """Penalised (elastic-net) Cox proportional hazards model (scikit-survival's coxnet).

    ``alpha_ratio`` sets the penalty relative to the smallest one that zeroes every coefficient on
    the training data, so one grid suits any cohort. The risk score is the linear predictor (log
    hazard ratio against the average training case); contributions are coefficient times the
    standardised value, exactly; the baseline hazard is Breslow's estimate.
    """

    name, kind = "coxnet", "survival"
    param_grid = {"alpha_ratio": [0.5, 0.3, 0.1, 0.05, 0.02], "l1_ratio": [0.1, 0.5, 1.0]}
    fitted_attributes = ("coef_", "baseline_times_", "baseline_cumulative_hazard_")

    def __init__(self, l1_ratio: float = 0.5, alpha_ratio: float = 0.1) -> None:
        self.l1_ratio = l1_ratio
        self.alpha_ratio = alpha_ratio

    def fit(self, X: np.ndarray, y: np.ndarray) -> CoxnetLearner:
        with needs(SCIKIT_SURVIVAL, "Training a survival model (coxnet)"):
            from sksurv.linear_model import CoxnetSurvivalAnalysis
            from sksurv.linear_model.coxph import BreslowEstimator

        # The path from the largest penalty down to the chosen one, warm-started as glmnet does:
        # fitting the single penalty from zero converges more slowly and less reliably.
        model = CoxnetSurvivalAnalysis(l1_ratio=self.l1_ratio, n_alphas=20, alpha_min_ratio=self.alpha_ratio)
        model.fit(X, y)
        self.coef_ = model.coef_[:, -1].astype(float)
        baseline = BreslowEstimator().fit(X @ self.coef_, y["event"], y["time"]).cum_baseline_hazard_
        self.baseline_times_ = np.asarray(baseline.x, float)
        self.baseline_cumulative_hazard_ = np.asarray(baseline.y, float)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return X @ self.coef_

    def contributions(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([X * self.coef_, np.zeros(len(X))])

    def survival_function(self, X: np.ndarray, times: np.ndarray) -> np.ndarray:
        hazard = step_values(self.baseline_times_, self.baseline_cumulative_hazard_, times, before=0.0)
        return np.exp(-np.outer(np.exp(self.decision_function(X)), hazard))


class ForestLearner(Learner):
    """Random survival forest (scikit-survival), kept as arrays of tree nodes.

    The risk score is scikit-survival's: the ensemble cumulative hazard summed over the training
    event times (the expected number of events). Contributions are exact TreeSHAP values of that
    score, computed on the stored trees (``trees.TreeEnsemble``).
    """

    name, kind = "rsf", "survival"
    param_grid = {"min_samples_leaf": [20, 10, 5]}

    def __init__(self, n_estimators: int = 100, min_samples_leaf: int = 10, max_features: str = "sqrt", random_state: int = 0) -> None:
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> ForestLearner:
        with needs(SCIKIT_SURVIVAL, "Training a survival model (random survival forest)"):
            from sksurv.ensemble import RandomSurvivalForest

        model = RandomSurvivalForest(
            n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf, max_features=self.max_features,
            low_memory=False, n_jobs=1, random_state=self.random_state,
        ).fit(X, y)
        self.forest_ = TreeEnsemble.from_survival_forest(model)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.forest_.predict(X)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        return self.forest_.shap_values(X)

    def survival_function(self, X: np.ndarray, times: np.ndarray) -> np.ndarray:
        return self.forest_.survival_function(X, times)

    def to_state(self) -> dict[str, Any]:  # the forest is an object of arrays, not one array
        return {"params": self.get_params(), "forest": self.forest_.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ForestLearner:
        learner = cls(**state["params"])
        learner.forest_ = TreeEnsemble.from_state(state["forest"])
        return learner


def step_values(x: np.ndarray, y: np.ndarray, at: np.ndarray, before: float) -> np.ndarray:
    """A right-continuous step function (value ``y[i]`` from ``x[i]`` on) evaluated at ``at``."""
    index = np.searchsorted(x, np.asarray(at, float), side="right") - 1
    return np.where(index >= 0, y[np.clip(index, 0, None)], before)


LEARNERS: dict[str, type[Learner]] = {
    learner.name: learner for learner in (LogisticLearner, LightGBMLearner, EnsembleLearner, CoxnetLearner, ForestLearner)
}


def learner_names(kind: str) -> list[str]:
    return [name for name, learner in LEARNERS.items() if learner.kind == kind]
