"""Explanation heatmaps: where in the tumor a prediction comes from, as ``Volume``s on the input's grid.

    from ResponsePredictorLib.explain import contribution_map, occlusion_map, write_heatmap, read_heatmap

    heatmap = contribution_map(saved_model, image, mask, covariates)   # signed, the model's own terms
    write_heatmap(heatmap, "heatmap.nrrd")                             # + heatmap.json (colour map, range, notes)

``contribution_map``: voxel-wise feature maps through the model's preprocessing and contributions.
``occlusion_map``: model-agnostic, the change in prediction when blocks of the tumor are removed.
``deep_feature_map``: for models of deep features, the change in prediction when blocks of the tumor are
left out of the features' pooling.
``gradcam_map`` and ``network_occlusion_map``: for CNN models, through ``monai.visualize``.
See docs/explain.md for how to read them and their limits.
"""

from importlib import import_module
from typing import Any

# Resolved on first use: reading a heatmap (the Slicer panel does, in Slicer's own process) must not
# load the prediction models, scikit-learn and MONAI that the map makers need.
_WHERE = {
    "COLORMAPS": "heatmap", "Heatmap": "heatmap", "read_heatmap": "heatmap", "write_heatmap": "heatmap",
    "contribution_map": "contribution", "NotExplainableError": "model_inputs", "gradcam_map": "network",
    "network_occlusion_map": "network", "occlusion_map": "occlusion", "deep_feature_map": "deep",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_WHERE[name]}", __name__), name)
