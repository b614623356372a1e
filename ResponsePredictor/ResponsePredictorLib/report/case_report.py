"""One case's picture, ``report.png``: the scan with the tumor contour and heatmap (and each other scan of
a multimodal case with its mask and heatmap), the prediction with its interval, the model and its
intended use, the inputs that pushed the prediction most and, for a multimodal case, their sums by
scan and region.

Made from a ``CaseResult`` while the pipeline writes the case folder, or again later from the case
folder itself (mask.nrrd, heatmap.nrrd, prediction.json, result.json) plus the scan, which the
folder does not keep. The slices, contour and heatmap come from ``overlay.save_overlay_picture``;
this module lays them out with the text and the contribution chart.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.image import imread

from ..errors import InputError
from ..files import read_json
from ..prediction_text import grouped_contributions, prediction_headline, ranked_contributions
from ..volume import Volume, read_mask, read_volume
from .curves import save_figure

REPORT_PNG = "report.png"
TOP_CONTRIBUTIONS = 8
RAISES, LOWERS = "#c0392b", "#2471a3"  # red: towards the outcome (higher risk); blue: away from it
WARNINGS_SHOWN = 3


@dataclass
class _CaseView:
    """What the picture shows, from either source."""

    case: str
    image: Volume
    mask: Volume
    heatmap: Any  # explain.Heatmap | None
    kind: str | None  # "binary", "survival" or None (no outcome model)
    prediction: dict[str, float]
    contributions: dict[str, float]
    model: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)
    # The other scans shown: (title, image, mask, heatmap), each on its own grid.
    scans: list[tuple[str, Volume, Volume, Any]] = field(default_factory=list)


def case_report(result: Any, folder: str | Path | None = None, *, image: Volume | str | Path | None = None,
                scans: Mapping[str, Volume | str | Path] | None = None) -> Path:
    """Draw ``report.png`` into ``folder``; returns its path.

    ``result``: a ``pipeline.CaseResult``, or the path of a case folder written by the pipeline (then
    ``folder`` defaults to it, ``image`` gives the scan: a Volume, an image file or DICOM folder, and
    ``scans`` the other scans by name, which the folder does not keep either).
    """
    if isinstance(result, (str, Path)):
        view = _from_folder(Path(result), image, scans or {})
        folder = Path(result) if folder is None else Path(folder)
    else:
        if folder is None:
            raise InputError("case_report(result, folder): say which folder the picture goes into.")
        view = _from_result(result)
        folder = Path(folder)
    return _draw(view, folder / REPORT_PNG)


def _from_result(result: Any) -> _CaseView:
    return _CaseView(
        case=result.case, image=result.image, mask=result.mask, heatmap=result.heatmap, kind=result.prediction_kind,
        prediction=dict(result.prediction), contributions=dict(result.contributions),
        model=(result.provenance or {}).get("outcome_model"), warnings=list(result.warnings),
        scans=[(_scan_title(name, scan.mask_source), scan.image, scan.mask, scan.heatmap)
               for name, scan in result.scans.items() if scan.mask is not None],
    )


def _scan_title(name: str, mask_source: str | None) -> str:
    return f"{name} ({mask_source})" if mask_source else name


def _from_folder(folder: Path, image: Volume | str | Path | None, scans: Mapping[str, Volume | str | Path]) -> _CaseView:
    from ..pipeline import DONE, RESULT_JSON

    record = _json(folder / RESULT_JSON)
    if record.get("status") != DONE:
        raise InputError(f"Case folder {folder}: the case did not complete ({record.get('error') or record.get('status')}); "
                         "there is nothing to draw.")
    if image is None:
        raise InputError(f"Case folder {folder} does not keep the scan: give it (image=..., or the run's manifest "
                         "with 'responsepredictor report OUT_DIR --manifest MANIFEST.csv').")
    scan = image if isinstance(image, Volume) else read_volume(image)
    heatmap = None
    if (folder / "heatmap.nrrd").is_file():
        from ..explain import read_heatmap

        heatmap = read_heatmap(folder / "heatmap.nrrd")
    prediction = _json(folder / "prediction.json") if (folder / "prediction.json").is_file() else {}
    return _CaseView(
        scans=_folder_scans(folder, record, scans),
        case=str(record.get("case", folder.name)), image=scan, mask=read_mask(folder / "mask.nrrd", scan), heatmap=heatmap,
        kind=prediction.get("kind"), prediction=prediction.get("prediction", {}),
        contributions=prediction.get("contributions", {}), model=(record.get("provenance") or {}).get("outcome_model"),
        warnings=list(record.get("warnings", [])),
    )


def _folder_scans(folder: Path, record: Mapping[str, Any], images: Mapping[str, Volume | str | Path]) -> list[tuple]:
    """The other scans of a case folder whose images are given: their masks and heatmaps from the folder."""
    from ..explain import read_heatmap
    from ..pipeline.case_folder import SCANS_DIR

    shown = []
    for name, scan in ((record.get("provenance") or {}).get("scans") or {}).items():
        files = folder / SCANS_DIR / name
        if name not in images or not (files / "mask.nrrd").is_file():
            continue
        image = images[name] if isinstance(images[name], Volume) else read_volume(images[name])
        heatmap = read_heatmap(files / "heatmap.nrrd") if (files / "heatmap.nrrd").is_file() else None
        shown.append((_scan_title(name, scan.get("mask_source")), image, read_mask(files / "mask.nrrd", image), heatmap))
    return shown


def _json(path: Path) -> dict[str, Any]:
    data = read_json(path, "case record", advice="Is this a complete case folder of 'responsepredictor run'? Run the case again.")
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a case record; run the case again.")
    return data

MODEL_KINDS = {"binary": "binary outcome", "survival": "survival"}


def model_line(model: Mapping[str, Any] | None, *, brief: bool = True) -> str:
    """The model, its kind when known, and its intended use: the first sentence of it when ``brief``
    (a picture's header line), all of it otherwise (a web page)."""
    from ..predict.model_card import RESEARCH_ONLY

    if not model:
        return RESEARCH_ONLY
    use = str(model.get("intended_use") or RESEARCH_ONLY)
    if brief:
        use = use.split(". ")[0].rstrip(".") + "."
    kind = model.get("kind")
    described = f"; {MODEL_KINDS.get(str(kind), str(kind))} model" if kind else ""
    return f"Model: {model.get('name', 'unnamed')}{described}. {use}"


def _draw(view: _CaseView, path: Path) -> Path:
    from .overlay import save_overlay_picture

    shown = [("primary scan" if view.scans else "", view.image, view.mask, view.heatmap), *view.scans]
    with tempfile.TemporaryDirectory() as scratch:
        overlays = [imread(save_overlay_picture(image, mask, heatmap, Path(scratch) / f"overlay{index}.png"))
                    for index, (_, image, mask, heatmap) in enumerate(shown)]
    bars = ranked_contributions(view.contributions, TOP_CONTRIBUTIONS)
    groups = grouped_contributions(view.contributions) if view.scans or _several_groups(view.contributions) else []
    width = 12.0
    heights = [width * overlay.shape[0] / overlay.shape[1] + (0.3 if title else 0) for (title, *_), overlay in zip(shown, overlays)]
    bars_height = 0.9 + 0.32 * max(len(bars) + len(groups), 1)
    figure = Figure(figsize=(width, 1.7 + sum(heights) + bars_height), layout="constrained")
    header, picture, chart = figure.subfigures(3, 1, height_ratios=[1.7, sum(heights), bars_height])

    big, small = prediction_headline(view.kind, view.prediction, view.model)
    header.text(0.01, 0.86, _literal(f"Case {view.case}"), fontsize=13, color="#444", va="top")
    header.text(0.01, 0.62, _literal(big), fontsize=19, weight="bold", va="top")
    header.text(0.01, 0.30, _literal(small), fontsize=11, va="top")
    header.text(0.01, 0.08, _literal(model_line(view.model)), fontsize=9.5, color="#555", va="top", wrap=True)

    for axes, (title, *_), overlay in zip(picture.subplots(len(shown), 1, squeeze=False)[:, 0], shown, overlays):
        axes.imshow(overlay)
        axes.set_axis_off()
        if title:
            axes.set_title(_literal(title), loc="left", fontsize=11)

    _contribution_chart(chart, bars, view.kind, view.warnings, groups)
    return save_figure(figure, path)


def _several_groups(contributions: Mapping[str, float]) -> bool:
    """Whether a model's inputs come from more than one scan or region besides the clinical ones."""
    return len({group for group, _ in grouped_contributions(contributions)} - {"clinical"}) > 1


def _contribution_chart(chart: Any, bars: list[tuple[str, float]], kind: str | None, warnings: list[str],
                        groups: list[tuple[str, float]]) -> None:
    axes = chart.add_subplot()
    if not bars:
        axes.set_axis_off()
        axes.text(0.0, 0.5, "No feature contributions (no outcome model).", fontsize=11, transform=axes.transAxes)
        return
    # The sums by scan and region first (at the top), then the single inputs.
    rows = [(f"all of {group}", value) for group, value in groups] + [(readable_feature(name), value) for name, value in bars]
    names = [_literal(name) for name, _ in reversed(rows)]
    values = [value for _, value in reversed(rows)]
    axes.barh(names, values, color=[RAISES if v > 0 else LOWERS for v in values])
    axes.axvline(0, color="#333", lw=0.8)
    extent = 1.1 * max(abs(v) for v in values) or 1.0
    axes.set_xlim(-extent, extent)  # symmetric about 0, so that the side a bar lies on reads at a glance
    scale = "log-odds" if kind == "binary" else "risk score"
    axes.set_xlabel(f"contribution to the {scale}: red raises the prediction, blue lowers it")
    axes.set_title(f"Top {len(bars)} contributions" + (", and their sums by scan and region" if groups else ""),
                   loc="left", fontsize=11)
    axes.grid(axis="x", alpha=0.3)
    if warnings:
        shown = "; ".join(warnings[:WARNINGS_SHOWN]) + (f" (and {len(warnings) - WARNINGS_SHOWN} more)" if len(warnings) > WARNINGS_SHOWN else "")
        chart.supxlabel(_literal(f"Notes: {shown}"), fontsize=8.5, color="#7a4b00", wrap=True)


def _literal(text: str) -> str:
    """``text`` shown as written: matplotlib reads a pair of '$' as mathematics."""
    return text.replace("$", r"\$")


def readable_feature(name: str) -> str:
    """``original_glcm_Contrast`` -> ``glcm Contrast``; ``log-sigma-1-0-mm-3D_glcm_Imc1`` -> ``LoG 1.0 mm glcm Imc1``;
    ``PET_peri5mm_original_firstorder_Mean`` -> ``PET peri5mm: firstorder Mean``."""
    from ..features.columns import column_origin, shell_label

    origin = column_origin(name)
    base = re.sub(r"^log-sigma-(\d+)-(\d+)-mm-3D_", r"LoG \1.\2 mm_", origin.base.removeprefix("original_"))
    where = " ".join(part for part in (origin.scan, shell_label(origin.shell_mm) if origin.shell_mm else None) if part)
    return (f"{where}: " if where else "") + base.replace("_", " ")
