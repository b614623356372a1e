"""Errors raised for bad input.

Each message says what is wrong, with which file or object, and what the user can do about it.
They all derive from ``InputError`` (a ``ValueError``), so callers that only want to report a
problem to the user can catch that one type, while tests and tools can tell the cases apart.
"""


class InputError(ValueError):
    """Input that the engine cannot use as given."""


class ImageReadError(InputError):
    """A file or folder that is missing, unreadable or not a supported medical image."""


class DicomSeriesError(ImageReadError):
    """A DICOM folder whose series is ambiguous, incomplete or inconsistent."""


class ImageContentError(InputError):
    """An image that was read but cannot be analysed (2D, multi-component, non-finite voxels)."""


class MaskError(InputError):
    """A segmentation mask that is empty, lacks the requested label or is too small to analyse."""


class GeometryMismatchError(InputError):
    """Two volumes that should share one voxel grid do not."""


class SettingsError(InputError):
    """Radiomics settings (preset name or parameter file) that cannot be used."""


class TableError(InputError):
    """A feature or outcome table that cannot be used (no ``case`` column, repeated cases, bad outcome values)."""


class MissingFeatureError(TableError):
    """A table that lacks a feature column the model was trained on."""


class ModelFileError(InputError):
    """A saved model that is missing, incomplete, altered since it was saved, or of an unknown format."""
