"""Shared set-up of the optimizer-vs-reference tests (test_opt_baselines, test_opt_seeds):
a random pytree with leaves of several shapes, noisy gradients g_t = c (n_t + kappa x), the
tolerances, an optax driver and the NumPy reference driver. No algorithm lives here."""

from __future__ import annotations

import numpy as np
import optax

from optlab._jax import jax, jnp

SHAPES = {"a": (3,), "b": (2, 4), "c": (5,)}
T = 120
KAPPA = 0.1
RTOL, ATOL = 1e-10, 1e-13


def problem(seed=0, shapes=SHAPES, steps=T):
    rng = np.random.default_rng(seed)
    x0 = {k: rng.normal(size=s) for k, s in shapes.items()}
    noise = {k: rng.normal(size=(steps, *s)) for k, s in shapes.items()}
    return x0, noise


X0, NOISE = problem()


def as_hyper(opt, **overrides):
    h = opt.hyper._replace(**overrides)
    return type(h)(*(jnp.asarray(v, jnp.float64) for v in h))


def run_optax(tx, x0=X0, noise=NOISE, c=1.0, kappa=KAPPA):
    """x_t of an optax transformation on the same gradients, shape {leaf: (T, *shape)}."""

    def run(x0, noise):
        def body(carry, n_t):
            x, s = carry
            g = jax.tree_util.tree_map(lambda n, x: c * (n + kappa * x), n_t, x)
            u, s = tx.update(g, s, x)
            x = optax.apply_updates(x, u)
            return (x, s), x

        return jax.lax.scan(body, (x0, tx.init(x0)), noise)[1]

    with jax.numpy_dtype_promotion("standard"):
        out = jax.jit(run)(x0, noise)
    return {k: np.asarray(v) for k, v in out.items()}


def assert_tree_close(a, b, rtol=RTOL, atol=ATOL):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=atol, err_msg=f"leaf {k}")


def reference_run(opt, grad_fn, steps, lr_schedule=None):
    """Trajectory {leaf: array (steps, *shape)} of a NumPy reference optimizer (its
    ``step(grads)`` updates ``params`` in place); grad_fn(params, t) with t = 1, 2, ...;
    lr_schedule(t) sets hp["lr"] before step t, as a torch scheduler sets the group's lr."""
    traj = {k: [] for k in opt.params}
    for t in range(1, steps + 1):
        if lr_schedule is not None:
            opt.hp["lr"] = lr_schedule(t)
        opt.step(grad_fn(opt.params, t))
        for k, v in opt.params.items():
            traj[k].append(v.copy())
    return {k: np.stack(v) for k, v in traj.items()}
