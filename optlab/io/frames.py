"""Trace arrays -> tidy long-format DataFrames (design.md section 4).

``trace.csv``: one row per (run, recorded step); ``runs.csv``: one row per run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ID_COLUMNS = ["problem", "optimizer", "label", "run_id", "seed"]
METRICS = ["loss", "gap", "grad_norm", "dist"]


@dataclass(frozen=True)
class RunMeta:
    optimizer: str
    label: str
    run_id: int
    seed: int
    hyper: dict = field(default_factory=dict)


def hp_columns(runs: Sequence[RunMeta]) -> list[str]:
    """``hp_<name>`` for every hyperparameter of any run, in first-seen order."""
    names: dict[str, None] = {}
    for r in runs:
        names.update(dict.fromkeys(r.hyper))
    return [f"hp_{n}" for n in names]


def trace_frame(problem: str, runs, steps, metrics: dict, diverged_step, x=None) -> pd.DataFrame:
    """``metrics[name]`` is (N, R); ``diverged_step`` (N,); ``x`` (N, R, d) or None."""
    n, r = len(runs), len(steps)
    steps = np.asarray(steps)
    div = np.asarray(diverged_step)
    cols: dict[str, object] = {
        "problem": np.repeat(problem, n * r),
        "optimizer": np.repeat([m.optimizer for m in runs], r),
        "label": np.repeat([m.label for m in runs], r),
        "run_id": np.repeat([m.run_id for m in runs], r),
        "seed": np.repeat([m.seed for m in runs], r),
        "step": np.tile(steps, n),
    }
    for name in METRICS:
        cols[name] = np.asarray(metrics[name]).reshape(n * r)
    step_grid = np.tile(steps, n)
    div_rep = np.repeat(div, r)
    cols["diverged"] = (div_rep >= 0) & (step_grid >= div_rep)
    for col in hp_columns(runs):
        name = col[3:]
        cols[col] = np.repeat([m.hyper.get(name, np.nan) for m in runs], r)
    if x is not None:
        xs = np.asarray(x).reshape(n * r, -1)
        for j in range(xs.shape[1]):
            cols[f"x_{j}"] = xs[:, j]
    return pd.DataFrame(cols)


def runs_frame(trace: pd.DataFrame, diverged_step, steps: int) -> pd.DataFrame:
    """One row per run: identifying columns, ``hp_*``, final and best values."""
    hp = [c for c in trace.columns if c.startswith("hp_")]
    rows = []
    for (run_id,), df in trace.groupby(["run_id"], sort=True):
        last = df.iloc[-1]
        div = int(np.asarray(diverged_step)[run_id])
        rows.append(
            {
                **{c: last[c] for c in ID_COLUMNS},
                **{c: last[c] for c in hp},
                "final_loss": last["loss"],
                "best_loss": _nanmin(df["loss"]),
                "final_gap": last["gap"],
                "final_grad_norm": last["grad_norm"],
                "min_grad_norm": _nanmin(df["grad_norm"]),
                "final_dist": last["dist"],
                "diverged": div >= 0,
                "diverged_step": div,
                "steps": steps,
            }
        )
    return pd.DataFrame(rows)


def _nanmin(series: pd.Series) -> float:
    values = series.to_numpy(dtype=float)
    return float(np.nanmin(values)) if np.any(np.isfinite(values)) else float("nan")


def _nanmedian(series: pd.Series) -> float:
    values = series.to_numpy(dtype=float)
    return float(np.nanmedian(values)) if np.any(~np.isnan(values)) else float("nan")


SUMMARY_VALUES = ["final_grad_norm", "min_grad_norm", "final_loss", "best_loss", "final_gap"]


def summary_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """Per label: seeds, medians over seeds of the final values, divergence count and the
    earliest divergence step (-1 if none)."""
    rows = []
    for label, df in runs.groupby("label", sort=False):
        div = df[df["diverged"]]
        rows.append(
            {
                "label": label,
                "seeds": len(df),
                **{c: _nanmedian(df[c]) for c in SUMMARY_VALUES},
                "diverged": int(len(div)),
                "first_diverged_step": int(div["diverged_step"].min()) if len(div) else -1,
            }
        )
    return pd.DataFrame(rows)
