"""2-D paths over the loss landscape: a still figure and a GIF animation.

Functions of a landscape dict (``X, Y, Z, box, x_star`` arrays from optlab.landscape) and
the trace DataFrame (``x_0, x_1`` columns); they never import JAX. With several seeds the
path of the first seed is drawn (the legend says so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm

from optlab.plots.style import MAX_LEGEND, colors, log_scale, new_figure


def _paths(trace: pd.DataFrame) -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    out = []
    for label in dict.fromkeys(trace["label"]):
        df = trace[trace["label"] == label]
        seeds = sorted(df["seed"].unique())
        one = df[df["seed"] == seeds[0]].sort_values("step")
        xy = one[["x_0", "x_1"]].to_numpy(float)
        out.append((label, one["step"].to_numpy(), xy, len(seeds)))
    return out


def _draw_landscape(ax, land: dict, title: str) -> None:
    X, Y, Z = land["X"], land["Y"], land["Z"]
    dz = Z - np.nanmin(Z)
    top = np.nanmax(dz)
    if np.isfinite(top) and top > 0:
        levels = np.geomspace(top * 1e-5, top, 30)
        ax.contourf(X, Y, dz + top * 1e-6, levels=levels, norm=LogNorm(), cmap="Greys", alpha=0.35)
        ax.contour(
            X,
            Y,
            dz + top * 1e-6,
            levels=levels,
            norm=LogNorm(),
            cmap="Greys",
            linewidths=0.5,
            alpha=0.6,
        )
    if land.get("x_star") is not None:
        for k, (sx, sy) in enumerate(land["x_star"]):
            ax.plot(sx, sy, "kx", ms=9, mew=2, label="x*" if k == 0 else None)
    box = land["box"]
    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title, fontsize=10)


def _legend_name(label: str, n_seeds: int) -> str:
    return label if n_seeds == 1 else f"{label} (seed 0 of {n_seeds})"


def _mark_starts(ax, paths) -> None:
    """x0 as one hollow black circle per distinct start (labelled once)."""
    starts = np.unique(np.asarray([xy[0] for _, _, xy, _ in paths]), axis=0)
    ax.plot(
        starts[:, 0], starts[:, 1], "o", mfc="white", mec="k", mew=1.5, ms=8, label="$x_0$",
        clip_on=False, zorder=5,
    )  # fmt: skip


def _loss_panel(ax, trace: pd.DataFrame, paths) -> None:
    """f(x_t) - f* (f(x_t) when f* is unknown) of the drawn seed, one line per path."""
    metric = "gap" if trace["gap"].notna().any() else "loss"
    first = trace[trace["seed"] == trace["seed"].min()]
    positive = True
    for color, (label, _, _, _) in zip(colors(len(paths)), paths, strict=True):
        one = first[first["label"] == label].sort_values("step")
        values = one[metric].to_numpy(float)
        positive &= bool(np.all(values[np.isfinite(values)] > 0))
        ax.plot(one["step"], values, color=color, lw=1.2)
    if positive:
        log_scale(ax, "y")
    ax.set_xlabel("step t")
    ax.set_ylabel("$f(x_t) - f^*$" if metric == "gap" else "$f(x_t)$")
    ax.grid(True, alpha=0.3)


def paths_figure(land: dict, trace: pd.DataFrame, title: str = "", loss_panel: bool = False):
    """Each path over the landscape, with x0, x* and every path's final point marked; with
    ``loss_panel`` the loss of each path beside it."""
    from matplotlib.figure import Figure

    if loss_panel:
        fig = Figure(figsize=(11.0, 5.5), layout="constrained")
        ax, side = fig.subplots(1, 2, width_ratios=[1.1, 1])
        ax.grid(True, which="major", alpha=0.3)
    else:
        fig, ax = new_figure(6.0, 5.5)
    _draw_landscape(ax, land, title)
    paths = _paths(trace)
    for color, (label, _, xy, n) in zip(colors(len(paths)), paths, strict=True):
        ax.plot(xy[:, 0], xy[:, 1], "-", color=color, lw=1.3, label=_legend_name(label, n))
        last = xy[np.isfinite(xy).all(axis=1)][-1:]  # a diverged path: its last finite point
        ax.plot(last[:, 0], last[:, 1], "s", color=color, mec="k", ms=6, zorder=4)
    _mark_starts(ax, paths)
    if len(paths) <= MAX_LEGEND:
        ax.plot([], [], "s", color="grey", mec="k", ms=6, label="final point (each path)")
        ax.legend(fontsize=7, loc="best")
    if loss_panel:
        _loss_panel(side, trace, paths)
    return fig


@dataclass(frozen=True)
class Frames:
    """An animation as a figure plus ``update(k)``, which moves the ``artists`` to frame k.
    Everything else on the figure is static, so a writer can draw it once (blitting)."""

    fig: object
    update: Callable[[int], None]
    artists: tuple
    n: int


def paths_animation(land: dict, trace: pd.DataFrame, title: str = "", frames: int = 60) -> Frames:
    """The paths drawn up to each of ``frames`` recorded steps (a moving head per path)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig, ax = new_figure(6.0, 5.5)
    FigureCanvasAgg(fig)
    _draw_landscape(ax, land, title)
    paths = _paths(trace)
    _mark_starts(ax, paths)
    lines, heads = [], []
    for color, (label, _, _, n) in zip(colors(len(paths)), paths, strict=True):
        lines.append(ax.plot([], [], "-", color=color, lw=1.3, label=_legend_name(label, n))[0])
        heads.append(ax.plot([], [], "o", color=color, ms=5)[0])
    if len(paths) <= MAX_LEGEND:
        ax.legend(fontsize=7, loc="best")
    steps = paths[0][1]
    idx = np.unique(np.linspace(0, len(steps) - 1, max(2, frames)).round().astype(int))
    text = ax.text(0.02, 0.97, "", transform=ax.transAxes, va="top", fontsize=8)

    def update(k: int) -> None:
        upto = idx[k] + 1
        for line, head, (_, _, xy, _) in zip(lines, heads, paths, strict=True):
            line.set_data(xy[:upto, 0], xy[:upto, 1])
            head.set_data(xy[upto - 1 : upto, 0], xy[upto - 1 : upto, 1])
        text.set_text(f"t = {steps[idx[k]]}")

    return Frames(fig=fig, update=update, artists=(*lines, *heads, text), n=len(idx))
