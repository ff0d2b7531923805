"""Throughput of Aida(p=1, q=2) on fun5 (n = 100), side by side, as ratios to a NumPy loop.

Coordinate-updates per second = configurations x dimension x steps / wall time (compile
excluded: each compiled variant is run once before it is timed; the fastest of 3 timed runs
counts, 1 for the largest sweeps). Also times the end-to-end
command `optlab run fun5 --p 1 --q 2` (startup, compile, 10^4 steps, outputs).

    python bench/throughput.py [--steps 10000] [--configs 1,100,1000,10000] [--skip-cli]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from optlab.cli._process import configure_process

configure_process()  # a script owns its process: host devices, float64, compilation cache

N = 100
LR, B1, B2, EPS = 1e-3, 0.9, 0.99, 1e-50
REPEATS = 3


def tridia_grad_np(x):
    i = np.arange(2, x.size + 1, dtype=np.float64)
    r = 2 * x[1:] - x[:-1]
    g = np.zeros_like(x)
    g[0] = 2 * (x[0] - 1)
    g[1:] += 4 * i * r
    g[:-1] -= 2 * i * r
    return g


def best_rate(work: float, once, repeats: int = REPEATS) -> float:
    """work / the fastest of ``repeats`` timed calls (timeit's rule: the minimum is the
    least disturbed by whatever else the machine is doing)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    return work / min(times)


def numpy_loop(steps):
    return best_rate(N * steps, lambda: _numpy_loop(steps))


def _numpy_loop(steps):
    x, m, r = np.ones(N), np.zeros(N), np.zeros(N)
    for t in range(1, steps + 1):
        g = tridia_grad_np(x)
        m = B1 * m + (1 - B1) * g
        r = B2 * r + (1 - B2) * np.abs(g)
        bc1, bc2 = 1 - B1**t, 1 - B2**t
        rho = np.abs(m / bc1) / ((r + EPS) / bc2)
        x = x - LR * np.sign(m) * rho**2
    return x


def optax_scan(steps):
    import jax
    import optax

    import optlab.optax as olx
    from problems import get_problem

    p = get_problem("fun5")
    tx = olx.aida_pq(learning_rate=LR, p=1, q=2)

    @jax.jit
    def go(x):
        def body(c, _):
            x, s = c
            u, s = tx.update(jax.grad(p.value)(x), s, x)
            return (optax.apply_updates(x, u), s), None

        return jax.lax.scan(body, (x, tx.init(x)), None, length=steps)[0][0]

    jax.block_until_ready(go(p.x0))
    return best_rate(N * steps, lambda: jax.block_until_ready(go(p.x0)))


def torch_loop(steps):
    try:
        import torch
        from pytorch_optimizer import Adam  # noqa: F401  (pytorch_optimizer has no Aida(p, q))
    except ImportError:
        return None
    torch.set_default_dtype(torch.float64)
    x = torch.ones(N, requires_grad=True)
    opt = torch.optim.Adam([x], lr=LR, betas=(B1, B2), eps=1e-8)
    i = torch.arange(2, N + 1, dtype=torch.float64)

    def once():
        for _ in range(steps):
            opt.zero_grad()
            loss = (x[0] - 1) ** 2 + (i * (2 * x[1:] - x[:-1]) ** 2).sum()
            loss.backward()
            opt.step()

    return best_rate(N * steps, once)


def optlab_sweep(steps, configs):
    import jax.numpy as jnp

    from optlab.optimizers import entries
    from optlab.runner import make_sweep
    from problems import get_problem

    p = get_problem("fun5")
    opt = entries()["aida_pq"].make()
    lrs = np.geomspace(1e-4, 1e-2, configs)
    hyper = type(opt.hyper)(**{k: jnp.full(configs, v) for k, v in opt.hyper._asdict().items()})
    hyper = hyper._replace(learning_rate=jnp.asarray(lrs))
    sweep = make_sweep(p, opt, steps=steps, log_every=max(1, steps // 100), fixed={"p": 1, "q": 2})
    sweep.run(hyper, [0])  # compile
    return best_rate(configs * N * steps, lambda: sweep.run(hyper, [0]), 3 if configs < 1000 else 1)


def end_to_end():
    exe = shutil.which("optlab") or os.path.join(os.path.dirname(sys.executable), "optlab")
    times = []
    for _ in range(2):  # the second run finds the persistent compilation cache
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--configs", default="1,100,1000,10000")
    ap.add_argument("--skip-cli", action="store_true")
    args = ap.parse_args()
    steps = args.steps
    base = numpy_loop(min(steps, 5000))
    rows = [("NumPy loop (1 config)", base)]
    rows.append(("optax + lax.scan (1 config)", optax_scan(steps)))
    rows.append(("torch Adam, Python loop (1 config)", torch_loop(min(steps, 5000))))
    for c in (int(v) for v in args.configs.split(",")):
        rows.append((f"optlab sweep, {c} configs", optlab_sweep(steps, c)))
    import jax

    print(
        f"fun5 (n = {N}), aida_pq p=1 q=2, {steps} steps; jax {jax.__version__}, "
        f"{len(jax.devices())} host devices, {os.cpu_count()} cores"
    )
    print(f"{'variant':40s} {'coord-updates/s':>16s} {'x NumPy':>9s}")
    for name, rate in rows:
        if rate is None:
            print(f"{name:40s} {'skipped (torch / pytorch_optimizer not installed)':>26s}")
        else:
            print(f"{name:40s} {rate:16.3g} {rate / base:9.1f}")
    if not args.skip_cli:
        first, second = end_to_end()
        print(
            f"optlab run fun5 --p 1 --q 2 end to end: {first:.2f} s (first), "
            f"{second:.2f} s (cached)"
        )


if __name__ == "__main__":
    main()
