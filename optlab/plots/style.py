"""Shared look of optlab figures (matplotlib Figure objects, no pyplot state)."""

from __future__ import annotations

import re

from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatterSciNotation

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


_SUPERSCRIPT = str.maketrans(
    "-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
)
_MATH_LABEL = re.compile(r"^\$\\mathdefault\{(?:([0-9.]+)\\times)?([0-9]+)\^\{(-?[0-9]+)\}\}\$$")


class UnicodeLogFormatter(LogFormatterSciNotation):
    """matplotlib's log-axis labels (the same ticks labelled: 10⁻³, 2×10⁻³), written
    with Unicode superscripts instead of mathtext, whose parser took a tenth of a second
    of every ``optlab run``; a label it cannot rewrite is kept as it was."""

    def __call__(self, x, pos=None):
        label = super().__call__(x, pos)
        match = _MATH_LABEL.match(label)
        if match is None:
            return label
        coeff, base, exponent = match.groups()
        text = f"{base}{exponent.translate(_SUPERSCRIPT)}"
        return f"{coeff}\u00d7{text}" if coeff else text


def log_scale(ax, which: str) -> None:
    """``ax.set_xscale("log")`` (``which="x"``) or y, labelled as matplotlib would (major
    ticks base-only, minor ticks where the axis spans few decades), in Unicode."""
    getattr(ax, f"set_{which}scale")("log")
    axis = getattr(ax, f"{which}axis")
    axis.set_major_formatter(UnicodeLogFormatter())
    axis.set_minor_formatter(UnicodeLogFormatter(labelOnlyBase=False))
