"""Heatmaps for CNN models (a network that maps an image to class scores), through ``monai.visualize``.

The network reads the image's voxel array as a (1, 1, k, j, i) tensor, after ``preprocess`` (an
intensity transform that keeps the shape), so the maps are on the image's grid as they come out.

- ``gradcam_map``: Grad-CAM (Selvaraju et al. 2017) at ``target_layer``, MONAI's ``GradCAM``:
  positive, normalised to 0-1 per image.
- ``network_occlusion_map``: MONAI's ``OcclusionSensitivity``: the class probability of the whole
  image minus the probability with a patch around each voxel occluded; signed.

torch and MONAI are imported when a map is asked for, not with this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from ..volume import Volume, conform_mask
from .heatmap import Heatmap, display_range


def gradcam_map(
    network: Any,
    image: Volume,
    target_layer: str,
    *,
    mask: Volume | None = None,
    class_index: int | None = None,
    preprocess: Callable[[np.ndarray], np.ndarray] | None = None,
    device: str = "auto",
) -> Heatmap:
    """Grad-CAM of ``network`` for ``class_index`` (the predicted class when None) at ``target_layer``
    (a module name as ``network.named_modules()`` lists it, e.g. "features.denseblock1")."""
    from monai.transforms import ScaleIntensity
    from monai.visualize import GradCAM

    if target_layer not in dict(network.named_modules()):
        raise InputError(f"The network has no layer {target_layer!r}; its layers are named as named_modules() lists them.")
    tensor = _input(network, image, preprocess, device)
    # MONAI's default post-processing maps (min, max) to (1, 0), flipping the map; scale to (0, 1) instead.
    cam = GradCAM(nn_module=network, target_layers=target_layer, postprocessing=ScaleIntensity(minv=0.0, maxv=1.0))
    values = cam(tensor, class_idx=class_index).detach().cpu().numpy()[0, 0].astype(np.float32)
    chosen = class_index if class_index is not None else _predicted_class(network, tensor)
    values = _inside(values, image, mask)
    return Heatmap(
        volume=image.with_array(values),
        colormap="positive",
        method="gradcam",
        description=(f"Grad-CAM of class {chosen} at layer {target_layer}: where the network's evidence for that class "
                     "lies (brighter = more), normalised to 0-1 over the image; it has no sign."),
        value_range=(0.0, 1.0),
        notes=["Grad-CAM is as coarse as the target layer's feature maps, upsampled linearly to the image grid."],
        units="Grad-CAM (0-1)",
    )


def network_occlusion_map(
    network: Any,
    image: Volume,
    *,
    mask: Volume | None = None,
    class_index: int | None = None,
    patch_size: int | Sequence[int] = 8,
    overlap: float = 0.5,
    mode: str | float = "gaussian",
    preprocess: Callable[[np.ndarray], np.ndarray] | None = None,
    device: str = "auto",
    batch_size: int = 16,
) -> Heatmap:
    """Occlusion sensitivity of ``network`` for ``class_index`` (the predicted class when None).

    ``mode``: what replaces an occluded patch, as MONAI's ``OcclusionSensitivity`` takes it ("gaussian":
    the patch faded towards 0 at its centre; "mean_img": the image's mean; a number).
    """
    import torch
    from monai.visualize import OcclusionSensitivity

    tensor = _input(network, image, preprocess, device)
    with torch.no_grad():
        probabilities = _activate(network(tensor))
    chosen = int(probabilities[0].argmax()) if class_index is None else class_index
    if not 0 <= chosen < probabilities.shape[1]:
        raise InputError(f"class_index {chosen} is not one of the network's {probabilities.shape[1]} outputs.")
    # activate= given: MONAI's own choice of softmax or sigmoid looks at the input's channels, not the output's.
    occlusion = OcclusionSensitivity(network, mask_size=patch_size, n_batch=batch_size, verbose=False, overlap=overlap,
                                     mode=mode, activate=_activate)
    occluded, _ = occlusion(tensor)
    values = (float(probabilities[0, chosen]) - occluded[0, chosen].detach().cpu().numpy()).astype(np.float32)
    values = _inside(values, image, mask)
    return Heatmap(
        volume=image.with_array(values),
        colormap="signed",
        method="network-occlusion",
        description=(f"Occlusion sensitivity of class {chosen}: its probability for the whole image minus its probability "
                     f"with a {patch_size}-voxel patch around the voxel occluded (MONAI, {mode} occlusion). Positive: "
                     "the region supports the class; negative: against."),
        value_range=display_range(values, "signed"),
        notes=[f"Probability of class {chosen} for the whole image: {float(probabilities[0, chosen]):.3f}."],
        units="probability change",
    )


def _input(network: Any, image: Volume, preprocess: Callable[[np.ndarray], np.ndarray] | None, device: str) -> Any:
    import torch

    from ..devices import resolve_device

    array = np.asarray(preprocess(image.array) if preprocess else image.array, np.float32)
    if array.shape != image.shape:
        raise InputError(f"preprocess changed the array's shape from {image.shape} to {array.shape}; it must keep the grid.")
    resolved = resolve_device(device)
    network.to(resolved).eval()
    return torch.from_numpy(np.ascontiguousarray(array))[None, None].to(resolved)


def _activate(logits: Any) -> Any:
    """Class probabilities: softmax over several outputs, sigmoid of a single one."""
    import torch

    return torch.softmax(logits, dim=1) if logits.shape[1] > 1 else torch.sigmoid(logits)


def _predicted_class(network: Any, tensor: Any) -> int:
    import torch

    with torch.no_grad():
        return int(network(tensor)[0].argmax())


def _inside(values: np.ndarray, image: Volume, mask: Volume | None) -> np.ndarray:
    """``values`` with 0 outside ``mask`` (every voxel kept without a mask)."""
    if mask is None:
        return values
    return np.where(conform_mask(mask, image).array > 0, values, 0).astype(np.float32)
