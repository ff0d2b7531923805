"""Small figure helpers shared by the claims (matplotlib, Agg; nothing is saved here)."""

from __future__ import annotations

import numpy as np

from optlab.plots.style import log_scale


def figure(n_panels: int, title: str, cols: int | None = None, size: float = 3.6):
    from matplotlib.figure import Figure

    cols = cols or min(n_panels, 3)
    rows = -(-n_panels // cols)
    fig = Figure(figsize=(size * cols, size * 0.8 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes:
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=10)
    return fig, axes[:n_panels]


def median_curves(ax, trace, column: str, *, logx=False, logy=False, labels=None, title=""):
    """One line per label: the median over seeds of ``column`` against the step."""
    for label, df in trace.groupby("label", sort=False):
        if labels is not None and label not in labels:
            continue
        med = df.groupby("step")[column].median()
        ax.plot(med.index.to_numpy(), med.to_numpy(), lw=1.2, label=label)
    if logx:
        ax.set_xscale("symlog", linthresh=1)
    if logy:
        log_scale(ax, "y")
    ax.set_xlabel("step")
    ax.set_ylabel(column)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6)
