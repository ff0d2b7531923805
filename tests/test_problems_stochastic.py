"""Stochastic and online records against docs/problems.md#noisy-quadratic-models,
#reddi-counterexamples, #chen (float64, strict promotion).

Randomness follows docs/architecture.md#runner: key_t = fold_in(fold_in(root, seed), t), t = 1, 2,
...; a random start uses fold_in(fold_in(root, seed), 0).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optlab import runner
from optlab.optimizers import entries
from problems import PROBLEMS, get_problem

ROOT = jax.random.PRNGKey(0)
IDS = ["nqm", "nqm_zhang", "chen", "reddi_online", "reddi_stochastic", "reddi_thm1"]
SMALL = {"nqm_zhang": {"dim": 6}}  # keep the 1e4-dimensional default out of slow paths
F_STAR = {
    "nqm": 0.0,
    "nqm_zhang": 0.0,
    "chen": 0.0,
    "reddi_online": -10 / 101,  # per-period average of 1010x - 100*10x at x = -1
    "reddi_stochastic": -0.2,  # E f(-1) = -(0.01*1010 - 0.99*10)
    "reddi_thm1": -1 / 3,  # (C - 2)/3 * (-1) at the default C = 3
}


def seed_key(seed):
    return jax.random.fold_in(ROOT, seed)


def key_t(seed, t):
    return jax.random.fold_in(seed_key(seed), t)


def many_keys(n, t=1):
    return jax.jit(jax.vmap(lambda s: key_t(s, t)))(jnp.arange(n, dtype=jnp.uint32))


def over_keys(fn, n, t=1):
    """fn(key_t(seed, t), t) for seeds 0..n-1, in one compiled call."""
    return jax.jit(jax.vmap(fn, in_axes=(0, None)))(many_keys(n, t), jnp.int32(t))


def small(pid):
    return get_problem(pid, **SMALL.get(pid, {}))


def start(p, seed=0):
    return p.init(jax.random.fold_in(seed_key(seed), 0)) if p.init is not None else p.x0


# ---- every record ---------------------------------------------------------------------
def test_registered_with_defaults():
    for pid in IDS:
        entry = PROBLEMS[pid]
        p = entry.make()
        assert p.name == pid and p.sample is not None and p.reference
        assert p.f_star == pytest.approx(F_STAR[pid], abs=1e-12)
        assert p.f_star_kind == "global"
        for key, value in entry.defaults.items():  # the listed defaults are the factory's
            if value is not None:  # (a scalar sigma is stored per coordinate)
                np.testing.assert_allclose(np.asarray(p.options[key]), value, rtol=1e-15)
    assert {"stochastic"} <= PROBLEMS["nqm"].tags and {"online"} <= PROBLEMS["reddi_online"].tags


@pytest.mark.parametrize("pid", IDS)
def test_minimiser_feasibility_and_projection(pid):
    p = small(pid)
    x_star = jnp.atleast_1d(p.x_star)
    assert float(p.value(x_star)) == pytest.approx(p.f_star, abs=1e-15)
    x0 = start(p)
    np.testing.assert_array_equal(p.project(x0), x0)  # x0 feasible
    z = jnp.asarray(np.random.default_rng(5).normal(size=(50, p.dim)) * 3)
    once = jax.vmap(p.project)(z)
    np.testing.assert_array_equal(jax.vmap(p.project)(once), once)  # idempotent
    g = jax.grad(p.value)(x_star)
    if "constrained" in p.tags:  # Reddi: x* = -1 is a constrained minimiser (KKT)
        assert bool(jnp.all((once >= -1) & (once <= 1)))
        assert float(g[0]) > 0
        for s in (1e-3, 1.0, 100.0):
            np.testing.assert_array_equal(p.project(x_star - s * g), x_star)
        values = np.asarray(jax.jit(jax.vmap(p.value))(jnp.linspace(-1, 1, 201)[:, None]))
        assert values.min() == pytest.approx(p.f_star, abs=1e-15) and values.argmin() == 0
    else:
        np.testing.assert_array_equal(once, z)  # unconstrained
        assert float(jnp.max(jnp.abs(g))) == 0.0


@pytest.mark.parametrize("pid", IDS)
def test_sampler_deterministic_and_varies_with_t(pid):
    p = small(pid)
    a = p.sample(key_t(3, 7), jnp.int32(7))
    b = jax.jit(p.sample)(key_t(3, 7), jnp.int32(7))  # t traced, as in the runner
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, p.sample(key_t(3, 7), 7))
    seq = _coefficients(p, 40, seed=3)  # t = 1..40 of one seed
    np.testing.assert_array_equal(seq[6], a)
    assert len({tuple(np.atleast_1d(s)) for s in seq}) > 1  # not constant across t
    other = np.asarray(p.sample(key_t(4, 7), jnp.int32(7)))
    if pid in ("reddi_online", "reddi_thm1"):  # a function of t alone
        np.testing.assert_array_equal(other, a)
    elif pid in ("nqm", "nqm_zhang"):
        assert not np.array_equal(other, np.asarray(a))


@pytest.mark.parametrize("pid", IDS)
def test_gradient_matches_central_differences(pid):
    p = small(pid)
    rng = np.random.default_rng(3)
    grad = jax.jit(jax.grad(p.loss))
    h = 1e-6
    points = [np.asarray(start(p))] + [rng.uniform(-1.5, 1.5, p.dim) for _ in range(2)]
    for t, z in enumerate(points, start=1):
        for batch in (p.sample(key_t(0, t), jnp.int32(t)), None):
            g = np.asarray(grad(jnp.asarray(z), batch))
            fd = np.array(
                [
                    (float(p.loss(jnp.asarray(z + h * e), batch))
                     - float(p.loss(jnp.asarray(z - h * e), batch))) / (2 * h)
                    for e in np.eye(p.dim)
                ]
            )  # fmt: skip
            assert np.max(np.abs(g - fd)) <= 1e-6 * (1 + np.max(np.abs(g))), (t, z, g, fd)


@pytest.mark.parametrize("pid", IDS)
def test_float32_stays_float32(pid):
    p = small(pid)
    x32 = jnp.asarray(start(p)).astype(jnp.float32)
    batch = p.sample(key_t(0, 1), jnp.int32(1))
    for b in (batch, None):
        f, g = jax.value_and_grad(p.loss)(x32, b)
        assert f.dtype == jnp.float32 and g.dtype == jnp.float32
    assert p.value(x32).dtype == jnp.float32
    assert p.project(x32).dtype == jnp.float32


LR = {"nqm": 0.05, "nqm_zhang": 0.5, "chen": 0.1, "reddi_online": 0.01,
      "reddi_stochastic": 0.01, "reddi_thm1": 0.3}  # fmt: skip


@pytest.mark.parametrize("pid", ["nqm", "chen", "reddi_online"])
def test_runner_sees_the_record_as_specified(pid):
    """SGD through the compiled runner equals a hand loop over sample/grad/project with the
    design's key convention (start from init(key_0) for NQM, t = 1 is the first batch)."""
    p = small(pid)
    sgd = entries()["sgd"].make()
    hyper = sgd.hyper._replace(learning_rate=LR[pid])
    trace = runner.make_run(p, sgd, hyper, steps=5, record_x=True, seed=3)
    x = jnp.asarray(start(p, seed=3))
    want = [x]
    for t in range(1, 6):
        batch = p.sample(key_t(3, t), jnp.int32(t))
        x = p.project(x - LR[pid] * jax.grad(p.loss)(x, batch))
        want.append(x)
    np.testing.assert_allclose(trace.x[0, 0], np.stack(want), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(trace.loss[0, 0], [float(p.value(w)) for w in want], rtol=1e-12)
    if "online" in p.tags:  # regret R_t = sum_s loss(x_{s-1}, b_s) - loss(x*, b_s)
        g = _coefficients(p, 5, seed=3)
        regret = np.cumsum(g * (np.concatenate(want[:-1]) + 1.0))
        np.testing.assert_allclose(trace.extras["regret"][0, 0], [0.0, *regret], rtol=1e-12)


# ---- NQM ------------------------------------------------------------------------------
def test_nqm_record():
    p = get_problem("nqm")
    assert p.options["h"] == (1.0, 20.0) and p.options["sigma"] == (0.2, 0.2)
    assert p.dim == 2 and p.plot_box == (-3.0, 3.0, -3.0, 3.0)
    assert p.options["loss_offset"] == pytest.approx(0.5 * (1 + 20) * 0.04, rel=1e-15)
    assert "EXCESS" in p.notes
    th = jnp.asarray([0.7, -1.3])
    assert float(p.value(th)) == pytest.approx(0.5 * (0.49 + 20 * 1.69), rel=1e-15)
    q = get_problem("nqm", h="inverse", dim=5, sigma=(0.1, 0.2, 0.3, 0.4, 0.5))
    assert q.options["h"] == pytest.approx((1, 1 / 2, 1 / 3, 1 / 4, 1 / 5)) and q.dim == 5
    assert q.plot_box is None
    assert get_problem("nqm", h="inverse:3").options["h"] == pytest.approx((1, 1 / 2, 1 / 3))
    for bad in ({"h": (1.0, -1.0)}, {"h": (1.0, 2.0), "sigma": (0.1, 0.2, 0.3)},
                {"h": "inverse"}, {"h": "flat", "dim": 2}, {"h": "inverse:x"},
                {"h": "inverse:3", "dim": 4}, {"sigma": -0.1}):  # fmt: skip
        with pytest.raises(ValueError):
            get_problem("nqm", **bad)


@pytest.mark.parametrize("pid", ["nqm", "nqm_zhang"])
def test_nqm_init_is_standard_normal_per_seed(pid):
    p = small(pid)
    k = jax.random.fold_in(seed_key(11), 0)
    np.testing.assert_array_equal(p.init(k), p.init(k))  # same seed -> same start
    assert not np.array_equal(p.init(k), p.init(jax.random.fold_in(seed_key(12), 0)))
    if pid == "nqm_zhang":  # same code path as nqm: the statistics are checked once
        return
    z = jax.jit(jax.vmap(lambda s: p.init(jax.random.fold_in(seed_key(s), 0))))(
        jnp.arange(4000, dtype=jnp.uint32)
    )
    assert z.shape == (4000, p.dim)
    se = 1 / math.sqrt(4000)
    assert float(jnp.max(jnp.abs(z.mean(0)))) < 5 * se
    assert float(jnp.max(jnp.abs(z.var(0) - 1))) < 5 * math.sqrt(2) * se


def test_nqm_noise_matches_eq_12_and_the_population_loss():
    """Sample mean of the stochastic loss ~ population loss (objective + 1/2 sum h sigma^2);
    the stochastic gradient has mean H theta and variance h^2 sigma^2 (Eq. 12)."""
    p = get_problem("nqm", sigma=(0.2, 0.5))
    h, s = np.array([1.0, 20.0]), np.array([0.2, 0.5])
    th = jnp.asarray([0.7, -1.3])
    n = 20_000
    batches = over_keys(p.sample, n)
    losses = np.asarray(jax.vmap(p.loss, in_axes=(None, 0))(th, batches))
    pop = float(p.value(th)) + 0.5 * np.sum(h * s * s)
    assert float(p.loss(th, None)) == pytest.approx(pop, rel=1e-15)
    assert abs(losses.mean() - pop) < 4 * losses.std() / math.sqrt(n)
    grads = np.asarray(jax.vmap(jax.grad(p.loss), in_axes=(None, 0))(th, batches))
    assert np.all(np.abs(grads.mean(0) - h * np.asarray(th)) < 4 * h * s / math.sqrt(n))
    np.testing.assert_allclose(grads.var(0), (h * s) ** 2, rtol=5 * math.sqrt(2 / n))


def _sgd_excess(p, theta0, lr, steps, n):
    """Mean over n seeds of 1/2 h_i theta_i^2 after ``steps`` SGD steps (runner keys)."""

    def chain(seed):
        sk = seed_key(seed)
        x0 = p.init(jax.random.fold_in(sk, 0)) if theta0 is None else theta0

        def body(x, t):
            return x - lr * jax.grad(p.loss)(x, p.sample(jax.random.fold_in(sk, t), t)), None

        return jax.lax.scan(body, x0, jnp.arange(1, steps + 1, dtype=jnp.int32))[0]

    xs = jax.jit(jax.vmap(chain))(jnp.arange(n, dtype=jnp.uint32))
    h = 2 * jax.vmap(p.value)(jnp.eye(p.dim))  # curvatures, from the objective
    return np.asarray(0.5 * h * xs * xs)


def test_nqm_sgd_expectation_closed_form():
    """docs/problems.md#nqm: E[1/2 h theta_t^2] = (1 - a h)^{2t} 1/2 h theta_0^2
    + (1 - (1 - a h)^{2t}) a h^2 sigma^2 / (2 (2 - a h)); (2.0474e-4, 0.1000) at
    a = 0.02, h = (1, 20), sigma = 0.2, theta_0 = (1, 1), t = 300."""
    p = get_problem("nqm")
    h, s, a, t = np.array([1.0, 20.0]), 0.2, 0.02, 300
    r = (1 - a * h) ** (2 * t)
    closed = r * 0.5 * h + (1 - r) * a * h * h * s * s / (2 * (2 - a * h))
    np.testing.assert_allclose(closed, [2.0474e-4, 0.1000], rtol=5e-5)
    n = 4000
    ell = _sgd_excess(p, jnp.ones(2), a, t, n)
    se = ell.std(0) / math.sqrt(n)
    assert np.all(np.abs(ell.mean(0) - closed) < 4 * se), (ell.mean(0), closed, se)


def test_nqm_zhang_sgd_expectation_closed_form():
    """docs/problems.md#nqm_zhang: E[l_i(t)] = (1 - a h_i)^{2t} E[l_i(0)]
    + (1 - (1 - a h_i)^{2t}) a c_i / (2 B (2 - a h_i)), c = h = 1/i, theta_0 ~ N(0, I)."""
    B, d, a, t, n = 4, 6, 0.5, 20, 4000
    p = get_problem("nqm_zhang", dim=d, batch_size=B)
    h = 1 / np.arange(1, d + 1)
    np.testing.assert_allclose(jax.vmap(p.value)(jnp.eye(d)), h / 2, rtol=1e-15)
    r = (1 - a * h) ** (2 * t)
    closed = r * 0.5 * h + (1 - r) * a * h / (2 * B * (2 - a * h))
    ell = _sgd_excess(p, None, a, t, n)
    se = ell.std(0) / math.sqrt(n)
    assert np.all(np.abs(ell.mean(0) - closed) < 4 * se), (ell.mean(0), closed, se)
    th = jnp.linspace(-1.0, 1.0, d)
    assert float(p.loss(th, None)) == float(p.value(th))  # E loss = objective
    with pytest.raises(ValueError):
        get_problem("nqm_zhang", batch_size=0)
    assert get_problem("nqm_zhang").dim == 10_000


# ---- Reddi ----------------------------------------------------------------------------
def _coefficients(p, steps, seed=0):
    ts = jnp.arange(1, steps + 1, dtype=jnp.int32)
    keys = jax.vmap(lambda t: key_t(seed, t))(ts)
    return np.asarray(jax.jit(jax.vmap(p.sample))(keys, ts))


def test_reddi_online_sequence():
    p = get_problem("reddi_online")
    g = _coefficients(p, 303)
    t = np.arange(1, 304)
    np.testing.assert_array_equal(g, np.where(t % 101 == 1, 1010.0, -10.0))
    assert list(t[g == 1010.0]) == [1, 102, 203]
    window = np.convolve(g, np.ones(101), "valid")
    np.testing.assert_allclose(window, 10.0)  # every 101 consecutive steps sum to +10
    assert p.options["comparator"] == (-1.0,) == tuple(np.asarray(p.x_star))
    assert float(p.x0[0]) == 0.0 and p.options["feasible_set"] == (-1.0, 1.0)
    # objective = per-period average loss; regret of the constant iterate +1 over k periods
    x = jnp.asarray([0.3])
    period = [float(p.loss(x, b)) for b in g[:101]]
    assert float(p.value(x)) == pytest.approx(np.mean(period), rel=1e-13)
    regret = sum(float(p.loss(jnp.ones(1), b) - p.loss(p.x_star, b)) for b in g)
    assert regret / 303 == pytest.approx(float(p.value(jnp.ones(1))) - p.f_star, rel=1e-13)
    with pytest.raises(ValueError):
        get_problem("reddi_online", small=-11.0)  # 1010 - 1100 < 0: x* would not be -1
    with pytest.raises(ValueError):
        get_problem("reddi_online", x0=1.5)


def test_reddi_thm1_sequence_and_settings():
    p = get_problem("reddi_thm1", C=10.0)
    g = _coefficients(p, 12)
    np.testing.assert_array_equal(g, [10.0, -1, -1] * 4)
    assert float(p.x0[0]) == 1.0 and p.f_star == pytest.approx(-8 / 3)
    hyper = p.options["suggested_hyper"]
    assert hyper["b1"] == 0.0 and hyper["b2"] == pytest.approx(1 / 101)
    assert hyper["learning_rate"] < math.sqrt(1 - hyper["b2"]) == p.options["max_learning_rate"]
    assert p.options["suggested_schedule"] == "inv_sqrt"
    with pytest.raises(ValueError):
        get_problem("reddi_thm1", C=2.0)


def test_reddi_stochastic_frequency():
    p = get_problem("reddi_stochastic")
    n = 100_000
    g = np.asarray(over_keys(p.sample, n))
    assert set(np.unique(g)) == {1010.0, -10.0}
    freq = np.mean(g == 1010.0)
    assert abs(freq - 0.01) < 4 * math.sqrt(0.01 * 0.99 / n), freq
    assert p.options["mean_gradient"] == pytest.approx(0.2)
    assert float(p.loss(jnp.asarray([0.5]), None)) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        get_problem("reddi_stochastic", p=0.005)  # E g < 0


# ---- Chen -----------------------------------------------------------------------------
def _huber(th):
    return np.where(np.abs(th) <= 1, 0.5 * th * th, np.abs(th) - 0.5)


def test_chen_components_and_finite_sum():
    p = get_problem("chen")
    assert float(p.x0[0]) == 2.0 and p.options["success_radius"] == 0.1
    thetas = [-3.0, -1.0, -1.0 + 1e-9, -0.4, 0.0, 0.3, 1.0, 1.0 + 1e-9, 2.0, 7.5]
    grad = jax.grad(p.loss)
    for th in thetas:
        x = jnp.asarray([th])
        comps = [float(p.loss(x, jnp.int32(i))) for i in range(11)]
        assert sum(comps) == pytest.approx(float(p.value(x)), abs=1e-13)  # finite sum = f
        assert float(p.value(x)) == pytest.approx(float(_huber(th)), abs=1e-13)
        assert float(p.loss(x, None)) == pytest.approx(np.mean(comps), abs=1e-14)
        inside = abs(th) <= 1
        g1 = float(grad(x, jnp.int32(0))[0])
        gi = float(grad(x, jnp.int32(5))[0])
        assert g1 == pytest.approx(11 * th if inside else 11 * np.sign(th), abs=1e-12)
        assert gi == pytest.approx(-th if inside else -np.sign(th), abs=1e-12)
    assert float(jax.grad(p.value)(jnp.asarray([0.0]))[0]) == 0.0
    z = jnp.linspace(-4.0, 4.0, 801)[:, None]  # includes 0 and +-1 exactly
    for i in (0, 3):
        gz = jax.vmap(jax.grad(p.loss), in_axes=(0, None))(z, jnp.int32(i))
        assert bool(jnp.all(jnp.isfinite(gz)))


def test_chen_success_and_figure_metadata():
    p = get_problem("chen")
    x = np.array([[0.05], [-0.0999], [0.1], [-2.0]])
    np.testing.assert_array_equal(p.success(x), [True, True, False, False])
    assert p.metrics[0] == "loss" and {"S1", "S2"} <= set(p.metrics) and "loglog" in p.tags
    for pid in ("reddi_online", "reddi_stochastic", "reddi_thm1"):
        assert {"avg_regret", "x_0"} <= set(get_problem(pid).metrics)
    assert get_problem("nqm").metrics[0] == "loss"


def test_chen_uniform_index_and_unbiased_sum():
    p = get_problem("chen")
    n = 22_000
    idx = np.asarray(over_keys(p.sample, n))
    counts = np.bincount(idx, minlength=11)
    assert counts.size == 11 and idx.min() == 0 and idx.max() == 10
    expected = n / 11
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    assert chi2 < 29.6, counts  # 0.999 quantile of chi-square with 10 dof
    x = jnp.asarray([0.6])
    vals = np.asarray(jax.vmap(p.loss, in_axes=(None, 0))(x, jnp.asarray(idx)))
    assert abs(11 * vals.mean() - float(p.value(x))) < 4 * 11 * vals.std() / math.sqrt(n)
