"""Config -> result. The only module the CLI calls for work.

``run(config)`` resolves names, validates every value (raising UsageError before anything
is computed or written), runs each optimizer's grid as compiled sweeps, writes the tables,
figure and manifest, and returns them.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from optlab import labels, registry
from optlab._jax import jax
from optlab.config import RunConfig, TrajectoryConfig
from optlab.errors import UsageError
from optlab.grid import Grid, build_grid
from optlab.io import frames, outputs
from optlab.runner import make_sweep

DTYPES = {"float64": np.float64, "float32": np.float32}


@dataclass(frozen=True)
class Planned:
    """One optimizer's resolved grid."""

    entry: object
    opt: object
    grid: Grid
    static_changed: dict
    labels: tuple[str, ...]


@dataclass
class RunResult:
    config: RunConfig
    trace: object  # DataFrame
    runs: object  # DataFrame
    summary: object  # DataFrame
    manifest: dict
    out_dir: Path
    paths: list[Path] = field(default_factory=list)


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
    names = []
    for point in grid.points:
        changed = dict(static_changed)
        for k, v in zip(grid.names, point, strict=True):
            if v != float(getattr(opt.hyper, k)):
                changed[k] = v
        names.append(labels.format_label(entry.id, changed))
    return Planned(entry, opt, grid, static_changed, tuple(names))


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
    x0 = np.asarray(problem.x0, dtype=np.float64)
    x32 = x0.astype(np.float32)
    if np.any((x0 != 0) & (x32 == 0)) or not np.all(np.isfinite(x32)):
        raise UsageError(f"{problem.name}: x0 cannot be represented in float32")


# ---- running ----------------------------------------------------------------------------
class _CompileClock:
    """Sums JAX's compile-duration events while active."""

    def __init__(self):
        self.seconds = 0.0

    def __call__(self, event: str, duration: float, **kwargs) -> None:
        if "compil" in event:
            self.seconds += duration


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


def run(config: RunConfig, progress: Callable[[float], None] | None = None) -> RunResult:
    """``optlab run``: every optimizer's grid on the problem; tables, curves, manifest."""
    return _run(config, progress, command="run")


def trajectory(config: TrajectoryConfig, progress: Callable[[float], None] | None = None):
    """``optlab trajectory``: a run on a 2-D problem plus its paths over the loss landscape
    (``trajectory.png``) and, with ``config.gif``, an animation (``trajectory.gif``)."""
    return _run(config, progress, command="trajectory", two_d=True)


def _run(config, progress, *, command: str, two_d: bool = False) -> RunResult:
    with registry.with_plugins(config.plugins):
        return _run_in_scope(config, progress, command=command, two_d=two_d)


def _run_in_scope(config, progress, *, command: str, two_d: bool) -> RunResult:
    t_start = time.perf_counter()
    if config.steps < 1:
        raise UsageError(f"--steps must be >= 1, got {config.steps}")
    if config.schedule not in ("constant", "inv_sqrt"):
        raise UsageError(f"--schedule must be constant or inv_sqrt, got {config.schedule!r}")
    if config.seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {config.seeds}")
    if config.log_every is not None and config.log_every < 1:
        raise UsageError(f"--log-every must be >= 1, got {config.log_every}")
    problem = resolve_problem(config.problem, config.problem_options)
    if two_d and problem.dim != 2:
        raise UsageError(
            f"trajectory needs a 2-D problem; {problem.name} has dimension {problem.dim} "
            "(see `optlab list problems`, tag 2d)"
        )
    shared = {k: list(v) for k, v in config.hyper}
    plans = [plan_optimizer(spec, shared) for spec in config.optimizers]
    all_labels = [lab for p in plans for lab in p.labels]
    if len(set(all_labels)) != len(all_labels):
        dup = next(lab for lab in all_labels if all_labels.count(lab) > 1)
        raise UsageError(f"the run {dup!r} is asked for twice")
    check_dtype(config.dtype, plans, problem)
    n_runs = sum(len(p.grid) for p in plans) * config.seeds
    log_every = config.log_every or default_log_every(config.steps, n_runs)
    out_dir = Path(config.out) if config.out else outputs.default_out_dir(command, problem.name)
    outputs.check_out_dir(out_dir, config.overwrite)

    dtype = DTYPES[config.dtype]
    seeds = np.arange(config.seeds)
    record_x = config.record_x or problem.dim <= 2  # 1-D and 2-D paths are always kept
    total = float(sum(len(p.grid) for p in plans))
    done = 0.0
    runs = _Collector(seeds)
    clock = _CompileClock()
    jax.monitoring.register_event_duration_secs_listener(clock)
    try:
        for plan in plans:
            results = {}
            for fixed, idx in plan.grid.integer_groups(plan.entry.integer_hypers):
                sweep = make_sweep(
                    problem,
                    plan.opt,
                    steps=config.steps,
                    log_every=log_every,
                    record_x=record_x,
                    fixed=fixed,
                    dtype=dtype,
                    schedule=config.schedule,
                    diagnostics=_diagnostics(plan, config.diagnostics),
                )
                hyper = plan.grid.batch(type(plan.opt.hyper), idx, dtype)
                tick = _ticker(progress, done, len(idx), total)
                trace = sweep.run(hyper, seeds, config.root_seed, tick)
                done += len(idx)
                results.update({i: (trace, j) for j, i in enumerate(idx)})
            for i in range(len(plan.grid)):
                runs.add(plan, i, *results[i])
    finally:
        jax.monitoring.unregister_event_duration_listener(clock)
    divs, x_all = np.asarray(runs.divs), runs.positions()
    trace_df = frames.trace_frame(
        problem.name, runs.metas, runs.steps, runs.stacked(), divs, x_all, runs.extras
    )
    success = _success(problem, x_all, divs)
    runs_df = frames.runs_frame(trace_df, divs, config.steps, success)
    summary_df = frames.summary_frame(runs_df)
    from optlab.plots.curves import figures_for

    figures = figures_for(trace_df, problem.metrics, log_log="loglog" in problem.tags)
    animations = {}
    if two_d:
        figures["trajectory"], animations = _trajectory_figures(problem, trace_df, config)
    manifest = _manifest(
        config, problem, plans, log_every, seeds, time.perf_counter() - t_start, clock.seconds
    )
    tables = {"trace": trace_df, "runs": runs_df, "summary": summary_df}
    paths = outputs.write_outputs(out_dir, tables, figures, manifest, animations)
    return RunResult(config, trace_df, runs_df, summary_df, manifest, out_dir, paths)


def _trajectory_figures(problem, trace_df, config):
    from optlab.landscape import landscape_for
    from optlab.plots import trajectories

    land = landscape_for(problem, trace_df, config.resolution)
    title = f"{problem.name}: {config.steps} steps"
    fig = trajectories.paths_figure(land, trace_df, title)
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


def _git_hash() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict:
    import importlib.metadata as md

    out = {"python": sys.version.split()[0]}
    for pkg in (
        "optlab",
        "jax",
        "jaxlib",
        "numpy",
        "optax",
        "pandas",
        "matplotlib",
        "typer",
        "rich",
    ):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def environment() -> dict:
    return {
        "versions": versions(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "x64": bool(jax.config.jax_enable_x64),
        "compilation_cache": jax.config.jax_compilation_cache_dir,
        "git": _git_hash(),
    }


def _manifest(config, problem, plans, log_every, seeds, wall, compile_s) -> dict:
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
            }
            for p in plans
        ],
        "steps": config.steps,
        "log_every": log_every,
        "seeds": [int(s) for s in seeds],
        "root_seed": config.root_seed,
        "dtype": config.dtype,
        "plugins": registry.plugin_sources(),
        **environment(),
        "wall_s": round(wall, 3),
        "compile_s": round(compile_s, 3),
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
            }
        )
    return rows


def _describe_x0(x0) -> str:
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
            }
        )
    return rows
