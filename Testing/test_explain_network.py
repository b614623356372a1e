"""Grad-CAM and occlusion sensitivity of a CNN classifier, through monai.visualize.

A small CNN of MONAI convolution blocks is trained in the test (seconds on a CPU) to tell images
holding a bright cube from images of noise alone. On a new image with a cube both maps must rank
the cube's voxels above the rest, which a random map (chance) or an inverted one would not: this
caught MONAI's Grad-CAM default (it flips the map) and its occlusion activation (a sigmoid of
two-class logits).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from monai.networks.blocks import Convolution  # noqa: E402

from ResponsePredictorLib.errors import InputError  # noqa: E402
from ResponsePredictorLib.explain import gradcam_map, network_occlusion_map  # noqa: E402
from ResponsePredictorLib.volume import Volume  # noqa: E402
from test_explain import ranking  # noqa: E402

SIZE = 16
CUBE = 5


def image_with_cube(rng: np.random.Generator, cube: bool) -> tuple[np.ndarray, tuple[slice, ...]]:
    array = rng.normal(0, 0.3, (SIZE, SIZE, SIZE)).astype(np.float32)
    corner = rng.integers(1, SIZE - CUBE - 1, size=3)
    box = tuple(slice(int(c), int(c) + CUBE) for c in corner)
    if cube:
        array[box] += 2.0
    return array, box


@pytest.fixture(scope="module")
def network() -> torch.nn.Module:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    # Two convolution blocks, global max pooling, a linear layer: "is there a bright blob anywhere".
    net = torch.nn.Sequential(Convolution(3, 1, 4, kernel_size=3), Convolution(3, 4, 4, kernel_size=3),
                              torch.nn.AdaptiveMaxPool3d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2))
    images, labels = [], []
    for index in range(32):
        array, _ = image_with_cube(rng, cube=index % 2 == 1)
        images.append(array)
        labels.append(index % 2)
    x, y = torch.from_numpy(np.stack(images))[:, None], torch.tensor(labels)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-2)
    for _ in range(30):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
    net.eval()
    with torch.no_grad():
        assert (net(x).argmax(1) == y).float().mean() == 1.0  # it learnt the task
    return net


def case() -> tuple[Volume, np.ndarray]:
    array, box = image_with_cube(np.random.default_rng(99), cube=True)
    cube = np.zeros(array.shape, bool)
    cube[box] = True
    return Volume(array, (0.7, 0.7, 1.5), (10.0, -5.0, 3.0), (1, 0, 0, 0, 1, 0, 0, 0, 1)), cube


def test_gradcam_points_at_the_cube(network) -> None:
    image, cube = case()
    heatmap = gradcam_map(network, image, "1", class_index=1, device="cpu")
    values = heatmap.volume.array
    assert heatmap.volume.same_grid(image) and heatmap.colormap == "positive" and heatmap.method == "gradcam"
    assert 0 <= values.min() and values.max() <= 1
    assert ranking(values, cube, ~cube) > 0.9
    assert values[cube].mean() > 5 * values[~cube].mean()


def test_network_occlusion_points_at_the_cube(network) -> None:
    image, cube = case()
    heatmap = network_occlusion_map(network, image, class_index=1, patch_size=8, mode="mean_img", device="cpu")
    values = heatmap.volume.array
    assert heatmap.volume.same_grid(image) and heatmap.colormap == "signed"
    # Occluding the cube lowers the probability of "cube": positive there, about 0 far from it.
    assert ranking(values, cube, ~cube) > 0.9
    assert values[cube].mean() > 0.05 > 10 * abs(np.median(values[~cube]))


def test_network_maps_refuse_bad_input(network) -> None:
    image, cube = case()
    with pytest.raises(InputError, match="no layer"):
        gradcam_map(network, image, "no.such.layer")
    with pytest.raises(InputError, match="keep the grid"):
        gradcam_map(network, image, "1", preprocess=lambda a: a[:-1])
    masked = gradcam_map(network, image, "1", mask=image.with_array(cube.astype(np.uint8)), device="cpu")
    assert np.all(masked.volume.array[~cube] == 0)
