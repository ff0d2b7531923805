"""Convergence curves: a metric against the step on a log axis, one line per label.

With several seeds a label is drawn as its median with a 25-75 % band (one line when the
seeds agree: a deterministic problem). Many labels share one colour per optimizer.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from optlab.plots.style import MAX_LEGEND, colors, log_scale, new_figure

METRIC_NAMES = {
    "grad_norm": r"$\|\nabla f(x_t)\|_2$",
    "loss": r"$f(x_t)$",
    "gap": r"$f(x_t) - f^*$",
    "dist": r"$\|x_t - x^*\|_2$",
    "regret": r"regret $R_t$",
    "avg_regret": r"average regret $R_t/t$",
    "x_0": r"$x_t$",
    "S1": r"$S_1(t)$",
    "S2": r"$S_2(t)$",
}


def figures_for(trace: pd.DataFrame, metrics, log_log: bool = False) -> dict:
    """One figure per metric the problem names (first one = ``convergence``), skipping
    metrics the trace does not have or that are all NaN."""
    usable = [m for m in metrics if m in trace.columns and trace[m].notna().any()]
    if not usable:
        usable = ["grad_norm"]
    figs = {}
    for k, metric in enumerate(usable):
        name = "convergence" if k == 0 else metric
        figs[name] = convergence(trace, metric, log_x=log_log)
    return figs


def convergence(
    trace: pd.DataFrame, metric: str = "grad_norm", title: str | None = None, log_x: bool = False
):
    """One curve per label; with many labels (more than MAX_LEGEND) one colour and one
    legend entry per optimizer. The legend sits outside the axes, never over the curves."""
    labels = list(dict.fromkeys(trace["label"]))
    fig, ax = new_figure()
    grouped = len(labels) > MAX_LEGEND and "optimizer" in trace.columns
    keys = list(dict.fromkeys(trace["optimizer"])) if grouped else labels
    color_of = dict(zip(keys, colors(len(keys)), strict=True))
    named: set[str] = set()
    for label in labels:
        df = trace[trace["label"] == label]
        key = df["optimizer"].iloc[0] if grouped else label
        legend = None
        if key not in named:
            named.add(key)
            n_labels = (
                int(trace.loc[trace["optimizer"] == key, "label"].nunique()) if grouped else 1
            )
            legend = f"{key} ({n_labels} configurations)" if grouped else label
        _draw_label(ax, df, metric, color_of[key], legend, band_label=not grouped)
    finite = trace[metric].to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size and finite.min() >= 0 and finite.max() > 0:
        log_scale(ax, "y")  # zeros (an exact minimiser) are not drawn on a log axis
    if log_x:
        log_scale(ax, "x")
    ax.set_xlabel("step t")
    ax.set_ylabel(METRIC_NAMES.get(metric, metric))
    problem = trace["problem"].iloc[0] if len(trace) else ""
    heading = title or f"{problem}: {METRIC_NAMES.get(metric, metric)}"
    if len(named) <= MAX_LEGEND:
        if len(named) > 4:  # beside the axes: a long legend never hides a curve
            fig.legend(loc="outside right upper", fontsize=7)
        else:
            ax.legend(fontsize=8)
    else:
        heading += f" ({len(labels)} configurations)"
    ax.set_title(heading, fontsize=10)
    return fig


def _draw_label(ax, df, metric, color, legend, band_label: bool) -> None:
    """A label's seeds: one line when there is one seed or every seed gave the same
    values (a deterministic problem: no band over identical runs), else the median with
    its 25-75 % band."""
    table = df.pivot(index="step", columns="run_id", values=metric)
    steps = table.index.to_numpy()
    values = table.to_numpy(dtype=float)
    n = values.shape[1]
    same = all(np.array_equal(values[:, 0], values[:, j], equal_nan=True) for j in range(n))
    if same:
        ax.plot(steps, values[:, 0], color=color, lw=1.4, label=legend)
        return
    with warnings.catch_warnings():  # all-NaN steps (every seed diverged) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(values, axis=1)
        lo, hi = np.nanpercentile(values, [25, 75], axis=1)
    if legend is not None and band_label:
        legend = f"{legend} (median, 25-75 % of {n} seeds)"
    ax.plot(steps, med, color=color, lw=1.4, label=legend)
    ax.fill_between(steps, lo, hi, color=color, alpha=0.2, lw=0)


def suite_grid(traces: dict, metric: str = "grad_norm", title: str = "", ncols: int = 5):
    """One panel per problem (``traces`` maps a problem name to its trace DataFrame), one
    line per label, log y: the layout of the Aida paper's Fig. 4."""
    from matplotlib.figure import Figure

    names = list(traces)
    nrows = -(-len(names) // ncols)
    fig = Figure(figsize=(3.2 * ncols, 2.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, name in zip(axes, names, strict=False):
        trace = traces[name]
        labels = list(dict.fromkeys(trace["label"]))
        for color, label in zip(colors(len(labels)), labels, strict=True):
            df = trace[(trace["label"] == label) & (trace["seed"] == trace["seed"].min())]
            ax.plot(df["step"], df[metric], color=color, lw=1.1, label=label)
        log_scale(ax, "y")
        ax.set_title(name, fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=7)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=6)
    fig.suptitle(title or METRIC_NAMES.get(metric, metric), fontsize=10)
    return fig
