"""The overlay picture: a PNG with the scan, the tumor contour and the heatmap in its colours."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from ResponsePredictorLib.errors import GeometryMismatchError, MaskError
from ResponsePredictorLib.explain import Heatmap
from ResponsePredictorLib.report.overlay import save_overlay_picture
from ResponsePredictorLib.volume import Volume
from test_explain import two_halves_case


def pixels(path: Path) -> np.ndarray:
    return matplotlib.image.imread(path)[..., :3]


def colour_mask(rgb: np.ndarray, colour: str) -> np.ndarray:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return {"red": (r > g + 0.2) & (r > b + 0.15), "blue": (b > r + 0.2) & (b > g + 0.1),
            "lime": (g > 0.8) & (r < 0.3) & (b < 0.3)}[colour]


def count(rgb: np.ndarray, colour: str) -> int:
    return int(np.count_nonzero(colour_mask(rgb, colour)))


def signed_heatmap(image: Volume, mask: Volume, bright: np.ndarray, sign: float = 1.0) -> Heatmap:
    values = np.where(bright, 1.0, np.where(mask.array > 0, -1.0, 0.0)) * sign
    return Heatmap(image.with_array(values.astype(np.float32)), "signed", "contribution", "test", (-1.0, 1.0), [], "log-odds")


def test_picture_shows_both_signs_and_the_contour(tmp_path: Path) -> None:
    image, mask, bright = two_halves_case()
    path = save_overlay_picture(image, mask, signed_heatmap(image, mask, bright), tmp_path / "pic.png",
                                title="case 1", lines=["a line of text"])
    rgb = pixels(path)
    assert rgb.shape[0] > 300 and rgb.shape[1] > 800
    assert count(rgb, "red") > 200 and count(rgb, "blue") > 200 and count(rgb, "lime") > 50
    # Without a heatmap: scan and contour only, no colours of the map.
    plain = pixels(save_overlay_picture(image, mask, None, tmp_path / "plain.png"))
    assert count(plain, "red") == 0 and count(plain, "lime") > 50


def test_left_and_right_stay_where_the_radiologist_expects_them(tmp_path: Path) -> None:
    """The bright half (higher i = patient's left in LPS) is drawn on the right of the axial view."""
    image, mask, bright = two_halves_case(oblique=False)
    rgb = pixels(save_overlay_picture(image, mask, signed_heatmap(image, mask, bright), tmp_path / "pic.png"))
    axial = rgb[:, : rgb.shape[1] // 3]
    red_columns = np.nonzero(colour_mask(axial, "red"))[1]
    blue_columns = np.nonzero(colour_mask(axial, "blue"))[1]
    assert red_columns.mean() > blue_columns.mean()


def test_picture_refuses_a_heatmap_of_another_grid_and_an_empty_mask(tmp_path: Path) -> None:
    image, mask, bright = two_halves_case()
    heatmap = signed_heatmap(image, mask, bright)
    moved = Heatmap(Volume(heatmap.volume.array, image.spacing, (0.0, 0.0, 0.0), image.direction), "signed", "m", "d", (-1.0, 1.0))
    with pytest.raises(GeometryMismatchError, match="not on the image's grid"):
        save_overlay_picture(image, mask, moved, tmp_path / "pic.png")
    with pytest.raises(MaskError, match="empty"):
        save_overlay_picture(image, mask.with_array(np.zeros(mask.shape, np.uint8)), heatmap, tmp_path / "pic.png")
    assert not list(tmp_path.iterdir())
