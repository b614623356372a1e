"""Tumor segmentation with MONAI networks: specs, weights, pre/post-processing, inference, training."""
