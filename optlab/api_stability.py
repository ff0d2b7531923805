"""``optlab stability``: config -> linear stability of an optimizer's step map at a minimiser,
over a hyperparameter grid, with closed forms and (optionally) a simulation overlay.

``stability(config)`` resolves the problem and optimizer with :mod:`optlab.api`'s helpers,
validates every value before anything is computed (:class:`UsageError`), runs one
compiled analysis program per group of points (integer exponents baked in; translation-
equivariant points analysed in local coordinates), classifies every point
(:func:`optlab.stability.verdicts`), sets the closed forms beside it
(the optimizer's own ``linearisation``), simulates the full bias-corrected iteration with
the runner when asked, and returns the tables. It writes nothing: ``result.save(out_dir)``
writes ``stability.csv``, ``eigenvalues.csv``, ``boundary.csv``, the figures and
``manifest.json`` (the CLI calls it).
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
from optlab._jax import CompileClock, environment, in_float64
from optlab.config import StabilityConfig
from optlab.errors import UsageError
from optlab.io import outputs
from optlab.io import stability_frames as frames
from optlab.stability import orbits, refine, report

MAX_POINTS = 200_000


@dataclass
class StabilityResult:
    """The tables of one analysis, and what the figures need to be drawn from them; nothing
    is on disk until :meth:`save`."""

    config: StabilityConfig
    table: object  # DataFrame: one row per grid point (stability.csv)
    eigenvalues: object  # DataFrame (eigenvalues.csv)
    boundary: object | None  # DataFrame (boundary.csv) when some axis varies
    summary: dict
    manifest: dict
    figure_context: dict  # varied axes, boundary axis, domains, symbols, title
    out_dir: Path | None = None  # where save() wrote, once it has
    paths: list[Path] = field(default_factory=list)

    def figures(self) -> dict:
        """{name: matplotlib Figure} for this sweep (see optlab.plots.stability)."""
        from optlab.plots.stability import figures_for

        return figures_for(self.table, self.eigenvalues, self.boundary, **self.figure_context)

    def save(self, out_dir: str | Path | None = None, overwrite: bool | None = None) -> list[Path]:
        """Write the tables, figures and manifest.json to ``out_dir`` (default: the
        config's ``out``, else runs/stability-<problem>-<time>); returns the paths. A
        non-empty folder without ``overwrite`` (default: the config's) is a UsageError and
        nothing is written."""
        path = output_dir(self.config) if out_dir is None else Path(out_dir)
        outputs.check_out_dir(path, self.config.overwrite if overwrite is None else overwrite)
        tables = {"stability": self.table, "eigenvalues": self.eigenvalues}
        if self.boundary is not None:
            tables["boundary"] = self.boundary
        self.paths = outputs.write_outputs(path, tables, self.figures(), self.manifest)
        self.out_dir = path
        return self.paths


def output_dir(config: StabilityConfig) -> Path:
    """Where ``save`` writes by default."""
    if config.out:
        return Path(config.out)
    return outputs.default_out_dir("stability", config.problem)


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
    if not hasattr(problem.x0, "shape"):  # a pytree of parameters (an MLP's layers)
        raise UsageError(
            f"problem {problem.name} has its parameters as a pytree of leaves; the stability "
            f"analysis works on one vector: use '{problem.name}[layout=flat]' (the same function)"
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
        per_point = [
            [n for n in (notes,) if n] + _point_notes(_hp(plan, i), translate, res, j)
            for j, i in enumerate(idx)
        ]
        verdicts = st.verdicts(res, layout, tol=config.tol, notes=per_point)
        for j, i in enumerate(idx):
            one = {k: v[j] for k, v in res.items()}
            results[i] = (one, verdicts[j], translate, fixed)
            analyzers[i] = (analyzer, layout)
        done += len(idx)
        if progress is not None:
            progress(0.5 * done / n_points)
    return results, analyzers, layout, len(groups)


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


def _hp(plan, i: int) -> dict:
    return dict(zip(plan.grid.names, plan.grid.points[i], strict=True))


def _point_notes(hp: dict, translate: bool, res: dict, j: int) -> list[str]:
    """Facts about point j of an analysis ``res`` that belong in its reason."""
    notes = []
    if "eps" in hp and hp["eps"] == 0:
        notes.append("eps = 0: the update is 0/0 at z* (undefined there)")
    if translate:
        notes.append(
            "analysed in local coordinates y = x - x* with f's second-order model (the step is "
            "translation-equivariant here: checked)"
        )
    gap = float(res["autonomy_gap"][j])
    if gap > 1e-12:
        notes.append(
            "the step still depends on t at t = 2**30 (relative gap "
            f"{gap:.2g} against t = 2**30 + 2**20): bias correction or "
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


@in_float64  # the caller's JAX settings are left alone
def stability(
    config: StabilityConfig, progress: Callable[[float], None] | None = None
) -> StabilityResult:
    """Analyse, classify, compare with the closed forms, simulate when asked; write nothing."""
    with registry.with_plugins(config.plugins):
        return _stability_in_scope(config, progress)


def _stability_in_scope(config: StabilityConfig, progress) -> StabilityResult:
    t_start = time.perf_counter()
    problem, plan, x_star = _prepare(config)
    with CompileClock() as clock:
        results, analyzers, layout, n_programs = _analyse(plan, problem, x_star, config, progress)
        axis = report.boundary_axis(plan.grid.varied)
        refined = _refine(plan, results, analyzers, config, axis)
        _tick(progress, 0.55)
        sims, sim_log_every, refined_sim = {}, None, {}
        if config.simulate:
            fixed_points = {i: results[i][0]["z"] for i in results}
            sims, sim_log_every = orbits.simulate(
                plan, problem, x_star, config, fixed_points, progress
            )
            at_x_star = all(float(results[i][0]["residual0"]) == 0 for i in results)
            if config.refine and axis == "learning_rate" and at_x_star:
                refined_sim = orbits.refine_simulation(
                    plan, problem, x_star, config, sims, sim_log_every
                )
    table, eigen = _tables(plan, results, sims, layout, config)
    found = {"boundary_refined": refined, "sim_boundary_refined": refined_sim}
    boundary = _boundary(plan, results, table, axis, found, config.refine)
    summary = report.summary(table, boundary, axis, config.simulate)
    wall = time.perf_counter() - t_start
    manifest = _manifest(
        config,
        problem,
        plan,
        x_star,
        layout,
        n_programs,
        summary,
        sim_log_every,
        wall,
        clock.seconds,
    )
    _tick(progress, 1.0)
    context = _figure_context(plan, problem, axis)
    return StabilityResult(config, table, eigen, boundary, summary, manifest, context)


def _boundary(plan, results, table, axis, found: dict, refined: bool):
    """boundary.csv: per row of the other axes, the switch along ``axis`` from the grid,
    the closed form and the simulation, with the bisected values when ``refined``."""
    if axis is None:
        return None
    boundary = report.boundary_frame(table, axis, plan.grid.varied)
    if not refined:
        return boundary
    if axis != "learning_rate":  # eta_c is analytic; along b1, b2, ... bisect the form
        found = {"boundary_exact": _closed_form_boundary(plan, results, table, axis), **found}
    others = [n for n in plan.grid.names if n != axis]
    return report.add_refined(boundary, plan.grid.varied, axis, found, others)


def _tick(progress, fraction: float) -> None:
    if progress is not None:
        progress(fraction)


def _prepare(config: StabilityConfig):
    """Validate everything the user gave before any work: (problem, plan, x*)."""
    _check_config(config)
    problem = api.resolve_problem(config.problem, config.problem_options)
    x_star = _minimiser(problem, config.minimiser)
    shared = {k: list(v) for k, v in config.hyper}
    plan = api.plan_optimizer(config.optimizer, shared)
    if len(plan.grid) > MAX_POINTS:
        raise UsageError(f"the grid has {len(plan.grid)} points; at most {MAX_POINTS} are allowed")
    plan = _complete_roles(plan, problem, x_star)
    _check_state(plan, problem, x_star, dict(config.state))
    return problem, plan, x_star


def _refine(plan, results, analyzers, config, axis) -> dict:
    """The refined linear boundary along ``axis`` (log-scale bisection along a positive,
    unbounded axis; linear along a bounded one such as b1 or b2)."""
    if not config.refine or axis is None:
        return {}
    low, high, _ = plan.entry.all_bounds().get(axis, (None, None, ""))
    verdicts = {i: results[i][1] for i in results}
    log = high is None and low is not None and low >= 0
    return refine.refine_linear(plan, verdicts, analyzers, axis, log, config.tol)


def _closed_form_boundary(plan, results, table, axis) -> dict:
    """Where the closed form's spectral radius crosses 1 along ``axis`` (b1, b2, ...), per
    row of the other axes: {key: (stable end, unstable end)} by bisection of the formula
    between the grid points where its verdict switches."""
    status = table["theory_status"].to_numpy()
    found, k_axis = refine.brackets(
        plan.grid, lambda i: status[i] == "unstable", lambda i: status[i] == "stable", axis
    )
    out = {}
    for key, (a, b) in found.items():
        res = results[a][0]

        def evaluate(points, res=res):
            return [
                _theory(plan, _hp_of(plan, p), res, None, 0.0).spectral_radius > 1 for p in points
            ]

        out.update(refine.bisect(plan.grid, {key: (a, b)}, k_axis, evaluate, log=False))
    return out


def _hp_of(plan, point) -> dict:
    return dict(zip(plan.grid.names, point, strict=True))


def _tables(plan, results, sims, layout, config):
    """(stability.csv, eigenvalues.csv) as DataFrames."""
    rows, eig_rows = [], []
    for i in range(len(plan.grid)):
        hp = _hp(plan, i)
        res, verdict, translate, _ = results[i]
        th = _theory(plan, hp, res, verdict, config.tol)
        row = report.point_row(i, plan.labels[i], hp, verdict, th, res, config.tol)
        nl = orbits.start_nonlinearity(res, verdict, layout.sizes[0])
        row["start_nonlinearity"] = nl
        row["start_linear"] = bool(nl < 0.1) if np.isfinite(nl) else None  # None: no full J
        row["translated"] = translate
        if config.simulate:
            row.update(sims[i])
            row["sim_agrees"] = report.agreement(row)
        rows.append(row)
        eig_rows += report.eigen_rows(i, plan.labels[i], hp, verdict, th)
    names = plan.grid.names
    return frames.stability_frame(rows, names), frames.eigen_frame(eig_rows, names)


def _figure_context(plan, problem, axis) -> dict:
    """What the figures need beyond the tables: the swept axes, the boundary axis, each
    axis's domain and paper symbol (from the optimizer's record) and a title."""
    bounds = plan.entry.all_bounds()
    domains = {v: bounds[v][:2] for v in plan.grid.varied if v in bounds}
    return {
        "varied": tuple(plan.grid.varied),
        "axis": axis,
        "domains": domains,
        "symbols": dict(plan.entry.symbols),
        "title": _title(plan, problem),
    }


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
            "eigenvalues": (
                "scipy.linalg.eig on the balanced assembled Jacobian, each with a first-order "
                "error bound (eigenvalues.csv error_bound; below it: not resolved)"
            ),
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
        **environment(),
        "wall_s": round(wall, 3),
        "compile_s": round(min(compile_s, wall), 3),
    }
