"""The models the panel offers, read as data (no model is loaded, and nothing that needs torch):
the outcome models, by the id the module stores or a folder, with their cards, and the catalog's
segmentation models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from ..files import read_json
from ..resources import resource_path

# The engine's name for its embedded outcome model (pipeline.settings.DEFAULT_MODEL: not imported, as
# the pipeline loads the engine's libraries, which Slicer may not have yet; a test ties the two), and
# that model's folder.
DEFAULT_MODEL = "default"
DEFAULT_OUTCOME_MODEL = "nsclc_os_ct"  # under Resources/Models


def bundled_models() -> Path:
    return resource_path("Models")


def is_bundled(name: str) -> bool:
    """Whether ``name`` is a bundled outcome model's id: a folder name under Resources/Models."""
    return Path(name).name == name and (bundled_models() / name / "model.json").is_file()


def model_folder(model: str | Path) -> Path:
    """An outcome model's folder from what the module stores: "default", a bundled model's id (its
    folder's name under Resources/Models, e.g. "nsclc_os_ct"), or a folder path, made absolute (the
    engine runs in another folder). Ids keep a saved scene usable on another machine, where the
    extension sits elsewhere."""
    name = DEFAULT_OUTCOME_MODEL if str(model) == DEFAULT_MODEL else str(model)
    return bundled_models() / name if is_bundled(name) else Path(model).resolve()


def model_card(model: str | Path) -> dict[str, Any]:
    """An outcome model's card (name, intended use, outcome definition...) from its model.json.

    Read as data, without loading the model: the panel shows it before and after a run.
    """
    folder = model_folder(model)
    path = folder / "model.json"
    if not path.is_file():
        raise InputError(f"{folder} is not a prediction model folder (no model.json). Choose the folder that "
                         "'responsepredictor train' wrote.")
    card = read_json(path, "model description").get("card")
    return card if isinstance(card, dict) else {}


def segmentation_model_ids() -> list[str]:
    """The catalog's segmentation models, its default first.

    Read as data: the catalog module itself imports torch, which the panel must not need to open.
    """
    catalog = read_json(resource_path("Models.json"), "model catalog")
    ids = [str(entry["id"]) for entry in catalog.get("models", [])]
    default = catalog.get("default")
    return sorted(ids, key=lambda model_id: model_id != default)
