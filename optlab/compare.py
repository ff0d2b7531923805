"""``optlab profile``: gather runs (from result folders, or by running a suite, optionally at
each optimizer's tuned setting) and turn them into the three profiles of optlab.profiles.

Reads files and computes; writes nothing (the CLI saves).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optlab import profiles, suites
from optlab.errors import UsageError

UNTUNED = "Untuned: every optimizer at the hyperparameters given (defaults otherwise)"
TRACE_COLUMNS = ["problem", "solver", "seed", "step", "loss", "gap", "dim"]


@dataclass(frozen=True)
class ProfileConfig:
    """``optlab profile``: ``results`` (run, tune or profile folders) or ``suite`` with
    ``optimizers`` (run first, each at its tuned setting from ``tuned`` when given)."""

    results: tuple[str, ...] = ()
    suite: str | None = None
    optimizers: tuple[str, ...] = ()
    tuned: str | None = None
    steps: int | None = None  # None: the tuned horizon, else 1000
    seeds: int = 1
    log_every: int | None = None
    root_seed: int = 0
    dtype: str = "float64"
    tolerances: tuple[float, ...] = profiles.TOLERANCES
    out: str | None = None
    overwrite: bool = False
    command: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Evidence:
    """Runs to profile: ``trace`` has TRACE_COLUMNS (``solver`` names who ran)."""

    trace: pd.DataFrame
    budget: int
    protocol: str
    sources: list[str]
    ran: bool = False  # True when these runs were made by the profile itself


@dataclass
class ProfileResult:
    config: ProfileConfig
    evidence: Evidence
    costs: pd.DataFrame
    performance: pd.DataFrame
    data: pd.DataFrame
    ecdf: pd.DataFrame
    solved: pd.DataFrame
    caption: str
    manifest: dict


# ---- reading result folders ---------------------------------------------------------
def _read_manifest(folder: Path) -> dict:
    path = folder / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _from_tune(folder: Path, manifest: dict) -> tuple[pd.DataFrame, int, str]:
    df = pd.read_csv(folder / "best_trace.csv")
    held = df.groupby("problem")["split"].transform(lambda s: (s == "heldout").any())
    # the winner's held-out seeds where the problem has them: runs the choice never read
    df = df[np.where(held, df["split"] == "heldout", df["split"] == "tune")]
    steps = int(manifest.get("config", {}).get("steps") or df["step"].max())
    protocol = manifest.get("protocol", {}).get("text", "tuned (protocol not recorded)")
    random = {p["name"] for p in manifest.get("problems", []) if p.get("randomness")}
    if random - set(df.loc[df["split"] == "heldout", "problem"]):
        protocol = protocol.rstrip(".") + (
            ". Problems with randomness but no held-out seeds are profiled on the seeds that "
            "chose the setting"
        )
    df = df.rename(columns={"spec": "solver"})
    return (
        pd.concat([df, *_tune_failures(folder, manifest, steps)], ignore_index=True),
        steps,
        protocol,
    )


def _tune_failures(folder: Path, manifest: dict, steps: int) -> list[pd.DataFrame]:
    """Where every configuration diverged, best_trace.csv has no rows: the failures come
    from best.csv, so that they stay in the denominator."""
    from optlab import tuned

    path = folder / "best.csv"
    if not path.is_file():
        return []
    best = pd.read_csv(path, keep_default_na=False, dtype={"label": str})
    dims = {p["name"]: p["dim"] for p in manifest.get("problems", [])}
    return [
        _failed(
            row.problem,
            row.spec,
            tuned.evaluation_seeds(row._asdict()),
            steps,
            dims.get(row.problem, 0),
        )
        for row in best[best["label"] == ""].itertuples()
    ]


def _from_run(folder: Path, manifest: dict) -> tuple[pd.DataFrame, int, str]:
    df = pd.read_csv(folder / "trace.csv")
    if "solver" not in df.columns:
        one_each = df.groupby(["problem", "optimizer"])["label"].nunique().max() == 1
        df = df.assign(solver=df["optimizer"] if one_each else df["label"])
    if "dim" not in df.columns:
        df = df.assign(dim=manifest.get("problem", {}).get("dim", 0))
    steps = manifest.get("steps") or int(df["step"].max())
    return df, int(steps), manifest.get("protocol") or UNTUNED


def load_results(folders) -> Evidence:
    parts, budgets, protocols = [], set(), []
    for name in folders:
        folder = Path(name)
        if not folder.is_dir():
            raise UsageError(f"{name}: not a folder of results")
        manifest = _read_manifest(folder)
        if (folder / "best_trace.csv").is_file():
            df, steps, protocol = _from_tune(folder, manifest)
        elif (folder / "trace.csv").is_file():
            df, steps, protocol = _from_run(folder, manifest)
        else:
            raise UsageError(f"{name}: no trace.csv (run) or best_trace.csv (tune) in it")
        parts.append(df[TRACE_COLUMNS])
        budgets.add(steps)
        protocols.append(protocol)
    if len(budgets) > 1:
        raise UsageError(
            f"the results have different horizons ({', '.join(map(str, sorted(budgets)))} "
            "steps); profiles compare equal budgets"
        )
    trace = pd.concat(parts, ignore_index=True)
    runs = trace[["problem", "solver", "seed"]].drop_duplicates()
    per_folder = sum(len(p[["problem", "solver", "seed"]].drop_duplicates()) for p in parts)
    if len(runs) != per_folder:
        raise UsageError("a (problem, optimizer, seed) run appears in two result folders")
    check_complete(trace)
    protocol = " ".join(dict.fromkeys(p.rstrip(".") + "." for p in protocols))
    return Evidence(trace, budgets.pop(), protocol, [str(f) for f in folders])


def check_complete(trace: pd.DataFrame) -> None:
    """Every solver on every problem, with the same seeds: a profile needs the full table."""
    seeds = trace.groupby(["problem", "solver"])["seed"].apply(lambda s: tuple(sorted(set(s))))
    solvers = sorted(trace["solver"].unique())
    for problem in trace["problem"].unique():
        have = seeds.loc[problem]
        missing = [s for s in solvers if s not in have.index]
        if missing:
            raise UsageError(
                f"{problem}: no runs of {', '.join(missing)}; profiles need every optimizer "
                "on every problem"
            )
        if have.nunique() > 1:
            raise UsageError(f"{problem}: the optimizers ran different seeds")


# ---- profiling ----------------------------------------------------------------------
def profile(evidence: Evidence, tolerances=profiles.TOLERANCES) -> tuple:
    """Costs over the tolerances and the ECDF targets, the three profiles, a caption."""
    trace = evidence.trace
    costs_tol = profiles.cost_table(trace, list(tolerances))
    costs_ecdf = profiles.cost_table(trace, list(profiles.ECDF_TARGETS))
    perf, data = profiles.profile_tables(costs_tol, evidence.budget, tolerances)
    ecdf = profiles.runtime_ecdf(costs_ecdf, evidence.budget)
    solved = pd.DataFrame(
        [
            {"tolerance": tol, "solver": s, "fraction_solved": f}
            for tol in tolerances
            for s, f in profiles.fraction_solved(
                costs_tol[np.isclose(costs_tol["target"], tol, rtol=1e-12, atol=0)]
            ).items()
        ]
    )
    refs = profiles.reference_values(trace)
    return costs_tol.assign(kind="tolerance"), perf, data, ecdf, solved, refs


def caption_for(evidence: Evidence, refs: pd.DataFrame) -> str:
    trace = evidence.trace
    solvers = list(dict.fromkeys(trace["solver"]))
    problems = list(dict.fromkeys(trace["problem"]))
    runs = len(trace[["problem", "solver", "seed"]].drop_duplicates())
    instances = len(trace[["problem", "seed"]].drop_duplicates())
    n_best = int((refs["ref_kind"] == "best found").sum())
    reference = (
        "f* known on every problem"
        if n_best == 0
        else f"f* known on {len(refs) - n_best}, best value found over all runs used on {n_best}"
    )
    firsts = trace[trace["step"] > 0].groupby(["problem", "solver", "seed"])["step"].min()
    lo, hi = int(firsts.min()), int(firsts.max())
    every = (
        f"every {lo} to {hi} steps"
        if lo != hi
        else ("every step" if lo == 1 else f"every {lo} steps")
    )
    n_problems = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
    return (
        f"Solvers: {', '.join(solvers)} (performance profiles depend on this set). "
        f"Budget {evidence.budget} steps; {n_problems}, {instances} instances "
        f"(problem, seed), {runs} runs. Cost: first recorded step ({every}) with "
        f"(f - f_ref) <= tol (f(x0) - f_ref); {reference}; failures (never "
        f"reached, diverged) stay in the denominator. {evidence.protocol.rstrip('.')}."
    )


def manifest_for(config: ProfileConfig, evidence: Evidence, refs, caption: str, wall: float):
    from optlab._jax import environment

    return {
        "kind": "profile",
        "command": config.command,
        "config": config.to_dict(),
        "sources": evidence.sources,
        "protocol": evidence.protocol,
        "caption": caption,
        "budget_steps": evidence.budget,
        "solvers": list(dict.fromkeys(evidence.trace["solver"])),
        "problems": refs.to_dict(orient="records"),
        "tolerances": list(config.tolerances),
        "ecdf_targets": list(profiles.ECDF_TARGETS),
        "instance": "(problem, seed); every problem weighs the same",
        **environment(),
        "wall_s": round(wall, 3),
    }


def run_profile(config: ProfileConfig, progress=None) -> ProfileResult:
    """The whole command: gather (or run) the evidence, then profile it."""
    t_start = time.perf_counter()
    if bool(config.results) == bool(config.suite):
        raise UsageError("give result folders, or --suite with --opt (not both)")
    if config.suite:
        from optlab._jax import float64

        with float64():  # scoped: the caller's JAX configuration is left alone
            evidence = run_suite(config, progress)
    else:
        evidence = load_results(config.results)
    costs, perf, data, ecdf, solved, refs = profile(evidence, config.tolerances)
    caption = caption_for(evidence, refs)
    manifest = manifest_for(config, evidence, refs, caption, time.perf_counter() - t_start)
    return ProfileResult(config, evidence, costs, perf, data, ecdf, solved, caption, manifest)


# ---- running a suite ------------------------------------------------------------------
def _jobs(config: ProfileConfig, problems, tuned_best):
    """[(problem, solver, label, seeds)] checked before any work."""
    from optlab import tune, tuned

    jobs = []
    for problem in problems:
        if tuned_best is None:
            seeds = tune.seed_split(problem, config.seeds, 0)[0]
            jobs += [(problem, spec, spec, seeds) for spec in config.optimizers]
            continue
        for spec in tuned.specs_for(tuned_best, problem.name, config.optimizers):
            row = tuned.setting(tuned_best, problem.name, spec, tune.options_text(problem))
            jobs.append((problem, row["spec"], row["label"], tuned.evaluation_seeds(row)))
    return jobs


def _setup(config: ProfileConfig):
    from optlab import api, tuned

    if not config.optimizers and not config.tuned:
        raise UsageError("--suite needs --opt (or --tuned best.csv)")
    if config.seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {config.seeds}")
    _, specs = suites.resolve_target(config.suite)
    problems = [api.resolve_problem(spec) for spec in specs]
    best = tuned.read_best(config.tuned) if config.tuned else None
    steps = tuned.horizon(best, config.steps) if best else (config.steps or 1000)
    if steps < 1:
        raise UsageError(f"--steps must be >= 1, got {steps}")
    jobs = _jobs(config, problems, best)
    plans = {label: api.plan_optimizer(label, {}) for _, _, label, _ in jobs if label}
    for problem in problems:
        api.check_dtype(config.dtype, list(plans.values()), problem)
    if best is None:
        protocol = f"{UNTUNED}; {config.seeds} seed(s) per problem with randomness, 1 otherwise"
    else:
        protocol = (
            f"Each optimizer at its tuned setting from {config.tuned} ({best.protocol}); "
            "evaluated on the held-out seeds where the problem has them"
        )
    return jobs, plans, steps, protocol


def run_suite(config: ProfileConfig, progress=None) -> Evidence:
    """Every optimizer on every problem of the suite, at the given or the tuned setting."""
    from optlab import api, evaluate

    jobs, plans, steps, protocol = _setup(config)
    dtype = api.DTYPES[config.dtype]
    bar = evaluate.Progress(progress, [1 / len(jobs)] * len(jobs))

    def job(k: int) -> pd.DataFrame:
        problem, solver, label, seeds = jobs[k]
        if not label:  # tune found no configuration that did not diverge: a failure
            return _failed(problem.name, solver, seeds, steps, problem.dim)
        ev = evaluate.evaluate(
            problem,
            plans[label],
            seeds,
            steps=steps,
            log_every=config.log_every or api.default_log_every(steps, len(seeds)),
            root_seed=config.root_seed,
            dtype=dtype,
            progress=bar.tick(k),
        )
        return _frame(problem, solver, label, seeds, ev)

    trace = pd.concat(evaluate.in_parallel(job, len(jobs)), ignore_index=True)
    return Evidence(trace, steps, protocol, [config.suite], ran=True)


def _frame(problem, solver: str, label: str, seeds, ev) -> pd.DataFrame:
    n, r = len(seeds), len(ev.steps)
    step = np.tile(ev.steps, n)
    div = np.repeat(ev.div[0], r)
    return pd.DataFrame(
        {
            "problem": problem.name,
            "solver": solver,
            "label": label,
            "dim": problem.dim,
            "seed": np.repeat(seeds, r),
            "step": step,
            "loss": ev.loss[0].reshape(n * r),
            "gap": ev.gap[0].reshape(n * r),
            "diverged": (div >= 0) & (step >= div),
        }
    )


def _failed(problem: str, solver: str, seeds, steps: int, dim: int) -> pd.DataFrame:
    """Rows for a solver without a setting on this problem: no value ever, so every cost is
    infinite and the failure stays in the denominator."""
    n = len(seeds)
    return pd.DataFrame(
        {
            "problem": problem,
            "solver": solver,
            "label": "",
            "dim": dim,
            "seed": np.repeat(seeds, 2),
            "step": np.tile([0, steps], n),
            "loss": np.nan,
            "gap": np.nan,
            "diverged": True,
        }
    )
