"""Equal-budget tuning: every optimizer gets the same number of configurations, drawn from a
declared search space, the same horizon and the same seeds; the winner is chosen by an
objective that never reads x* or f*.

``tune(config)`` computes and returns tables (``tune``, ``best``, ``best_trace``) and a
manifest; it writes nothing (the CLI saves). One problem x one optimizer structure is one
compiled program: the configurations are the grid axis of the runner's sweep (vmapped), and
the held-out seeds of a stochastic problem are extra columns of the same program's seed axis,
which the choice never reads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from optlab import labels, registry, search_space, suites
from optlab.errors import UsageError
from optlab.evaluate import WORKERS, Evaluation, Progress, evaluate, in_parallel
from optlab.grid import Grid, check_bound


@dataclass(frozen=True)
class TuneConfig:
    """``optlab tune``. ``target``: a problem, a comma list of problems or a suite.
    ``space``: ``[OPT:]NAME=LO:HI[:log|lin]`` items. ``seeds`` tuning seeds and
    ``heldout_seeds`` evaluation seeds apply to problems with randomness; a deterministic
    problem runs one seed (every seed would give the same run). ``objective``: ``final`` (the
    final loss) or ``last:F`` (the mean loss over the records in the last fraction F of the
    steps), averaged over the tuning seeds; a run that diverged makes it +inf."""

    target: str = "andrei"
    optimizers: tuple[str, ...] = ("adam",)
    budget: int = 32
    steps: int = 1000
    space: tuple[str, ...] = ()
    sampler: str = "sobol"
    sample_seed: int = 0
    seeds: int = 3
    heldout_seeds: int = 5
    objective: str = "final"
    root_seed: int = 0
    log_every: int | None = None  # None: about 1000 records per run
    dtype: str = "float64"
    schedule: str = "constant"
    out: str | None = None
    overwrite: bool = False
    command: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class OptimizerPlan:
    """One optimizer's configurations: the same budget for every optimizer."""

    spec: str
    entry: object
    opt: object
    dims: tuple
    grid: Grid
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Objective:
    kind: str  # "final" or "last"
    fraction: float = 0.0

    def text(self) -> str:
        if self.kind == "final":
            return "final f"
        return f"mean f over the last {100 * self.fraction:g} % of steps"


@dataclass
class TuneResult:
    config: TuneConfig
    tune: pd.DataFrame
    best: pd.DataFrame
    best_trace: pd.DataFrame
    manifest: dict
    caption: str


# ---- validation and plans -------------------------------------------------------------
def parse_objective(text: str) -> Objective:
    if text == "final":
        return Objective("final")
    if text.startswith("last:"):
        frac = labels.parse_number(text[5:], "--objective last:F")
        if not 0 < frac <= 1:
            raise UsageError(f"--objective {text!r}: F must be in (0, 1]")
        return Objective("last", frac)
    raise UsageError(f"--objective must be final or last:F (e.g. last:0.1), got {text!r}")


def plan_optimizer(spec: str, space, budget: int, sampler: str, seed: int) -> OptimizerPlan:
    name, settings = labels.parse_spec(spec)
    entry = registry.optimizer_entry(name)
    static, numeric = registry.split_settings(entry, settings)
    opt = registry.make_optimizer(entry, static)
    fields, bounds = opt.hyper._fields, entry.all_bounds()
    fixed = {}
    for key, vals in numeric.items():
        if len(vals) != 1:
            raise UsageError(
                f"{spec}: tune searches a declared space; give {key} one value, or search it "
                f"with --space '{entry.id}:{key}=LO:HI'"
            )
        fixed[key] = labels.parse_number(vals[0], f"{entry.id} {key}")
        check_bound(entry.id, key, fixed[key], bounds.get(key))
    dims = search_space.dimensions_for(entry.id, space, set(fixed))
    for dim in dims:
        if dim.name not in fields:
            raise UsageError(
                f"{entry.id} has no hyperparameter {dim.name!r} (it has: {', '.join(fields)}); "
                f"declare it for one optimizer with --space 'OPT:{dim.name}=LO:HI'"
            )
        for end in (dim.lo, dim.hi):
            check_bound(entry.id, dim.name, end, bounds.get(dim.name))
    drawn = search_space.draw(dims, budget, sampler, seed)
    base = {**{k: float(v) for k, v in opt.hyper._asdict().items()}, **fixed}
    defaults = registry.static_options(entry)
    static_changed = {k: v for k, v in static.items() if v != defaults.get(k)}
    points, names = [], []
    for row in drawn:
        values = {**base, **{d.name: float(v) for d, v in zip(dims, row, strict=True)}}
        points.append(tuple(values[f] for f in fields))
        changed = dict(static_changed)
        changed.update({f: values[f] for f in fields if values[f] != float(getattr(opt.hyper, f))})
        names.append(labels.format_label(entry.id, changed))
    grid = Grid(tuple(fields), tuple(points), tuple(d.name for d in dims))
    return OptimizerPlan(spec, entry, opt, tuple(dims), grid, tuple(names))


def options_text(problem) -> str:
    """The problem's resolved options as JSON (best.csv is keyed by name; these tell
    ``fun5`` at n = 100 from ``fun5[dim=10]``)."""
    return json.dumps(dict(problem.options), sort_keys=True, default=str)


def has_randomness(problem) -> bool:
    """Whether seeds change a run: a random start, or sampled (non-scripted) gradients."""
    scripted = "online" in problem.tags and "stochastic" not in problem.tags
    return problem.init is not None or (problem.sample is not None and not scripted)


def seed_split(problem, n_tune: int, n_heldout: int) -> tuple[list[int], list[int]]:
    """(tuning seeds, held-out seeds): disjoint; one tuning seed and none held out for a
    deterministic problem."""
    if not has_randomness(problem):
        return [0], []
    return list(range(n_tune)), list(range(n_tune, n_tune + n_heldout))


def _check_config(config: TuneConfig) -> Objective:
    for flag, value, low in (
        ("--budget", config.budget, 1),
        ("--steps", config.steps, 1),
        ("--seeds", config.seeds, 1),
        ("--heldout-seeds", config.heldout_seeds, 0),
    ):
        if value < low:
            raise UsageError(f"{flag} must be >= {low}, got {value}")
    if config.log_every is not None and config.log_every < 1:
        raise UsageError(f"--log-every must be >= 1, got {config.log_every}")
    if config.schedule not in ("constant", "inv_sqrt"):
        raise UsageError(f"--schedule must be constant or inv_sqrt, got {config.schedule!r}")
    if not config.optimizers:
        raise UsageError("name at least one optimizer with --opt")
    return parse_objective(config.objective)


def prepare(config: TuneConfig):
    """Everything checked before any work: (objective, target name, problems, plans)."""
    from optlab import api

    objective = _check_config(config)
    space = search_space.parse_space(config.space)
    target, specs = suites.resolve_target(config.target)
    problems = [api.resolve_problem(spec) for spec in specs]
    names = [p.name for p in problems]
    if len(set(names)) != len(names):  # best.csv is keyed by the problem's name
        raise UsageError(f"{config.target!r} names one problem twice ({', '.join(names)})")
    plans = [
        plan_optimizer(s, space, config.budget, config.sampler, config.sample_seed)
        for s in config.optimizers
    ]
    specs_given = [p.spec for p in plans]
    if len(set(specs_given)) != len(specs_given):
        raise UsageError("an --opt is given twice; tune each optimizer once")
    owners = {owner for owner, _ in space if owner is not None}
    unknown = owners - {p.entry.id for p in plans}
    if unknown:
        raise UsageError(f"--space names {', '.join(sorted(unknown))}, which is not an --opt")
    for problem in problems:
        api.check_dtype(config.dtype, plans, problem)
    return objective, target, problems, plans


# ---- computing ------------------------------------------------------------------------
def objective_values(ev: Evaluation, seed_idx, objective: Objective, steps: int) -> np.ndarray:
    """Per configuration: the mean over the given seeds of the final loss (or of its mean
    over the last fraction of steps); +inf when any of those runs diverged."""
    loss = ev.loss[:, seed_idx, :]
    if objective.kind == "final":
        per_run = loss[..., -1]
    else:
        keep = ev.steps >= steps * (1 - objective.fraction)
        keep[-1] = True
        per_run = loss[..., keep].mean(axis=-1)
    bad = (ev.div[:, seed_idx] >= 0) | ~np.isfinite(per_run)
    per_run = np.where(bad, np.inf, per_run)
    return per_run.mean(axis=1)


def mean_loss(ev: Evaluation, seed_idx) -> np.ndarray:
    """Per configuration: the loss averaged over every record and the given seeds (the area
    under the curve, which breaks ties of the objective in favour of the faster); +inf when
    a run diverged."""
    per_run = ev.loss[:, seed_idx, :].mean(axis=-1)
    bad = (ev.div[:, seed_idx] >= 0) | ~np.isfinite(per_run)
    return np.where(bad, np.inf, per_run).mean(axis=1)


def ranking(values: np.ndarray, tie_break: np.ndarray | None = None) -> np.ndarray:
    """Indices from best to worst: the objective, then ``tie_break``, then draw order."""
    index = np.arange(len(values))
    keys = (index, values) if tie_break is None else (index, tie_break, values)
    return np.lexsort(keys)


def choose(values: np.ndarray, tie_break: np.ndarray | None = None) -> int | None:
    """The index of the smallest objective; ties go to the smaller ``tie_break`` (when given),
    then to the earliest configuration drawn. None when every configuration diverged."""
    best = int(ranking(values, tie_break)[0])
    return best if np.isfinite(values[best]) else None


# ---- the whole tuning -----------------------------------------------------------------
def tune(config: TuneConfig, progress: Callable[[float], None] | None = None) -> TuneResult:
    """Every optimizer's ``budget`` configurations on every problem of the target, in
    float64 (a scoped setting: the caller's JAX configuration is left alone)."""
    from optlab._jax import float64

    t_start = time.perf_counter()
    with float64():
        objective, target, problems, plans = prepare(config)
        return tune_problems(config, problems, plans, objective, target, progress, t_start)


def tune_problems(
    config: TuneConfig,
    problems,
    plans,
    objective: Objective,
    target: str = "list",
    progress: Callable[[float], None] | None = None,
    t_start: float | None = None,
) -> TuneResult:
    """The tuning of already resolved problem records (a test can hand in a modified one)."""
    from optlab import api
    from optlab._jax import CompileClock, environment, float64

    t_start = time.perf_counter() if t_start is None else t_start
    split = {p.name: seed_split(p, config.seeds, config.heldout_seeds) for p in problems}
    log_every = {}
    for p in problems:
        n_runs = config.budget * len(split[p.name][0] + split[p.name][1])
        log_every[p.name] = config.log_every or api.default_log_every(config.steps, n_runs)
    from optlab.tune_report import manifest_for, protocol_text, summarise

    jobs = [(problem, plan) for problem in problems for plan in plans]
    with float64(), CompileClock() as clock:
        evaluations = _run_jobs(jobs, split, log_every, config, progress)
        env = environment()
    tune_rows, best_rows, traces = [], [], []
    for (problem, plan), ev in zip(jobs, evaluations, strict=True):
        rows, best, trace = summarise(problem, plan, ev, split[problem.name], objective, config)
        tune_rows += rows
        best_rows.append(best)
        if trace is not None:
            traces.append(trace)
    wall = time.perf_counter() - t_start
    caption = protocol_text(config, plans, objective, problems, split)
    manifest = manifest_for(config, target, objective, problems, plans, split, log_every, caption)
    manifest.update(env, wall_s=round(wall, 3), compile_s=round(clock.seconds, 3))
    manifest["workers"] = WORKERS
    manifest["traced"] = [  # compiled programs per problem x optimizer (1 unless p, q vary)
        {"problem": p.name, "spec": plan.spec, "traced": ev.traces}
        for (p, plan), ev in zip(jobs, evaluations, strict=True)
    ]
    best_trace = pd.concat(traces, ignore_index=True) if traces else pd.DataFrame()
    return TuneResult(
        config, pd.DataFrame(tune_rows), pd.DataFrame(best_rows), best_trace, manifest, caption
    )


def _run_jobs(jobs, split, log_every, config: TuneConfig, progress) -> list[Evaluation]:
    """Every (problem, optimizer) sweep; ``WORKERS`` at a time, so that one program compiles
    (XLA, without the GIL) while another runs. Programs are independent: the numbers do not
    depend on the order or the overlap."""
    from optlab import api

    dtype = api.DTYPES[config.dtype]
    weights = [
        max(1, p.dim) * len(split[p.name][0] + split[p.name][1]) * len(plan.grid)
        for p, plan in jobs
    ]
    bar = Progress(progress, [w / sum(weights) for w in weights])

    def job(k: int) -> Evaluation:
        problem, plan = jobs[k]
        seeds = split[problem.name]
        return evaluate(
            problem,
            plan,
            seeds[0] + seeds[1],
            steps=config.steps,
            log_every=log_every[problem.name],
            root_seed=config.root_seed,
            dtype=dtype,
            schedule=config.schedule,
            progress=bar.tick(k),
        )

    return in_parallel(job, len(jobs))
