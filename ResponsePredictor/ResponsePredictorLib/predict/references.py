"""The references every model is measured against: what a clinician already has, and a plain learner.

A radiomics model earns its place only by adding something over the tumor's size and the clinical
covariates (a radiomic signature can be a surrogate for volume: Welch et al., Radiother Oncol 2019),
and a tuned learner only by beating a plain one. So every validation scores, on the same folds and
patients as the model:

- ``volume``: tumor volume alone (pyradiomics' shape volume column, when the table has one);
- ``clinical``: the clinical covariates alone (named by the user, else every column that is not a
  radiomic feature);
- ``plain``: the plain learner on the model's own columns (every feature, unless the model was given
  fewer): L2-penalised logistic regression for a binary outcome, a ridge-like penalised Cox model
  (elastic net with 1% lasso) for survival.

Each reference is an ``OutcomeModel`` of the plain learner on its columns, tuned by the same inner
cross-validation and fitted on the same rows as the model, never on a test fold. A reference that
would be the model itself (the same columns and learner, or the same one column and a learner of the
same family) is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..errors import TableError
from .learners import CoxnetLearner, LogisticLearner
from .models import BinaryModel, OutcomeModel, SurvivalModel, model_from_state
from .table import is_radiomic

# pyradiomics' volume features, the first one present is used (the mesh volume is the one its docs
# recommend; the voxel count times the voxel volume is nearly the same number).
VOLUME_COLUMNS = ("original_shape_MeshVolume", "original_shape_VoxelVolume")
# The plain learners: ridge only for the logistic, the least lasso scikit-survival's coxnet allows for Cox.
PLAIN_LEARNERS = {
    BinaryModel.kind: (LogisticLearner.name, {"C": LogisticLearner.param_grid["C"], "l1_ratio": [0.0]}),
    SurvivalModel.kind: (CoxnetLearner.name, {"alpha_ratio": CoxnetLearner.param_grid["alpha_ratio"], "l1_ratio": [0.01]}),
}
LABELS = {"volume": "tumor volume alone", "clinical": "clinical covariates alone", "plain": "plain learner, every feature"}


@dataclass(frozen=True)
class Reference:
    """One reference: its name (``volume``, ``clinical``, ``plain``, or a label of the caller's) and the
    columns it uses; ``learner``: (learner, grid) instead of the plain learner, to compare candidates."""

    name: str
    columns: tuple[str, ...]
    learner: tuple[str, dict[str, list[Any]] | None] | None = None

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name)

    def model_for(self, model: OutcomeModel) -> OutcomeModel:
        """An unfitted model for this reference, with ``model``'s folds, seed and horizon and no bootstrap."""
        learner, grid = self.learner or PLAIN_LEARNERS[model.kind]
        params = {"learner": learner, "param_grid": grid, "inner_folds": model.inner_folds, "n_bootstrap": 0,
                  "random_state": model.random_state, "correlation_threshold": model.correlation_threshold}
        if isinstance(model, SurvivalModel):
            params["horizon"] = model.horizon
        return type(model)(**params)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "columns": list(self.columns)}


def choose_references(columns: Sequence[str], model: OutcomeModel, clinical: Iterable[str] | None = None,
                      own: Sequence[str] | None = None) -> list[Reference]:
    """The references for a model on ``own`` (default: ``columns``), from the table's informative ``columns``:
    volume, clinical and plain (the plain learner on the model's own columns), where the table allows them.

    ``clinical``: the clinical columns (None: every column that ``is_radiomic`` does not recognise).
    """
    columns = list(columns)
    own = columns if own is None else list(own)
    if clinical is None:
        clinical_columns = [column for column in columns if not is_radiomic(column)]
    else:
        clinical_columns = list(dict.fromkeys(clinical))
        missing = [column for column in clinical_columns if column not in columns]
        if missing:
            raise TableError(f"Clinical columns not among the table's informative features (present, not constant, "
                             f"not the centre column): {', '.join(missing)}.")
    references = []
    volume = next((column for column in VOLUME_COLUMNS if column in columns), None)
    if volume is not None:
        references.append(Reference("volume", (volume,)))
    if clinical_columns:
        references.append(Reference("clinical", tuple(clinical_columns)))
    references.append(Reference("plain", tuple(own)))
    learner, grid = PLAIN_LEARNERS[model.kind]
    # On one column the model's own linear learner orders the patients as the plain one does.
    plain_model = model.learner == learner and ((model.param_grid or {}) == grid or len(own) == 1)
    # A reference on all the model's columns is the model itself when it is the plain learner, and
    # compares nothing but the learner otherwise: keep it only as 'plain'.
    return [ref for ref in references
            if not (set(ref.columns) == set(own) and (ref.name != "plain" or plain_model))]


@dataclass
class FittedReference:
    """A reference fitted on a model's training table: what ``evaluate`` scores beside the model."""

    reference: Reference
    model: OutcomeModel

    def outputs(self, X: pd.DataFrame) -> pd.DataFrame:
        return self.model.outputs(X[list(self.reference.columns)])

    def to_state(self) -> dict[str, Any]:
        return {**self.reference.to_dict(), "model": self.model.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FittedReference:
        return cls(Reference(state["name"], tuple(state["columns"])), model_from_state(state["model"]))


def fit_references(references: Sequence[Reference], model: OutcomeModel, X: pd.DataFrame, y: np.ndarray) -> list[FittedReference]:
    """Each reference fitted on ``X``, ``y`` (as the model was), for scoring new tables beside it."""
    return [FittedReference(ref, clone(ref.model_for(model)).fit(X[list(ref.columns)], y)) for ref in references]
