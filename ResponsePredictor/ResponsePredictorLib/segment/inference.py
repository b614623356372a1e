"""Tumor segmentation with a loaded MONAI network: guided by a click or a box, or over the whole scan.

Both ways run the same steps on a region of the scan: crop it (padding where it leaves the image),
bring it to the network's conventions (``preprocess``), infer with MONAI's sliding-window inferer,
undo the orientation and resampling with MONAI's inverse transforms, threshold, keep the tumor's
connected component, fill holes, and paste the result into a mask on the scan's own grid. A mask
that reaches the edge of what the network was shown (inside the scan) comes with a warning: the
tumor may go on beyond it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.inferers import sliding_window_inference
from monai.transforms import Compose, ResizeWithPadOrCrop

from ..devices import resolve_device
from ..errors import InputError
from ..volume import Volume, conform_mask, crop_padded
from .postprocess import clean_mask
from .preprocess import box_channel, click_channel, image_transforms, mask_transforms, to_metatensor, voxel_of
from .prompts import Box, Point, Prompts, RegionError, nearest_voxel, rounded
from .spec import ModelSpec

# Voxels added around a region so that interpolation at its border sees real neighbours.
INTERPOLATION_MARGIN = 2


@dataclass(frozen=True)
class NetworkInput:
    """What the network is shown of a scan: its input (batch of one, channels first) and how it was made."""

    inputs: torch.Tensor  # (1, channels, i, j, k) on the segmenter's device
    x: MetaTensor  # the image channel with its affine and the transforms applied (MONAI can invert them)
    transforms: Compose  # the geometry and window that made ``x`` from the region
    mask_transforms: Compose  # the same geometry for a mask (nearest neighbour)
    start: np.ndarray  # the region's first voxel in the scan (i, j, k); it ends before ``stop``
    stop: np.ndarray
    seen: tuple | None  # what the network can change (see ``_run``)
    positives: list[np.ndarray]  # the tumor points marked in the seed channel (LPS mm)

    def mask_on_input(self, mask: Volume) -> torch.Tensor:
        """A mask on the scan's grid brought onto the network's input grid, (i, j, k) bool."""
        return _mask_on_input(mask, self.start, self.stop, self.mask_transforms)[0]

    def to_region(self, values: torch.Tensor) -> np.ndarray:
        """Values on the input grid (one channel: (i, j, k) or (1, i, j, k)) back on the cropped region's grid (k, j, i), float32: MONAI
        undoes the resampling and orientation recorded on ``x``."""
        on_input = self.x.clone()
        on_input.set_array(values)
        restored = self.transforms.inverse(on_input)
        return np.asarray(restored.as_tensor().numpy()[0].transpose(2, 1, 0), dtype=np.float32)

    def to_scan(self, values: torch.Tensor, image: Volume) -> Volume:
        """Values on the input grid as a Volume on the scan's grid (0 beyond the region shown)."""
        return _paste(image, self.to_region(values), self.start, self.stop)


@dataclass(frozen=True)
class SegmentationResult:
    """A tumor mask on the input's grid, and what it took to make it."""

    mask: Volume  # uint8, 1 = tumor
    probability: Volume | None  # uint8, the network's tumor probability x 255; None unless asked for
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # The mask reaches the edge of what the network was shown, inside the scan (a warning says so).
    reaches_edge: bool = False
    # The voxels (i, j, k; first, last + 1) the network was shown and can change with a click: the box,
    # or the cube around the first click; None for the whole scan.
    shown: tuple[np.ndarray, np.ndarray] | None = None


def computes_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively: a GPU, or a CPU with AVX-512 BF16 or AMX. Elsewhere
    bfloat16 is emulated and slower than float32."""
    if device.type == "cuda":
        return True
    try:
        return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def precision_name(bfloat16: bool) -> str:
    """How a network ran or trained, as validation records and model cards state it."""
    return "bfloat16 mixed" if bfloat16 else "float32"


class Segmenter:
    """Runs one loaded network on scans. Build it once; it keeps the network on its device."""

    def __init__(
        self,
        spec: ModelSpec,
        network: torch.nn.Module,
        *,
        device: str | torch.device = "auto",
        threshold: float = 0.5,
        overlap: float = 0.25,
        sw_batch_size: int = 1,
        precision: str = "auto",
    ) -> None:
        """``precision``: "auto" runs the network in bfloat16 mixed precision where the device computes
        it natively (on the default model's held-back crops 149 of 150 masks within 0.004 Dice of float32,
        the ROI 2x faster on a CPU), "float32" always in float32."""
        if precision not in ("auto", "float32"):
            raise InputError(f"precision must be 'auto' or 'float32', not {precision!r}.")
        self.spec = spec
        self.device = resolve_device(device)
        self.bfloat16 = precision == "auto" and computes_bfloat16(self.device)
        # oneDNN's bfloat16 convolutions run fastest on channels-last tensors (in float32 they do not).
        self.layout = torch.channels_last_3d if self.bfloat16 and self.device.type == "cpu" else torch.contiguous_format
        self.network = network.to(self.device).eval()
        self.threshold = threshold
        self.overlap = overlap
        self.sw_batch_size = sw_batch_size

    def segment_roi(
        self,
        image: Volume,
        *,
        seed: Point | Sequence[Point] | None = None,
        box: Box | None = None,
        negative: Point | Sequence[Point] | None = None,
        previous: Volume | None = None,
        probability: bool = False,
    ) -> SegmentationResult:
        """The tumor shown by ``seed`` (one point on it, or several) and/or ``box`` (two opposite corners),
        corrected by ``negative`` points (not tumor there), all in LPS mm.

        The region seen is the model's ``roi_size`` around the first seed, or the box (with a margin);
        every other point must lie in it. A box partly outside the image is cut to the image, with a warning.

        ``previous``: for a model with a previous-mask channel, the mask being corrected (on the image's
        grid): the result of the same prompts without the newest point, as an interactive session keeps
        it. Without it the prompts are replayed in a fixed order (``replay_order``), one network pass per
        point, so that the same prompts always give the same mask. A model without the channel ignores it.
        """
        prompts = self._checked(image, seed, negative, box)
        if self.spec.previous_mask_channel:
            if previous is None:
                previous = self._replayed_previous(image, prompts)
            else:
                previous = conform_mask(previous, image, source="The previous mask",
                                        advice="Give the mask segmented from this image.")
        warnings: list[str] = []
        return self._run(image, *self._roi_region(image, prompts, warnings), prompts, probability, warnings, previous)

    def _replayed_previous(self, image: Volume, prompts: Prompts, region=None) -> Volume | None:
        """The mask the last of ``prompts`` (in ``replay_order``) corrects: each shorter sequence segmented
        with the mask before it, in the region ``region(image, prompts)`` gives (``_roi_region``'s by
        default); None for a single prompt (a first click has no previous mask). Every point is checked
        against what the network sees first, so that a point it cannot follow costs no pass."""
        def bounds(step: Prompts):
            return self._roi_region(image, step, []) if region is None else region(image, step)

        steps = replay_order(prompts)
        if len(steps) > 1:
            start, stop, anchor, inside_box, fits = bounds(prompts)
            self._checked_region(image, start, stop, anchor, prompts, inside_box, fits)
        previous = None
        for step in steps[:-1]:
            previous = self._run(image, *bounds(step), step, False, [], previous).mask
        return previous

    def roi_input(self, image: Volume, *, seed: Point | Sequence[Point] | None = None, box: Box | None = None,
                  negative: Point | Sequence[Point] | None = None) -> NetworkInput:
        """What ``segment_roi`` shows the network for these prompts, without running it on them (a model that
        is shown the mask they correct runs on the prompts before them: ``replay_order``)."""
        prompts = self._checked(image, seed, negative, box)
        start, stop, anchor, inside_box, fits = self._roi_region(image, prompts, [])
        previous = self._replayed_previous(image, prompts) if self.spec.previous_mask_channel else None
        return self._network_input(image, start, stop, anchor, prompts, inside_box, fixed_size=fits, previous=previous)

    def _roi_region(self, image: Volume, prompts: Prompts, warnings: list[str]):
        """The region of the scan ``segment_roi`` shows the network: its first and last voxel + 1 (i, j, k),
        its anchor (the first tumor point or the box's centre, LPS mm), the box's voxels (or None) and
        whether it fits one window of the network."""
        if prompts.box is None:
            anchor_index = image.physical_to_index(prompts.seeds[0])
            half = np.asarray(self.spec.roi_size) * np.asarray(self.spec.spacing) / 2
            start, stop = _index_box(image, anchor_index, half)
            inside_box = None
        else:
            corners = np.reshape(np.asarray(prompts.box, float), (2, 3))
            start, stop, inside_box, anchor_index = self._box_region(image, corners, warnings)
        # A region that fits the network's window is inferred in exactly one window: one forward
        # pass, no overlap blending. A larger box is covered by sliding windows.
        window_mm = np.asarray(self.spec.roi_size) * np.asarray(self.spec.spacing)
        fits = inside_box is None or np.all(
            (np.asarray(inside_box[1]) - inside_box[0]) * np.asarray(image.spacing) <= window_mm.min()
        )
        return start, stop, np.asarray(image.index_to_physical(anchor_index), float), inside_box, bool(fits)

    def segment_volume(
        self,
        image: Volume,
        *,
        seed: Point | Sequence[Point] | None = None,
        negative: Point | Sequence[Point] | None = None,
        probability: bool = False,
    ) -> SegmentationResult:
        """The whole scan with sliding windows; a guided model also needs a ``seed``."""
        if self.spec.seed_channel and seed is None:
            raise RegionError(f"Model {self.spec.id} is guided by a click: give a seed point on the tumor.")
        prompts = Prompts() if seed is None and negative is None else self._checked(image, seed, negative, None)
        previous = self._replayed_previous(image, prompts, self._whole_scan) if self.spec.previous_mask_channel else None
        return self._run(image, *self._whole_scan(image, prompts), prompts, probability, [], previous)

    @staticmethod
    def _whole_scan(image: Volume, prompts: Prompts):
        """``segment_volume``'s region, as ``_roi_region`` gives one: the whole scan, anchored at the first seed."""
        anchor = np.asarray(prompts.seeds[0], float) if prompts.seeds else None
        return np.zeros(3, int), np.asarray(image.size), anchor, None, False

    def _checked(self, image: Volume, seed: Any, negative: Any, box: Any) -> Prompts:
        prompts = Prompts.of(seed, negative, box)
        prompts.check(image)
        if prompts.negatives and not self.spec.negative_channel:
            raise RegionError(f"Model {self.spec.id} {self.spec.version} takes no not-tumor points (it has no "
                              "negative channel): correct with further tumor points or a box, or use a model that "
                              "takes them.")
        return prompts

    def infer_window(self, window: torch.Tensor) -> torch.Tensor:
        """The network's float32 logits for one window, in this segmenter's precision."""
        if self.layout is not torch.contiguous_format:
            window = window.contiguous(memory_format=self.layout)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bfloat16):
            return self.network(window).float()

    def _box_region(self, image: Volume, corners: np.ndarray, warnings: list[str]):
        # The box's eight corners in voxel space (an oblique image turns an LPS box).
        all_corners = np.array([[corners[a, 0], corners[b, 1], corners[c, 2]]
                                for a in (0, 1) for b in (0, 1) for c in (0, 1)])
        indices = np.array([image.physical_to_index(c) for c in all_corners])
        low, high = indices.min(axis=0), indices.max(axis=0)
        size = np.asarray(image.size)
        if np.any(high < -0.5) or np.any(low > size - 0.5):
            raise RegionError(f"The box {tuple(corners.ravel())} mm lies entirely outside the image.")
        if np.any(low < -0.5) or np.any(high > size - 0.5):
            warnings.append("The box extends beyond the image; only its part inside the image is segmented.")
        low, high = np.clip(low, 0, size - 1), np.clip(high, 0, size - 1)
        inside = (np.floor(low + 0.5).astype(int), np.floor(high + 0.5).astype(int) + 1)
        center = (low + high) / 2
        # The network sees at least its own region size around the box's centre.
        half = np.maximum((high - low) / 2 * np.asarray(image.spacing),
                          np.asarray(self.spec.roi_size) * np.asarray(self.spec.spacing) / 2)
        start, stop = _index_box(image, center, half)
        return start, stop, inside, center

    def _checked_region(self, image, start, stop, anchor, prompts, inside_box, fixed_size):
        """The region of the scan from ``start`` to ``stop`` (padded with the window's floor beyond the scan) and
        what of it the network is shown and can change (see ``_run``), after ``RegionError`` for a point outside
        that: the user's box, or for a click its training crops' extent (else its window)."""
        low = self.spec.intensity_window[0]
        region = image if (np.all(start == 0) and np.all(stop == image.size)) else crop_padded(image, start, stop, low)
        seen = None
        if inside_box is not None:
            seen = (inside_box[0] - start, inside_box[1] - start, "the box", "Draw a larger box.")
        elif fixed_size:
            edge = self.spec.context_mm or float(np.min(np.asarray(self.spec.roi_size) * np.asarray(self.spec.spacing)))
            seen = (*_cube(region, region.physical_to_index(anchor), edge), f"the {edge:g} mm cube around the first click "
                    "that the model sees", "Check the mask, or draw a box around the whole tumor.")
        if seen is not None:
            _check_points_seen(region, prompts, seen)
        return region, seen

    def _network_input(self, image, start, stop, anchor, prompts, inside_box, *, fixed_size,
                       previous: Volume | None = None) -> NetworkInput:
        """The region of the scan from ``start`` to ``stop`` as the network's input, with its prompts and
        the mask they correct (``previous``, on the scan's grid; None: none yet)."""
        low = self.spec.intensity_window[0]
        region, seen = self._checked_region(image, start, stop, anchor, prompts, inside_box, fixed_size)
        if inside_box is None and fixed_size and self.spec.context_mm is not None:
            # A click (a box bounds the mask itself, and may be wider than the training crops).
            region = _within_context(region, region.physical_to_index(anchor), self.spec.context_mm, low)
        transforms, masks = image_transforms(self.spec), mask_transforms(self.spec)
        if fixed_size:
            transforms = Compose([*transforms.transforms, ResizeWithPadOrCrop(self.spec.roi_size)])
            masks = Compose([*masks.transforms, ResizeWithPadOrCrop(self.spec.roi_size)])
        x = transforms(to_metatensor(region))
        # A box's click is its centre, as in training; the user's tumor points join it.
        positives = ([] if inside_box is None else [anchor]) + [np.asarray(p, float) for p in prompts.seeds]
        channels = [x]
        if self.spec.seed_channel:
            channels.append(click_channel(x, [voxel_of(x, p) for p in positives], self.spec.seed_sigma_mm))
        if self.spec.box_channel:
            channels.append(_box_in_input(x, image, inside_box))
        if self.spec.negative_channel:
            channels.append(click_channel(x, [voxel_of(x, p) for p in prompts.negatives], self.spec.seed_sigma_mm))
        if self.spec.previous_mask_channel:
            channels.append(torch.zeros_like(torch.as_tensor(x)) if previous is None else
                            _mask_on_input(previous, start, stop, masks).float())
        inputs = torch.cat([torch.as_tensor(c) for c in channels])[None].to(self.device)
        return NetworkInput(inputs, x, transforms, masks, np.asarray(start), np.asarray(stop), seen, positives)

    def _run(self, image, start, stop, anchor, inside_box, fixed_size, prompts, probability, warnings, previous):
        """``anchor``: the first tumor click, or the box's centre (None: an unguided whole scan);
        ``previous``: the mask these prompts correct, for a model with a previous-mask channel."""
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        shown = self._network_input(image, start, stop, anchor, prompts, inside_box, fixed_size=fixed_size,
                                    previous=previous)
        inputs, seen, positives = shown.inputs, shown.seen, shown.positives
        timings["preprocess_s"] = time.perf_counter() - clock

        clock = time.perf_counter()
        with torch.inference_mode():
            logits = sliding_window_inference(
                inputs, self.spec.roi_size, self.sw_batch_size, self.infer_window,
                overlap=self.overlap, mode="gaussian",
            )
            tumor = tumor_probability(logits)[0].cpu()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        timings["inference_s"] = time.perf_counter() - clock

        clock = time.perf_counter()
        prob = shown.to_region(tumor)
        region_mask = prob >= self.threshold
        if inside_box is not None:
            keep = np.zeros_like(region_mask)
            a, b = np.asarray(inside_box[0]) - start, np.asarray(inside_box[1]) - start
            keep[a[2]:b[2], a[1]:b[1], a[0]:b[0]] = True
            region_mask &= keep
        # The tumor is what is connected to a tumor point (or the box's centre).
        region_mask = clean_mask(region_mask, _indices_in(image, positives, start) or None,
                                 _indices_in(image, prompts.negatives, start))
        reaches_edge = seen is not None and _reaches_an_inner_face(region_mask, seen[0], seen[1], start, image.size)
        if reaches_edge:
            warnings.append(f"The segmentation reaches the edge of {seen[2]}: the tumor may extend beyond it. {seen[3]}")
        mask = _paste(image, region_mask.astype(np.uint8), start, stop)
        prob_volume = None
        if probability:
            prob_volume = _paste(image, np.round(np.clip(prob, 0, 1) * 255).astype(np.uint8), start, stop)
        timings["postprocess_s"] = time.perf_counter() - clock
        if not mask.array.any():
            warnings.append("No tumor was found at this location (empty mask); check the seed or the box.")
        shown = None if seen is None else tuple(np.clip(start + bound, 0, image.size) for bound in seen[:2])
        return SegmentationResult(mask, prob_volume, timings, warnings, reaches_edge, shown)


def _mask_on_input(mask: Volume, start: np.ndarray, stop: np.ndarray, transforms: Compose) -> torch.Tensor:
    """``mask`` (on the scan's grid) over the region from ``start`` to ``stop`` brought onto the network's
    input grid by ``transforms`` (a mask's: nearest neighbour), (1, i, j, k) bool."""
    region = crop_padded(mask, tuple(start), tuple(stop), 0)
    return torch.as_tensor(transforms(to_metatensor(region))) > 0.5


def replay_order(prompts: Prompts) -> list[Prompts]:
    """The order in which prompts given all at once are replayed: the box (else the first tumor point)
    alone, then each further tumor point, then each not-tumor point, each step with those before it."""
    first = Prompts(box=prompts.box) if prompts.box is not None else Prompts(seeds=prompts.seeds[:1])
    steps = [first]
    for seed in prompts.seeds[len(first.seeds):]:
        steps.append(Prompts(steps[-1].seeds + (seed,), (), prompts.box))
    for negative in prompts.negatives:
        steps.append(Prompts(steps[-1].seeds, steps[-1].negatives + (negative,), prompts.box))
    return steps


def _box_in_input(x: MetaTensor, image: Volume, inside_box: tuple[np.ndarray, np.ndarray] | None) -> torch.Tensor:
    """The box channel on the network's input grid ``x``: the voxels of ``image`` from ``inside_box[0]``
    to ``inside_box[1]`` (exclusive; i, j, k), its eight corners taken through the preprocessing's
    geometry; empty for a click (None)."""
    shape = tuple(x.shape[1:])
    if inside_box is None:
        return torch.zeros((1, *shape), dtype=torch.float32)
    first, last = np.asarray(inside_box[0]), np.asarray(inside_box[1]) - 1
    corners = np.array([voxel_of(x, image.index_to_physical(np.where(choice, last, first)))
                        for choice in np.ndindex(2, 2, 2)])
    return box_channel(shape, corners.min(axis=0), corners.max(axis=0))


def _indices_in(image: Volume, points: Sequence, start: np.ndarray) -> list[np.ndarray]:
    """Voxel indices (k, j, i, as the region's arrays) of ``points`` in the region that begins at ``start``."""
    return [(image.physical_to_index(p) - start)[::-1] for p in points]


def _check_points_seen(region: Volume, prompts: Prompts, seen: tuple) -> None:
    """``RegionError`` for a point outside what the network is shown (``seen``: first and last voxel + 1,
    i, j, k of ``region``, and its name): it could not change the mask there."""
    low, high, name, advice = seen
    for kind, point in prompts.points():
        index = np.asarray(nearest_voxel(region, point))
        if np.any(index < low) or np.any(index >= high):
            raise RegionError(f"The {kind} {rounded(point)} mm lies outside {name}, so it cannot change the "
                              f"mask. {advice}")


def _within_context(region: Volume, centre_index: np.ndarray, context_mm: float, fill: float) -> Volume:
    """``region`` with ``fill`` beyond the cube of edge ``context_mm`` around ``centre_index`` (i, j, k),
    as a network trained on crops of that size saw its training images."""
    low, high = _cube(region, centre_index, context_mm)
    kept = np.full_like(region.array, fill)
    box = tuple(slice(a, b) for a, b in zip(low[::-1], high[::-1]))
    kept[box] = region.array[box]
    return region.with_array(kept)


def _cube(region: Volume, centre_index: np.ndarray, edge_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """The voxels (i, j, k; from ``low`` up to ``high``, exclusive) of ``region`` within the cube of edge
    ``edge_mm`` around ``centre_index``."""
    half = edge_mm / 2 / np.asarray(region.spacing)
    size = np.asarray(region.size)
    low = np.clip(np.ceil(centre_index - half), 0, size).astype(int)
    high = np.clip(np.floor(centre_index + half) + 1, 0, size).astype(int)
    return low, high


def _reaches_an_inner_face(mask: np.ndarray, low: np.ndarray, high: np.ndarray, start: np.ndarray,
                           image_size: tuple[int, int, int]) -> bool:
    """Whether ``mask`` (k, j, i, over the region that begins at image voxel ``start``) reaches a face of the
    box ``low``..``high`` (region voxels i, j, k) that lies inside the image: there, the tumor may go on
    beyond what was segmented (at the image's own border, nothing more can be seen). Reaching means
    within one voxel of the face: resampling to the network's grid and back blurs the last one."""
    for axis in range(3):
        along = mask.any(axis=tuple(other for other in (0, 1, 2) if other != 2 - axis))
        if start[axis] + low[axis] > 0 and along[low[axis]:low[axis] + 2].any():
            return True
        if start[axis] + high[axis] < image_size[axis] and along[max(high[axis] - 2, 0):high[axis]].any():
            return True
    return False


def tumor_probability(logits: torch.Tensor) -> torch.Tensor:
    """The tumor probability of a network's logits (batch, classes, ...) -> (batch, ...)."""
    # Two classes: softmax; one output channel: a sigmoid.
    if logits.shape[1] == 1:
        return torch.sigmoid(logits)[:, 0]
    return torch.softmax(logits.float(), dim=1)[:, 1]


def _index_box(image: Volume, center_index: np.ndarray, half_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Voxel box (i, j, k) covering ``half_mm`` around a centre, whatever the image's axis order."""
    # A region given in the model's RAS-aligned millimetres, measured along the image's own axes:
    # the largest half-extent covers every axis permutation.
    half_voxels = np.ceil(np.max(half_mm) / np.asarray(image.spacing)).astype(int) + INTERPOLATION_MARGIN
    center = np.floor(center_index + 0.5).astype(int)
    return center - half_voxels, center + half_voxels + 1


def _paste(image: Volume, region: np.ndarray, start: np.ndarray, stop: np.ndarray) -> Volume:
    """``region`` (covering voxels ``start``..``stop``) written into a zero volume on ``image``'s grid."""
    full = np.zeros(image.shape, dtype=region.dtype)
    size = np.asarray(image.size)
    a, b = np.clip(start, 0, size), np.clip(stop, 0, size)
    target = tuple(slice(lo, hi) for lo, hi in zip(a[::-1], b[::-1]))
    source = tuple(slice(lo, hi) for lo, hi in zip((a - start)[::-1], (b - start)[::-1]))
    full[target] = region[source]
    return image.with_array(full)
