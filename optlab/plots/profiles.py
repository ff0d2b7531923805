"""Figures of the profile tables from optlab.profiles: Dolan-Moré performance profiles (log2
tau), Moré-Wild data profiles (steps) per tolerance, and the COCO-style runtime ECDF per
dimension. Step functions drawn right-continuous; never imports JAX."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from optlab.plots.captions import add_caption
from optlab.plots.style import colors


def _panels(n: int, ncols: int = 4):
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(max(7.0, 3.3 * ncols), 2.8 * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()[:n]


def _steps(ax, x, y, color, label, x_end) -> None:
    """A right-continuous step function, drawn flat from its last breakpoint to x_end."""
    x = np.append(x, max(x_end, x[-1]))
    y = np.append(y, y[-1])
    ax.step(x, y, where="post", color=color, lw=1.3, label=label)


def _finish(fig, axes, solvers, caption: str, title: str) -> Figure:
    for ax in axes:
        ax.set_ylim(-0.02, 1.02)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=7)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside upper center",
        ncols=min(6, len(solvers)),
        fontsize=8,
        title=title,  # in the legend box: a suptitle would overlap it
        title_fontsize=10,
    )
    add_caption(fig, caption, width=max(95, 38 * min(4, len(axes))))
    return fig


def performance_figure(perf: pd.DataFrame, caption: str = "") -> Figure:
    tolerances = sorted(perf["tolerance"].unique(), reverse=True)
    solvers = list(dict.fromkeys(perf["solver"]))
    fig, axes = _panels(len(tolerances))
    x_end = max(1.0, float(perf["log2_tau"].max())) * 1.1 + 0.1
    for ax, tol in zip(axes, tolerances, strict=True):
        for color, name in zip(colors(len(solvers)), solvers, strict=True):
            c = perf[(perf["tolerance"] == tol) & (perf["solver"] == name)].sort_values("tau")
            _steps(ax, c["log2_tau"].to_numpy(), c["fraction"].to_numpy(), color, name, x_end)
        ax.set_title(f"tolerance {tol:.0e}", fontsize=9)
        ax.set_xlabel(r"$\log_2 \tau$ (cost ratio to the best solver)", fontsize=8)
        ax.set_ylabel("fraction of problems", fontsize=8)
    return _finish(fig, axes, solvers, caption, "Performance profiles (Dolan & Moré)")


def data_figure(data: pd.DataFrame, caption: str = "") -> Figure:
    tolerances = sorted(data["tolerance"].unique(), reverse=True)
    solvers = list(dict.fromkeys(data["solver"]))
    fig, axes = _panels(len(tolerances))
    _step_panels(axes, data, "tolerance", tolerances, solvers, "tolerance {:.0e}", "problems")
    return _finish(fig, axes, solvers, caption, "Data profiles (Moré & Wild)")


def ecdf_figure(ecdf: pd.DataFrame, caption: str = "") -> Figure:
    dims = sorted(ecdf["dim"].unique())
    solvers = list(dict.fromkeys(ecdf["solver"]))
    fig, axes = _panels(len(dims), ncols=3)
    _step_panels(axes, ecdf, "dim", dims, solvers, "n = {}", "(problem, seed, target)")
    return _finish(fig, axes, solvers, caption, "Runtime ECDF over 51 targets (COCO style)")


def _step_panels(axes, frame, key, values, solvers, title, counted) -> None:
    """One panel per value of ``key``: each solver's fraction against steps (log x)."""
    for ax, value in zip(axes, values, strict=True):
        for color, name in zip(colors(len(solvers)), solvers, strict=True):
            c = frame[(frame[key] == value) & (frame["solver"] == name)].sort_values("steps")
            x = c["steps"].to_numpy()
            _steps(ax, x, c["fraction"].to_numpy(), color, name, x[-1])
        ax.set_xscale("symlog", linthresh=1)
        ax.set_title(title.format(value), fontsize=9)
        ax.set_xlabel("steps (gradients)", fontsize=8)
        ax.set_ylabel(f"fraction of {counted}", fontsize=8)
