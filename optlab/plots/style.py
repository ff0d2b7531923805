"""Shared look of optlab figures (matplotlib Figure objects, no pyplot state)."""

from __future__ import annotations

from matplotlib.figure import Figure

MAX_LEGEND = 12  # more labels than this get no legend, only a count in the title


def new_figure(width: float = 7.0, height: float = 4.5) -> tuple[Figure, object]:
    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.add_subplot()
    ax.grid(True, which="major", alpha=0.3)
    return fig, ax


def colors(n: int):
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "viridis"]
    return [cmap(i if n <= 10 else i / max(1, n - 1)) for i in range(n)]
