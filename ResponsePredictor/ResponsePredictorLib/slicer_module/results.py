"""One case run in the background: what it starts from, and the nodes its results go into.

A ``CaseJob`` keeps everything needed to load a run's results when it ends (the scan, the output
nodes asked for, whether the run segments), so that loading never depends on the panel: the user
may have left the module meanwhile, and a run started from the Python console has no panel at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import slicer

from ..errors import InputError, MaskError
from . import background, display, seed
from .display import CaseNodes
from .nodes import box_from_roi, labelmap_from_segmentation, volume_from_node
from .panel import PRESET_FROM_MODEL, RunSettings, failure_view, progress_view


@dataclass
class CaseJob:
    """A background run and where its results go."""

    run: Any  # background.BackgroundRun
    step: str
    settings: RunSettings
    segments: bool  # the run segments the tumor: its mask is new and goes into a segmentation


def tumor_segment(settings: RunSettings, step: str) -> tuple[slicer.vtkMRMLSegmentationNode, str] | None:
    """The segment that is the tumor for this step, or None when the run segments it (or has none).

    ``segment`` segments; ``all`` segments when the user clicked the tumor or drew a box. Otherwise
    the tumor is the chosen input segment, else the segment this module made in the output
    segmentation (never an arbitrary segment of the user's).
    """
    if step == "segment" or (step == "all" and seed.has_click(settings.seedPoint, settings.roi)):
        return None
    node = settings.inputSegmentation
    if node is not None:
        segment_id = settings.segmentId
        segmentation = node.GetSegmentation()
        if not segment_id and segmentation.GetNumberOfSegments() == 1:
            segment_id = segmentation.GetNthSegmentID(0)
        if not segment_id:
            count = segmentation.GetNumberOfSegments()
            if not count:
                raise MaskError(f"Segmentation '{node.GetName()}' has no segments. Segment the tumor first.")
            raise InputError(f"Segmentation '{node.GetName()}' has {count} segments: choose the tumor's segment.")
        return node, segment_id
    node = settings.outputSegmentation
    if node is not None:
        segment_id = display.result_segment_id(node)
        if segment_id is None:
            raise InputError(f"Segmentation '{node.GetName()}' has no tumor segmented by ResponsePredictor. Click "
                             "the tumor and segment it, or choose the segmentation as the input.")
        return node, segment_id
    return None


def start_case(settings: RunSettings, step: str, covariates: dict | None = None, *,
               launch: Any = None, work_root: Any = None) -> CaseJob:
    """Start ``step`` on the settings' inputs in a background process; returns at once.

    ``launch`` and ``work_root``: how and where the background run starts its process (in Slicer
    ``slicer.util.launchConsoleProcess`` and ``slicer.app.temporaryPath``; None: the run's defaults).
    """
    scan = settings.inputVolume
    if scan is None:
        raise InputError("No scan selected. Choose the CT, MR or PET volume.")
    tumor = tumor_segment(settings, step)
    mask = None if tumor is None else labelmap_from_segmentation(tumor[0], scan, [tumor[1]]).volume
    use_roi = tumor is None and settings.roi is not None and settings.roi.GetNumberOfControlPoints() > 0
    use_seed = tumor is None and not use_roi and settings.seedPoint is not None
    run = background.BackgroundRun.start(
        volume_from_node(scan), mask, launch=launch, work_root=work_root,
        step=step,
        seed=seed.seed_position(settings.seedPoint) if use_seed else None,
        roi=box_from_roi(settings.roi) if use_roi else None,
        segmentation_model=settings.segmentationModel or None,
        preset=None if settings.preset == PRESET_FROM_MODEL else settings.preset,
        model=settings.predictionModel,
        heatmap=settings.heatmapMethod,
        device=settings.device,
        covariates=covariates or {},
    )
    return CaseJob(run, step, settings, segments=tumor is None)


def _alive(node: Any) -> Any:
    """The node if it is still in a scene (the user may have deleted it during the run), else None."""
    return node if node is not None and node.GetScene() is not None else None


def finish_case(job: CaseJob, volume_rendering_logic: Any = None) -> tuple[background.CaseOutputs, CaseNodes]:
    """Load a finished run's results into the output nodes it was started with (new ones where none).

    Raises ``background.JobFailed`` when the run did not complete, ``InputError`` when the scan was
    removed during the run. Nothing is loaded then.
    """
    outputs = job.run.result()
    scan = _alive(job.settings.inputVolume)
    if scan is None:
        raise InputError("The scan was removed from the scene before the analysis ended; nothing was loaded.")
    targets = CaseNodes(_alive(job.settings.outputSegmentation), _alive(job.settings.outputTable),
                        _alive(job.settings.outputHeatmap))
    nodes = display.show_case(outputs, scan, targets, segmentation=job.segments,
                              volume_rendering_logic=volume_rendering_logic, opacity=job.settings.heatmapOpacity)
    return outputs, nodes


def record(parameters: Any, nodes: CaseNodes) -> None:
    """Put the nodes a run filled into the parameter node, so the panel and a saved scene show them."""
    for field, node in (("outputSegmentation", nodes.segmentation), ("outputTable", nodes.table),
                        ("outputHeatmap", nodes.heatmap)):
        if node is not None and getattr(parameters, field) is not node:
            setattr(parameters, field, node)


class RunMonitor:
    """The panel's background run, from start to results, with no Qt: a timer calls ``tick``.

    The results are loaded when the run ends whether or not the panel is shown: ``parameters()``
    returns the parameter node to record the output nodes in (the module's, also after the user left
    the module). ``view`` (the module's widget) shows what happens: ``showProgress(percent | None, text)``,
    ``showStatus(text)``, ``showError(text, details)``, ``showResults(outputs, settings)``.
    """

    def __init__(self, view: Any, load: Any, parameters: Any) -> None:
        self.view, self.load, self.parameters = view, load, parameters
        self.job: CaseJob | None = None

    @property
    def running(self) -> bool:
        return self.job is not None

    def start(self, job: CaseJob) -> None:
        self.job = job
        self.view.showProgress(*progress_view(None))

    def tick(self) -> bool:
        """Show progress, or load the results once the run has ended; False when no run is left."""
        job = self.job
        if job is None:
            return False
        if job.run.poll() is None:
            self.view.showProgress(*progress_view(job.run.progress()))
            return True
        self.job = None
        try:
            outputs, nodes = self.load(job)
            record(self.parameters(), nodes)
            self.view.showStatus("Done." + "".join(f"\n{warning}" for warning in outputs.warnings))
            self.view.showResults(outputs, job.settings)
        except background.JobFailed as failure:
            shown = failure_view(failure)
            self.view.showStatus(shown.status)
            if shown.dialog:
                self.view.showError(shown.dialog, shown.details)
        except Exception as error:  # the panel's timer must not raise: say what happened instead
            logging.exception("ResponsePredictor: loading the results failed")
            self.view.showStatus("The results could not be loaded.")
            self.view.showError(f"Could not show the results: {error}", job.run.log())
        finally:
            job.run.cleanup()
        return False

    def cancel(self) -> None:
        """The user's Cancel: the run is stopped, and the next tick reports it (nothing is loaded)."""
        if self.job is not None:
            self.job.run.cancel()
            self.view.showStatus("Cancelling...")

    def discard(self, message: str | None = None) -> None:
        """Stop the run and drop it without loading anything: the scene is closing, or Slicer is."""
        job, self.job = self.job, None
        if job is None:
            return
        try:
            job.run.cancel()
        finally:
            job.run.cleanup()
        if message:
            self.view.showStatus(message)
