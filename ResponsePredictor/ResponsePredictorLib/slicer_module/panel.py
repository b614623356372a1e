"""The panel's decisions, made without Qt so that they can be tested with slicer-core.

- ``RunSettings``: what one run needs (the parameter node's fields, or ``process()``'s arguments),
  the case's other scans (``ScanSettings``) from the panel's rows of them.
- ``model_reference``: how a prediction model is recorded, so that a saved scene opens anywhere.
- ``tumor_source``: where a step's tumor comes from (the one rule ``results`` and the buttons follow).
- ``button_states``, ``progress_view``, ``failure_view``: what the panel shows.
- ``progress_logger``: what a run started from the Python console does while it is waited for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..features.recipe import checked_distances
from . import seed
from .background import DEFAULT_HEATMAP, DEFAULT_MODEL, DEVICES, NO_HEATMAP, STEPS, require_one_of
from .display import DEFAULT_OPACITY
from .engine_run import Failure
from .models import bundled_models, is_bundled
from .other_scans import check_scan_names

PRESET_FROM_MODEL = "as the model records"
HEATMAP_CHOICES = (DEFAULT_HEATMAP, "occlusion", NO_HEATMAP)
SCAN_ROWS = ("scan1", "scan2", "scan3")  # the parameter node's rows of other scans (parameters.OtherScan)


def model_reference(value: str | Path | None) -> str:
    """A prediction model as the parameter node records it.

    "default" and a bundled model's folder name (under Resources/Models) stay as they are, and a path
    to a bundled model's folder becomes its name: the extension's folder differs from one computer
    to the next. Any other folder is the user's own model, recorded by its absolute path.
    """
    text = "" if value is None else str(value).strip()
    if not text or text == DEFAULT_MODEL:
        return DEFAULT_MODEL
    if is_bundled(text):
        return text
    path = Path(text).expanduser().resolve()
    try:
        inside = path.relative_to(bundled_models().resolve()).parts
    except ValueError:
        # Earlier versions recorded a bundled model by its path in the installation that saved the scene.
        moved = path.parent.name == "Models" and path.parent.parent.name == "Resources" and not path.exists()
        return path.name if moved and is_bundled(path.name) else str(path)
    return inside[0] if len(inside) == 1 and is_bundled(inside[0]) else str(path)


@dataclass(frozen=True)
class ScanSettings:
    """One of the case's other scans, co-registered with the primary: its name (PET, CT, MR_T1...: its
    feature columns' prefix, and it decides their radiomics preset), its volume node, its own tumor
    segmentation or None (the primary's tumor is carried onto it), and the nodes its results go into
    (None: new ones)."""

    name: str
    volume: Any
    segmentation: Any = None
    outputSegmentation: Any = None
    outputHeatmap: Any = None


def scans_from_rows(rows: Iterable[Any]) -> tuple[ScanSettings, ...]:
    """The panel's filled rows of other scans (``parameters.OtherScan``); a half-filled row is refused."""
    scans = []
    for row in rows:
        name = row.name.strip()
        if not name and row.volume is None:
            continue  # an empty row
        if row.volume is None:
            raise InputError(f"The other scan {name!r} has no volume: choose one, or clear its name.")
        if not name:
            raise InputError(f"Name the other scan '{row.volume.GetName()}' (PET, CT, MR_T1...): the name prefixes "
                             "its features and decides their radiomics preset.")
        scans.append(ScanSettings(name, row.volume, row.segmentation, row.outputSegmentation, row.outputHeatmap))
    return tuple(scans)


def scan_settings(value: Iterable[ScanSettings] | Mapping[str, Any]) -> tuple[ScanSettings, ...]:
    """Other scans as ``RunSettings`` keeps them, from ScanSettings or, from the console, a mapping of
    name to volume node or to (volume node, its own tumor segmentation)."""
    if isinstance(value, Mapping):
        return tuple(ScanSettings(name, *(given if isinstance(given, tuple) else (given,)))
                     for name, given in value.items())
    return tuple(value)


def peritumoral_distances(value: str | float | Iterable[float]) -> tuple[float, ...]:
    """Peritumoral distances (mm) as a run takes them, from the panel's text ("5, 10") or numbers:
    positive, each once, in order (``SettingsError`` otherwise)."""
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return checked_distances(value if isinstance(value, Iterable) else [value])


@dataclass
class RunSettings:
    """One run's inputs, settings and output nodes (None: a new node is made for the result).

    Field names are the parameter node's, so the panel copies them across (``from_parameters``);
    ``predictionModel`` takes a str or a ``pathlib.Path`` and is kept as a ``model_reference``.
    ``scans`` stands for the parameter node's rows (``SCAN_ROWS``) and takes what ``scan_settings``
    takes; ``peritumoral`` what ``peritumoral_distances`` takes.
    """

    inputVolume: Any = None
    seedPoint: Any = None
    roi: Any = None
    refineInteractively: bool = False  # the tumor is the one segmented point by point
    inputSegmentation: Any = None
    segmentId: str = ""
    segmentationModel: str = ""  # "" : the catalog's default
    preset: str = PRESET_FROM_MODEL
    predictionModel: str = DEFAULT_MODEL
    heatmapMethod: str = DEFAULT_HEATMAP
    device: str = DEVICES[0]
    heatmapOpacity: float = DEFAULT_OPACITY
    outputSegmentation: Any = None
    outputTable: Any = None
    outputHeatmap: Any = None
    scans: Any = ()
    peritumoral: Any = ""
    peritumoralBody: bool = False
    deepFeatures: bool = False

    def __post_init__(self) -> None:
        self.predictionModel = model_reference(self.predictionModel)
        self.scans = scan_settings(self.scans)
        check_scan_names(scan.name for scan in self.scans)  # before two of a name become one
        self.peritumoral = peritumoral_distances(self.peritumoral)
        require_one_of(self.heatmapMethod, HEATMAP_CHOICES, "heatmap method")
        require_one_of(self.device, DEVICES, "device")
        if not 0.0 <= float(self.heatmapOpacity) <= 1.0:
            raise InputError(f"Heatmap opacity must be between 0 and 1; got {self.heatmapOpacity}.")

    @classmethod
    def names(cls) -> list[str]:
        return [field.name for field in fields(cls)]

    @classmethod
    def from_parameters(cls, parameters: Any) -> RunSettings:
        """The parameter node's values (any object with the same field names, and the ``SCAN_ROWS``)."""
        return cls(**{name: getattr(parameters, name) for name in cls.names() if name != "scans"},
                   scans=scans_from_rows(getattr(parameters, row) for row in SCAN_ROWS))

    @classmethod
    def for_console(cls, **values: Any) -> RunSettings:
        """``process()``'s keyword arguments, with a clear error for a name that is not a setting."""
        unknown = sorted(set(values) - set(cls.names()))
        if unknown:
            raise InputError(f"Unknown setting(s) {', '.join(unknown)}; use {', '.join(cls.names())}.")
        return cls(**values)


@dataclass(frozen=True)
class ButtonStates:
    apply: bool
    segment: bool
    predict: bool
    explain: bool
    cancel: bool
    undo: bool = False


class TumorSource(Enum):
    CHOSEN = "the input segmentation, used as it is"
    CLICK = "segmented by the run at the click or in the box"
    OWN = "the segment this module made in the output segmentation"


def tumor_source(settings: Any, step: str) -> TumorSource | None:
    """Where ``step``'s tumor comes from (None: nowhere yet). ``settings``: the parameter node's fields.

    ``segment`` segments at the click. Any other step takes a chosen input segmentation as it is (a
    click is then ignored); else ``all`` segments at the click, and otherwise the tumor is the segment
    this module made in the output segmentation (never an arbitrary segment of the user's). While
    refining interactively, the points have segmented the tumor already: no run segments it again
    (that would throw away every point but the newest).
    """
    has_click = not settings.refineInteractively and seed.has_click(settings.seedPoint, settings.roi)
    if step == "segment":
        return TumorSource.CLICK if has_click else None
    if settings.inputSegmentation is not None:
        return TumorSource.CHOSEN
    if step == "all" and has_click:
        return TumorSource.CLICK
    return TumorSource.OWN if settings.outputSegmentation is not None else None


def button_states(parameters: Any, running: bool, can_undo: bool = False) -> ButtonStates:
    """Which step buttons can start now: those with a scan and a tumor, none while a run is going,
    only Cancel then. Undo: while refining, once a point was placed."""
    ready = not running and parameters.inputVolume is not None
    # Apply runs "all": the buttons in STEPS' order.
    return ButtonStates(*(ready and tumor_source(parameters, step) is not None for step in STEPS), cancel=running,
                        undo=can_undo and parameters.refineInteractively)


def progress_view(progress: Any) -> tuple[int | None, str]:
    """A run's ``Progress(stage, fraction, message)`` as (percent or None for busy, status text)."""
    if progress is None:
        return None, "Starting..."
    stage = str(getattr(progress, "stage", "") or "").strip()
    message = str(getattr(progress, "message", "") or "").strip()
    fraction = getattr(progress, "fraction", None)
    percent = None if fraction is None else max(0, min(100, round(100 * float(fraction))))
    text = ": ".join(part for part in (stage[:1].upper() + stage[1:], message) if part) or "Working..."
    if percent is not None:
        text += f" ({percent}%)"
    return percent, text


@dataclass(frozen=True)
class FailureView:
    """What the panel shows for a run that ended without results."""

    status: str  # under the progress bar
    dialog: str | None  # the error dialog's text; None: no dialog (the user cancelled)
    details: str = ""


def failure_view(error: Exception) -> FailureView:
    """Tell a crash (or out of memory) from an engine error, from bad input, from the user's Cancel."""
    kind = getattr(error, "kind", Failure.FAILED)
    details = str(getattr(error, "details", "") or "")
    reason = str(error)
    if kind == Failure.CANCELLED:
        return FailureView("Cancelled: nothing was loaded.", None, details)
    if kind == Failure.CRASHED:
        return FailureView("The analysis process crashed.", (
            "The analysis process stopped abruptly: it crashed or ran out of memory. Nothing was loaded.\n\n"
            "Try again with a box drawn tightly around the tumor, on the CPU (Advanced, Device), or with "
            "other programs closed."), details)
    if kind == Failure.BAD_INPUT:
        return FailureView("The input cannot be analysed.", f"The input cannot be analysed: {reason}", details)
    # The run's own message already says how it ended ("The analysis failed: ...", "... was stopped.").
    if kind == Failure.TIMED_OUT:
        return FailureView("The analysis took too long and was stopped.", reason, details)
    return FailureView("The analysis failed.", reason, details)


@dataclass(frozen=True)
class ResultsView:
    """The results section's texts for a run that computed features."""

    headline: str
    interval: str
    intended_use: str
    contributions: str
    scans: str
    analysis: str


def scans_view(outputs: Any) -> str:
    """What became of the other scans: where each one's tumor came from, its heatmap, those missing."""
    lines = [f"{name}: {'the tumor carried from the primary scan' if shown.carried else 'its own tumor segmentation'}"
             f"{', heatmap' if shown.heatmap is not None else ''}" for name, shown in outputs.scans.items()]
    return "\n".join(lines + [f"{name}: missing, nothing of it is in the results" for name in outputs.missing_scans])


def analysis_view(outputs: Any) -> str:
    """How the results were made: the deep features among the case's features, and the heatmap's method
    with what its values mean (a deep occlusion map's blocks differ from a contribution map's voxels)."""
    from ..features.columns import column_origin

    deep = sum(column_origin(name).deep for name in outputs.features)
    lines = [f"The features include {deep} deep features (the segmentation network's view of the tumor)."] if deep else []
    if outputs.heatmap is not None:
        lines.append(f"Heatmap ({outputs.heatmap.method}): {outputs.heatmap.description}")
    return "\n".join(lines)


def results_view(outputs: Any, card: dict) -> ResultsView:
    """The prediction in words, the model card's intended use, the top contributions, the other scans, and
    how the results were made."""
    from .. import prediction_text
    from .background import format_contributions

    headline, interval = prediction_text.prediction_headline(outputs.kind, outputs.prediction, outputs.model)
    intended_use = "\n\n".join(filter(None, [card.get("name", ""), card.get("intended_use", ""),
                                             (card.get("outcome") or {}).get("definition", "")]))
    return ResultsView(headline, interval, intended_use,
                       format_contributions(prediction_text.ranked_contributions(outputs.contributions)),
                       scans_view(outputs), analysis_view(outputs))


def progress_logger(run: Any, log: Callable[[str], None],
                    process_events: Callable[[], None] | None = None) -> Callable[[], None]:
    """What a run's ``wait(idle=...)`` calls between looks: Slicer's events handled (it stays responsive
    during a run started from its Python console), and each new progress logged."""
    last = []

    def idle() -> None:
        progress = run.progress()
        if last != [progress]:
            last[:] = [progress]
            log(f"ResponsePredictor: {progress_view(progress)[1]}")
        if process_events is not None:
            process_events()

    return idle
