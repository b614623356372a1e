"""Prediction models over feature tables: training, nested cross-validation, per-patient predictions
with intervals and contributions, and saving without pickle.

    from ResponsePredictorLib.predict import BinaryOutcome, read_table, train_model, save_model, load_model

    table = read_table("features.csv")                 # one row per case, a 'case' column
    result = train_model(table, BinaryOutcome("responder"))
    print(result.validation.summary())
    save_model(result.model, BinaryOutcome("responder"), "my_model", result.card, result.card_markdown)
    saved = load_model("my_model")
    saved.model.outputs(read_table("new_cases.csv"))   # probability, lower, upper, predicted

See ``models`` for the estimators, ``validation`` for how the figures are made and ``persistence``
for the model folder.
"""

from .contributions import top_contributions
from .model_card import CardInfo
from .models import BinaryModel, OutcomeModel, SurvivalModel
from .persistence import SavedModel, load_model, save_model
from .table import BinaryOutcome, SurvivalOutcome, read_table
from .training import TrainingResult, make_model, train_model
from .validation import Validation, cross_validate, evaluate, permutation_test

__all__ = [
    "BinaryModel", "BinaryOutcome", "CardInfo", "OutcomeModel", "SavedModel", "SurvivalModel", "SurvivalOutcome",
    "TrainingResult", "Validation", "cross_validate", "evaluate", "load_model", "make_model", "permutation_test",
    "read_table", "save_model", "top_contributions", "train_model",
]
