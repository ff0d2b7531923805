"""The tuning figure: each optimizer's objective against its learning rate, one panel per
problem, the chosen configuration starred, diverged ones crossed at the top, the protocol in
the caption. A function of the ``tune`` and ``best`` tables; never imports JAX."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from optlab.plots.captions import add_caption
from optlab.plots.style import colors, log_scale

CAP = 1e100  # larger differences are drawn at the cap: a log axis cannot span 1e-300..1e300


def _floor(values: np.ndarray, best: float) -> float:
    """Where the panel's best (objective - best = 0) is drawn on a log axis: a decade below
    the smallest positive difference."""
    diff = values - best
    positive = diff[np.isfinite(diff) & (diff > 0)]
    return max(positive.min() / 10, 1e-200) if positive.size else 1.0


def _panel(ax, df: pd.DataFrame, names: list[str], palette) -> None:
    finite = df["objective"].to_numpy(float)
    finite = finite[np.isfinite(finite)]
    low = finite.min() if finite.size else 0.0
    floor = _floor(finite, low)
    diverged = []
    for color, spec in zip(palette, names, strict=True):
        one = df[df["spec"] == spec].sort_values("hp_learning_rate")
        lr, obj = one["hp_learning_rate"].to_numpy(float), one["objective"].to_numpy(float)
        ok = np.isfinite(obj)
        y = np.clip(obj - low, floor, CAP)
        style = "-o" if one.filter(like="hp_").shape[1] == 1 else "o"
        ax.plot(lr[ok], y[ok], style, color=color, ms=2.5, lw=0.9, label=spec)
        chosen = one[one["chosen"]]
        if len(chosen):
            cy = np.clip(chosen["objective"].to_numpy(float) - low, floor, CAP)
            ax.plot(chosen["hp_learning_rate"], cy, "*", color=color, ms=11, mec="k", mew=0.6)
        diverged.append((lr[~ok], color))
    log_scale(ax, "x")
    log_scale(ax, "y")
    for lr, color in diverged:  # along the top edge (x in data, y in axes units): no value
        ax.plot(
            lr, np.full(lr.size, 0.97), "x", color=color, ms=5, transform=ax.get_xaxis_transform()
        )
    ax.set_title(f"{df['problem'].iloc[0]} (best f = {low:.6g})", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3)


def tuning_figure(tune: pd.DataFrame, caption: str = "", ncols: int = 5) -> Figure:
    problems = list(dict.fromkeys(tune["problem"]))
    names = list(dict.fromkeys(tune["spec"]))
    palette = colors(len(names))
    ncols = min(ncols, len(problems))
    nrows = -(-len(problems) // ncols)
    fig = Figure(figsize=(max(7.0, 3.3 * ncols + 0.5), 3.0 * nrows + 1.0), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, problem in zip(axes.ravel(), problems, strict=False):
        _panel(ax, tune[tune["problem"] == problem], names, palette)
    for ax in axes.ravel()[len(problems) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("objective − panel's best\n(0 on a floor, ≥ 1e100 at 1e100)", fontsize=7)
    for ax in axes[-1, :]:
        ax.set_xlabel("learning rate", fontsize=8)
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    handles += [
        Line2D([], [], ls="", marker="*", color="grey", mec="k", ms=10),
        Line2D([], [], ls="", marker="x", color="grey"),
    ]
    labels += ["chosen", "diverged (drawn at the top)"]
    fig.legend(handles, labels, loc="outside upper center", ncols=min(8, len(labels)), fontsize=8)
    add_caption(fig, caption, width=max(95, 36 * ncols))
    return fig
