"""pyradiomics' Wavelet image type: its stationary wavelet transform (_swt3), computed near the region only.

pyradiomics pads every odd-sized axis by wrapping one voxel around, then applies PyWavelets' one-level
``swtn`` ``start_level + level`` times to the approximation, the filters undilated each time. The
transform is a circular convolution with filters of ``dec_len`` taps, so after n passes a voxel's
value depends only on voxels within n * (dec_len - 1) along each transformed axis. Where the box plus
that reach lies inside the image, an even-length slice of it is transformed instead (the box's voxels
then never see the slice's wrap-around and go through the same convolution loop as in the full
transform); where it would reach an edge, and so the wrap-around, the whole axis is transformed as
pyradiomics does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from numbers import Integral
from typing import Any

import numpy as np
import pywt
import SimpleITK as sitk

from ...errors import SettingsError
from .boxes import BoundingBox, image_on_box


def wavelet_images(
    image: sitk.Image, settings: Mapping[str, Any], box: BoundingBox | None = None
) -> Iterator[tuple[sitk.Image, str]]:
    """pyradiomics' getWaveletImage: the details of each level ('wavelet-LLH', ..., 'wavelet2-HHH') in
    PyWavelets' order, then the last approximation ('wavelet-LLL', or 'wavelet<level>-LLL').

    Settings: ``wavelet`` (PyWavelets name, 'coif1'), ``start_level`` (0), ``level`` (1), and
    ``force2D`` / ``force2Ddimension`` to leave that (numpy) axis untransformed. Letters run over the
    axes x, y, z (L: low pass, H: high pass).
    """
    wavelet, start_level, level = _wavelet_settings(settings)
    axes = list(range(image.GetDimension() - 1, -1, -1))  # numpy axes, x first
    if settings.get("force2D", False):
        dimension = settings.get("force2Ddimension", 0)
        if dimension not in axes:
            raise SettingsError(f"'force2Ddimension' must be one of {sorted(axes)}, not {dimension!r}.")
        axes.remove(dimension)
    box = box or BoundingBox.whole(image)
    reach = (start_level + level) * (wavelet.dec_len - 1)
    source, inner = _source_slices(sitk.GetArrayViewFromImage(image).shape, box, axes, reach)
    data = sitk.GetArrayViewFromImage(image)[source]
    # Whole axes of odd length get pyradiomics' padding: the first voxel wrapped to the end.
    data = np.pad(data, [(0, n % 2 if axis in axes else 0) for axis, n in enumerate(data.shape)], mode="wrap")
    approximation = "a" * len(axes)
    for _ in range(start_level):
        data = pywt.swtn(data, wavelet, level=1, start_level=0, axes=axes)[0][approximation]
    for index in range(1, level + 1):
        decomposition = pywt.swtn(data, wavelet, level=1, start_level=0, axes=axes)[0]
        data = decomposition[approximation]
        for key, values in decomposition.items():
            if key != approximation:
                yield image_on_box(values[inner], image, box), _name(index, key)
    yield image_on_box(data[inner], image, box), _name(level, approximation)


def _wavelet_settings(settings: Mapping[str, Any]) -> tuple[pywt.Wavelet, int, int]:
    name = settings.get("wavelet", "coif1")
    start_level = settings.get("start_level", 0)
    level = settings.get("level", 1)
    if name not in pywt.wavelist(kind="discrete"):
        raise SettingsError(f"Unknown wavelet {name!r}; use a discrete PyWavelets wavelet such as 'coif1', 'haar' or 'db2'.")
    if not (isinstance(start_level, Integral) and start_level >= 0 and isinstance(level, Integral) and level >= 1):
        raise SettingsError(
            f"Wavelet levels must be whole numbers with 'start_level' >= 0 and 'level' >= 1, not {start_level!r} and {level!r}."
        )
    return pywt.Wavelet(name), int(start_level), int(level)


def _source_slices(
    shape: tuple[int, ...], box: BoundingBox, axes: list[int], reach: int
) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """The part of the array to transform (numpy slices) and the box's place within it."""
    source, inner = [], []
    for axis, (box_slice, n) in enumerate(zip(box.slices(), shape)):
        start, stop = box_slice.start, box_slice.stop
        if axis in axes:
            start, stop = start - reach, stop + reach
            if (stop - start) % 2:  # one-level swt needs an even length
                stop, start = (stop + 1, start) if stop < n else (stop, start - 1)
            if start < 0 or stop > n:
                start, stop = 0, n
        source.append(slice(start, stop))
        inner.append(slice(box_slice.start - start, box_slice.stop - start))
    return tuple(source), tuple(inner)


def _name(level: int, key: str) -> str:
    bands = key.replace("a", "L").replace("d", "H")
    return f"wavelet-{bands}" if level == 1 else f"wavelet{level}-{bands}"
