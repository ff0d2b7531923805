"""optlab.optax: every registered optimizer works where optax's own transforms do.

Over the whole registry, in float32 and float64: ``optax.inject_hyperparams(olx.ID)``, an
empty params pytree, integer leaves (passed through, never setting a dtype), structural
options kept static, and hyperparameters a dtype cannot hold refused instead of rounded.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optlab.optax as olx
from optlab.optimizers import entries

IDS = list(entries())
DTYPES = [jnp.float32, jnp.float64]
STEPS = 8  # RAdam takes its first step at t = 6


@pytest.fixture(autouse=True)
def _standard_promotion():
    with jax.numpy_dtype_promotion("standard"):  # optax itself needs it
        yield


def tree(dtype):
    return {"b": jnp.full((2, 2), 0.5, dtype), "w": jnp.asarray([1.0, -2.0, 3.0], dtype)}


def grads_of(params):
    """Deterministic gradients of sum(x^2 + x) (zeros for integer leaves)."""

    def g(x):
        if jnp.issubdtype(x.dtype, jnp.floating):
            return 2 * x + 1
        return jnp.zeros_like(x)

    return jax.tree_util.tree_map(g, params)


def drive(tx, params, steps=STEPS, jit=True):
    state = tx.init(params)
    update = jax.jit(tx.update) if jit else tx.update
    for _ in range(steps):
        u, state = update(grads_of(params), state, params)
        params = optax.apply_updates(params, u)
    return params, state


def hyper(name, dtype):
    """A learning rate, and for aida_pq (default eps = 1e-50) an eps float32 can hold."""
    h = {"learning_rate": 1e-2}
    if name == "aida_pq" and dtype == jnp.float32:
        h["eps"] = 1e-30
    return h


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", IDS)
def test_inject_hyperparams_works_and_matches_the_direct_transform(name, dtype):
    h = hyper(name, dtype)
    injected = optax.inject_hyperparams(getattr(olx, name))(**h)
    got, state = drive(injected, tree(dtype))
    want, _ = drive(getattr(olx, name)(**h), tree(dtype), jit=False)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == jnp.float32 else {"rtol": 1e-13}
    for key in ("b", "w"):
        assert got[key].dtype == dtype
        assert np.all(np.isfinite(np.asarray(got[key])))
        # compiled with hyperparameters as arguments vs eager: rounding differs
        np.testing.assert_allclose(got[key], want[key], **tol)
    assert not np.array_equal(np.asarray(got["w"]), np.asarray(tree(dtype)["w"])), "no step"
    assert state.hyperparams["learning_rate"].dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", IDS)
def test_empty_params_and_integer_leaves(name, dtype):
    h = hyper(name, dtype)
    direct, injected = getattr(olx, name)(**h), optax.inject_hyperparams(getattr(olx, name))(**h)
    for tx in (direct, injected):
        assert drive(tx, {}, steps=1, jit=False)[0] == {}
        ints = {"count": jnp.arange(3, dtype=jnp.int32)}
        assert np.array_equal(drive(tx, ints, steps=1, jit=False)[0]["count"], np.arange(3))
    # "a_count" sorts first: an integer first leaf must not set the hyperparameters' dtype
    mixed = {"a_count": jnp.arange(3, dtype=jnp.int32), **tree(dtype)}
    got, _ = drive(injected, mixed, steps=2, jit=False)
    want, _ = drive(injected, tree(dtype), steps=2, jit=False)
    assert got["a_count"].dtype == jnp.int32
    assert np.array_equal(got["a_count"], np.arange(3))
    for key in ("b", "w"):
        np.testing.assert_array_equal(got[key], want[key])
    assert not np.array_equal(got["b"], tree(dtype)["b"]) or name == "radam"  # a step was taken


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("aida_k", {"k": 3}),
        ("laida", {"k": 0}),
        ("adamal", {"projection": "box", "lower": -0.5, "upper": 0.25}),
        ("adamal", {"projection": "ball", "radius": 0.5}),
        ("aida_pq", {"form": "b"}),
        ("fromage", {"p_bound": 0.5}),
    ],
)
def test_structural_options_stay_static_under_inject(name, options):
    h = {"learning_rate": 0.1}
    injected, state = drive(
        optax.inject_hyperparams(getattr(olx, name))(**h, **options), tree(jnp.float64)
    )
    direct, _ = drive(getattr(olx, name)(**h, **options), tree(jnp.float64))
    default, _ = drive(getattr(olx, name)(**h), tree(jnp.float64))
    assert set(state.hyperparams) <= set(entries()[name].make().hyper._fields)
    for key in ("b", "w"):  # arguments vs folded constants: a few ulp
        np.testing.assert_allclose(injected[key], direct[key], rtol=1e-14)
    assert any(not np.array_equal(direct[k], default[k]) for k in ("b", "w")), "option ignored"


def test_signature_lists_numbers_only():
    import inspect

    sig = inspect.signature(olx.aida_k)
    assert "k" not in sig.parameters and "layers" not in sig.parameters
    assert sig.parameters["learning_rate"].default == 1e-3
    assert sig.parameters["options"].kind is inspect.Parameter.VAR_KEYWORD


def test_unrepresentable_hyperparameter_is_refused_not_rounded():
    f32 = tree(jnp.float32)
    with pytest.raises(ValueError, match=r"eps=1e-50 rounds to 0 in float32"):
        olx.aida_pq(learning_rate=1e-3).init(f32)  # the default eps = 1e-50
    with pytest.raises(ValueError, match=r"eps arrived as 0 .* default 1e-50"):
        optax.inject_hyperparams(olx.aida_pq)(learning_rate=1e-3).init(f32)
    with pytest.raises(ValueError, match=r"learning_rate=1e\+39 overflows float32"):
        olx.adam(learning_rate=1e39).init(f32)
    olx.aida_pq(learning_rate=1e-3, eps=0.0).init(f32)  # an explicit 0 is what was asked for
    olx.aida_pq(learning_rate=1e-3, eps=1e-30).init(f32)
    olx.aida_pq(learning_rate=1e-3).init(tree(jnp.float64))  # float64 holds 1e-50


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="no hyperparameter or option"):
        olx.adam(learning_rat=1e-3)
