"""``optlab stability``: config -> linear stability of an optimizer's step map at a minimiser,
over a hyperparameter grid, with closed forms and (optionally) a simulation overlay.

``stability(config)`` resolves the problem and optimizer with :mod:`optlab.api`'s helpers,
validates every value before anything is computed or written (:class:`UsageError`), runs one
compiled analysis program per group of points (integer exponents baked in; translation-
equivariant points analysed in local coordinates), classifies every point
(:func:`optlab.stability.verdicts`), sets the closed forms beside it
(the optimizer's own ``linearisation``), simulates the full bias-corrected iteration with the
runner when asked, and writes ``stability.csv``, ``eigenvalues.csv``, ``boundary.csv``,
the figures and ``manifest.json``.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from optlab import api, registry
from optlab import stability as st
from optlab._jax import in_float64, jax, jnp
from optlab.config import StabilityConfig
from optlab.errors import UsageError
from optlab.io import outputs
from optlab.io import stability_frames as frames
from optlab.runner import make_sweep

MAX_POINTS = 200_000


@dataclass
class StabilityResult:
    config: StabilityConfig
    table: object  # DataFrame: one row per grid point (stability.csv)
    eigenvalues: object  # DataFrame (eigenvalues.csv)
    boundary: object | None  # DataFrame (boundary.csv) when a learning-rate-like axis varies
    summary: dict
    manifest: dict
    out_dir: Path
    paths: list[Path] = field(default_factory=list)


# ---- validation -----------------------------------------------------------------------------
def _check_config(config: StabilityConfig) -> None:
    if not (np.isfinite(config.tol) and 0 < config.tol < 1):
        raise UsageError(f"--tol must be in (0, 1), got {config.tol:g}")
    if config.sim_steps < 1:
        raise UsageError(f"--sim-steps must be >= 1, got {config.sim_steps}")
    if config.sim_log_every is not None and config.sim_log_every < 1:
        raise UsageError(f"--sim-log-every must be >= 1, got {config.sim_log_every}")
    if not np.isfinite(config.delta) or config.delta == 0:
        raise UsageError(f"--delta must be a finite non-zero number, got {config.delta:g}")
    if config.minimiser < 0:
        raise UsageError(f"--minimiser must be >= 0, got {config.minimiser}")
    for name, value in config.state:
        if not np.isfinite(value):
            raise UsageError(f"--state {name}: {value} is not finite")


def _minimiser(problem, index: int) -> np.ndarray:
    if problem.x_star is None:
        raise UsageError(
            f"problem {problem.name} has no known minimiser; the stability analysis needs one "
            "(see `optlab info PROBLEM`)"
        )
    xs = np.asarray(problem.x_star, dtype=np.float64)
    if xs.ndim == 2:
        if index >= xs.shape[0]:
            raise UsageError(
                f"problem {problem.name} has {xs.shape[0]} known minimisers; --minimiser must "
                f"be < {xs.shape[0]}"
            )
        return xs[index].reshape(np.shape(problem.x0))
    if index:
        raise UsageError(f"problem {problem.name} has one known minimiser; use --minimiser 0")
    return xs.reshape(np.shape(problem.x0))


def _check_state(plan, problem, x_star, state: dict) -> st.Layout:
    layout = st.layout_of(problem, plan.opt, x_star, state_roles=_roles(plan))
    names = [n for n in layout.names if n != "x"]
    for name in state:
        if name not in names:
            raise UsageError(
                f"--state {name}: {plan.entry.id} has no float state leaf {name!r} "
                f"(it has: {', '.join(names) or 'none'})"
            )
    return layout


# ---- running --------------------------------------------------------------------------------
def _groups(plan, problem, x_star, state, fixed_groups):
    """[(fixed, translate, indices)]: integer-exponent groups, each split by whether the step
    is translation-equivariant there (then analysed in local coordinates y = x - x*)."""
    out = []
    shifted = bool(np.any(x_star != 0))
    for fixed, idx in fixed_groups:
        if not shifted:
            out.append((fixed, False, idx))
            continue
        if getattr(problem.project, "__name__", "") != "identity":
            out.append((fixed, False, idx))
            continue
        hyper = plan.grid.batch(type(plan.opt.hyper), idx)
        gaps = st.equivariance_gaps(
            problem, plan.opt, x_star, hyper, fixed, state, state_roles=_roles(plan)
        )
        eq = [i for i, g in zip(idx, gaps, strict=True) if g <= 1e-12]
        neq = [i for i, g in zip(idx, gaps, strict=True) if not g <= 1e-12]
        out += [(fixed, True, eq)] if eq else []
        out += [(fixed, False, neq)] if neq else []
    return out


def _analyse(plan, problem, x_star, config, progress):
    state = tuple(config.state)
    fixed_groups = plan.grid.integer_groups(plan.entry.integer_hypers)
    groups = _groups(plan, problem, x_star, state, fixed_groups)
    n_points = len(plan.grid)
    results: dict[int, tuple] = {}
    analyzers: dict[int, tuple] = {}  # point -> (analyzer, layout) that analysed it
    layout = None
    done = 0
    for fixed, translate, idx in groups:
        analyzer = st.Analyzer(
            problem,
            plan.opt,
            x_star,
            fixed=dict(fixed),
            state_overrides=state,
            delta=config.delta,
            translate=translate,
            state_roles=_roles(plan),
        )
        layout = analyzer.layout()
        hyper = plan.grid.batch(type(plan.opt.hyper), idx)
        res = analyzer.run(hyper)
        notes = "; ".join(n for n in (_notes(plan), *layout.notes) if n)
        verdicts = st.verdicts(res, layout, tol=config.tol, notes=notes)
        for j, i in enumerate(idx):
            one = {k: v[j] for k, v in res.items()}
            results[i] = (one, verdicts[j], translate, fixed)
            analyzers[i] = (analyzer, layout)
        done += len(idx)
        if progress is not None:
            progress(0.5 * done / n_points)
    return results, analyzers, layout, len(groups)


# ---- boundary refinement --------------------------------------------------------------------
REFINE_STEPS = 40  # bisection steps in log(lr): a cell of ratio 10 shrinks to a ratio 1 + 2e-12


def _brackets(plan, unstable_at, lower_at, axis="learning_rate"):
    """Per combination of the other swept axes: (point just below, point just above) the
    first switch along ``axis`` from a ``lower_at`` point to an ``unstable_at`` point."""
    names = list(plan.grid.names)
    k_axis = names.index(axis)
    rows: dict[tuple, list[int]] = {}
    for i, point in enumerate(plan.grid.points):
        key = tuple(v for k, v in enumerate(point) if k != k_axis)
        rows.setdefault(key, []).append(i)
    out = {}
    for key, idx in rows.items():
        idx = sorted(idx, key=lambda i: plan.grid.points[i][k_axis])
        for a, b in zip(idx[:-1], idx[1:], strict=True):
            if unstable_at(b):
                if lower_at(a):
                    out[key] = (a, b)
                break
    return out, k_axis


def _bisect(plan, brackets, k_axis, evaluate):
    """Bisect every bracket at once in log(axis); ``evaluate(points) -> [bool unstable]``.
    Returns {key: (lo, hi)}."""
    keys = list(brackets)
    lo = np.asarray([plan.grid.points[brackets[k][0]][k_axis] for k in keys])
    hi = np.asarray([plan.grid.points[brackets[k][1]][k_axis] for k in keys])
    base = [list(plan.grid.points[brackets[k][0]]) for k in keys]
    for _ in range(REFINE_STEPS):
        mid = np.sqrt(lo * hi)
        points = []
        for b, m in zip(base, mid, strict=True):
            p = list(b)
            p[k_axis] = float(m)
            points.append(p)
        bad = np.asarray(evaluate(points), bool)
        hi = np.where(bad, mid, hi)
        lo = np.where(bad, lo, mid)
    return {k: (float(a), float(b)) for k, a, b in zip(keys, lo, hi, strict=True)}


def _batch(plan, points):
    cols = np.asarray(points, dtype=np.float64)
    return type(plan.opt.hyper)(**{n: cols[:, k] for k, n in enumerate(plan.grid.names)})


def _refine_linear(plan, results, analyzers, config):
    """The learning rate where the linear verdict turns from stable to unstable, by
    bisection with the same analysis (compiled once: the program's padded piece size)."""

    def status(i):
        v = results[i][1]
        return v.status if v.status != "non_differentiable" else v.reduced_verdict

    brackets, k_axis = _brackets(
        plan, lambda i: status(i) == "unstable", lambda i: status(i) == "stable"
    )
    if not brackets:
        return {}
    by_group: dict[int, dict] = {}
    for key, (a, b) in brackets.items():
        by_group.setdefault(id(analyzers[a][0]), {})[key] = (a, b)
    out = {}
    for group in by_group.values():
        analyzer, layout = analyzers[next(iter(group.values()))[0]]

        def evaluate(points, analyzer=analyzer, layout=layout):
            res = analyzer.run(_batch(plan, points))
            vs = st.verdicts(res, layout, tol=config.tol)
            return [v.spectral_radius > 1 for v in vs]  # the crossing itself, not 1 + tol

        out.update(_bisect(plan, group, k_axis, evaluate))
    return out


def _refine_simulation(plan, problem, x_star, config, sims, log_every):
    """The learning rate where the simulated class turns from decays to fluctuates or
    diverges, by bisection with the same simulation (one sweep program per group)."""
    unstable = ("fluctuates", "diverges")
    brackets, k_axis = _brackets(
        plan, lambda i: sims[i]["sim_class"] in unstable, lambda i: sims[i]["sim_class"] == "decays"
    )
    if not brackets:
        return {}
    start = dataclasses.replace(problem, x0=jnp.asarray(x_star + config.delta))
    groups = plan.grid.integer_groups(plan.entry.integer_hypers)
    group_of = {i: g for g, (_, idx) in enumerate(groups) for i in idx}
    out = {}
    for g, (fixed, _) in enumerate(groups):
        mine = {k: ab for k, ab in brackets.items() if group_of[ab[0]] == g}
        if not mine:
            continue
        sweep = make_sweep(
            start, plan.opt, steps=config.sim_steps, log_every=log_every, record_x=True, fixed=fixed
        )

        def evaluate(points, sweep=sweep):
            trace = sweep.run(_batch(plan, points), [0])
            x = np.asarray(trace.x[:, 0], dtype=float)
            dist = np.max(np.abs(x - np.reshape(x_star, (1, 1, -1))), axis=-1)
            classes, _ = st.classify_simulation(dist, trace.step, trace.diverged_step[:, 0])
            return [c in unstable for c in classes]

        out.update(_bisect(plan, mine, k_axis, evaluate))
    return out


def _notes(plan) -> str:
    return plan.entry.fixed_point_note


def _roles(plan) -> tuple:
    """The optimizer's state roles as sorted (field, role) pairs (hashable: part of the
    analysis program's cache key)."""
    return tuple(sorted(plan.entry.state_roles.items()))


def _complete_roles(plan, problem, x_star):
    """For an optimizer that declares no state roles at all, the plan with roles inferred
    from what its step does near (x*, init state) (:func:`optlab.stability.infer_roles`);
    what was inferred joins the entry's fixed-point note, so it is printed beside every
    verdict. An entry that declares roles is taken at its word (an undeclared field is
    ordinary dynamics)."""
    if plan.entry.state_roles:
        return plan
    point = dict(zip(plan.grid.names, plan.grid.points[0], strict=True))
    hyper = type(plan.opt.hyper)(**{k: float(v) for k, v in point.items()})
    roles, notes = st.infer_roles(problem, plan.opt, x_star, hyper, plan.entry.state_roles)
    if not notes:
        return plan
    note = "; ".join(n for n in (plan.entry.fixed_point_note, *notes) if n)
    entry = dataclasses.replace(plan.entry, state_roles=dict(roles), fixed_point_note=note)
    return dataclasses.replace(plan, entry=entry)


def _point_notes(hp: dict, translate: bool, res: dict) -> list[str]:
    notes = []
    if "eps" in hp and hp["eps"] == 0:
        notes.append("eps = 0: the update is 0/0 at z* (undefined there)")
    if translate:
        notes.append(
            "analysed in local coordinates y = x - x* with f's second-order model (the step is "
            "translation-equivariant here: checked)"
        )
    if float(res["autonomy_gap"]) > 1e-12:
        notes.append(
            "the step still depends on t at t = 2**30 (relative gap "
            f"{float(res['autonomy_gap']):.2g} against t = 2**30 + 2**20): bias correction or "
            "a schedule is not fully removed"
        )
    return notes


def _theory(plan, hp, res, verdict, tol) -> st.ClosedForm | None:
    """The optimizer's closed-form linearisation at this point, when its entry declares one:
    Hessian eigenvalues at x*, and whether z* = (x*, init state) is already the fixed point."""
    if plan.entry.linearisation is None:
        return None
    hess = np.asarray(res["hessian"], dtype=float)
    gam = np.linalg.eigvalsh(0.5 * (hess + hess.T)) if hess.size else np.zeros(0)
    at_zero_state = float(res["residual0"]) == 0.0
    return plan.entry.linearisation(dict(plan.opt.static), hp, gam, at_zero_state)


def _simulate(plan, problem, x_star, config, results, progress):
    """Run the full iteration from x* + delta at every grid point; classes per point."""
    log_every = config.sim_log_every or max(1, config.sim_steps // 1000)
    start = dataclasses.replace(problem, x0=jnp.asarray(x_star + config.delta))
    n = len(plan.grid)
    out: dict[int, dict] = {}
    done = 0
    for fixed, idx in plan.grid.integer_groups(plan.entry.integer_hypers):
        sweep = make_sweep(
            start,
            plan.opt,
            steps=config.sim_steps,
            log_every=log_every,
            record_x=True,
            fixed=fixed,
        )
        hyper = plan.grid.batch(type(plan.opt.hyper), idx)

        size = len(idx)

        def tick(k, total, base=done, size=size):
            if progress is not None:
                progress(0.55 + 0.35 * (base + size * k / total) / n)

        trace = sweep.run(hyper, [0], 0, tick)
        x = np.asarray(trace.x[:, 0], dtype=float)  # (G, R, d)
        x_f = np.stack([results[i][0]["z"][: x.shape[-1]] for i in idx])
        dist = np.max(np.abs(x - x_f[:, None, :]), axis=-1)
        div = np.asarray(trace.diverged_step[:, 0])
        classes, flags = st.classify_simulation(dist, trace.step, div)
        late = trace.step >= 0.75 * trace.step[-1]
        for j, i in enumerate(idx):
            d = dist[j]
            finite = d[np.isfinite(d)]
            out[i] = {
                "sim_class": classes[j],
                "sim_flag": flags[j],
                "sim_final_dist": float(d[-1]),
                "sim_min_dist": float(np.min(finite)) if finite.size else float("nan"),
                "sim_late_max_dist": float(np.nanmax(d[late]))
                if np.any(np.isfinite(d[late]))
                else float("nan"),
                "sim_diverged_step": int(div[j]),
                "sim_power": st.late_power(d, trace.step),
            }
        done += len(idx)
    return out, log_every


def _start_nonlinearity(res, verdict, d: int) -> float:
    """How far the step map near the simulation start is from its linearisation at z*:
    max over x coordinates of |H(z) - z* - J (z - z*)| / max(|J (z - z*)|, |z - z*|), at
    z = z* + delta (fresh state) and at the state the moments settle to while x is still at
    the start (x held there for FROZEN_STEPS steps). Below ~0.1 the start lies in the linear
    regime; far above it, the linear prediction does not apply to the simulation
    (stability.md 4: x0 = 1e-10 with eps = 1e-30, where |g| >> sqrt(eps))."""
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


@in_float64  # the caller's JAX settings are left alone
def stability(
    config: StabilityConfig, progress: Callable[[float], None] | None = None
) -> StabilityResult:
    """Analyse, classify, compare with the closed forms, simulate when asked, write files."""
    with registry.with_plugins(config.plugins):
        return _stability_in_scope(config, progress)


def _stability_in_scope(config: StabilityConfig, progress) -> StabilityResult:
    t_start = time.perf_counter()
    _check_config(config)
    problem = api.resolve_problem(config.problem, config.problem_options)
    x_star = _minimiser(problem, config.minimiser)
    shared = {k: list(v) for k, v in config.hyper}
    plan = api.plan_optimizer(config.optimizer, shared)
    if len(plan.grid) > MAX_POINTS:
        raise UsageError(f"the grid has {len(plan.grid)} points; at most {MAX_POINTS} are allowed")
    plan = _complete_roles(plan, problem, x_star)
    state = dict(config.state)
    _check_state(plan, problem, x_star, state)
    out_dir = Path(config.out) if config.out else outputs.default_out_dir("stability", problem.name)
    outputs.check_out_dir(out_dir, config.overwrite)

    clock = api._CompileClock()
    jax.monitoring.register_event_duration_secs_listener(clock)
    try:
        results, analyzers, layout, n_programs = _analyse(plan, problem, x_star, config, progress)
        refined = refined_sim = {}
        if config.refine and "learning_rate" in plan.grid.varied:
            refined = _refine_linear(plan, results, analyzers, config)
        if progress is not None:
            progress(0.55)
        sims, sim_log_every = ({}, None)
        if config.simulate:
            sims, sim_log_every = _simulate(plan, problem, x_star, config, results, progress)
            at_x_star = all(float(results[i][0]["residual0"]) == 0 for i in results)
            if config.refine and "learning_rate" in plan.grid.varied and at_x_star:
                refined_sim = _refine_simulation(plan, problem, x_star, config, sims, sim_log_every)
    finally:
        jax.monitoring.unregister_event_duration_listener(clock)

    rows, eig_rows = [], []
    names = plan.grid.names
    for i, point in enumerate(plan.grid.points):
        hp = dict(zip(names, point, strict=True))
        res, verdict, translate, fixed = results[i]
        th = _theory(plan, hp, res, verdict, config.tol)
        notes = _point_notes(hp, translate, res)
        if notes:
            verdict.reason = "; ".join([verdict.reason, *notes])
        row = frames.point_row(i, plan.labels[i], hp, verdict, th, res, config.tol)
        row["start_nonlinearity"] = _start_nonlinearity(res, verdict, layout.sizes[0])
        nl = row["start_nonlinearity"]
        row["start_linear"] = bool(nl < 0.1) if np.isfinite(nl) else None  # None: no full J
        row["translated"] = translate
        if config.simulate:
            row.update(sims[i])
            row["sim_agrees"] = frames.agreement(row)
        rows.append(row)
        eig_rows += frames.eigen_rows(i, plan.labels[i], hp, verdict, th)
    table = frames.stability_frame(rows, names)
    eigen = frames.eigen_frame(eig_rows, names)
    axis = frames.boundary_axis(plan.grid.varied)
    boundary = frames.boundary_frame(table, axis, plan.grid.varied) if axis else None
    if boundary is not None and axis == "learning_rate" and config.refine:
        boundary = frames.add_refined(
            boundary,
            plan.grid.varied,
            axis,
            refined,
            refined_sim,
            [n for n in plan.grid.names if n != axis],
        )
    summary = frames.summary(table, boundary, axis, config.simulate)
    from optlab.plots.stability import figures_for

    figures = figures_for(
        table, eigen, boundary, plan.grid.varied, axis, title=_title(plan, problem)
    )
    if progress is not None:
        progress(0.98)
    manifest = _manifest(
        config,
        problem,
        plan,
        x_star,
        layout,
        n_programs,
        summary,
        sim_log_every,
        time.perf_counter() - t_start,
        clock.seconds,
    )
    tables = {"stability": table, "eigenvalues": eigen}
    if boundary is not None:
        tables["boundary"] = boundary
    paths = outputs.write_outputs(out_dir, tables, figures, manifest)
    if progress is not None:
        progress(1.0)
    return StabilityResult(config, table, eigen, boundary, summary, manifest, out_dir, paths)


def _title(plan, problem) -> str:
    fixed = [
        f"{k}={v:g}"
        for k, v in zip(plan.grid.names, plan.grid.points[0], strict=True)
        if k not in plan.grid.varied
    ]
    return f"{plan.entry.id} on {problem.name}: " + ", ".join(fixed)


def _manifest(
    config, problem, plan, x_star, layout, n_programs, summary, sim_log_every, wall, compile_s
) -> dict:
    return {
        "command": config.command or " ".join(sys.argv),
        "config": config.to_dict(),
        "problem": {
            "name": problem.name,
            "options": dict(problem.options),
            "dim": problem.dim,
            "x_star": np.asarray(x_star).ravel().tolist(),
            "reference": problem.reference,
        },
        "optimizer": {
            "id": plan.entry.id,
            "reference": plan.opt.reference,
            "static": dict(plan.opt.static),
            "defaults": plan.opt.hyper._asdict(),
            "grid_points": len(plan.grid),
            "varied": list(plan.grid.varied),
            "programs": n_programs,
            "fixed_point_note": plan.entry.fixed_point_note,
            "state_roles": dict(plan.entry.state_roles),
        },
        "z": {
            "coordinates": layout.coordinate_names() if layout else [],
            "integer_state": "not part of z (held at t = 2**30 - 1 before the step)",
        },
        "bias_correction": st.BIAS_NOTE,
        "method": {
            "jacobian": "jax.jacfwd of the step map on the flat float leaves, vmapped (grid)",
            "eigenvalues": "numpy.linalg.eig on the assembled Jacobian",
            "quotient_levels": 75,
            "quotient_floor": st.FLOOR,
            "quotient_rtol": st.RTOL,
            "random_directions": 3,
            "fixed_point_tol": st.FIXED_POINT_TOL,
            "undetermined_tol": config.tol,
            "statuses": list(st.STATUSES),
        },
        "simulation": (
            {
                "steps": config.sim_steps,
                "log_every": sim_log_every,
                "start": "x* + delta in every coordinate, the optimizer's own init state",
                "delta": config.delta,
                "rule": st.SIM_RULE,
            }
            if config.simulate
            else None
        ),
        "summary": summary,
        "plugins": registry.plugin_sources(),
        **api.environment(),
        "wall_s": round(wall, 3),
        "compile_s": round(compile_s, 3),
    }
