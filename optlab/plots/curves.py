"""Convergence curves: a metric against the step on a log axis, one line per label.

With several seeds a label is drawn as its median with a labelled 25-75 % band.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optlab.plots.style import MAX_LEGEND, colors, new_figure

METRIC_NAMES = {
    "grad_norm": r"$\|\nabla f(x_t)\|_2$",
    "loss": r"$f(x_t)$",
    "gap": r"$f(x_t) - f^*$",
    "dist": r"$\|x_t - x^*\|_2$",
}


def convergence(trace: pd.DataFrame, metric: str = "grad_norm", title: str | None = None):
    labels = list(dict.fromkeys(trace["label"]))
    fig, ax = new_figure()
    for color, label in zip(colors(len(labels)), labels, strict=True):
        df = trace[trace["label"] == label]
        table = df.pivot(index="step", columns="run_id", values=metric)
        steps = table.index.to_numpy()
        values = table.to_numpy(dtype=float)
        if values.shape[1] == 1:
            ax.plot(steps, values[:, 0], color=color, lw=1.4, label=label)
            continue
        with np.errstate(all="ignore"):
            med = np.nanmedian(values, axis=1)
            lo, hi = np.nanpercentile(values, [25, 75], axis=1)
        n = values.shape[1]
        ax.plot(steps, med, color=color, lw=1.4, label=f"{label} (median of {n} seeds)")
        ax.fill_between(steps, lo, hi, color=color, alpha=0.2, lw=0, label=f"{label} 25-75 %")
    ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel(METRIC_NAMES.get(metric, metric))
    problem = trace["problem"].iloc[0] if len(trace) else ""
    heading = title or f"{problem}: {METRIC_NAMES.get(metric, metric)}"
    if len(labels) <= MAX_LEGEND:
        ax.legend(fontsize=8)
    else:
        heading += f" ({len(labels)} configurations)"
    ax.set_title(heading, fontsize=10)
    return fig
