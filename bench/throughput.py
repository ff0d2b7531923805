"""Throughput of optlab's sweep against a fused C loop, optax in ``lax.scan`` and NumPy.

Coordinate-updates per second = configurations x dimension x steps / wall time, compile
excluded (each compiled variant runs once before it is timed); each rate is the best of
``--repeats`` timed runs (timeit's rule) and the spread (slowest / fastest) is printed
beside it. Every row is a ratio to the fused C kernel of ``ckernel.c`` (OpenMP over
configurations; one thread for a single configuration) and to a NumPy loop.

Before timing, the C kernel's iterates are checked against optlab's over
``CHECK_STEPS`` steps (relative 1e-12): the columns compare the same computation.

The single configuration is also split into a fixed cost per call (dispatch, transfers,
recording set-up) and a cost per step, by timing two step counts (wall time, best of many
calls: run it on an idle machine; the load average is printed). CPU time was tried and
dropped: XLA's runtime threads made it disagree with wall time by up to 5x for calls this
short (optax at 0.1 us per step, faster than the C loop itself).

    python bench/throughput.py [--steps 10000] [--configs 1,100,1000,10000] [--quick]
                               [--skip-cli]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from optlab.cli._process import configure_process

configure_process()  # a script owns its process: host devices, float64, compilation cache
sys.path.insert(0, str(Path(__file__).parent))
import ckernel  # noqa: E402

HP = {  # the defaults of each method's paper setting on the Andrei suite
    "adam": {"b1": 0.9, "b2": 0.999, "eps": 1e-8},
    "aida12": {"b1": 0.9, "b2": 0.99, "eps": 1e-50},
}
OPTLAB = {"adam": ("adam", None), "aida12": ("aida_pq", {"p": 1, "q": 2})}
CHECK_STEPS = 200
WORK_BUDGET = 2e9  # coordinate-updates per timed call (steps shrink for large grids)


def timed(once, repeats: int) -> tuple[float, float]:
    """(fastest, slowest) wall time of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    return min(times), max(times)


# ---- the contenders --------------------------------------------------------------------
def tridia_grad_np(x):
    i = np.arange(2, x.size + 1, dtype=x.dtype)
    r = 2 * x[1:] - x[:-1]
    g = np.zeros_like(x)
    g[0] = 2 * (x[0] - 1)
    g[1:] += 4 * i * r
    g[:-1] -= 2 * i * r
    return g


def numpy_aida12(n: int, steps: int, lr=1e-3, b1=0.9, b2=0.99, eps=1e-50):
    x, m, r = np.ones(n), np.zeros(n), np.zeros(n)
    for t in range(1, steps + 1):
        g = tridia_grad_np(x)
        m = b1 * m + (1 - b1) * g
        r = b2 * r + (1 - b2) * np.abs(g)
        rho = np.abs(m / (1 - b1**t)) / ((r + eps) / (1 - b2**t))
        x = x - lr * np.sign(m) * rho**2
    return x


def optlab_sweep(
    method: str, n: int, lrs, steps: int, dtype, log_every: int | None = None, record_x=False
):
    """A callable running optlab's compiled sweep (recording as ``optlab run`` does, about
    1000 records per run, unless ``log_every`` says)."""
    import jax.numpy as jnp

    from optlab.api import default_log_every
    from optlab.optimizers import entries
    from optlab.runner import make_sweep
    from problems import get_problem

    oid, fixed = OPTLAB[method]
    problem = get_problem("fun5", dim=n)
    opt = entries()[oid].make()
    values = {**opt.hyper._asdict(), **HP[method]}
    hyper = type(opt.hyper)(**{k: jnp.full(lrs.size, v, dtype) for k, v in values.items()})
    hyper = hyper._replace(learning_rate=jnp.asarray(lrs, dtype))
    sweep = make_sweep(
        problem,
        opt,
        steps=steps,
        log_every=log_every or default_log_every(steps, lrs.size),
        fixed=fixed,
        dtype=dtype,
        record_x=record_x,
    )
    return lambda: sweep.run(hyper, [0])


def optax_scan(method: str, n: int, steps: int):
    """optax (optlab's export) in a jitted ``lax.scan``: the single-configuration yardstick."""
    import jax
    import optax

    import optlab.optax as olx
    from problems import get_problem

    problem = get_problem("fun5", dim=n)
    oid, fixed = OPTLAB[method]
    tx = getattr(olx, oid)(learning_rate=1e-3, **HP[method], **(fixed or {}))

    @jax.jit
    def go(x):
        def body(c, _):
            x, s = c
            u, s = tx.update(jax.grad(problem.value)(x), s, x)
            return (optax.apply_updates(x, u), s), None

        return jax.lax.scan(body, (x, tx.init(x)), None, length=steps)[0][0]

    return lambda: jax.block_until_ready(go(problem.x0))


# ---- checks and rows ---------------------------------------------------------------------
def check_kernel(kernel, method: str, dtype) -> float:
    """Largest relative difference of the final iterates, C vs optlab, after CHECK_STEPS."""
    lrs = np.geomspace(1e-4, 1e-2, 3)
    trace = optlab_sweep(method, 100, lrs, CHECK_STEPS, dtype, record_x=True)()
    x_opt = np.asarray(trace.x[:, 0, -1], dtype=np.float64)
    x_c = kernel.run(method, np.ones(100, dtype), lrs, CHECK_STEPS, **HP[method])
    return float(np.max(np.abs(x_opt - x_c) / np.maximum(1.0, np.abs(x_opt))))


def sweep_row(kernel, method, n, configs, steps, dtype, repeats):
    steps = int(max(10, min(steps, WORK_BUDGET // (configs * n))))
    lrs = np.geomspace(1e-4, 1e-2, configs)
    work = configs * n * steps
    run = optlab_sweep(method, n, lrs, steps, dtype)
    run()  # compile
    best, worst = timed(run, repeats)
    row = {
        "variant": f"optlab {method} n={n} {np.dtype(dtype).name} {configs} cfg",
        "steps": steps,
        "rate": work / best,
        "spread": worst / best,
        "c_rate": None,
    }
    if kernel is not None:
        ckernel.set_threads(1 if configs == 1 else os.cpu_count() or 1)
        x0 = np.ones(n, dtype)
        c_best, _ = timed(lambda: kernel.run(method, x0, lrs, steps, **HP[method]), repeats)
        row["c_rate"] = work / c_best
    return row


def single_config_split(method: str, n: int, steps: int, repeats: int):
    """(fixed cost per call in s, cost per step in s) for optlab and for optax-scan: the
    best wall time of ``5 x repeats`` calls at 10 steps (the cost per call) and at
    ``steps`` (the cost per step, by difference)."""
    import jax.numpy as jnp

    contenders = {
        "optlab": lambda t: optlab_sweep(method, n, np.array([1e-3]), t, jnp.float64),
        "optlab, 2 records": lambda t: optlab_sweep(
            method, n, np.array([1e-3]), t, jnp.float64, log_every=t
        ),
        "optax-scan": lambda t: optax_scan(method, n, t),
    }
    out = {}
    for name, make in contenders.items():
        times = []
        for t in (10, steps):
            run = make(t)
            run()
            times.append(timed(run, 5 * repeats)[0])
        per_step = (times[1] - times[0]) / (steps - 10)
        out[name] = (times[0] - per_step * 10, per_step)
    return out


def end_to_end(runs: int = 3) -> list[float]:
    exe = shutil.which("optlab") or os.path.join(os.path.dirname(sys.executable), "optlab")
    times = []
    for _ in range(runs):  # the first may compile; the others find the persistent cache
        out = tempfile.mkdtemp()
        t0 = time.perf_counter()
        subprocess.run(
            [exe, "run", "fun5", "--p", "1", "--q", "2", "--out", out, "--overwrite"],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - t0)
        shutil.rmtree(out)
    return times


# ---- report ---------------------------------------------------------------------------------
def print_rows(rows, numpy_rate):
    print(
        f"{'variant':44s} {'steps':>6s} {'coord-upd/s':>12s} {'spread':>7s} "
        f"{'x C':>6s} {'x NumPy':>8s}"
    )
    for r in rows:
        xc = f"{r['rate'] / r['c_rate']:6.2f}" if r["c_rate"] else f"{'-':>6s}"
        print(
            f"{r['variant']:44s} {r['steps']:6d} {r['rate']:12.3g} {r['spread']:7.2f} "
            f"{xc} {r['rate'] / numpy_rate:8.1f}"
        )
        if r["c_rate"]:
            print(f"{'  fused C kernel':44s} {r['steps']:6d} {r['c_rate']:12.3g}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--configs", default="1,100,1000,10000")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="n = 100, float64, Aida only")
    ap.add_argument("--skip-cli", action="store_true")
    args = ap.parse_args()

    # a benchmark configures its own process as the CLI does: one XLA device per core
    # (sweeps shard over them) and float64
    n_dev = os.cpu_count() or 1
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={n_dev}"
    )
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    kernel, note = ckernel.load()
    print(
        f"jax {jax.__version__}, {len(jax.devices())} devices ({jax.default_backend()}), "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; C kernel: "
        f"{'OpenMP' if kernel and kernel.openmp else note or 'no OpenMP'}"
    )
    methods = ("aida12",) if args.quick else ("adam", "aida12")
    dtypes = (jnp.float64,) if args.quick else (jnp.float64, jnp.float32)
    if kernel is not None:
        for method in methods:
            err = check_kernel(kernel, method, jnp.float64)
            print(f"C kernel vs optlab, {method}, {CHECK_STEPS} steps: max rel diff {err:.1e}")
            if err > 1e-12:
                sys.exit(f"C kernel disagrees with optlab ({err:.1e} > 1e-12): not timing")
    t_np = timed(lambda: numpy_aida12(100, 2000), 3)[0]
    numpy_rate = 100 * 2000 / t_np
    print(f"NumPy loop, aida12 n=100, 1 config: {numpy_rate:.3g} coord-updates/s")
    rows = []
    for method in methods:
        for n in (100,) if args.quick else (100, 10_000):
            for dtype in dtypes:
                for c in (int(v) for v in args.configs.split(",")):
                    if n * c > 1e7:
                        continue
                    rows.append(sweep_row(kernel, method, n, c, args.steps, dtype, args.repeats))
    print_rows(rows, numpy_rate)
    split = single_config_split("aida12", 100, args.steps, args.repeats)
    for name, (fixed, per_step) in split.items():
        print(
            f"single config, {name:17s} (wall): {fixed * 1e3:7.3f} ms per call + "
            f"{per_step * 1e6:7.3f} us per step ({100 / per_step:.3g} coord-updates/s)"
        )
    if not args.skip_cli:
        times = end_to_end()
        print("optlab run fun5 --p 1 --q 2 end to end: " + ", ".join(f"{t:.2f} s" for t in times))


if __name__ == "__main__":
    main()
