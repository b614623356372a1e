"""One case run in the background: what it starts from, and the nodes its results go into.

A ``CaseJob`` keeps everything needed to load a run's results when it ends (the scan and the other
scans, the output nodes asked for, whether the run segments), so that loading never depends on the
panel: the user may have left the module meanwhile, and a run started from the Python console has no
panel at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import slicer

from ..errors import InputError, MaskError
from . import background, display, seed
from .display import CaseNodes
from .nodes import alive, box_from_roi, labelmap_from_segmentation, require_untransformed, volume_from_node
from .panel import PRESET_FROM_MODEL, SCAN_ROWS, RunSettings, ScanSettings, TumorSource, failure_view, progress_view
from .panel import tumor_source
from .scan_display import ScanNodes, check_scan_targets, show_scans
from .process import Launch


@dataclass
class CaseJob:
    """A background run and where its results go."""

    run: background.BackgroundRun
    step: str
    settings: RunSettings
    segments: bool  # the run segments the tumor: its mask is new and goes into a segmentation


def tumor_segment(settings: RunSettings, step: str) -> tuple[slicer.vtkMRMLSegmentationNode, str] | None:
    """The segment that is the tumor for this step (as ``panel.tumor_source`` decides), or None
    when the run segments it (or there is none)."""
    source = tumor_source(settings, step)
    if source is TumorSource.CHOSEN:
        node = settings.inputSegmentation
        return node, chosen_segment(node, settings.segmentId, "choose the tumor's segment.")
    if source is TumorSource.OWN:
        node = settings.outputSegmentation
        segment_id = display.result_segment_id(node)
        if segment_id is None:
            raise InputError(f"Segmentation '{node.GetName()}' has no tumor segmented by ResponsePredictor. Click "
                             "the tumor and segment it, or choose the segmentation as the input.")
        return node, segment_id
    return None


def chosen_segment(node: slicer.vtkMRMLSegmentationNode, segment_id: str, advice: str) -> str:
    """The tumor's segment in a segmentation the user chose: ``segment_id``, else its only segment;
    ``advice`` says what to do when it has several."""
    segmentation = node.GetSegmentation()
    if not segment_id and segmentation.GetNumberOfSegments() == 1:
        segment_id = segmentation.GetNthSegmentID(0)
    if not segment_id:
        count = segmentation.GetNumberOfSegments()
        if not count:
            raise MaskError(f"Segmentation '{node.GetName()}' has no segments. Segment the tumor first.")
        raise InputError(f"Segmentation '{node.GetName()}' has {count} segments: {advice}")
    return segment_id


def scan_images(scans: Iterable[ScanSettings]) -> dict[str, background.Scan]:
    """The other scans' voxels, each with its own tumor on its grid when it has a segmentation: the
    segment this module made in it, else its only one."""
    images = {}
    for scan in scans:
        image, mask = volume_from_node(scan.volume), None
        if scan.segmentation is not None:
            require_untransformed(scan.segmentation, "Segmentation")
            segment_id = chosen_segment(scan.segmentation, display.result_segment_id(scan.segmentation) or "",
                                        f"keep only the tumor in it, or choose none to carry the primary "
                                        f"scan's tumor onto {scan.name}.")
            mask = labelmap_from_segmentation(scan.segmentation, scan.volume, [segment_id]).volume
        images[scan.name] = background.Scan(image, mask)
    return images


def start_case(settings: RunSettings, step: str, covariates: dict[str, Any] | None = None, *,
               launch: Launch | None = None, work_root: str | Path | None = None) -> CaseJob:
    """Start ``step`` on the settings' inputs in a background process; returns at once.

    Everything that can be told before the run is checked first, the output nodes included (as
    ``finish_case`` will), so that a long run does not end in an error about its inputs.
    ``launch`` and ``work_root``: how and where the background run starts its process (in Slicer
    ``slicer.util.launchConsoleProcess`` and ``slicer.app.temporaryPath``; None: the run's defaults).
    """
    scan = settings.inputVolume
    if scan is None:
        raise InputError("No scan selected. Choose the CT, MR or PET volume.")
    if step == "segment":  # it segments the primary scan alone
        settings = replace(settings, scans=())
    image = volume_from_node(scan)
    tumor = tumor_segment(settings, step)
    targets = _targets(settings)
    display.check_targets(targets, segmentation=tumor is None)
    check_scan_targets(targets.scans)
    if tumor is not None:
        require_untransformed(tumor[0], "Segmentation")
    mask = None if tumor is None else labelmap_from_segmentation(tumor[0], scan, [tumor[1]]).volume
    use_roi = tumor is None and settings.roi is not None and settings.roi.GetNumberOfControlPoints() > 0
    use_seed = tumor is None and not use_roi and settings.seedPoint is not None
    run = background.BackgroundRun.start(
        image, mask, launch=launch, work_root=work_root,
        step=step,
        seed=seed.seed_position(settings.seedPoint) if use_seed else None,
        roi=box_from_roi(settings.roi) if use_roi else None,
        segmentation_model=settings.segmentationModel or None,
        preset=None if settings.preset == PRESET_FROM_MODEL else settings.preset,
        model=settings.predictionModel,
        heatmap=settings.heatmapMethod,
        device=settings.device,
        covariates=covariates or {},
        scans=scan_images(settings.scans),
        peritumoral=settings.peritumoral,
        peritumoral_body=settings.peritumoralBody,
        deep_features=settings.deepFeatures,
    )
    return CaseJob(run, step, settings, segments=tumor is None)


def _targets(settings: RunSettings) -> CaseNodes:
    """The output nodes asked for that are still there (None: a new one is made), the other scans' too."""
    scans = {scan.name: ScanNodes(scan.volume, alive(scan.outputSegmentation), alive(scan.outputHeatmap))
             for scan in settings.scans}
    return CaseNodes(alive(settings.outputSegmentation), alive(settings.outputTable), alive(settings.outputHeatmap),
                     scans)


def finish_case(job: CaseJob, volume_rendering_logic: slicer.vtkSlicerVolumeRenderingLogic | None = None
                ) -> tuple[background.CaseOutputs, CaseNodes]:
    """Load a finished run's results into the output nodes it was started with (new ones where none).

    Raises ``background.JobFailed`` when the run did not complete, ``InputError`` when the scan was
    removed during the run. Nothing is loaded then.
    """
    outputs = job.run.result()
    scan = alive(job.settings.inputVolume)
    if scan is None:
        raise InputError("The scan was removed from the scene before the analysis ended; nothing was loaded.")
    targets = _targets(job.settings)
    gone = sorted(name for name in outputs.scans if name in targets.scans and alive(targets.scans[name].scan) is None)
    if gone:
        raise InputError(f"The scan(s) {', '.join(gone)} were removed from the scene before the analysis ended; "
                         "nothing was loaded.")
    check_scan_targets(targets.scans)  # before the case's are filled: nothing is half shown
    nodes = display.show_case(outputs, scan, targets, segmentation=job.segments,
                              volume_rendering_logic=volume_rendering_logic, opacity=job.settings.heatmapOpacity)
    nodes.scans = show_scans(outputs.scans, targets.scans)
    return outputs, nodes


def record(parameters: Any, nodes: CaseNodes) -> None:
    """Put the nodes a run filled into the parameter node, so the panel and a saved scene show them: an
    other scan's into the row that still names it and its volume."""
    _record(parameters, (("outputSegmentation", nodes.segmentation), ("outputTable", nodes.table),
                         ("outputHeatmap", nodes.heatmap)))
    for name, shown in nodes.scans.items():
        for row in (getattr(parameters, row_name) for row_name in SCAN_ROWS):
            if row.name.strip() == name and row.volume is shown.scan:
                _record(row, (("outputSegmentation", shown.segmentation), ("outputHeatmap", shown.heatmap)))


def _record(where: Any, fields: Iterable[tuple[str, Any]]) -> None:
    for field, node in fields:
        if node is not None and getattr(where, field) is not node:
            setattr(where, field, node)


class RunMonitor:
    """The panel's background run, from start to results, with no Qt: a timer calls ``tick``.

    The results are loaded when the run ends whether or not the panel is shown: ``parameters()``
    returns the parameter node to record the output nodes in (the module's, also after the user left
    the module). ``view`` (the module's widget) shows what happens: ``showProgress(percent | None, text)``,
    ``showStatus(text)``, ``showError(text, details)``, ``showResults(outputs, settings)``.

    Cancel and a closing scene never wait for the run's processes to end (that can take seconds):
    the run is told to stop, and the ticks follow it to its end and clean up. Only Slicer quitting
    waits (``discard(wait=True)``), as nothing would tick afterwards.
    """

    def __init__(self, view: Any, load: Callable[[CaseJob], tuple[background.CaseOutputs, CaseNodes]],
                 parameters: Callable[[], Any]) -> None:
        self.view, self.load, self.parameters = view, load, parameters
        self.job: CaseJob | None = None
        self._stopping: str | None = None  # once the run is told to stop: the status shown until it ends
        self._discarded = False  # nothing of the run is loaded or reported when it ends

    @property
    def running(self) -> bool:
        """A run is going, or ending after Cancel: no other may start."""
        return self.job is not None

    def start(self, job: CaseJob) -> None:
        self.job, self._stopping, self._discarded = job, None, False
        self.view.showProgress(*progress_view(None))

    def tick(self) -> bool:
        """Show progress, or load the results once the run has ended; False when no run is left."""
        job = self.job
        if job is None:
            return False
        if job.run.poll() is None:
            if self._stopping is None:
                self.view.showProgress(*progress_view(job.run.progress()))
            return True
        self.job = None
        try:
            if not self._discarded:
                self._load(job)
        finally:
            job.run.cleanup()
        return False

    def _load(self, job: CaseJob) -> None:
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

    def cancel(self) -> None:
        """The user's Cancel: the run is told to stop, and a later tick reports it (nothing is loaded,
        unless it had ended by itself)."""
        self._stop("Cancelling...")

    def discard(self, message: str, *, wait: bool = False) -> None:
        """Stop the run and load nothing of it, showing ``message``: the scene is closing (the ticks
        clean up) or, with ``wait``, Slicer is quitting (cleaned up now, waiting for its processes)."""
        job = self.job
        self._stop(message)
        self._discarded = True
        if wait and job is not None:
            self.job = None
            job.run.cleanup()

    def _stop(self, message: str) -> None:
        if self.job is not None:
            self.job.run.cancel()
            self._stopping = message
            self.view.showStatus(message)
