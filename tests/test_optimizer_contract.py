"""The contract every registered optimizer keeps (docs/architecture.md#tests), run over the
whole registry: new optimizer files are picked up automatically."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optlab.optimizers import entries

IDS = sorted(entries())
GAMMA = {"a": jnp.asarray([1.0, 3.0, 10.0]), "b": jnp.asarray([[2.0, 0.5], [4.0, 1.0]])}


def loss(params):
    return sum(0.5 * jnp.sum(GAMMA[k].astype(params[k].dtype) * params[k] ** 2) for k in params)


def start(dtype=jnp.float64):
    return {
        "a": jnp.asarray([1.0, -0.5, 0.25], dtype),
        "b": jnp.asarray([[0.3, -1.0], [0.7, 0.2]], dtype),
    }


def run(opt, hyper, params, steps):
    grad = jax.grad(loss)

    def body(c, _):
        x, s = opt.step(c[0], grad(c[0]), c[1], hyper)
        return (x, s), None

    return jax.lax.scan(body, (params, opt.init(params, hyper)), None, length=steps)[0]


def with_lr(opt, lr):
    return (
        opt.hyper._replace(learning_rate=lr) if "learning_rate" in opt.hyper._fields else opt.hyper
    )


@pytest.mark.parametrize("oid", IDS)
def test_finite_and_descends_on_a_convex_quadratic(oid):
    opt = entries()[oid].make()
    x, _ = jax.jit(lambda p: run(opt, opt.hyper, p, 300))(start())
    leaves = jax.tree_util.tree_leaves(x)
    assert all(np.all(np.isfinite(np.asarray(v))) for v in leaves)
    assert float(loss(x)) < float(loss(start()))


@pytest.mark.parametrize("oid", IDS)
def test_state_shapes_and_dtypes_are_stable(oid):
    opt = entries()[oid].make()
    for dtype in (jnp.float64, jnp.float32):
        p = start(dtype)
        # the runner and the optax view hand hyperparameters over in the parameters' dtype
        hyper = jax.tree_util.tree_map(lambda v, d=dtype: jnp.asarray(v, d), opt.hyper)
        s0 = opt.init(p, hyper)
        x, s = jax.jit(lambda p, hyper=hyper: run(opt, hyper, p, 5))(p)
        shape = lambda t: jax.tree_util.tree_map(lambda v: (jnp.shape(v), jnp.result_type(v)), t)  # noqa: E731
        assert jax.tree_util.tree_structure(s0) == jax.tree_util.tree_structure(s)
        assert shape(s0) == shape(s)
        assert shape(x) == shape(p)  # float32 params stay float32


@pytest.mark.parametrize("oid", IDS)
def test_compiles_once_and_vmap_equals_separate_runs(oid):
    opt = entries()[oid].make()
    traces = []

    def one(hyper):
        traces.append(1)
        return run(opt, hyper, start(), 40)[0]

    step = jax.jit(one)
    lrs = [1e-3, 3e-3, 1e-2]
    hypers = [jax.tree_util.tree_map(jnp.asarray, with_lr(opt, lr)) for lr in lrs]
    hypers = [jax.tree_util.tree_map(lambda v: jnp.asarray(v, jnp.float64), h) for h in hypers]
    singles = [step(h) for h in hypers]
    assert len(traces) == 1  # new hyperparameter values do not recompile
    batch = jax.tree_util.tree_map(lambda *v: jnp.stack(v), *hypers)
    batched = jax.vmap(one)(batch)
    for i, single in enumerate(singles):
        for a, b in zip(
            jax.tree_util.tree_leaves(single), jax.tree_util.tree_leaves(batched), strict=True
        ):
            np.testing.assert_allclose(np.asarray(b)[i], np.asarray(a), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("oid", IDS)
def test_has_docs_and_listing_fields(oid):
    e = entries()[oid]
    opt = e.make()
    mod = __import__(f"optlab.optimizers.{oid}", fromlist=["x"])
    assert mod.__doc__ and "epart" in mod.__doc__  # a "Departures" note
    assert opt.name == oid and e.paper and e.eps and e.decay and e.summary
    s = opt.init(start(), opt.hyper)
    assert s._fields[0] == "count"
