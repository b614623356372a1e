"""The models users train: a binary-outcome classifier and a time-to-event model.

Both are scikit-learn estimators over a feature table (a DataFrame indexed by case). ``fit`` does,
on the rows it is given and nothing else:

1. inner cross-validation over the learner's hyper-parameter grid, each inner training fold fitting
   its own preprocessing (``pipeline.fit_pipeline``: ComBat harmonisation across centres when
   ``batch`` names the centre column, encoding, filtering), scored by AUC or Harrell's C-index;
2. the chosen settings refitted on all rows: the model that predicts;
3. ``n_bootstrap`` refits on stratified bootstrap resamples of the rows, with the chosen settings:
   the spread of their predictions for a case is that case's uncertainty interval (how much the
   prediction would move had the cohort been drawn again). The hyper-parameters are not re-tuned
   per resample, so the interval slightly understates that variation.

So a model evaluated by ``validation.cross_validate`` is tuned inside each outer training fold:
nested cross-validation, with nothing learnt from the test cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import ParameterGrid, StratifiedKFold

from ..errors import TableError
from . import metrics
from .learners import LEARNERS, Learner, learner_names
from .pipeline import FittedPipeline, Head, fit_head, fit_pipeline


@dataclass(frozen=True)
class Tuning:
    """Inner cross-validation: the mean score of each setting and the setting chosen."""

    scores: list[dict[str, Any]]
    best_params: dict[str, Any]


class OutcomeModel(BaseEstimator):
    """What binary and survival models share; use ``BinaryModel`` or ``SurvivalModel``."""

    kind: str
    output_attributes: tuple[str, ...]  # fitted values besides the pipelines, e.g. the threshold

    def __init__(
        self,
        learner: str,
        param_grid: dict[str, list[Any]] | None = None,
        correlation_threshold: float = 0.9,
        inner_folds: int = 5,
        n_bootstrap: int = 100,
        random_state: int = 0,
        batch: str | None = None,
    ) -> None:
        self.learner = learner
        self.param_grid = param_grid
        self.correlation_threshold = correlation_threshold
        self.inner_folds = inner_folds
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state
        self.batch = batch  # the column naming each case's centre: ComBat harmonisation by it (harmonisation.py)

    # -- fitting ---------------------------------------------------------------------------

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> OutcomeModel:
        if self.learner not in learner_names(self.kind):
            raise TableError(f"Unknown {self.kind} model {self.learner!r}; choose one of {', '.join(learner_names(self.kind))}.")
        if len(X) != len(y):
            raise TableError(f"The table has {len(X)} cases but {len(y)} outcomes.")
        strata = outcome_strata(y)
        smallest = int(np.bincount(strata).min())
        if smallest < self.inner_folds:
            raise TableError(
                f"Only {smallest} case(s) in the smaller outcome group; inner cross-validation with {self.inner_folds} "
                "folds needs at least one per fold. Use fewer folds or more cases."
            )
        base = self._base_learner()
        self.tuning_, inner_decision = self._tune(X, y, base, fold_strata(X, y, self.batch))
        chosen = clone(base).set_params(**self.tuning_.best_params)
        self.pipeline_ = fit_pipeline(X, y, chosen, self.correlation_threshold, self.batch)
        encoded = self.pipeline_.encoded(X)
        rng = np.random.default_rng(self.random_state)
        self.replicates_ = [
            fit_head(encoded[rows], y[rows], chosen, self.correlation_threshold)
            for rows in (stratified_bootstrap(strata, rng) for _ in range(self.n_bootstrap))
        ]
        self._fit_outputs(y, inner_decision)
        return self

    def _base_learner(self) -> Learner:
        learner = LEARNERS[self.learner]()
        if "random_state" in learner.get_params():
            learner.set_params(random_state=self.random_state)
        return learner

    def _tune(self, X: pd.DataFrame, y: np.ndarray, base: Learner, strata: np.ndarray) -> tuple[Tuning, np.ndarray]:
        """The tuning result and the chosen setting's out-of-fold decision values (``strata``: ``fold_strata``)."""
        grid = list(ParameterGrid(self.param_grid or type(base).param_grid))
        folds = StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.random_state).split(X, strata)
        fold_scores = np.zeros((len(grid), self.inner_folds))
        oof = np.zeros((len(grid), len(X)))
        for fold, (train, test) in enumerate(folds):
            # Preprocessing depends on the rows only, not on the hyper-parameters: fit it once per fold.
            first = fit_pipeline(X.iloc[train], y[train], clone(base).set_params(**grid[0]), self.correlation_threshold,
                                 self.batch)
            train_matrix, test_matrix = first.matrix(X.iloc[train]), first.matrix(X.iloc[test])
            for setting, params in enumerate(grid):
                learner = first.head.learner if setting == 0 else clone(base).set_params(**params).fit(train_matrix, y[train])
                oof[setting, test] = learner.decision_function(test_matrix)
                fold_scores[setting, fold] = self._score(y[test], oof[setting, test])
        means = np.nanmean(fold_scores, axis=1)
        best = int(np.nanargmax(means))  # ties: the first setting; grids list stronger regularisation first
        scores = [{"params": params, "score": float(mean)} for params, mean in zip(grid, means)]
        return Tuning(scores, grid[best]), oof[best]

    # -- predicting ------------------------------------------------------------------------

    @property
    def feature_names_in_(self) -> list[str]:
        """The columns a table must hold for this model: its features and covariates, and its centre column."""
        return list(self.pipeline_.encoder.columns_) + ([self.batch] if self.batch else [])

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.decision_function(X)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per case, each feature's exact additive share of ``decision_function`` (log-odds or risk score)."""
        return self.pipeline_.contributions(X)

    def _interval(self, values: np.ndarray, level: float) -> tuple[np.ndarray | float, np.ndarray | float]:
        """Percentile interval over the bootstrap refits (rows: refits); NaN for a model without refits."""
        if not self.replicates_:
            return np.nan, np.nan
        tail = (1 - level) / 2 * 100
        return np.percentile(values, tail, axis=0), np.percentile(values, 100 - tail, axis=0)

    def _score(self, y: np.ndarray, decision: np.ndarray) -> float:
        raise NotImplementedError

    def _fit_outputs(self, y: np.ndarray, inner_decision: np.ndarray) -> None:
        raise NotImplementedError

    def outputs(self, X: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
        """The per-case prediction table (without contributions); see the subclasses."""
        raise NotImplementedError

    def to_state(self) -> dict[str, Any]:
        """The fitted model as JSON-able values and arrays (see ``persistence``)."""
        return {
            "kind": self.kind, "params": self.get_params(),
            "tuning": {"scores": self.tuning_.scores, "best_params": self.tuning_.best_params},
            "outputs": {name: getattr(self, name) for name in self.output_attributes},
            "pipeline": self.pipeline_.to_state(), "replicates": [replicate.to_state() for replicate in self.replicates_],
        }


class BinaryModel(OutcomeModel):
    """Probability of a binary outcome (1 = e.g. responder). Learners: ``ensemble`` (what ``train`` uses unless
    told: ``training.DEFAULT_LEARNER``), ``lightgbm`` (this class's default), ``logistic``.

    ``threshold_`` (for ``predict`` and the sensitivity and specificity reported) maximises Youden's
    J on the inner cross-validation's out-of-fold probabilities: it is chosen without test cases too.
    """

    kind = "binary"
    output_attributes = ("threshold_",)

    def __init__(self, learner: str = "lightgbm", param_grid: dict[str, list[Any]] | None = None,
                 correlation_threshold: float = 0.9, inner_folds: int = 5, n_bootstrap: int = 100,
                 random_state: int = 0, batch: str | None = None) -> None:
        super().__init__(learner, param_grid, correlation_threshold, inner_folds, n_bootstrap, random_state, batch)

    def _score(self, y: np.ndarray, decision: np.ndarray) -> float:
        return metrics.auc(y, decision)

    def _fit_outputs(self, y: np.ndarray, inner_decision: np.ndarray) -> None:
        self.threshold_ = metrics.youden_threshold(y, _sigmoid(inner_decision))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        probability = _sigmoid(self.decision_function(X))
        return np.column_stack([1 - probability, probability])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= self.threshold_).astype(int)

    def outputs(self, X: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
        """``probability`` with its ``lower`` and ``upper`` bounds, and ``predicted`` (0/1 at the threshold)."""
        encoded = self.pipeline_.encoded(X)
        probability = _sigmoid(self.pipeline_.head.decision_function(encoded))
        lower, upper = self._interval(np.array([_sigmoid(r.decision_function(encoded)) for r in self.replicates_]), level)
        return pd.DataFrame(
            {"probability": probability, "lower": lower, "upper": upper, "predicted": (probability >= self.threshold_).astype(int)},
            index=X.index,
        )


class SurvivalModel(OutcomeModel):
    """Risk of an event over time. Learners: ``coxnet`` (penalised Cox), ``rsf`` (random survival forest).

    ``horizon`` is the time (in the table's unit) at which survival probability, time-dependent AUC
    and Brier score are reported; by default the median follow-up time of the training cases.
    """

    kind = "survival"
    output_attributes = ("horizon_",)

    def __init__(self, learner: str = "coxnet", param_grid: dict[str, list[Any]] | None = None,
                 correlation_threshold: float = 0.9, inner_folds: int = 5, n_bootstrap: int = 100,
                 random_state: int = 0, horizon: float | None = None, batch: str | None = None) -> None:
        super().__init__(learner, param_grid, correlation_threshold, inner_folds, n_bootstrap, random_state, batch)
        self.horizon = horizon

    def _score(self, y: np.ndarray, decision: np.ndarray) -> float:
        return metrics.concordance(y, decision)

    def _fit_outputs(self, y: np.ndarray, inner_decision: np.ndarray) -> None:
        self.horizon_ = float(self.horizon) if self.horizon is not None else float(np.median(y["time"]))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The learner's risk score: higher means an earlier event (see the learner for its scale)."""
        return self.decision_function(X)

    def predict_survival(self, X: pd.DataFrame, times: np.ndarray) -> np.ndarray:
        """Probability of being event-free at each of ``times``, shape (cases, times)."""
        return self.pipeline_.survival_function(X, np.atleast_1d(times))

    def outputs(self, X: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
        """``risk`` (probability of the event by the horizon) with its ``lower`` and ``upper`` bounds,
        ``survival`` (1 - risk) with its bounds, and ``score`` (the learner's risk score, which the
        contributions add up to and the C-index ranks)."""
        horizon = np.array([self.horizon_])
        encoded = self.pipeline_.encoded(X)
        survival = self.pipeline_.head.survival_function(encoded, horizon)[:, 0]
        replicates = np.array([r.survival_function(encoded, horizon)[:, 0] for r in self.replicates_])
        survival_lower, survival_upper = self._interval(replicates, level)
        return pd.DataFrame(
            {"risk": 1 - survival, "lower": 1 - survival_upper, "upper": 1 - survival_lower, "survival": survival,
             "survival_lower": survival_lower, "survival_upper": survival_upper,
             "score": self.pipeline_.head.decision_function(encoded)},
            index=X.index,
        )


def model_from_state(state: dict[str, Any]) -> OutcomeModel:
    """The inverse of ``OutcomeModel.to_state``; raises KeyError, TypeError or ValueError on bad state."""
    classes = {BinaryModel.kind: BinaryModel, SurvivalModel.kind: SurvivalModel}
    if state["kind"] not in classes:
        raise ValueError(f"unknown model kind {state['kind']!r}")
    model = classes[state["kind"]](**state["params"])
    model.tuning_ = Tuning(list(state["tuning"]["scores"]), dict(state["tuning"]["best_params"]))
    for name in model.output_attributes:
        setattr(model, name, float(state["outputs"][name]))
    model.pipeline_ = FittedPipeline.from_state(state["pipeline"])
    model.replicates_ = [Head.from_state(replicate) for replicate in state["replicates"]]
    for replicate in model.replicates_:
        model.pipeline_.check_head(replicate)
    return model


def _sigmoid(decision: np.ndarray) -> np.ndarray:
    from scipy.special import expit  # the logistic function without overflow for large log-odds

    return expit(np.asarray(decision, float))


def outcome_strata(y: np.ndarray) -> np.ndarray:
    """The groups that resampling and cross-validation keep in proportion: class, or event vs censored."""
    return np.asarray(y["event"] if y.dtype.names else y, dtype=int)


def fold_strata(X: pd.DataFrame, y: np.ndarray, batch: str | None) -> np.ndarray:
    """What cross-validation folds keep in proportion: the outcome, and each case's centre for a model
    harmonised by it, so that every training fold holds cases of every centre (ComBat needs two)."""
    strata = outcome_strata(y)
    if batch is None or batch not in X.columns:
        return strata
    return pd.factorize(pd.Series(strata, index=X.index).astype(str) + "|" + X[batch].astype(str))[0]


def stratified_bootstrap(strata: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row indices drawn with replacement within each stratum (outcome class, or event/censored)."""
    return np.concatenate([rng.choice(rows, size=len(rows)) for rows in (np.flatnonzero(strata == s) for s in np.unique(strata))])
