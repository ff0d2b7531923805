"""The compiled runner against a plain Python loop, and its invariances."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optlab import runner
from optlab.optimizers import entries
from problems import get_problem


def batch(hyper, **values):
    """A Hyper of (G,) arrays: listed fields take the given values, others their default."""
    n = max(len(v) for v in values.values())
    return type(hyper)(
        **{
            k: jnp.asarray(values.get(k, [getattr(hyper, k)] * n), jnp.float64)
            for k in hyper._fields
        }
    )


def python_loop(problem, opt, hyper, steps):
    """x_0..x_T by calling the optimizer step one step at a time (no scan, no vmap)."""
    x = problem.x0
    state = opt.init(x, hyper)
    step = jax.jit(opt.step)
    xs = [np.asarray(x)]
    for _ in range(steps):
        x, state = step(x, jax.grad(problem.loss)(x, None), state, hyper)
        xs.append(np.asarray(x))
    return np.stack(xs)


@pytest.mark.parametrize("opt_id", ["aida_pq", "adam", "heavy_ball"])
def test_scan_equals_python_loop(opt_id):
    p = get_problem("fun5", dim=20)
    opt = entries()[opt_id].make()
    hyper = opt.hyper._replace(learning_rate=1e-2)
    xs = python_loop(p, opt, hyper, 60)
    trace = runner.make_run(p, opt, hyper, steps=60, log_every=1, record_x=True)
    np.testing.assert_allclose(trace.x[0, 0], xs, rtol=1e-12, atol=1e-300)
    want_gn = [float(jnp.linalg.norm(jax.grad(p.value)(jnp.asarray(x)))) for x in xs]
    np.testing.assert_allclose(trace.grad_norm[0, 0], want_gn, rtol=1e-12)
    assert list(trace.step) == list(range(61))


def test_log_every_does_not_change_shared_records():
    p = get_problem("fun5")
    opt = entries()["aida_pq"].make()
    every1 = runner.make_run(p, opt, steps=300, log_every=1)
    every7 = runner.make_run(p, opt, steps=300, log_every=7)
    assert list(every7.step[:3]) == [0, 7, 14] and every7.step[-1] == 300
    np.testing.assert_array_equal(every7.loss[0, 0], every1.loss[0, 0][every7.step])
    np.testing.assert_array_equal(every7.grad_norm[0, 0], every1.grad_norm[0, 0][every7.step])


def test_chunking_and_sharding_do_not_change_numbers(monkeypatch):
    p = get_problem("fun5", dim=10)
    opt = entries()["aida_pq"].make()
    h = batch(opt.hyper, learning_rate=[1e-3, 2e-3, 5e-3, 1e-2, 2e-2])
    ref = runner.make_sweep(p, opt, steps=200, log_every=10, devices=jax.devices()[:1]).run(
        h, [0, 1]
    )
    calls = runner.make_sweep(p, opt, steps=200, log_every=10, blocks_per_call=3).run(h, [0, 1])
    monkeypatch.setattr(runner, "CHUNK_ELEMENTS", 20)  # pieces of 2 grid points, last one padded
    pieces = runner.make_sweep(p, opt, steps=200, log_every=10).run(h, [0, 1])
    for other in (calls, pieces):
        np.testing.assert_array_equal(other.loss, ref.loss)
        np.testing.assert_array_equal(other.grad_norm, ref.grad_norm)
        np.testing.assert_array_equal(other.diverged_step, ref.diverged_step)


def test_grid_point_equals_a_separate_run():
    p = get_problem("fun5", dim=10)
    opt = entries()["adam"].make()
    lrs = [1e-3, 1e-2, 1e-1]
    sweep = runner.make_sweep(p, opt, steps=150, log_every=5).run(
        batch(opt.hyper, learning_rate=lrs), [0]
    )
    for i, lr in enumerate(lrs):
        single = runner.make_run(
            p, opt, opt.hyper._replace(learning_rate=lr), steps=150, log_every=5
        )
        np.testing.assert_allclose(sweep.loss[i, 0], single.loss[0, 0], rtol=1e-13)


def test_lr_grid_compiles_once():
    p = get_problem("fun5", dim=10)
    opt = entries()["adam"].make()
    sweep = runner.make_sweep(p, opt, steps=50, log_every=5)
    sweep.run(batch(opt.hyper, learning_rate=[1e-3, 1e-2, 1e-1]), [0])
    assert sweep.traces == 1


def test_divergence_is_data():
    """sgd with lr = 1 on fun5 blows up: recorded with its first step, metrics NaN after."""
    p = get_problem("fun5")
    opt = entries()["sgd"].make()
    tr = runner.make_sweep(p, opt, steps=200, log_every=1).run(
        batch(opt.hyper, learning_rate=[1.0, 1e-4]), [0]
    )
    d = int(tr.diverged_step[0, 0])
    assert 0 < d < 200 and int(tr.diverged_step[1, 0]) == -1
    assert np.all(np.isfinite(tr.loss[0, 0, :d])) and np.all(np.isnan(tr.loss[0, 0, d:]))
    assert np.all(np.isfinite(tr.loss[1, 0]))


def test_seeds_share_random_starts_and_batches():
    """Common random numbers: a problem's sample(key_t, t) and init(key) see the same keys
    for every optimizer; different seeds see different keys."""
    from dataclasses import replace

    base = get_problem("quadratic", gamma=(1.0, 4.0), x0=(1.0, 1.0))

    def loss(x, batch):
        return base.loss(x, None) + jnp.sum(batch * x)

    def sample(key, t):
        return jax.random.normal(key, (2,))

    def init(key):
        return jax.random.normal(key, (2,))

    noisy = replace(
        base, loss=loss, sample=sample, init=init, objective=lambda x: base.loss(x, None)
    )
    sgd, adam = entries()["sgd"].make(), entries()["adam"].make()
    a = runner.make_sweep(noisy, sgd, steps=20, log_every=1, record_x=True).run(
        batch(sgd.hyper, learning_rate=[0.1]), [0, 1]
    )
    b = runner.make_sweep(noisy, adam, steps=20, log_every=1, record_x=True).run(
        batch(adam.hyper, learning_rate=[0.1]), [0, 1]
    )
    np.testing.assert_array_equal(a.x[0, :, 0], b.x[0, :, 0])  # same random start per seed
    assert not np.array_equal(a.x[0, 0, 0], a.x[0, 1, 0])
    again = runner.make_sweep(noisy, sgd, steps=20, log_every=4, record_x=True).run(
        batch(sgd.hyper, learning_rate=[0.1]), [0, 1]
    )
    np.testing.assert_array_equal(again.x[0, :, -1], a.x[0, :, -1])  # log_every changes nothing


def test_float32_runs_in_float32():
    p = get_problem("fun5", dim=10)
    opt = entries()["adam"].make()
    tr = runner.make_sweep(p, opt, steps=20, log_every=5, dtype=jnp.float32, record_x=True).run(
        batch(opt.hyper, learning_rate=[1e-2]), [0]
    )
    assert tr.x.dtype == np.float32 and tr.loss.dtype == np.float32
