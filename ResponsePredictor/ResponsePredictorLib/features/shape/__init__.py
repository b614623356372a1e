"""pyradiomics' shape (3D) and shape2D classes: mesh, diameters and principal axes of the region.

``volume.shape_features`` and ``plane.shape2d_features`` give pyradiomics 3.0.1's values from a mask
cropped to the region's box; ``mesh`` (marching cubes and squares, with ``tables``), ``diameter``
(convex hulls) and ``moments`` (principal axes) hold the pieces both share.
"""

from .plane import shape2d_features
from .volume import shape_features

__all__ = ["shape2d_features", "shape_features"]
