"""The tables and the stated protocol of a tuning: per configuration, per winner, the winners'
curves, the caption and the manifest. Pure pandas/NumPy on the evaluations."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd

from optlab import search_space
from optlab.evaluate import Evaluation
from optlab.tune import (
    Objective,
    TuneConfig,
    choose,
    has_randomness,
    mean_loss,
    objective_values,
    options_text,
    ranking,
)


def _seed_text(seeds) -> str:
    if not seeds:
        return "none"
    if list(seeds) == list(range(seeds[0], seeds[0] + len(seeds))) and len(seeds) > 2:
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(str(s) for s in seeds)


def _hp(plan, i: int) -> dict:
    point = dict(zip(plan.grid.names, plan.grid.points[i], strict=True))
    return {f"hp_{d.name}": point[d.name] for d in plan.dims}


def summarise(problem, plan, ev: Evaluation, seeds, objective: Objective, config: TuneConfig):
    """(tune rows, best row, winner's trace frame) for one problem x optimizer."""
    tune_seeds, held = seeds
    t_idx = list(range(len(tune_seeds)))
    h_idx = list(range(len(tune_seeds), len(tune_seeds) + len(held)))
    values = objective_values(ev, t_idx, objective, config.steps)
    tie_break = mean_loss(ev, t_idx)
    n_div = (ev.div[:, t_idx] >= 0).sum(axis=1)
    win = choose(values, tie_break)
    rank = np.empty(len(values), int)
    rank[ranking(values, tie_break)] = np.arange(1, len(values) + 1)
    ident = {"problem": problem.name, "optimizer": plan.entry.id, "spec": plan.spec}
    options = {"problem_options": options_text(problem)}
    rows = [
        {
            **ident,
            "config": i,
            "label": plan.labels[i],
            **_hp(plan, i),
            "objective": values[i],
            "mean_loss": tie_break[i],
            "diverged_seeds": int(n_div[i]),
            "status": "ok" if np.isfinite(values[i]) else "diverged",
            "rank": int(rank[i]),
            "chosen": i == win,
        }
        for i in range(len(values))
    ]
    best = {
        **ident,
        **options,
        "label": plan.labels[win] if win is not None else "",
        "config": win if win is not None else -1,
        **(_hp(plan, win) if win is not None else {}),
        "objective": values[win] if win is not None else np.inf,
        "heldout_objective": np.nan,
        "heldout_diverged": 0,
        "tune_seeds": _seed_text(tune_seeds),
        "heldout_seeds": _seed_text(held),
        "steps": config.steps,
        "budget": len(values),
        "status": "ok" if win is not None else "every configuration diverged",
    }
    if win is None:
        return rows, best, None
    if h_idx:
        best["heldout_objective"] = objective_values(ev, h_idx, objective, config.steps)[win]
        best["heldout_diverged"] = int((ev.div[win, h_idx] >= 0).sum())
    trace = _winner_trace(ident, plan.labels[win], ev, win, seeds, problem.dim)
    return rows, best, trace


def _winner_trace(ident: dict, label: str, ev: Evaluation, win: int, seeds, dim: int):
    tune_seeds, held = seeds
    all_seeds = list(tune_seeds) + list(held)
    n, r = len(all_seeds), len(ev.steps)
    div = np.repeat(ev.div[win], r)
    step = np.tile(ev.steps, n)
    return pd.DataFrame(
        {
            **{k: np.repeat(v, n * r) for k, v in ident.items()},
            "label": np.repeat(label, n * r),
            "dim": np.repeat(dim, n * r),
            "seed": np.repeat(all_seeds, r),
            "split": np.repeat(["tune"] * len(tune_seeds) + ["heldout"] * len(held), r),
            "step": step,
            "loss": ev.loss[win].reshape(n * r),
            "gap": ev.gap[win].reshape(n * r),
            "diverged": (div >= 0) & (step >= div),
        }
    )


def protocol_text(config: TuneConfig, plans, objective: Objective, problems, split) -> str:
    """One paragraph that states the protocol, for captions and the console."""
    spaces = {"; ".join(d.text() for d in plan.dims) for plan in plans}
    if len(spaces) == 1:
        space = spaces.pop()
    else:
        space = "; ".join(f"{p.spec}: " + ", ".join(d.text() for d in p.dims) for p in plans)
    draw = (
        f"scrambled Sobol (seed {config.sample_seed})"
        if config.sampler == "sobol"
        else "a product grid"
    )
    schedule = "" if config.schedule == "constant" else " (learning rate / sqrt(t))"
    return (
        f"Tuned with equal budgets: {config.budget} configurations per optimizer by {draw} "
        f"over {space}; {config.steps} steps each{schedule}; objective: mean over tuning "
        f"seeds of {objective.text()}, diverged = +inf, ties to the lower mean loss over the "
        f"run, then to the earliest draw; x* and f* unused; {_seeds_text(problems, split)}."
    )


def _seeds_text(problems, split) -> str:
    random = [p for p in problems if has_randomness(p)]
    if not random:
        return "1 run per configuration (deterministic problems)"
    t, h = split[random[0].name]
    text = f"tuning seeds {_seed_text(t)}, " + (
        f"winner scored on held-out seeds {_seed_text(h)}" if h else "no held-out seeds"
    )
    return text + (" (deterministic problems: 1 run)" if len(random) < len(problems) else "")


def manifest_for(config, target, objective, problems, plans, split, log_every, caption) -> dict:
    return {
        "kind": "tune",
        "command": config.command,
        "config": config.to_dict(),
        "protocol": {
            "text": caption,
            "target": target,
            "budget": config.budget,
            "sampler": config.sampler,
            "sample_seed": config.sample_seed,
            "rounding_digits": search_space.DIGITS,
            "steps": config.steps,
            "objective": {**asdict(objective), "text": objective.text()},
            "diverged": "+inf",
            "ties": "lower mean loss over all records, then the earliest configuration drawn",
            "uses_x_star_or_f_star": False,
        },
        "problems": [
            {
                "name": p.name,
                "dim": p.dim,
                "f_star": p.f_star,
                "f_star_kind": p.f_star_kind,
                "randomness": has_randomness(p),
                "tune_seeds": split[p.name][0],
                "heldout_seeds": split[p.name][1],
                "log_every": log_every.get(p.name),
                "reference": p.reference,
            }
            for p in problems
        ],
        "optimizers": [
            {
                "spec": p.spec,
                "id": p.entry.id,
                "reference": p.opt.reference,
                "static": dict(p.opt.static),
                "defaults": {k: float(v) for k, v in p.opt.hyper._asdict().items()},
                "space": [d.to_dict() for d in p.dims],
                "configurations": len(p.grid),
                "programs_per_problem": len(p.grid.integer_groups(p.entry.integer_hypers)),
            }
            for p in plans
        ],
        "root_seed": config.root_seed,
        "dtype": config.dtype,
        "schedule": config.schedule,
    }
