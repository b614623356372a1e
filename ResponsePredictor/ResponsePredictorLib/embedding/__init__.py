"""Deep features: a network's view of the tumor as table columns (``deep_0``, ``deep_1``, ...) beside the
radiomic features, validated, trained on and explained the same way.

    extractor = deep_extractor("default")                    # the shipped segmentation network's encoder
    features = extractor.extract(image, mask)                # {"deep_0": ..., ...}
"""

from .extractor import DEEP_PREFIX, DEFAULT_SOURCE, DeepFeatureExtractor, DeepView, deep_extractor

__all__ = ["DEEP_PREFIX", "DEFAULT_SOURCE", "DeepFeatureExtractor", "DeepView", "deep_extractor"]
