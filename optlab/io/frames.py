"""Trace arrays -> tidy long-format DataFrames (docs/architecture.md#outputs).

``trace.csv``: one row per (run, recorded step); ``runs.csv``: one row per run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optlab.metrics import TOLERANCE_METRICS, TOLERANCES, first_step_below, steps_column

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


def trace_frame(
    problem: str, runs, steps, metrics: dict, diverged_step, x=None, extras=None
) -> pd.DataFrame:
    """``metrics[name]`` is (N, R); ``diverged_step`` (N,); ``x`` (N, R, d) or None;
    ``extras[name]`` is a list of N arrays (R,) or None (runs without that column: NaN)."""
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
    for name, per_run in (extras or {}).items():
        blank = np.full(r, np.nan)
        cols[name] = np.concatenate([blank if a is None else np.asarray(a, float) for a in per_run])
    return pd.DataFrame(cols)


FINAL_EXTRAS = ["regret", "avg_regret", "S1", "S2"]


def runs_frame(trace: pd.DataFrame, diverged_step, steps: int, success=None) -> pd.DataFrame:
    """One row per run: identifying columns, ``hp_*``, final and best values, and
    ``success`` when the problem defines it (``success[run_id]``).

    ``trace`` is as built by :func:`trace_frame`: runs in ``run_id`` order, each a contiguous
    block of the same recorded steps, so every column reshapes to (runs, records)."""
    n = int(trace["run_id"].nunique())
    r = len(trace) // max(n, 1)

    def block(col):
        return trace[col].to_numpy().reshape(n, r)

    hp = [c for c in trace.columns if c.startswith("hp_")]
    extra = [c for c in FINAL_EXTRAS if c in trace.columns]
    div = np.asarray(diverged_step, dtype=np.int64)
    cols = {c: block(c)[:, -1] for c in ID_COLUMNS + hp}
    cols.update(
        final_loss=block("loss")[:, -1],
        best_loss=_nanmin_rows(block("loss")),
        final_gap=block("gap")[:, -1],
        final_grad_norm=block("grad_norm")[:, -1],
        min_grad_norm=_nanmin_rows(block("grad_norm")),
        final_dist=block("dist")[:, -1],
        diverged=div >= 0,
        diverged_step=div,
        steps=np.full(n, steps),
    )
    cols.update({f"final_{c}": block(c)[:, -1] for c in extra})
    cols.update(_steps_to_tolerance(block))
    if "x_0" in trace.columns and "x_1" not in trace.columns:  # 1-D: the iterate itself
        cols["final_x"] = block("x_0")[:, -1]
    if success is not None:
        cols["success"] = np.asarray(success, dtype=bool)
    return pd.DataFrame(cols)


def _steps_to_tolerance(block) -> dict:
    """``steps_<metric>_<tol>`` for every metric of the ladder that is defined for some run
    (gap needs f*, dist needs x*): the first recorded step at or below the tolerance, NaN
    (an empty cell) when never."""
    steps = block("step")
    out = {}
    for metric in TOLERANCE_METRICS:
        values = block(metric)
        if not np.isfinite(values).any():
            continue
        for tol in TOLERANCES:
            out[steps_column(metric, tol)] = first_step_below(steps, values, tol)
    return out


def _nanmin_rows(values) -> np.ndarray:
    """Row-wise minimum ignoring NaN; NaN for a row with no finite value."""
    values = np.asarray(values, dtype=float)
    masked = np.where(np.isnan(values), np.inf, values)
    out = masked.min(axis=1)
    return np.where(np.isfinite(values).any(axis=1) | (out < np.inf), out, np.nan)


def _nanmedian(series: pd.Series) -> float:
    values = series.to_numpy(dtype=float)
    return float(np.nanmedian(values)) if np.any(~np.isnan(values)) else float("nan")


SUMMARY_VALUES = ["final_grad_norm", "min_grad_norm", "final_loss", "best_loss", "final_gap"]


def _quartiles(ok: np.ndarray) -> tuple[float, float]:
    if not ok.size:
        return np.nan, np.nan
    return float(np.quantile(ok, 0.25)), float(np.quantile(ok, 0.75))


def summary_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """Per label: seeds; for each final value its median, 25 % and 75 % quantiles, mean and
    standard error of the mean over seeds (NaN-aware: a diverged run has NaN finals);
    for each steps-to-tolerance column its median and quartiles over the runs that reached
    the tolerance and the fraction that did (``_reached``); the divergence count and
    earliest step; the success rate when defined."""
    candidates = SUMMARY_VALUES + ["final_dist", "final_x"] + [f"final_{e}" for e in FINAL_EXTRAS]
    values = [c for c in candidates if c in runs.columns]
    tolerance_cols = [c for c in runs.columns if c.startswith("steps_")]
    rows = []
    for label, df in runs.groupby("label", sort=False):
        div = df[df["diverged"]]
        row = {"label": label, "optimizer": df["optimizer"].iloc[0], "seeds": len(df)}
        for c in values:
            v = df[c].to_numpy(dtype=float)
            ok = v[~np.isnan(v)]
            row[c] = _nanmedian(df[c])
            row[f"{c}_q25"], row[f"{c}_q75"] = _quartiles(ok)
            row[f"{c}_mean"] = float(ok.mean()) if ok.size else np.nan
            row[f"{c}_sem"] = float(ok.std(ddof=1) / np.sqrt(ok.size)) if ok.size > 1 else np.nan
        for c in tolerance_cols:
            v = df[c].to_numpy(dtype=float)
            ok = v[~np.isnan(v)]
            row[c] = float(np.median(ok)) if ok.size else np.nan
            row[f"{c}_q25"], row[f"{c}_q75"] = _quartiles(ok)
            row[f"{c}_reached"] = float(ok.size / len(v))
        row["diverged"] = int(len(div))
        row["first_diverged_step"] = int(div["diverged_step"].min()) if len(div) else -1
        if "success" in df.columns:
            row["success_rate"] = float(df["success"].mean())
        rows.append(row)
    return pd.DataFrame(rows)
