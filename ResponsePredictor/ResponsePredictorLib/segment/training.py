"""Training a click-guided tumor segmentation network on (scan, expert mask) pairs, with MONAI.

Each training sample imitates a radiologist's click: a voxel of the tumor (often one of its inner
half, where people click) becomes the centre of the network's window and is marked in the seed channel; MONAI augmentations then vary
intensity, orientation, scale and position (which moves the click away from the window's centre,
as happens when a box or a whole scan is segmented) and slice thickness (full CTs often have
3-5 mm slices, the training crops 1 mm voxels). The preprocessing is ``preprocess``'s, the same code
that runs at inference.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from monai.data import DataLoader, Dataset
from monai.losses import DiceCELoss
from monai.transforms import (
    Compose,
    RandAffined,
    Randomizable,
    RandFlipd,
    RandGaussianNoised,
    RandRotate90d,
    RandScaleIntensityd,
    RandShiftIntensityd,
    SpatialCrop,
    SpatialPad,
)
from monai.utils import set_determinism
from scipy.ndimage import distance_transform_edt

from ..volume import Volume
from ..devices import resolve_device
from .inference import computes_bfloat16, tumor_probability
from .network import build_network, load_weights
from .corrective_clicks import next_click
from .preprocess import box_channel, clicks_on_grid, image_transforms, mask_transforms, to_metatensor
from .spec import ModelSpec
from .validation import BOX_MARGIN_MM

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingConfig:
    steps: int = 4000
    batch_size: int = 4
    learning_rate: float = 2e-3
    weight_decay: float = 1e-5
    seed: int = 20261122
    num_workers: int = 0
    device: str = "auto"
    # Mixed precision (bfloat16) where the device computes it natively (a GPU; a CPU with AVX-512 BF16 or
    # AMX), the loss kept in float32: a step about twice as fast on a GPU, 1.3-1.5 times on this project's
    # 2-core CPU (benchmarks/results/segmentation.md).
    amp: bool = True
    # A time budget: training stops after this many seconds even if fewer steps were made (recorded).
    max_seconds: float | None = None
    # Weights to start from (fine-tuning) instead of a fresh initialisation; recorded with their sha256.
    initial_weights: str | None = None
    # Share of clicks drawn from the tumor's inner half (by depth) rather than from all its voxels.
    # Drawn uniformly, most clicks on a large tumor land near its surface, where most of its volume
    # is, while radiologists click near the middle: the first models were better from random clicks
    # than from the central one.
    central_click_fraction: float = 0.0
    # Share of samples guided by a box drawn around the tumor (for a model with a box channel): the
    # window centred on the box, its channel marking the expert mask's bounding box widened on each
    # side by a random margin, as a user draws it; the other samples are clicks with an empty box channel.
    box_fraction: float = 0.0
    # For a model with a negative channel: the most corrective clicks a simulated user adds before a
    # step (each batch draws 0..this many, uniformly); each click goes where the network, given the
    # clicks so far, errs most (``corrective_clicks.next_click``), as a user corrects it.
    corrective_clicks: int = 0


def training_sample(spec: ModelSpec, image: Volume, mask: Volume) -> dict[str, torch.Tensor]:
    """One case as the training loop keeps it: preprocessed image and mask on the model's grid.

    Both are padded by half a window on every side, so that every tumor voxel can be a window's
    centre (the pad value 0 is the bottom of the intensity window, as when inference pads outside
    a scan); the tumor's voxel positions, those of its inner half (at least half the tumor's
    greatest depth from its surface) and its bounding box are found once here rather than at every step.
    """
    pad = SpatialPad([s + 2 * (w // 2) for s, w in zip(_model_grid_shape(spec, image), spec.roi_size)])
    x = pad(image_transforms(spec)(to_metatensor(image))).as_tensor()
    y = (pad(mask_transforms(spec)(to_metatensor(mask))).as_tensor() > 0.5).to(torch.uint8)
    depth = distance_transform_edt(y[0].numpy(), sampling=spec.spacing)
    core = torch.from_numpy(np.argwhere(depth >= depth.max() / 2))
    tumor = torch.nonzero(y[0])
    bounds = torch.stack([tumor.min(dim=0).values, tumor.max(dim=0).values])
    return {"image": x, "label": y, "tumor_voxels": tumor, "core_voxels": core, "tumor_box": bounds}


def _model_grid_shape(spec: ModelSpec, image: Volume) -> list[int]:
    return list(mask_transforms(spec)(to_metatensor(image)).shape[1:])


class _RandGuidedCrop(Randomizable):
    """The window a user's guidance puts around the tumor: centred on a click on a random tumor voxel
    (from the inner half with ``central_fraction``), or, with ``box_fraction``, on a box drawn around
    the tumor (its bounding box widened by 0-``BOX_MARGIN_MM`` on each side), kept as ``box``
    (its first and last voxel in the window) for ``_AddGuidance``."""

    def __init__(self, spec: ModelSpec, central_fraction: float = 0.0, box_fraction: float = 0.0) -> None:
        self.size = np.asarray(spec.roi_size)
        self.margin_voxels = BOX_MARGIN_MM / np.asarray(spec.spacing)
        self.central_fraction = central_fraction
        self.box_fraction = box_fraction

    def randomize(self, data: dict) -> tuple[np.ndarray, np.ndarray | None]:
        if self.R.random_sample() < self.box_fraction:
            low, high = data["tumor_box"].numpy().astype(float)
            box = np.stack([low - self.R.uniform(0, self.margin_voxels), high + self.R.uniform(0, self.margin_voxels)])
            return np.round(box.mean(axis=0)).astype(int), box
        key = "core_voxels" if self.R.random_sample() < self.central_fraction else "tumor_voxels"
        voxels = data[key]
        return voxels[int(self.R.randint(len(voxels)))].numpy(), None

    def __call__(self, data: dict) -> dict:
        centre, box = self.randomize(data)
        crop = SpatialCrop(roi_center=centre.tolist(), roi_size=self.size.tolist())
        # The window's first voxel is centre - size // 2 (SpatialCrop's convention).
        box = None if box is None else box - (centre - self.size // 2)
        return {"image": crop(data["image"]), "label": crop(data["label"]), "box": box}


class _RandThickSlices(Randomizable):
    """Simulates a scan with thicker slices: ``k`` adjacent axial slices averaged (partial volume)
    and interpolated back to the model's grid, as inference resamples a 3-5 mm scan to 1 mm.

    MONAI's ``RandSimulateLowResolution`` zooms all three axes alike; CT loses resolution along
    the patient axis only (axis 2 in RAS). The label keeps its full resolution: the network learns
    to outline the tumor the expert drew, from the blurred image.
    """

    def __init__(self, prob: float, factors: tuple[int, ...] = (2, 3, 4, 5)) -> None:
        self.prob = prob
        self.factors = factors

    def randomize(self) -> int | None:
        return int(self.R.choice(self.factors)) if self.R.random_sample() < self.prob else None

    def __call__(self, data: dict) -> dict:
        factor = self.randomize()
        if factor is None:
            return data
        image = torch.as_tensor(data["image"])
        depth = image.shape[-1]
        thick = torch.nn.functional.avg_pool1d(image.reshape(-1, 1, depth), factor, ceil_mode=True)
        thin = torch.nn.functional.interpolate(thick, size=depth, mode="linear", align_corners=False)
        return {**data, "image": thin.reshape(image.shape)}


class _AddGuidance:
    """Appends the seed channel of a click at the window's centre (where ``_RandGuidedCrop`` put the
    click, or the box's centre, as inference puts it for a box), for a box-guided model the box
    channel (empty for a click), and for a model that takes corrections an empty negative channel and
    an empty previous-mask channel (the training loop's simulated user fills them, ``add_corrective_clicks``)."""

    def __init__(self, spec: ModelSpec) -> None:
        centre = np.asarray(spec.roi_size) // 2
        self.channel = clicks_on_grid(tuple(spec.roi_size), spec.spacing, [centre], spec.seed_sigma_mm)
        self.size = tuple(spec.roi_size)
        self.box_channel = spec.box_channel
        # Empty channels after the box: not-tumor clicks and the previous mask, as a first click has neither.
        self.empty_channels = int(spec.negative_channel) + int(spec.previous_mask_channel)

    def __call__(self, data: dict) -> dict:
        data = dict(data)
        box = data.pop("box")
        image = torch.as_tensor(data["image"])
        channels = [image, self.channel]
        if self.box_channel:
            channels.append(torch.zeros((1, *self.size)) if box is None else box_channel(self.size, box[0], box[1]))
        if self.empty_channels:
            channels.append(torch.zeros((self.empty_channels, *self.size)))
        data["image"] = torch.cat([c.to(image.device) for c in channels])
        return data


def augmentation(spec: ModelSpec, central_click_fraction: float = 0.0, box_fraction: float = 0.0) -> Compose:
    both = ("image", "label")
    return Compose([
        _RandGuidedCrop(spec, central_click_fraction, box_fraction),
        RandScaleIntensityd("image", factors=0.1, prob=0.5),
        RandShiftIntensityd("image", offsets=0.05, prob=0.5),
        RandGaussianNoised("image", std=0.01, prob=0.3),
        _RandThickSlices(prob=0.3),
        _AddGuidance(spec),
        RandFlipd(both, prob=0.5, spatial_axis=0),
        RandFlipd(both, prob=0.5, spatial_axis=1),
        RandFlipd(both, prob=0.5, spatial_axis=2),
        RandRotate90d(both, prob=0.5, spatial_axes=(0, 1)),
        RandAffined(
            both, prob=0.5, rotate_range=(0.25, 0.25, 0.25), scale_range=(0.1, 0.1, 0.1),
            translate_range=(12, 12, 12), mode=("bilinear", "nearest"), padding_mode="zeros",
        ),
    ])


def train(
    spec: ModelSpec,
    samples: Sequence[dict[str, torch.Tensor]],
    config: TrainingConfig,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[torch.nn.Module, list[float]]:
    """A network trained on ``samples`` (from ``training_sample``); returns it with the loss per step."""
    if spec.previous_mask_channel and not config.corrective_clicks:
        raise ValueError("A model shown the mask a click corrects learns from corrective clicks only: set "
                         "corrective_clicks (--corrective-clicks) above 0.")
    set_determinism(seed=config.seed)
    device = resolve_device(config.device)
    network = build_network(spec)
    if config.initial_weights:
        # A model given a box channel or wider layers starts as the narrower one its weights come from.
        load_weights(network, config.initial_weights, model_id=spec.id, widen=True)
    # Channels-last 3D tensors are what oneDNN's CPU convolutions run fastest on (a step of the 16-128
    # channel U-Net: 1.18 s contiguous, 0.75 s channels-last, 0.41 s adding bfloat16; 2-core AVX-512 CPU).
    layout = torch.channels_last_3d if device.type == "cpu" else torch.contiguous_format
    network = network.to(device, memory_format=layout)
    workers = config.num_workers
    if device.type == "cuda":
        # MONAI's transforms run on the GPU as well; there the augmentation no longer starves the
        # network, as it does when a few CPU workers resample every 3D sample.
        samples = [{key: value.to(device) for key, value in sample.items()} for sample in samples]
        workers = 0
    loader = DataLoader(
        Dataset(list(samples), transform=augmentation(spec, config.central_click_fraction, config.box_fraction)),
        batch_size=config.batch_size, shuffle=True, num_workers=workers, drop_last=True,
        persistent_workers=workers > 0,
    )
    # The Dice term on the tumor channel only: averaged with the background's Dice (always near 1)
    # it halves the push towards whole tumors, and the first model under-segmented large ones.
    loss_function = DiceCELoss(to_onehot_y=True, softmax=True, include_background=False)
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.learning_rate, total_steps=config.steps)
    use_amp = uses_bfloat16(config, device)
    losses: list[float] = []
    started = time.perf_counter()
    out_of_time = False
    network.train()
    rounds = np.random.default_rng(config.seed)
    while len(losses) < config.steps and not out_of_time:
        for batch in loader:
            inputs, labels = batch["image"].to(device, memory_format=layout), batch["label"].to(device)
            if spec.negative_channel and config.corrective_clicks:
                clicks = int(rounds.integers(0, config.corrective_clicks + 1))
                inputs = add_corrective_clicks(network, inputs, labels, clicks, spec, use_amp)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss = loss_function(network(inputs).float(), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            if progress:
                progress(len(losses), losses[-1])
            out_of_time = bool(config.max_seconds) and time.perf_counter() - started > config.max_seconds
            if len(losses) == config.steps or out_of_time:
                break
    if out_of_time and len(losses) < config.steps:
        log.warning("time budget of %.0f s reached after %d of %d steps", config.max_seconds, len(losses), config.steps)
    log.info("trained %d steps in %.0f s (bfloat16: %s)", len(losses), time.perf_counter() - started, use_amp)
    return network.eval().cpu().to(memory_format=torch.contiguous_format), losses


def add_corrective_clicks(network: torch.nn.Module, inputs: torch.Tensor, labels: torch.Tensor, clicks: int,
                          spec: ModelSpec, bfloat16: bool) -> torch.Tensor:
    """``inputs`` (a batch of windows) after ``clicks`` rounds of the simulated user: each round the
    network predicts from the clicks so far, and each window gets a click in its largest error region,
    in the seed channel (missed tumor) or the negative channel (wrongly added). A model with a
    previous-mask channel is shown there the mask that its last click corrects (RITM's iterative training)."""
    inputs = inputs.clone()
    truth = labels[:, 0].cpu().numpy() > 0
    channel_of = {True: 1, False: spec.negative_index}
    for _ in range(clicks):
        with torch.no_grad(), torch.autocast(inputs.device.type, dtype=torch.bfloat16, enabled=bfloat16):
            predicted = tumor_probability(network(inputs).float()) >= 0.5
        if spec.previous_mask_channel:
            inputs[:, spec.previous_index] = predicted.to(inputs.dtype)
        prediction = predicted.cpu().numpy()
        for sample in range(len(inputs)):
            click = next_click(prediction[sample], truth[sample], spec.spacing)
            if click is None:
                continue
            blob = clicks_on_grid(tuple(inputs.shape[2:]), spec.spacing, [np.asarray(click.index)], spec.seed_sigma_mm)
            channel = channel_of[click.positive]
            inputs[sample, channel] = torch.maximum(inputs[sample, channel], blob[0].to(inputs.device))
    return inputs


def uses_bfloat16(config: TrainingConfig, device: torch.device) -> bool:
    """Whether training on ``device`` runs in bfloat16 mixed precision (recorded with the model)."""
    return config.amp and computes_bfloat16(device)
