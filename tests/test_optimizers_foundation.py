"""aida_pq, adam, adamw, sgd, heavy_ball against NumPy transcriptions, optax and the
identities of docs/optimizers.md#identities."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import reference_impls as ref

from optlab.optimizers import entries


def make(name, **static):
    return entries()[name].make(**static)


def run_opt(opt, x0, grads, hyper):
    """Feed a fixed gradient sequence (trajectory-free) through a jitted scan; x_1..x_T."""

    @jax.jit
    def go(x0, grads, hyper):
        def body(c, g):
            x, s = opt.step(c[0], g, c[1], hyper)
            return (x, s), x

        return jax.lax.scan(body, (x0, opt.init(x0, hyper)), grads)[1]

    return np.asarray(go(x0, grads, hyper))


def gradients(steps=200, n=6, seed=0):
    rng = np.random.default_rng(seed)
    scale = np.exp(rng.normal(size=(1, n)))
    g = rng.normal(size=(steps, n)) * scale
    g[:, 0] *= 1e-3  # a small coordinate, so eps matters
    return g


def as_arrays(hyper):
    return jax.tree_util.tree_map(lambda v: jnp.asarray(v, jnp.float64), hyper)


AIDA_CASES = list(
    itertools.product([(2, 1), (2, 2), (1, 2), (1.5, 3)], ["a", "b"], [0.0, 1e-3], [1e-8, 1e-50])
)


@pytest.mark.parametrize("pq,form,mu,eps", AIDA_CASES)
def test_aida_pq_matches_algorithm_1(pq, form, mu, eps):
    """Zhang, Niwa, Kleijn (arXiv:2112.06125) Alg. 1 with the EMA order of eqs. (12)/(17) (Alg. 1
    prints the weights swapped: docs/optimizers.md#aida_pq). 200 steps, 1e-12 relative."""
    p, q = pq
    g = gradients()
    x0 = np.linspace(-1.0, 1.0, g.shape[1])
    hp = dict(learning_rate=1e-2, b1=0.9, b2=0.99, eps=eps, p=float(p), q=float(q), mu=mu)
    opt = make("aida_pq", form=form)
    got = run_opt(opt, jnp.asarray(x0), jnp.asarray(g), opt.hyper._replace(**hp))
    want = np.stack(
        ref.aida_pq(x0, g, lr=1e-2, b1=0.9, b2=0.99, eps=eps, p=p, q=q, mu=mu, form=form)
    )
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("form", ["a", "b"])
@pytest.mark.parametrize("pq", [(1, 2), (2, 1), (2, 2)])
def test_aida_pq_integer_fast_path_equals_traced_pow(form, pq):
    """Python-int exponents (no pow) and traced exponents give the same iterates."""
    g = gradients(150)
    x0 = jnp.ones(g.shape[1])
    opt = make("aida_pq", form=form)
    fast = opt.hyper._replace(p=pq[0], q=pq[1], learning_rate=1e-2)
    traced = as_arrays(fast)
    a = run_opt(opt, x0, jnp.asarray(g), fast)
    b = run_opt(opt, x0, jnp.asarray(g), traced)
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=0)


def test_aida_pq_defaults_are_the_paper_fig4_setting():
    h = make("aida_pq").hyper
    assert (h.b1, h.b2, h.mu, h.learning_rate, h.eps, h.p, h.q) == (
        0.9,
        0.99,
        0.0,
        1e-3,
        1e-50,
        1,
        2,
    )
    assert make("aida_pq").static == {"form": "a"}


@pytest.mark.parametrize("mu", [0.0, 1e-3])
def test_aida_21_form_a_is_adamw_with_unscaled_decay_and_eps_inside_root(mu):
    """docs/optimizers.md#identities (2): Aida(2, 1, form a) = Adam-E3 with x <- (1 - mu) x."""
    g = gradients(300)
    x0 = np.linspace(-2, 2, g.shape[1])
    opt = make("aida_pq", form="a")
    hp = opt.hyper._replace(p=2.0, q=1.0, mu=mu, eps=1e-8, learning_rate=3e-3, b2=0.999)
    got = run_opt(opt, jnp.asarray(x0), jnp.asarray(g), hp)
    want = np.stack(ref.adam(x0, g, lr=3e-3, b1=0.9, b2=0.999, eps=1e-8, mu=mu, eps_mode="E3"))
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("mu", [0.0, 1e-3])
def test_aida_21_with_eps_zero_equals_optax_adamw(mu):
    """docs/optimizers.md#identities (2): with eps = 0 both forms equal optax.adamw(eps=0,
    weight_decay=mu/lr)."""
    lr = 3e-3
    g = gradients(200)
    x0 = jnp.asarray(np.linspace(-2, 2, g.shape[1]))
    with jax.numpy_dtype_promotion("standard"):
        tx = optax.adamw(lr, b1=0.9, b2=0.999, eps=0.0, eps_root=0.0, weight_decay=mu / lr)
        x, s, want = x0, tx.init(x0), []
        for gt in g:
            u, s = tx.update(jnp.asarray(gt), s, x)
            x = optax.apply_updates(x, u)
            want.append(np.asarray(x))
    for form in ("a", "b"):
        opt = make("aida_pq", form=form)
        hp = opt.hyper._replace(p=2.0, q=1.0, mu=mu, eps=0.0, learning_rate=lr, b2=0.999)
        got = run_opt(opt, x0, jnp.asarray(g), hp)
        np.testing.assert_allclose(got, np.stack(want), rtol=1e-11)


def test_aida_zero_gradient_coordinate_with_eps_zero_gives_no_nan():
    """0/0 rule (docs/optimizers.md#numerics): r = 0 and m = 0 with eps = 0 -> no motion."""
    g = gradients(50)
    g[:, 2] = 0.0
    x0 = jnp.ones(g.shape[1])
    for form, pq in itertools.product("ab", [(1, 2), (2, 1), (1.5, 3)]):
        opt = make("aida_pq", form=form)
        hp = opt.hyper._replace(eps=0.0, p=pq[0], q=pq[1])
        xs = run_opt(opt, x0, jnp.asarray(g), as_arrays(hp))
        assert np.all(np.isfinite(xs))
        assert np.all(xs[:, 2] == 1.0)


@pytest.mark.parametrize("eps_mode", ["E1", "E2", "E3", "E4", "E5"])
def test_adam_eps_modes_match_numpy(eps_mode):
    g = gradients(200)
    x0 = np.linspace(-1, 1, g.shape[1])
    opt = make("adam", eps_mode=eps_mode)
    got = run_opt(opt, jnp.asarray(x0), jnp.asarray(g), opt.hyper._replace(eps=1e-6))
    want = np.stack(ref.adam(x0, g, lr=1e-3, b1=0.9, b2=0.999, eps=1e-6, eps_mode=eps_mode))
    np.testing.assert_allclose(got, want, rtol=1e-12)


def _optax_run(tx, x0, g):
    with jax.numpy_dtype_promotion("standard"):
        x, s, xs = x0, tx.init(x0), []
        for gt in g:
            u, s = tx.update(jnp.asarray(gt), s, x)
            x = optax.apply_updates(x, u)
            xs.append(np.asarray(x))
    return np.stack(xs)


def test_adam_equals_optax_adam():
    g = gradients(200)
    x0 = jnp.asarray(np.linspace(-1, 1, g.shape[1]))
    opt = make("adam")
    got = run_opt(opt, x0, jnp.asarray(g), opt.hyper._replace(learning_rate=1e-2))
    want = _optax_run(optax.adam(1e-2, b1=0.9, b2=0.999, eps=1e-8), x0, g)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_adam_e2_equals_optax_eps_root():
    g = gradients(200)
    x0 = jnp.asarray(np.linspace(-1, 1, g.shape[1]))
    opt = make("adam", eps_mode="E2")
    got = run_opt(opt, x0, jnp.asarray(g), opt.hyper._replace(eps=1e-6))
    want = _optax_run(optax.adam(1e-3, eps=0.0, eps_root=1e-6), x0, g)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_adamw_equals_optax_adamw():
    g = gradients(200)
    x0 = jnp.asarray(np.linspace(-1, 1, g.shape[1]))
    opt = make("adamw")
    hp = opt.hyper._replace(learning_rate=1e-2, weight_decay=0.05)
    got = run_opt(opt, x0, jnp.asarray(g), hp)
    want = _optax_run(optax.adamw(1e-2, weight_decay=0.05), x0, g)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    w = np.stack(
        ref.adam(np.asarray(x0), g, lr=1e-2, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.05)
    )
    np.testing.assert_allclose(got, w, rtol=1e-12)


def test_sgd_and_heavy_ball_match_numpy_and_optax():
    g = gradients(200)
    x0 = jnp.asarray(np.linspace(-1, 1, g.shape[1]))
    sgd = make("sgd")
    got = run_opt(sgd, x0, jnp.asarray(g), sgd.hyper._replace(learning_rate=0.1))
    np.testing.assert_allclose(got, np.stack(ref.sgd(x0, g, lr=0.1)), rtol=1e-12)
    for damp, nest in itertools.product([False, True], [False, True]):
        hb = make("heavy_ball", dampening=damp, nesterov=nest)
        got = run_opt(hb, x0, jnp.asarray(g), hb.hyper._replace(learning_rate=0.01, momentum=0.8))
        want = ref.heavy_ball(x0, g, lr=0.01, momentum=0.8, dampening=damp, nesterov=nest)
        np.testing.assert_allclose(got, np.stack(want), rtol=1e-12)
    hb = make("heavy_ball")
    got = run_opt(hb, x0, jnp.asarray(g), hb.hyper._replace(learning_rate=0.01, momentum=0.8))
    np.testing.assert_allclose(got, _optax_run(optax.sgd(0.01, momentum=0.8), x0, g), rtol=1e-12)


def test_dampened_heavy_ball_is_plain_heavy_ball_with_scaled_step():
    """docs/optimizers.md#identities (13): hb_ema(lr) = hb(lr (1 - beta))."""
    g = gradients(200)
    x0 = jnp.asarray(np.linspace(-1, 1, g.shape[1]))
    a = make("heavy_ball", dampening=True)
    b = make("heavy_ball")
    xa = run_opt(a, x0, jnp.asarray(g), a.hyper._replace(learning_rate=0.05, momentum=0.9))
    xb = run_opt(
        b, x0, jnp.asarray(g), b.hyper._replace(learning_rate=0.05 * (1 - 0.9), momentum=0.9)
    )
    np.testing.assert_allclose(xa, xb, rtol=1e-12)


def test_optax_view_trains_like_the_optlab_step():
    """optlab.optax.<id> is the same implementation behind optax's interface."""
    import optlab.optax as olx

    g = gradients(50)
    x0 = jnp.asarray(np.linspace(-1, 1, g.shape[1]))
    opt = make("aida_pq")
    want = run_opt(opt, x0, jnp.asarray(g), opt.hyper._replace(learning_rate=1e-2))
    tx = olx.aida_pq(learning_rate=1e-2)
    got = _optax_run(tx, x0, g)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    with jax.numpy_dtype_promotion("standard"):
        inj = optax.inject_hyperparams(olx.adam)(learning_rate=1e-2)
        s = inj.init(x0)
        u, _ = inj.update(jnp.asarray(g[0]), s, x0)
    assert np.all(np.isfinite(np.asarray(u)))
    with pytest.raises(TypeError):
        olx.adam(momentum=0.9)


@pytest.mark.parametrize("oid", ["sgd", "heavy_ball", "adam"])
def test_l2_equals_adding_half_lambda_norm_squared_to_f(oid):
    """docs/optimizers.md#identities (22): coupled decay l2 = lambda is the gradient of f + lambda/2
    ||x||^2."""
    from problems import get_problem

    p = get_problem("fun5", dim=6)
    lam = 0.3
    opt = make(oid)

    def go(loss, hyper):
        grad = jax.grad(loss)

        def body(c, _):
            x, s = opt.step(c[0], grad(c[0]), c[1], hyper)
            return (x, s), x

        return jax.lax.scan(body, (p.x0, opt.init(p.x0, hyper)), None, length=100)[1]

    h = opt.hyper._replace(learning_rate=1e-3)
    a = go(p.value, h._replace(l2=lam))
    b = go(lambda x: p.value(x) + 0.5 * lam * jnp.sum(x * x), h)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12)


def test_adam_without_bias_correction_matches_numpy():
    g = gradients(150)
    x0 = np.linspace(-1, 1, g.shape[1])
    opt = make("adam", bias_correction=False)
    got = run_opt(opt, jnp.asarray(x0), jnp.asarray(g), opt.hyper._replace(eps=0.0))
    want = ref.adam_no_bias_correction(x0, g, lr=1e-3, b1=0.9, b2=0.999, eps=0.0)
    np.testing.assert_allclose(got, np.stack(want), rtol=1e-12)
