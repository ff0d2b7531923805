"""Config -> result. The only module the CLI calls for work.

``run(config)`` resolves names, validates every value (raising UsageError before anything
is computed), runs each optimizer's grid as compiled sweeps in float64 (a scoped setting:
the caller's JAX configuration is left alone) and returns the tables and the manifest.
It writes nothing: ``result.save(out_dir)`` writes the CSV files, figures and
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

from optlab import cells as cells_mod
from optlab import labels, registry
from optlab._jax import CompileClock, environment, float64, jax
from optlab.config import RunConfig, TrajectoryConfig
from optlab.errors import UsageError
from optlab.grid import Grid, build_grid
from optlab.io import frames, outputs
from optlab.runner import make_sweep
from optlab.runner import record_steps as runner_record_steps

DTYPES = {"float64": np.float64, "float32": np.float32}


@dataclass(frozen=True)
class Planned:
    """One optimizer's resolved grid."""

    entry: object
    opt: object
    grid: Grid
    static_changed: dict
    labels: tuple[str, ...]
    runs: tuple = ()  # per grid point: (id, every setting, keys to show) for the labels


@dataclass
class RunResult:
    """What ``run`` and ``trajectory`` computed; nothing is on disk until :meth:`save`."""

    config: RunConfig
    trace: object  # DataFrame (trace.csv)
    runs: object  # DataFrame (runs.csv)
    summary: object  # DataFrame (summary.csv)
    manifest: dict  # manifest.json; the CLI adds its resolved options under "cli"
    problem: object  # the Problem record (figures: its metrics and tags)
    landscape: dict | None = None  # trajectory: the loss on a mesh, for the contour plot
    out_dir: Path | None = None  # where save() wrote, once it has
    paths: list[Path] = field(default_factory=list)

    def tables(self) -> dict:
        return {"trace": self.trace, "runs": self.runs, "summary": self.summary}

    def figures(self) -> tuple[dict, dict]:
        """({name: Figure}, {name: animation frames}), drawn from the tables."""
        from optlab.plots.curves import figures_for

        problem = self.problem
        figures = figures_for(self.trace, problem.metrics, log_log="loglog" in problem.tags)
        animations = {}
        if self.landscape is not None:
            figures["trajectory"], animations = _trajectory_figures(
                problem, self.landscape, self.trace, self.config
            )
        from optlab.plots.captions import add_caption

        for fig in figures.values():  # how the settings were chosen, and the seeds, on every figure
            add_caption(fig, self.manifest.get("protocol", ""))
        return figures, animations

    def save(self, out_dir: str | Path | None = None, overwrite: bool | None = None):
        """Write the tables (CSV), figures (PNG, GIF) and manifest.json; return the paths.

        ``out_dir`` defaults to ``config.out``, else ``runs/<command>-<problem>-<time>``;
        ``overwrite`` to ``config.overwrite``. A non-empty folder without ``overwrite`` is
        a UsageError and nothing is written."""
        if out_dir is None:
            out_dir = self.config.out
        if overwrite is None:
            overwrite = self.config.overwrite
        kind = self.manifest.get("kind", "run")
        path = Path(out_dir) if out_dir else outputs.default_out_dir(kind, self.problem.name)
        outputs.check_out_dir(path, overwrite)
        figures, animations = self.figures()
        self.paths = outputs.write_outputs(path, self.tables(), figures, self.manifest, animations)
        self.out_dir = path
        return self.paths


# ---- resolving names and values ---------------------------------------------------------
def _option_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def resolve_problem(spec: str, extra: tuple[tuple[str, str], ...] = ()):
    name, settings = labels.parse_spec(spec)
    options = {}
    for key, values in list(settings.items()) + [(k, [v]) for k, v in extra]:
        converted = [_option_value(v) for v in values]
        options[key] = converted[0] if len(converted) == 1 else tuple(converted)
    return registry.get_problem(name, options)


def plan_optimizer(spec: str, shared: dict[str, list[float]]) -> Planned:
    name, settings = labels.parse_spec(spec)
    entry = registry.optimizer_entry(name)
    static, numeric = registry.split_settings(entry, settings)
    opt = registry.make_optimizer(entry, static)
    fields = opt.hyper._fields
    values: dict[str, list[float]] = {}
    for key, vals in shared.items():
        if key not in fields:
            raise UsageError(
                f"{entry.id} has no hyperparameter {key!r} (it has: {', '.join(fields)}); "
                f"set it for one optimizer with --opt 'NAME[{key}=...]'"
            )
        values[key] = list(vals)
    for key, vals in numeric.items():  # bracket settings win over shared ones
        values[key] = [labels.parse_number(v, f"{entry.id} {key}") for v in vals]
    grid = build_grid(entry.id, opt.hyper, values, entry.all_bounds())
    defaults = registry.static_options(entry)
    static_changed = {k: v for k, v in static.items() if v != defaults.get(k)}
    runs = []
    for point in grid.points:
        settings = {**defaults, **static, **dict(zip(grid.names, point, strict=True))}
        shown = set(static) | set(values)
        shown |= {k for k, v in settings.items() if k in grid.names and v != getattr(opt.hyper, k)}
        runs.append((entry.id, settings, shown))
    names = labels.command_labels(runs)
    return Planned(entry, opt, grid, static_changed, tuple(names), tuple(runs))


def relabel(plans: list[Planned]) -> list[Planned]:
    """Labels over all runs of one command: keys that differ between two ``--opt`` of the same
    optimizer are named in both (``adam[b1=0.9]`` beside ``adam[b1=0]``)."""
    runs = [r for p in plans for r in p.runs]
    names = iter(labels.command_labels(runs))
    return [dataclasses.replace(p, labels=tuple(next(names) for _ in p.runs)) for p in plans]


def check_dtype(dtype: str, plans: list[Planned], problem) -> None:
    if dtype not in DTYPES:
        raise UsageError(f"--dtype must be float64 or float32, got {dtype!r}")
    if dtype == "float64":
        return
    for plan in plans:
        for point in plan.grid.points:
            for name, v in zip(plan.grid.names, point, strict=True):
                v32 = np.float32(v)
                if v != 0 and (v32 == 0 or not np.isfinite(v32)):
                    what = "rounds to 0" if v32 == 0 else "overflows"
                    raise UsageError(
                        f"{plan.entry.id}: {name}={v:g} cannot be represented in float32 "
                        f"({what}); use --dtype float64 or another value"
                    )
    x0 = np.concatenate([np.ravel(v) for v in jax.tree_util.tree_leaves(problem.x0)])
    x0 = x0.astype(np.float64)
    x32 = x0.astype(np.float32)
    if np.any((x0 != 0) & (x32 == 0)) or not np.all(np.isfinite(x32)):
        raise UsageError(f"{problem.name}: x0 cannot be represented in float32")


# ---- running ----------------------------------------------------------------------------
MAX_STEPS = 2**31 - 2  # the compiled step counter is int32 (and counts one past the end)
MAX_TRACE_ROWS = 200_000  # default recording keeps trace.csv about this long


def default_log_every(steps: int, n_runs: int) -> int:
    """Record about 1000 points per run, fewer (down to 50) when there are many runs, so
    that trace.csv stays near MAX_TRACE_ROWS rows."""
    per_run = min(1000, max(50, MAX_TRACE_ROWS // max(1, n_runs)))
    return max(1, steps // per_run)


def _ticker(progress, base: float, n: int, total: float):
    """Progress of one sweep (done/total of its calls) as a fraction of the whole run."""

    def tick(done: int, calls: int) -> None:
        if progress is not None:
            progress((base + n * done / calls) / total)

    return tick


class _Collector:
    """Flattens each sweep's [grid, seed] arrays into one row block per run."""

    def __init__(self, seeds):
        self.seeds = seeds
        self.metas: list[frames.RunMeta] = []
        self.metrics: dict[str, list] = {m: [] for m in frames.METRICS}
        self.divs: list[int] = []
        self.xs: list = []
        self.extras: dict[str, list] = {}
        self.steps = None
        self.traced: dict[int, int] = {}  # plan index -> programs traced (compilations)

    def add(self, plan: Planned, i: int, trace, j: int) -> None:
        self.steps = trace.step
        hyper = dict(zip(plan.grid.names, plan.grid.points[i], strict=True))
        for s, seed in enumerate(self.seeds):
            n = len(self.metas)
            self.metas.append(frames.RunMeta(plan.entry.id, plan.labels[i], n, int(seed), hyper))
            for m in frames.METRICS:
                self.metrics[m].append(getattr(trace, m)[j, s])
            self.divs.append(int(trace.diverged_step[j, s]))
            if trace.x is not None:
                self.xs.append(trace.x[j, s])
            for name in trace.extras:
                self.extras.setdefault(name, [None] * n)
            for name, column in self.extras.items():
                arr = trace.extras.get(name)
                column.append(None if arr is None else arr[j, s])

    def stacked(self) -> dict:
        return {m: np.stack(v) for m, v in self.metrics.items()}

    def positions(self):
        return np.stack(self.xs) if self.xs else None


def run(
    config: RunConfig, progress: Callable[[float], None] | None = None, *, store=None
) -> RunResult:
    """``optlab run``: every optimizer's grid on the problem (tables and manifest; call
    ``save()`` on the result to write them with the figures).

    With a ``store`` (:class:`optlab.cells.CellStore`) the cells it holds are read and the
    others computed and put in it, so an interrupted run can be resumed."""
    return _run(config, progress, command="run", store=store)


def run_shard(config: RunConfig, shard: tuple[int, int], store, progress=None) -> int:
    """Shard ``(i, n)`` of ``optlab run``: computes its cells into ``store`` (those already
    there are kept) and returns how many it has; ``optlab merge`` makes the tables."""
    with float64(), registry.with_plugins(config.plugins):
        problem, plans, log_every = _validate(config, False)
        return _sweep_all(config, problem, plans, log_every, progress, store, shard)


def plan(config, two_d: bool = False) -> dict:
    """What a run will do, before doing it: its runs, steps, dimension, trace rows and
    cells (for the CLI's estimate). Validates like ``run`` (a UsageError for bad input)."""
    with float64(), registry.with_plugins(config.plugins):
        problem, plans, log_every = _validate(config, two_d)
        cells = command_cells(config, problem, plans)
    n_runs = sum(len(p.grid) for p in plans) * config.seeds
    rows = n_runs * len(runner_record_steps(config.steps, log_every))
    return {
        "runs": n_runs,
        "steps": config.steps,
        "dim": problem.dim,
        "trace_rows": rows,
        "columns": 9 + (problem.dim if config.record_x or problem.dim <= 2 else 0),
        "cells": len(cells),
        "problem": problem.name,
    }


def trajectory(
    config: TrajectoryConfig, progress: Callable[[float], None] | None = None, *, store=None
):
    """``optlab trajectory``: a run on a 2-D problem plus the loss landscape its paths are
    drawn over; ``save()`` writes ``trajectory.png`` and, with ``config.gif``, an animation
    (``trajectory.gif``)."""
    return _run(config, progress, command="trajectory", two_d=True, store=store)


def _run(config, progress, *, command: str, two_d: bool = False, store=None) -> RunResult:
    with float64(), registry.with_plugins(config.plugins):
        return _run_in_scope(config, progress, command=command, two_d=two_d, store=store)


def _run_in_scope(config, progress, *, command: str, two_d: bool, store=None) -> RunResult:
    t_start = time.perf_counter()
    with float64(), CompileClock() as clock:
        problem, plans, log_every = _validate(config, two_d)
        runs = _sweep_all(config, problem, plans, log_every, progress, store)
        divs, x_all = np.asarray(runs.divs), runs.positions()
        trace_df = frames.trace_frame(
            problem.name, runs.metas, runs.steps, runs.stacked(), divs, x_all, runs.extras
        )
        runs_df = frames.runs_frame(trace_df, divs, config.steps, _success(problem, x_all, divs))
        summary_df = frames.summary_frame(runs_df)
        land = None
        if two_d:
            from optlab.landscape import landscape_for

            land = landscape_for(problem, trace_df, config.resolution)
        env = environment()
    manifest = _manifest(config, problem, plans, log_every, runs.traced, env)
    manifest["kind"] = command
    manifest["protocol"] = _protocol(config)
    manifest["wall_s"] = round(time.perf_counter() - t_start, 3)
    manifest["compile_s"] = round(clock.seconds, 3)
    return RunResult(config, trace_df, runs_df, summary_df, manifest, problem, land)


def _validate(config, two_d: bool):
    """(problem, plans, log_every), or a UsageError before anything is computed."""
    if config.steps < 1:
        raise UsageError(f"--steps must be >= 1, got {config.steps}")
    if config.steps > MAX_STEPS:
        raise UsageError(
            f"--steps {config.steps} is more than the step counter can count "
            f"(at most {MAX_STEPS:_}); split the run or use fewer steps"
        )
    if config.schedule not in ("constant", "inv_sqrt"):
        raise UsageError(f"--schedule must be constant or inv_sqrt, got {config.schedule!r}")
    if config.seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {config.seeds}")
    if config.log_every is not None and config.log_every < 1:
        raise UsageError(f"--log-every must be >= 1, got {config.log_every}")
    if two_d:
        _check_display(config)
    problem = resolve_problem(config.problem, config.problem_options)
    if two_d and problem.dim != 2:
        raise UsageError(
            f"trajectory needs a 2-D problem; {problem.name} has dimension {problem.dim} "
            "(see `optlab list problems`, tag 2d)"
        )
    shared = {k: list(v) for k, v in config.hyper}
    plans = relabel([plan_optimizer(spec, shared) for spec in config.optimizers])
    all_labels = [lab for p in plans for lab in p.labels]
    if len(set(all_labels)) != len(all_labels):
        dup = next(lab for lab in all_labels if all_labels.count(lab) > 1)
        raise UsageError(f"the run {dup!r} is asked for twice")
    check_dtype(config.dtype, plans, problem)
    if config.out:  # a folder save() would refuse: say so now, not after the work
        outputs.check_out_dir(Path(config.out), config.overwrite, probe=False)  # no writes
    n_runs = sum(len(p.grid) for p in plans) * config.seeds
    return problem, plans, config.log_every or default_log_every(config.steps, n_runs)


def _check_display(config) -> None:
    """trajectory's drawing options: a GIF needs a frame, a contour two mesh points."""
    if config.frames < 1:
        raise UsageError(f"--frames must be >= 1, got {config.frames}")
    if config.resolution < 2:
        raise UsageError(
            f"--resolution must be >= 2 (mesh points per axis), got {config.resolution}"
        )


def _sweep_all(
    config, problem, plans, log_every, progress, store=None, shard=None
) -> _Collector | int:
    """Every optimizer's grid, cell by cell (see :mod:`optlab.cells`): a cell ``store``
    already holds is read, not computed; each computed cell is put in it when it is done."""
    seeds = np.arange(config.seeds)
    cells = cells_mod.shard_cells(command_cells(config, problem, plans), shard)
    total = float(sum(len(c.idx) for c in cells)) or 1.0
    done, results, sweeps = 0.0, {}, {}
    runs = _Collector(seeds)
    for cell in cells:
        trace = store.load(cell) if store is not None else None
        if trace is None:
            if store is not None and not getattr(store, "computes", True):
                raise UsageError(f"cell {cell.name} is in none of the folders given")
            tick = _ticker(progress, done, len(cell.idx), total)
            trace = _compute_cell(config, problem, plans, log_every, cell, sweeps, tick)
            if store is not None:
                store.save(cell, trace)
        done += len(cell.idx)
        if progress is not None:
            progress(done / total)
        results.update({(cell.plan, i): (trace, j) for j, i in enumerate(cell.idx)})
    if shard is not None:  # the shard's cells are in the store: no tables from a part
        return len(cells)
    for k, plan in enumerate(plans):
        runs.traced[k] = sum(s.traces for (kk, _), s in sweeps.items() if kk == k)
        for i in range(len(plan.grid)):
            runs.add(plan, i, *results[(k, i)])
    return runs


def command_cells(config, problem, plans) -> list:
    """The cells of a command (the same for every way of running it)."""
    return cells_mod.plan_cells(
        plans, config.seeds, problem.dim, config.steps, cells_mod.cell_work()
    )


def _compute_cell(config, problem, plans, log_every, cell, sweeps: dict, tick):
    """One cell's Trace: its grid points padded (by repeating the last) to the command's
    cell width, so every cell runs the same compiled program, and cut back."""
    plan = plans[cell.plan]
    fixed, _ = plan.grid.integer_groups(plan.entry.integer_hypers)[cell.group]
    dtype = DTYPES[config.dtype]
    key = (cell.plan, cell.group)
    if key not in sweeps:
        sweeps[key] = make_sweep(
            problem,
            plan.opt,
            steps=config.steps,
            log_every=log_every,
            record_x=config.record_x or problem.dim <= 2,  # 1-D and 2-D paths are kept
            fixed=fixed,
            dtype=dtype,
            schedule=config.schedule,
            diagnostics=_diagnostics(plan, config.diagnostics),
        )
    idx = list(cell.idx) + [cell.idx[-1]] * (cell.width - len(cell.idx))
    hyper = plan.grid.batch(type(plan.opt.hyper), idx, dtype)
    trace = sweeps[key].run(hyper, np.arange(config.seeds), config.root_seed, tick)
    return cells_mod.take(trace, len(cell.idx))


def _protocol(config) -> str:
    """How the hyperparameters were chosen and how many seeds ran (on figures, manifest)."""
    from optlab.tuned import untuned_protocol

    return config.protocol or untuned_protocol(config.seeds)


def _trajectory_figures(problem, land, trace_df, config):
    from optlab.plots import trajectories

    title = f"{problem.name}: {config.steps} steps"
    fig = trajectories.paths_figure(land, trace_df, title, loss_panel=config.loss_panel)
    anims = {}
    if config.gif:
        anims["trajectory"] = trajectories.paths_animation(land, trace_df, title, config.frames)
    return fig, anims


def _diagnostics(plan: Planned, wanted: bool):
    """The optimizer's diagnostics hook bound to its static options, when asked for."""
    hook = plan.entry.diagnostics
    if not wanted or hook is None:
        return None
    static = dict(plan.opt.static)
    return lambda grads, state, hyper: hook(grads, state, hyper, static)


def _success(problem, x_all, divs):
    """The problem's success criterion at each run's final iterate (False if diverged)."""
    if problem.success is None or x_all is None:
        return None
    final = x_all[:, -1, :]
    ok = np.asarray([bool(problem.success(np.asarray(x))) for x in final])
    return ok & (divs < 0)


def _manifest(config, problem, plans, log_every, traced, env) -> dict:
    return {
        "command": config.command or " ".join(sys.argv),
        "config": config.to_dict(),
        "problem": {
            "name": problem.name,
            "options": dict(problem.options),
            "dim": problem.dim,
            "f_star": problem.f_star,
            "f_star_kind": problem.f_star_kind,
            "reference": problem.reference,
        },
        "optimizers": [
            {
                "id": p.entry.id,
                "reference": p.opt.reference,
                "static": dict(p.opt.static),
                "eps": p.entry.eps,
                "decay": p.entry.decay,
                "defaults": p.opt.hyper._asdict(),
                "grid_points": len(p.grid),
                "varied": list(p.grid.varied),
                "programs": len(p.grid.integer_groups(p.entry.integer_hypers)),
                "traced": traced.get(k, 0),
            }
            for k, p in enumerate(plans)
        ],
        "steps": config.steps,
        "log_every": log_every,
        "seeds": list(range(config.seeds)),
        "root_seed": config.root_seed,
        "dtype": config.dtype,
        "plugins": registry.plugin_sources(),
        **env,
    }


# ---- listings ---------------------------------------------------------------------------
def list_optimizers(names: list[str] | None = None) -> list[dict]:
    ids = names or registry.optimizer_ids()
    rows = []
    for name in ids:
        entry = registry.optimizer_entry(name)
        opt = entry.make()
        rows.append(
            {
                "id": entry.id,
                "summary": entry.summary,
                "paper": entry.paper,
                "defaults": {k: float(v) for k, v in opt.hyper._asdict().items()},
                "eps": entry.eps,
                "decay": entry.decay,
                "static": dict(opt.static),
                "bibtex": entry.bibtex,
                "plugin": registry.plugin_origin("optimizer", entry.id),
            }
        )
    return rows


def _describe_x0(x0) -> str:
    if not hasattr(x0, "shape"):  # a pytree of parameters (mlp, logistic)
        leaves = jax.tree_util.tree_leaves(x0)
        return f"pytree: {len(leaves)} leaves, {sum(np.size(v) for v in leaves)} numbers"
    x = np.asarray(x0)
    if x.size and np.all(x == x.flat[0]):
        return f"{x.flat[0]:g} (all)"
    if x.size >= 4 and np.all(x[2:] == np.resize(x[:2], x.size - 2)):
        return f"({x[0]:g}, {x[1]:g}) repeated"
    return np.array2string(x, precision=4, threshold=6)


def list_problems(names: list[str] | None = None) -> list[dict]:
    ids = names or registry.problem_ids()
    rows = []
    for name in ids:
        entry = registry.problem_entry(name)
        prob = entry.make()
        rows.append(
            {
                "id": entry.id,
                "aliases": list(entry.aliases),
                "summary": entry.summary,
                "dim": prob.dim,
                "x0": "random (per seed)" if prob.init is not None else _describe_x0(prob.x0),
                "f_star": prob.f_star,
                "f_star_kind": prob.f_star_kind,
                "tags": sorted(prob.tags),
                "options": dict(entry.defaults),
                "reference": prob.reference,
                "plugin": registry.plugin_origin("problem", entry.id),
            }
        )
    return rows
