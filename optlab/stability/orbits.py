"""The full, bias-corrected iteration from x* + delta at every grid point (``--simulate``),
its classes, and how far its start lies from the linear regime of the step map."""

from __future__ import annotations

import dataclasses

import numpy as np

from optlab._jax import jnp
from optlab.runner import make_sweep
from optlab.stability.refine import as_batch, bisect, brackets
from optlab.stability.simulation import classify_simulation, late_power

SIM_UNSTABLE = ("fluctuates", "diverges")


def _start_problem(problem, x_star, delta):
    return dataclasses.replace(problem, x0=jnp.asarray(x_star + delta))


def _distances(trace, x_f) -> tuple[np.ndarray, np.ndarray]:
    """(d [G, R] = max_i |x_t - x_f|, the float64 resolution of each run's d); x_f is
    (G, d) or (1, d), flattened like the recorded x."""
    x = np.asarray(trace.x[:, 0], dtype=float)  # (G, R, d)
    x_f = np.asarray(x_f, float)
    dist = np.max(np.abs(x - x_f[:, None, :]), axis=-1)
    resolution = 8 * np.spacing(np.max(np.abs(x_f), axis=1)) * np.ones(x.shape[0])
    return dist, resolution


def simulate(plan, problem, x_star, config, fixed_points: dict, progress=None):
    """{point: simulation columns} and the recording interval. ``fixed_points``: z* by grid
    point (the distance is measured to its x part)."""
    log_every = config.sim_log_every or max(1, config.sim_steps // 1000)
    start = _start_problem(problem, x_star, config.delta)
    n, out, done = len(plan.grid), {}, 0
    for fixed, idx in plan.grid.integer_groups(plan.entry.integer_hypers):
        sweep = make_sweep(
            start, plan.opt, steps=config.sim_steps, log_every=log_every, record_x=True, fixed=fixed
        )

        size = len(idx)

        def tick(k, total, base=done, size=size):
            if progress is not None:
                progress(0.55 + 0.35 * (base + size * k / total) / n)

        trace = sweep.run(plan.grid.batch(type(plan.opt.hyper), idx), [0], 0, tick)
        d_x = np.size(x_star)
        x_f = np.stack([np.asarray(fixed_points[i])[:d_x] for i in idx])
        dist, resolution = _distances(trace, x_f)
        div = np.asarray(trace.diverged_step[:, 0])
        classes, flags = classify_simulation(dist, trace.step, div, resolution)
        for j, i in enumerate(idx):
            out[i] = _columns(dist[j], trace.step, classes[j], flags[j], int(div[j]))
        done += len(idx)
    return out, log_every


def _columns(d, steps, cls, flag, diverged_step) -> dict:
    late = steps >= 0.75 * steps[-1]
    finite = d[np.isfinite(d)]
    return {
        "sim_class": cls,
        "sim_flag": flag,
        "sim_final_dist": float(d[-1]),
        "sim_min_dist": float(np.min(finite)) if finite.size else float("nan"),
        "sim_late_max_dist": float(np.nanmax(d[late]))
        if np.any(np.isfinite(d[late]))
        else float("nan"),
        "sim_diverged_step": diverged_step,
        "sim_power": late_power(d, steps),
    }


def refine_simulation(plan, problem, x_star, config, sims: dict, log_every: int) -> dict:
    """The learning rate where the simulated class turns from decays to fluctuates or
    diverges, by bisection with the same simulation (one sweep program per group)."""
    found, k_axis = brackets(
        plan.grid,
        lambda i: sims[i]["sim_class"] in SIM_UNSTABLE,
        lambda i: sims[i]["sim_class"] == "decays",
        "learning_rate",
    )
    if not found:
        return {}
    start = _start_problem(problem, x_star, config.delta)
    groups = plan.grid.integer_groups(plan.entry.integer_hypers)
    group_of = {i: g for g, (_, idx) in enumerate(groups) for i in idx}
    out = {}
    for g, (fixed, _) in enumerate(groups):
        mine = {k: ab for k, ab in found.items() if group_of[ab[0]] == g}
        if not mine:
            continue
        sweep = make_sweep(
            start, plan.opt, steps=config.sim_steps, log_every=log_every, record_x=True, fixed=fixed
        )

        def evaluate(points, sweep=sweep):
            trace = sweep.run(as_batch(type(plan.opt.hyper), plan.grid.names, points), [0])
            dist, resolution = _distances(trace, np.ravel(x_star)[None, :])
            div = trace.diverged_step[:, 0]
            classes, _ = classify_simulation(dist, trace.step, div, resolution)
            return [c in SIM_UNSTABLE for c in classes]

        out.update(bisect(plan.grid, mine, k_axis, evaluate, log=True))
    return out


def start_nonlinearity(res, verdict, d: int) -> float:
    """How far the step map near the simulation start is from its linearisation at z*:
    max over x coordinates of |H(z) - z* - J (z - z*)| / max(|J (z - z*)|, |z - z*|), at
    z = z* + delta (fresh state) and at the state the moments settle to while x is still at
    the start (x held there for FROZEN_STEPS steps). Below ~0.1 the start lies in the linear
    regime; far above it the linear prediction does not apply to the simulation (x0 = 1e-10
    with eps = 1e-30, where |g| >> sqrt(eps))."""
    J = verdict.jacobian
    if J is None or J.size == 0 or not np.all(np.isfinite(J)):
        return float("nan")
    z = np.asarray(res["z"], dtype=float)
    worst = 0.0
    for zk, hk in (("z_start", "h_start"), ("z_frozen", "h_frozen")):
        zs, hs = np.asarray(res[zk], dtype=float), np.asarray(res[hk], dtype=float)
        offset = zs - z
        pred = J @ offset
        err = np.abs((hs - z) - pred)[:d]
        scale = np.maximum(np.abs(pred), np.abs(offset))[:d]
        worst = max(worst, float(np.max(err / np.maximum(scale, 1e-300))))
    return worst
