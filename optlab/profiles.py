"""Suite-level views as pure functions of a table of costs.

The cost of a run for a target is the first recorded step at which its relative gap
``(f(x_t) - f_ref) / (f(x_0) - f_ref)`` is at or below the target (``inf`` if never, which
includes runs that diverged first). ``f_ref`` is f* when the problem knows it, else the best
value found by any run on that problem (declared in ``reference_values``). The resolution is
the trace's recording interval.

An *instance* is one (problem, seed): seeds are instances, as in COCO. Every problem weighs
the same; its instances share its weight. Failures stay in every denominator.

- Dolan & Moré (Math. Program. 91, 2002; arXiv:cs/0102001): rho_s(tau) = weighted fraction
  of instances with t_s <= tau * min_s' t_s'; costs are clamped to at least 1 step.
- Moré & Wild (SIAM J. Optim. 20, 2009): d_s(alpha) = weighted fraction of instances solved
  within alpha steps (every method takes one gradient per step, so no n + 1 scaling).
- Hansen et al., COCO (arXiv:1603.08785): the runtime ECDF over (problem, instance, target)
  triples for 51 targets, five per decade; aggregated over problems, never over dimensions.

NumPy and pandas only; no JAX, no files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TOLERANCES = tuple(10.0**-k for k in range(1, 8))
ECDF_TARGETS = tuple(10.0 ** (-0.2 * k) for k in range(1, 52))
RUN_KEYS = ["problem", "solver", "seed"]


# ---- from traces to costs -------------------------------------------------------------
def reference_values(trace: pd.DataFrame) -> pd.DataFrame:
    """Per problem: ``f_ref`` and ``ref_kind`` ("f*" from the gap column, or "best found":
    the lowest finite loss over every run on the problem)."""
    rows = []
    for problem, df in trace.groupby("problem", sort=False):
        gap_ok = np.isfinite(df["gap"].to_numpy(float)) & np.isfinite(df["loss"].to_numpy(float))
        if gap_ok.any():
            f_star = df["loss"].to_numpy(float)[gap_ok] - df["gap"].to_numpy(float)[gap_ok]
            rows.append({"problem": problem, "f_ref": float(np.median(f_star)), "ref_kind": "f*"})
        else:
            loss = df["loss"].to_numpy(float)
            finite = loss[np.isfinite(loss)]
            best = float(finite.min()) if finite.size else np.nan
            rows.append({"problem": problem, "f_ref": best, "ref_kind": "best found"})
    return pd.DataFrame(rows)


def first_hits(steps: np.ndarray, rel_gap: np.ndarray, targets) -> np.ndarray:
    """The first step with ``rel_gap <= target`` for each target (inf if none); NaN entries
    (a diverged run) never count."""
    running = np.minimum.accumulate(np.where(np.isnan(rel_gap), np.inf, rel_gap))
    targets = np.asarray(targets, float)
    hit = running[None, :] <= targets[:, None]
    first = np.argmax(hit, axis=1)
    return np.where(hit.any(axis=1), np.asarray(steps, float)[first], np.inf)


def relative_gap(loss: np.ndarray, f_ref: float) -> np.ndarray:
    """(f(x_t) - f_ref) / (f(x_0) - f_ref); all NaN when f(x_0) or f_ref is not finite, and
    0 (every target met) when x_0 is already at or below the reference value."""
    loss = np.asarray(loss, float)
    if not (np.isfinite(loss[0]) and np.isfinite(f_ref)):
        return np.full_like(loss, np.nan)
    scale = loss[0] - f_ref
    if scale <= 0:
        return np.where(np.isnan(loss), np.nan, 0.0)
    return (loss - f_ref) / scale


def cost_table(trace: pd.DataFrame, targets, solver: str = "solver") -> pd.DataFrame:
    """One row per (problem, solver, seed, target) with its ``cost`` in steps.

    ``trace`` has problem, seed, step, loss, gap and the ``solver`` column (renamed
    ``solver``); a ``dim`` column is carried along when present."""
    trace = trace.rename(columns={solver: "solver"}) if solver != "solver" else trace
    refs = reference_values(trace).set_index("problem")
    out = []
    for (problem, name, seed), df in trace.groupby(RUN_KEYS, sort=False):
        df = df.sort_values("step")
        loss = df["loss"].to_numpy(float)
        rel = relative_gap(loss, refs.loc[problem, "f_ref"])
        costs = first_hits(df["step"].to_numpy(), rel, targets)
        row = {"problem": problem, "solver": name, "seed": seed}
        if "dim" in df.columns:
            row["dim"] = int(df["dim"].iloc[0])
        out += [{**row, "target": t, "cost": c} for t, c in zip(targets, costs, strict=True)]
    return pd.DataFrame(out)


# ---- the three profiles ---------------------------------------------------------------
def _matrix(costs: pd.DataFrame):
    """(cost matrix [instance, solver], instance weights, solver names) of a one-target
    table; each problem weighs 1/n_problems, shared by its instances."""
    table = costs.pivot_table(
        index=["problem", "seed"], columns="solver", values="cost", aggfunc="first", sort=False
    )
    if table.isna().any().any():
        raise ValueError("every solver needs a cost on every (problem, seed)")
    problems = table.index.get_level_values("problem")
    per_problem = pd.Series(problems).map(pd.Series(problems).value_counts()).to_numpy()
    weights = 1.0 / (len(set(problems)) * per_problem)
    return table.to_numpy(float), weights, list(table.columns)


def fraction_solved(costs: pd.DataFrame) -> dict[str, float]:
    """Per solver: the weighted fraction of instances it solves at all (where every profile
    ends)."""
    matrix, weights, names = _matrix(costs)
    return {n: float(weights @ np.isfinite(matrix[:, j])) for j, n in enumerate(names)}


def performance_profile(costs: pd.DataFrame) -> pd.DataFrame:
    """Dolan-Moré: rows (solver, tau, fraction) at every breakpoint of the step function,
    from tau = 1 to the largest finite ratio (then flat)."""
    matrix, weights, names = _matrix(costs)
    t = np.maximum(matrix, 1.0)
    best = t.min(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        ratio = np.where(np.isfinite(t) & np.isfinite(best), t / best, np.inf)
    taus = np.unique(np.concatenate([[1.0], ratio[np.isfinite(ratio)]]))
    rows = []
    for j, name in enumerate(names):
        reached = ratio[:, j][None, :] <= taus[:, None]
        fractions = reached.astype(float) @ weights
        rows += [
            {"solver": name, "tau": tau, "log2_tau": np.log2(tau), "fraction": f}
            for tau, f in zip(taus, fractions, strict=True)
        ]
    return pd.DataFrame(rows)


def data_profile(costs: pd.DataFrame, budget: float) -> pd.DataFrame:
    """Moré-Wild: rows (solver, steps, fraction) at 0, every cost within the budget and the
    budget itself."""
    return _ecdf(costs, budget)


def runtime_ecdf(costs: pd.DataFrame, budget: float) -> pd.DataFrame:
    """COCO: per dimension, rows (dim, solver, steps, fraction) of the weighted fraction of
    (problem, instance, target) triples reached within that many steps."""
    if "dim" not in costs.columns:
        costs = costs.assign(dim=0)
    parts = []
    for dim, df in costs.groupby("dim", sort=True):
        # every (instance, target) pair is one unit of the problem's weight
        keyed = df.assign(
            seed=[f"{s}|{t!r}" for s, t in zip(df["seed"], df["target"], strict=True)]
        )
        parts.append(_ecdf(keyed, budget).assign(dim=dim))
    out = pd.concat(parts, ignore_index=True)
    return out[["dim", "solver", "steps", "fraction"]]


def _ecdf(costs: pd.DataFrame, budget: float) -> pd.DataFrame:
    matrix, weights, names = _matrix(costs)
    finite = matrix[np.isfinite(matrix) & (matrix <= budget)]
    grid = np.unique(np.concatenate([[0.0, float(budget)], finite]))
    rows = []
    for j, name in enumerate(names):
        reached = matrix[:, j][None, :] <= grid[:, None]
        fractions = reached.astype(float) @ weights
        rows += [
            {"solver": name, "steps": s, "fraction": f}
            for s, f in zip(grid, fractions, strict=True)
        ]
    return pd.DataFrame(rows)


def profile_tables(costs: pd.DataFrame, budget: float, tolerances=TOLERANCES):
    """(performance, data) profile tables for every tolerance (a ``tolerance`` column) from
    a cost table over targets that include the tolerances."""
    perf, data = [], []
    for tol in tolerances:
        one = costs[np.isclose(costs["target"], tol, rtol=1e-12, atol=0)]
        perf.append(performance_profile(one).assign(tolerance=tol))
        data.append(data_profile(one, budget).assign(tolerance=tol))
    return pd.concat(perf, ignore_index=True), pd.concat(data, ignore_index=True)
