"""Draw the module icon (128x128 PNG): a tumor outline over a red-blue heatmap, as the module shows."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "ResponsePredictor" / "Resources" / "Icons" / "ResponsePredictor.png"


def main() -> None:
    y, x = np.mgrid[-1:1:256j, -1:1:256j]
    angle = np.arctan2(y, x)
    radius = np.hypot(x, y)
    boundary = 0.62 + 0.08 * np.sin(3 * angle) + 0.04 * np.cos(5 * angle)
    inside = radius < boundary
    heat = np.where(inside, np.sin(2.5 * x + 1.0) * np.cos(2.0 * y), np.nan)
    fig = plt.figure(figsize=(1.28, 1.28), dpi=100)
    axes = fig.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    axes.imshow(np.exp(-radius**2), cmap="gray", vmin=0, vmax=1.6)
    axes.imshow(heat, cmap="coolwarm", alpha=0.85)
    axes.contour(inside, levels=[0.5], colors="#ffd700", linewidths=2.5)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, transparent=True)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
