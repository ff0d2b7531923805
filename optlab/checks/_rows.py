"""The rows of the contract: each takes the shared :class:`Lab` and returns a one-line
detail, or raises :class:`Failed` with what went wrong."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from optlab._jax import jax, jnp
from optlab.checks._lab import (
    ATOL,
    GAMMA,
    LR_FACTORS,
    OPTAX_STEPS,
    REFERENCE_STEPS,
    REFERENCE_TOL,
    STEPS,
    TREE_GAMMA,
    TREE_X0,
    X0,
    Failed,
    Lab,
    all_finite,
    close,
    first_bad_step,
    leaves,
    quadratic,
    trajectory_fn,
    tree_as,
)


def check_descends(lab: Lab) -> str:
    xs, _ = lab.default_run()
    bad = first_bad_step(xs)
    if bad is not None:
        raise Failed(f"not finite from step {bad} (defaults)")
    loss = quadratic(GAMMA)
    f0, ft = float(loss(jnp.asarray(X0))), float(loss(xs[-1]))
    if not ft < f0:
        raise Failed(f"f(x_T) = {ft:.4g} is not below f(x_0) = {f0:.4g} after {STEPS} steps")
    return f"f: {f0:.4g} -> {ft:.4g} in {STEPS} steps"


def check_zero_gradient(lab: Lab) -> str:
    xs, state = lab.run64(jnp.zeros_like(jnp.asarray(X0)), lab.hyper())
    bad = first_bad_step(xs)
    if bad is not None:
        raise Failed(f"x is not finite from step {bad} with g = 0 (started at x* = 0)")
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact) and not all_finite(leaf):
            raise Failed(f"state{jax.tree_util.keystr(path)} is not finite with g = 0")
    return f"{STEPS} steps with g = 0: max |x| = {max(np.abs(v).max() for v in leaves(xs)):.3g}"


def _signature(tree) -> dict:
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(p): (tuple(v.shape), np.dtype(v.dtype).name) for p, v in flat}


def _abstract_steps(lab: Lab, dtype, n: int = 2):
    """Shapes and dtypes of (params, state) at step 0, 1, .., n, by abstract evaluation
    (``jax.eval_shape``: nothing is compiled). A generator: a step that fails on what the
    previous one returned is only reached after that one was looked at."""
    opt = lab.opt
    x = tree_as(TREE_X0, dtype)
    h = lab.hyper(dtype)
    g = jax.grad(quadratic(TREE_GAMMA))(x)
    state = jax.eval_shape(opt.init, x, h)
    yield x, state
    for _ in range(n):
        x_new, state = jax.eval_shape(opt.step, x, g, state, h)
        yield x_new, state


def check_state(lab: Lab) -> str:
    for dtype in (jnp.float64, jnp.float32):
        steps = _abstract_steps(lab, dtype)
        first = next(steps)[1]
        struct0 = jax.tree_util.tree_structure(first)
        before = _signature(first)
        for t, (_, state) in enumerate(steps, start=1):
            if jax.tree_util.tree_structure(state) != struct0:
                raise Failed(f"the state's structure changes at step {t}")
            after = _signature(state)
            for name, sig in before.items():
                if after[name] != sig:
                    raise Failed(
                        f"state{name}: {sig[1]}{list(sig[0])} -> {after[name][1]}"
                        f"{list(after[name][0])} at step {t} ({np.dtype(dtype).name} params)"
                    )
    return f"{len(before)} leaves, float64 and float32"


def check_compiles_once(lab: Lab) -> str:
    lab.grid_runs()
    calls = 1 + len(LR_FACTORS)
    if lab.traces != 1:
        raise Failed(
            f"traced {lab.traces} times for {calls} runs that differ only in {lab.grid_key} "
            "(new values must not recompile)"
        )
    lab.run_all_changed()
    if lab.traces != 1:
        raise Failed("a run with every hyperparameter changed was traced again")
    factors = ", ".join(map(str, LR_FACTORS))
    return f"1 trace for {calls + 1} runs ({lab.grid_key} x {factors}; all values changed)"


def check_vmap(lab: Lab) -> str:
    singles = lab.grid_runs()
    hypers = [lab.hyper(**{lab.grid_key: v}) for v in lab.grid()]
    batch = jax.tree_util.tree_map(lambda *v: jnp.stack(v), *hypers)
    xs_batched, _ = jax.jit(jax.vmap(lab._raw, in_axes=(None, 0)))(jnp.asarray(X0), batch)
    worst = 0.0
    for i, (xs, _) in enumerate(singles):
        ok, err = close(np.asarray(xs_batched)[i], xs, 1e-12, ATOL)
        worst = max(worst, err)
        if not ok:
            raise Failed(f"grid point {i} differs from its separate run by {err:.3g}")
    return f"max |difference| {worst:.3g} over {len(singles)} points x {STEPS} steps"


def check_pytree(lab: Lab) -> str:
    loss = quadratic(TREE_GAMMA)
    x0 = tree_as(TREE_X0, jnp.float64)
    xs, _ = jax.jit(trajectory_fn(lab.opt, loss, STEPS))(x0, lab.hyper())
    final = jax.tree_util.tree_map(lambda v: v[-1], xs)
    if _signature(final) != _signature(x0):
        raise Failed(f"returned {_signature(final)} for parameters {_signature(x0)}")
    bad = first_bad_step(xs)
    if bad is not None:
        raise Failed(f"not finite from step {bad}")
    f0, ft = float(loss(x0)), float(loss(final))
    if not ft < f0:
        raise Failed(f"f(x_T) = {ft:.4g} is not below f(x_0) = {f0:.4g}")
    shapes = ", ".join(str(tuple(np.shape(v))) for v in jax.tree_util.tree_leaves(x0))
    return f"leaves {shapes}: f {f0:.4g} -> {ft:.4g}"


def check_float32(lab: Lab) -> str:
    steps = _abstract_steps(lab, jnp.float32)
    next(steps)
    for t, (x, state) in enumerate(steps, start=1):
        for name, (_, dtype) in _signature(x).items():
            if dtype != "float32":
                raise Failed(f"parameter {name} becomes {dtype} at step {t}")
        for name, (_, dtype) in _signature(state).items():
            if dtype.startswith("float") and dtype != "float32":
                raise Failed(f"state{name} is {dtype} with float32 parameters (step {t})")
    return "parameters and float state stay float32"


def _optax_trajectory(tx, steps: int) -> np.ndarray:
    """x_1..x_steps of an optax transformation on the quadratic, step by step (eager: a
    few steps cost less than compiling)."""
    import optax

    grad = jax.grad(quadratic(GAMMA))
    x = jnp.asarray(X0)
    out = []
    with jax.numpy_dtype_promotion("standard"):  # optax itself is not strict-clean
        state = tx.init(x)
        for _ in range(steps):
            updates, state = tx.update(grad(x), state, x)
            x = optax.apply_updates(x, updates)
            out.append(np.asarray(x))
    return np.stack(out)


def _compare_optax(got, xs, what: str) -> str:
    want = np.asarray(xs)[:OPTAX_STEPS]
    ok, err = close(got, want, 1e-12, ATOL)
    if not ok:
        raise Failed(f"{what} differs from the native step by {err:.3g} within {OPTAX_STEPS} steps")
    return f"max |difference| {err:.3g} over {OPTAX_STEPS} steps"


def check_optax(lab: Lab) -> str:
    from optlab.optax import from_entry

    got = _optax_trajectory(from_entry(lab.entry)(), OPTAX_STEPS)
    return _compare_optax(got, lab.default_run()[0], "the optax export")


def check_inject(lab: Lab) -> str:
    import optax

    from optlab.optax import from_entry

    value = lab.grid()[-1]
    with jax.numpy_dtype_promotion("standard"):
        tx = optax.inject_hyperparams(from_entry(lab.entry))(**{lab.grid_key: value})
    got = _optax_trajectory(tx, OPTAX_STEPS)
    detail = _compare_optax(got, lab.grid_runs()[-1][0], "inject_hyperparams")
    return f"{lab.grid_key}={value:g}: {detail}"


def reference_problem():
    """The reference run's gradient: gamma * x plus a fixed noise table (signs change)."""
    noise = np.random.default_rng(0).normal(scale=0.3, size=(REFERENCE_STEPS, X0.size))

    def grad(x, t):
        return GAMMA * np.asarray(x, np.float64) + noise[t - 1]

    return noise, grad


def check_reference(lab: Lab, reference: Callable) -> str:
    noise, grad = reference_problem()
    run = jax.jit(trajectory_fn(lab.opt, quadratic(GAMMA), REFERENCE_STEPS, jnp.asarray(noise)))
    xs, _ = run(jnp.asarray(X0), lab.hyper())
    hyper = {k: float(v) for k, v in lab.opt.hyper._asdict().items()}
    want = np.asarray(reference(X0.copy(), grad, REFERENCE_STEPS, hyper), np.float64)
    if want.shape != (REFERENCE_STEPS, X0.size):
        raise Failed(f"the reference returned shape {want.shape}, not {(REFERENCE_STEPS, X0.size)}")
    ok, err = close(np.asarray(xs), want, REFERENCE_TOL, REFERENCE_TOL)
    if not ok:
        diff = np.abs(np.asarray(xs) - want) > REFERENCE_TOL * (1 + np.abs(want))
        step = int(np.argmax(diff.any(axis=1))) + 1
        raise Failed(f"differs from the reference by {err:.3g} (first at step {step})")
    return f"max |difference| {err:.3g} over {REFERENCE_STEPS} steps"
