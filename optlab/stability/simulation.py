"""Classes of the simulated iteration: decays, fluctuates, stalls, diverges."""

from __future__ import annotations

import numpy as np

# ---- simulation classes ----------------------------------------------------------------------
SIM_CLASSES = ("decays", "fluctuates", "stalls", "diverges")
UNDERFLOW = 1e-280
WINDOWS = 64  # amplitude history: the largest d in each 1/64 of the run
REGROWTH = 10  # grown back by more than this above its lowest amplitude: pushed away
SIM_RULE = (
    "d_t = |x_t - x_f| (max over coordinates) on the recorded steps, d0 = d at the start, "
    "W = the last quarter of the run, T the last step, the amplitude history a_k = max d over "
    "each 1/64 of the run; diverges: a non-finite iterate, or d_T > 1e3 d0 and d_T > 10 "
    "max_{t < 3T/4} d_t (still growing at the end); fluctuates: max_W d > d0 (pushed away "
    "from the start and kept away), or max_W d > 10 max(min_{k before W} a_k, 1e-280, 8 ulp "
    "of |x_f|) (the "
    "orbit contracted, then grew back: an unstable fixed point whose bursts stay below the "
    "start offset); decays: d_T < 1e-280, or d_T <= 1e-3 d0 and d_T <= 1e-3 d_{T/2} (still "
    "contracting geometrically in the second half: an algebraic creep ~1/t is not a decay); "
    "stalls: everything else (bounded, not contracting geometrically within T steps; "
    "sim_power k in d ~ t^k over the second half tells an algebraic creep, k ~ -1, from a "
    "stall, k ~ 0). A decays verdict whose d went below 1e-280 is flagged 'underflow' "
    "(confirm in extended precision)"
)


def late_power(d: np.ndarray, steps: np.ndarray) -> float:
    """k in d_t ~ t^k over the second half of the run (least squares on log-log; NaN when d
    is not positive and finite there): about -1 for the algebraic creep
    eps^(q/p)/(eta gamma^2 t) of q > 1, about 0 for a stall, large and
    negative for a geometric decay."""
    d = np.asarray(d, float)
    steps = np.asarray(steps, float)
    second = steps >= steps[-1] / 2
    x, y = steps[second], d[second]
    ok = (x > 0) & np.isfinite(y) & (y > 0)
    if ok.sum() < 3 or not ok.all():
        return float("nan")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def classify_simulation(dist, steps, diverged_step, resolution=None):
    """dist [G, R] (NaN after divergence), steps (R,), diverged_step (G,) ->
    (classes, flags) lists of strings (see SIM_RULE). ``resolution`` (G,): the float64
    resolution of each distance (a few ulp of |x_f|): an orbit that jitters by one ulp
    around a fixed point it reached exactly has not grown back."""
    dist = np.asarray(dist, float)
    steps = np.asarray(steps)
    res = np.zeros(dist.shape[0]) if resolution is None else np.asarray(resolution, float)
    classes, flags = [], []
    for g in range(dist.shape[0]):
        if diverged_step[g] >= 0 or not np.all(np.isfinite(dist[g])):
            classes.append("diverges")
            flags.append("non-finite iterate")
            continue
        cls = _classify_orbit(dist[g], steps, float(res[g]))
        underflow = np.min(dist[g]) < UNDERFLOW
        flag = ""
        if underflow:
            flag = "underflow" if cls == "decays" else "passed below 1e-280"
        classes.append(cls)
        flags.append(flag)
    return classes, flags


def _amplitudes(d: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a_k, the step where window k ends): the largest d in each of WINDOWS equal parts
    of the run (empty windows left out)."""
    edges = np.linspace(steps[0], steps[-1], WINDOWS + 1)
    which = np.clip(np.searchsorted(edges, steps, side="right") - 1, 0, WINDOWS - 1)
    amp, ends = [], []
    for k in range(WINDOWS):
        part = d[which == k]
        if part.size:
            amp.append(float(np.max(part)))
            ends.append(edges[k + 1])
    return np.asarray(amp), np.asarray(ends)


def _classify_orbit(d: np.ndarray, steps: np.ndarray, resolution: float) -> str:
    """The class of one finite distance history (SIM_RULE)."""
    T = steps[-1]
    late = steps >= 0.75 * T
    d0, dT = d[0], d[-1]
    before = np.max(d[~late]) if (~late).any() else d0
    if dT > 1e3 * d0 and dT > 10 * before:
        return "diverges"
    amp, ends = _amplitudes(d, steps)
    early = amp[ends <= 0.75 * T]
    lowest = max(float(np.min(early)), UNDERFLOW, resolution) if early.size else np.inf
    late_max = np.max(d[late])
    if late_max > d0 or late_max > REGROWTH * lowest:
        return "fluctuates"
    half = int(np.searchsorted(steps, T / 2))
    if dT < UNDERFLOW or (dT <= 1e-3 * d0 and dT <= 1e-3 * d[half]):
        return "decays"
    return "stalls"
