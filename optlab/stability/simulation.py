"""Classes of the simulated iteration: decays, fluctuates, stalls, diverges."""

from __future__ import annotations

import numpy as np

# ---- simulation classes ----------------------------------------------------------------------
SIM_CLASSES = ("decays", "fluctuates", "stalls", "diverges")
UNDERFLOW = 1e-280
SIM_RULE = (
    "d_t = |x_t - x_f| (max over coordinates) on the recorded steps, d0 = d at the start, "
    "W = the last quarter of the run, T the last step; diverges: a non-finite iterate, or "
    "d_T > 1e3 d0 and d_T > 10 max_{t < 3T/4} d_t (still growing at the end); fluctuates: "
    "max_W d > d0 (pushed away from the fixed point and kept away); decays: d_T < 1e-280, or "
    "d_T <= 1e-3 d0 and d_T <= 1e-3 d_{T/2} (still contracting geometrically in the second "
    "half: an algebraic creep ~1/t is not a decay); stalls: everything else (bounded, not "
    "contracting geometrically within T steps; sim_power k in d ~ t^k over the second half "
    "tells an algebraic creep, k ~ -1, from a stall, k ~ 0). A decays verdict whose d went "
    "below 1e-280 is flagged 'underflow' (docs/stability.md#findings: confirm in extended "
    "precision)"
)


def late_power(d: np.ndarray, steps: np.ndarray) -> float:
    """k in d_t ~ t^k over the second half of the run (least squares on log-log; NaN when d
    is not positive and finite there): about -1 for the algebraic creep
    eps^(q/p)/(eta gamma^2 t) of q > 1 (docs/stability.md#findings), about 0 for a stall, large and
    negative for a geometric decay."""
    d = np.asarray(d, float)
    steps = np.asarray(steps, float)
    second = steps >= steps[-1] / 2
    x, y = steps[second], d[second]
    ok = (x > 0) & np.isfinite(y) & (y > 0)
    if ok.sum() < 3 or not ok.all():
        return float("nan")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def classify_simulation(dist: np.ndarray, steps: np.ndarray, diverged_step: np.ndarray):
    """dist [G, R] (NaN after divergence), steps (R,), diverged_step (G,) ->
    (classes, flags) lists of strings (see SIM_RULE)."""
    dist = np.asarray(dist, float)
    steps = np.asarray(steps)
    T = steps[-1]
    late = steps >= 0.75 * T
    half = int(np.searchsorted(steps, T / 2))
    classes, flags = [], []
    for g in range(dist.shape[0]):
        d = dist[g]
        d0 = d[0]
        if diverged_step[g] >= 0 or not np.all(np.isfinite(d)):
            classes.append("diverges")
            flags.append("non-finite iterate")
            continue
        dT = d[-1]
        before = np.max(d[~late]) if (~late).any() else d0
        if dT > 1e3 * d0 and dT > 10 * before:
            cls = "diverges"
        elif np.max(d[late]) > d0:
            cls = "fluctuates"
        elif dT < UNDERFLOW or (dT <= 1e-3 * d0 and dT <= 1e-3 * d[half]):
            cls = "decays"
        else:
            cls = "stalls"
        underflow = np.min(d) < UNDERFLOW
        flag = "underflow" if underflow and cls == "decays" else ""
        if underflow and cls != "decays":
            flag = "passed below 1e-280"
        classes.append(cls)
        flags.append(flag)
    return classes, flags
