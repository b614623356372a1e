"""Interactive tumor segmentation in the panel, without Qt: each tumor or not-tumor point placed, moved
or removed re-segments in the background session, and the mask replaces the module's tumor segment.

With "Refine at each point" on, the panel keeps one ``segment_session.SegmentSession`` for the scan,
model and device it shows; it starts as refinement is switched on (loading takes seconds, the user
is still looking for the tumor) and ends when any of them changes, when refinement is switched off,
when the panel lets go of its parameter node (the module is left, the scene closes) and when Slicer
quits. A session that stopped by itself is reported; the next point starts a new one.

Every mask that came back is remembered with the points it answers: Undo removes the last placed
point, and the mask of the points left is shown again without asking the engine, as is the mask
shown before the first point for the points the user started from. Only prompts with no mask yet
are sent. A timer calls ``tick`` while the session loads, works or ends.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..session_protocol import Prompts
from . import display, first_use, point_lists, seed
from .engine_run import JobFailed
from .nodes import alive, labelmap_from_segmentation, volume_from_node
from .segment_session import ProtocolMismatch, Refined, SegmentSession

if TYPE_CHECKING:
    from ..volume import Volume

POLL_INTERVAL_MS = 50  # a refinement takes a few hundred milliseconds: polled often enough to show it at once
RESTART_ADVICE = "Place or move a point to start it again."


def start_session(image: Volume, model: str | None, device: str) -> SegmentSession:
    """The session the panel starts, once the engine's packages are installed."""
    first_use.require_dependencies()
    return SegmentSession.start(image, model=model, device=device)


def read_session_mask(path: str) -> Volume | None:
    """A mask the session wrote, read and deleted, cut to its tumor's box as the panel keeps it."""
    from ..volume import nonzero_crop, read_volume

    try:
        mask = read_volume(path)
    finally:
        Path(path).unlink(missing_ok=True)
    return nonzero_crop(mask)


def session_key(parameters: Any) -> tuple[str, str, str] | None:
    """What a session is bound to: the scan, the model and the device (None: refinement off or no scan)."""
    scan = parameters.inputVolume if parameters is not None and parameters.refineInteractively else None
    return None if scan is None else (scan.GetID(), parameters.segmentationModel, parameters.device)


class Refinement:
    """The panel's tumor points: the one-click tumor location (``seed``), and refining at each point.

    ``follow(parameters)`` on every change of the parameter node (None when the panel lets go of it).
    ``view``: ``showStatus(text)``, ``showError(text, details)``. ``timer``: a qt.QTimer, polling the
    session. ``single_shot(milliseconds, action)``: qt.QTimer.singleShot, so that what a markups event
    asks for runs once the event is handled. ``changed()``: the panel updates its buttons.
    ``start(image, model, device)``: how a session starts (``start_session``).
    """

    def __init__(self, view: Any, timer: Any, single_shot: Callable[[int, Callable[[], None]], None],
                 changed: Callable[[], None], start: Callable[..., SegmentSession] | None = None) -> None:
        self.view, self._timer, self._changed = view, timer, changed
        self._start_session = start or start_session
        self._defer = functools.partial(single_shot, 0)
        timer.setInterval(POLL_INTERVAL_MS)
        timer.connect("timeout()", self.tick)
        self._seeds = seed.SeedWatcher(self._defer, changed)  # the one-click seed, trimmed while refinement is off
        self._lists = point_lists.PointListsWatcher(self._points_changed)
        self._parameters: Any = None
        self._key: tuple[str, str, str] | None = None
        self.session: SegmentSession | None = None
        self._ending: list[SegmentSession] = []  # closed, not yet ended and cleaned up
        self._masks: dict[Prompts, Volume | None] = {}  # every mask shown or answered, by its prompts
        self._wanted: Prompts | None = None  # the prompts the view is to show
        self._refresh_due = False
        self._announced: SegmentSession | None = None  # the session whose readiness was said

    @property
    def can_undo(self) -> bool:
        return bool(self._lists.placed)

    def follow(self, parameters: Any) -> None:
        """Follow the panel's parameter node: its lists, and a session for its scan, model and device."""
        self._parameters = parameters
        refining = parameters is not None and parameters.refineInteractively
        was_refining = not self._seeds.keep_one
        if was_refining and not refining and parameters is not None:
            seed.keep_first_point(parameters.seedPoint)  # refinement switched off: one click again
        self._seeds.keep_one = not refining
        self._seeds.follow(parameters.seedPoint if parameters is not None else None)
        self._lists.follow(*((parameters.seedPoint, parameters.notTumorPoints) if refining else ()))
        key = session_key(parameters)
        if key != self._key:
            self._end_session()
            self._key = key
            if key is not None:
                self._begin()

    def clear(self) -> None:
        """Forget where the tumor is (the panel's Clear): its tumor points and not-tumor points, and the box."""
        if self._parameters is not None:
            # No points is not "show the mask from before the first point": the refined segment stays.
            self._masks.pop(Prompts(), None)
            seed.clear_tumor_location(self._parameters)
            point_lists.clear_not_tumor_points(self._parameters)

    def undo(self) -> None:
        """Remove the last placed point (tumor or not); the mask shown before it comes back."""
        if self._lists.remove_last_placed():
            self.view.showStatus("Point removed.")
        self._changed()

    def end(self, wait: bool = False) -> None:
        """Stop refining and end the session; ``wait``: until its processes have ended and its folder
        is removed (Slicer quitting: no tick comes after)."""
        self.follow(None)
        if wait:
            for session in self._ending:
                session.cleanup()
            self._ending.clear()
            self._timer.stop()

    def tick(self) -> None:
        """The timer's tick: answers shown, a stopped session reported, ended sessions cleaned up."""
        for session in [session for session in self._ending if session.poll() is not None]:
            session.cleanup()
            self._ending.remove(session)
        session = self.session
        if session is not None:
            try:
                for refined in session.receive():
                    self._take(refined)
            except ProtocolMismatch as error:  # closed: it ends with the next ticks
                self.session = None
                self._ending.append(session)
                self.view.showError(str(error), session.log())
            else:
                if session.poll() is not None:
                    self._lost(session)
                elif session.ready is not None and self._announced is not session:
                    self._announced = session
                    self.view.showStatus("Segmenting..." if session.busy else self._ready_text(session))
        if not (self._ending or (self.session is not None and self.session.busy)):
            self._timer.stop()

    def _begin(self) -> None:
        """Refinement starts on a scan: the mask shown now is the one for the points as they are (the
        mask Undo comes back to), or, with points and no mask, they are segmented at once."""
        self._lists.forget_placing_order()
        parameters = self._parameters
        self._wanted = point_lists.current_prompts(parameters)
        shown = self._segment_shown()
        self._masks = {} if shown is None and self._wanted.shows_tumor else {self._wanted: shown}
        if self._start() and self._wanted not in self._masks:
            self._send(self._wanted)

    def _start(self) -> bool:
        parameters = self._parameters
        try:
            self.session = self._start_session(volume_from_node(parameters.inputVolume),
                                               parameters.segmentationModel or None, parameters.device)
        except (InputError, RuntimeError, OSError) as error:
            self.view.showStatus(f"Interactive segmentation could not start: {error}")
            return False
        self.view.showStatus("Interactive segmentation: loading the model (a few seconds)...")
        self._timer.start()
        return True

    def _end_session(self) -> None:
        if self.session is not None:
            self.session.close()
            self._ending.append(self.session)
            self.session = None
            self._timer.start()
        self._masks, self._wanted = {}, None
        self._lists.forget_placing_order()

    def _points_changed(self) -> None:
        """A point of either list placed, moved or removed: looked at once the event is handled (a
        drag sends many; only the points as they are then count)."""
        if not self._refresh_due:
            self._refresh_due = True
            self._defer(self._refresh)

    def _refresh(self) -> None:
        self._refresh_due = False
        self._changed()
        if self._key is None:
            return
        prompts = point_lists.current_prompts(self._parameters)
        if prompts == self._wanted:
            return
        self._wanted = prompts
        if prompts in self._masks:  # known (Undo): shown again, nothing sent
            if self.session is not None:
                self.session.withdraw()
            self._show(self._masks[prompts])
            self.view.showStatus("The segmentation for these points is shown again.")
        elif not prompts.shows_tumor:
            if self.session is not None:
                self.session.withdraw()
            self.view.showStatus("Place a tumor point: not-tumor points only say where the tumor is not.")
        else:
            self._send(prompts)

    def _send(self, prompts: Prompts) -> None:
        if self.session is not None and self.session.poll() is not None:
            self._lost(self.session)  # it stopped while idle: said now, and started again
        if self.session is None and not self._start():
            return
        self.session.submit(prompts)
        if self.session.ready is not None:
            self.view.showStatus("Segmenting...")
        self._timer.start()

    def _take(self, refined: Refined) -> None:
        answer, current = refined.answer, refined.prompts == self._wanted
        if answer.error is not None:
            if current:
                self.view.showStatus(f"Not segmented: {answer.error}")
            return
        try:
            mask = read_session_mask(answer.mask)
        except InputError as error:
            self.view.showStatus(f"The segmentation could not be read: {error}")
            return
        self._masks[refined.prompts] = mask
        # A mask for points since changed is shown while the latest are segmented: the newest there is.
        if current or self._wanted not in self._masks:
            self._show(mask)
        if current:
            found = "No tumor found at these points." if mask is None else "Tumor segmented"
            self.view.showStatus(" ".join([f"{found} ({refined.round_trip_seconds:.2f} s).", *answer.warnings]))

    def _show(self, mask: Volume | None) -> None:
        """``mask`` as the module's tumor segment (None: no tumor segment)."""
        parameters = self._parameters
        scan, output = parameters.inputVolume, alive(parameters.outputSegmentation)
        try:
            if mask is None:
                if output is not None:
                    display.remove_result_segment(output)
                return
            node = display.mask_to_segmentation(mask, scan.GetScene(), name=f"{scan.GetName()} tumor",
                                                reference_volume_node=scan, node=output)
        except InputError as error:
            self.view.showStatus(f"The segmentation cannot be shown: {error}")
            return
        if parameters.outputSegmentation is not node:
            parameters.outputSegmentation = node

    def _segment_shown(self) -> Volume | None:
        """The module's tumor segment in the output segmentation, as a mask on the scan's grid; None without one."""
        from ..volume import nonzero_crop

        parameters = self._parameters
        output = alive(parameters.outputSegmentation)
        segment_id = display.result_segment_id(output) if output is not None else None
        if segment_id is None:
            return None
        try:
            return nonzero_crop(labelmap_from_segmentation(output, parameters.inputVolume, [segment_id]).volume)
        except InputError:  # empty, or outside the scan
            return None

    def _lost(self, session: SegmentSession) -> None:
        """The session stopped by itself (crashed, killed, or could not load): said, and forgotten; the
        next point starts a new one."""
        self.session = None
        try:
            session.check()
            message, details = "The interactive segmentation session ended.", session.log()
        except JobFailed as failure:
            message, details = str(failure), failure.details
        session.cleanup()
        self.view.showStatus(f"{message} {RESTART_ADVICE}")
        self.view.showError(f"{message} {RESTART_ADVICE}", details)

    @staticmethod
    def _ready_text(session: SegmentSession) -> str:
        ready = session.ready
        takes = ("tumor and not-tumor points" if ready.not_tumor_points else
                 "tumor points (this model takes no not-tumor points)")
        return f"Interactive segmentation ready ({ready.model} {ready.version} on {ready.device}): place {takes}."
