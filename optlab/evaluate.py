"""Running a set of configurations of one optimizer on one problem, and running several such
sweeps at once (one compiles while another runs).

Used by ``optlab tune`` and ``optlab profile --suite``; computes and returns arrays.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

# sweeps in flight at once: compiling one program overlaps running another
WORKERS = int(os.environ.get("OPTLAB_TUNE_WORKERS", 2))


@dataclass
class Evaluation:
    """One optimizer's configurations on one problem: arrays [config, seed, record]."""

    steps: np.ndarray
    loss: np.ndarray
    gap: np.ndarray
    div: np.ndarray  # [config, seed]: first non-finite step, -1 if none
    traces: int = 0  # times a program was traced (compiled) for these configurations


def evaluate(
    problem,
    plan,
    seeds,
    *,
    steps: int,
    log_every: int,
    root_seed: int = 0,
    dtype=np.float64,
    schedule: str = "constant",
    progress: Callable | None = None,
) -> Evaluation:
    """Every configuration of ``plan`` on ``problem`` for every seed: one compiled program
    per integer-exponent group (one in all for most optimizers). Runs in float64 in this
    thread whatever the caller's setting (a worker thread does not inherit the scope)."""
    from optlab._jax import float64

    with float64():
        return _evaluate(
            problem, plan, seeds, steps, log_every, root_seed, dtype, schedule, progress
        )


def _evaluate(problem, plan, seeds, steps, log_every, root_seed, dtype, schedule, progress):
    from optlab.runner import make_sweep

    n = len(plan.grid)
    loss = gap = div = record = None
    done = traces = 0
    for fixed, idx in plan.grid.integer_groups(plan.entry.integer_hypers):
        sweep = make_sweep(
            problem,
            plan.opt,
            steps=steps,
            log_every=log_every,
            fixed=fixed,
            dtype=dtype,
            schedule=schedule,
        )
        hyper = plan.grid.batch(type(plan.opt.hyper), idx, dtype)
        trace = sweep.run(hyper, seeds, root_seed, _share(progress, done, len(idx), n))
        done += len(idx)
        traces += sweep.traces
        if loss is None:
            shape = (n, len(seeds), len(trace.step))
            loss, gap = np.full(shape, np.nan), np.full(shape, np.nan)
            div, record = np.full(shape[:2], -1, np.int64), trace.step
        loss[idx], gap[idx], div[idx] = trace.loss, trace.gap, trace.diverged_step
    return Evaluation(np.asarray(record), loss, gap, div, traces)


def _share(progress, base: int, size: int, total: int):
    """A sweep's (done, calls) ticks as the fraction of the whole evaluation."""
    if progress is None:
        return None
    return lambda done, calls: progress((base + size * done / calls) / total)


class Progress:
    """Thread-safe sum of the jobs' fractions done, each weighted by its share of work."""

    def __init__(self, progress, shares):
        self.progress, self.shares = progress, shares
        self.done = [0.0] * len(shares)
        self.lock = threading.Lock()

    def tick(self, k: int):
        if self.progress is None:
            return None

        def update(frac: float) -> None:
            with self.lock:
                self.done[k] = frac
                self.progress(
                    min(1.0, sum(s * d for s, d in zip(self.shares, self.done, strict=True)))
                )

        return update


def in_parallel(job: Callable[[int], object], n: int) -> list:
    """``[job(0), ..., job(n-1)]``, WORKERS at a time, in order."""
    if WORKERS <= 1 or n <= 1:
        return [job(k) for k in range(n)]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(job, range(n)))
