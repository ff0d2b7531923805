"""The seed optimizers adamomentum (001), adamal (002), madam and lamadam (004).

- every optimizer against ``reference_seeds.py`` (NumPy transcriptions of the algorithm boxes
  as corrected in docs/optimizers.md#adamomentum, #adamal, #maxva, and of the official MaxVA code),
  float64, 120 steps on a 3-leaf pytree, rtol 1e-10;
- the identities of docs/optimizers.md#identities: 1 (E5 reparametrisation), 3 (MAdam/LaMAdam with
  b2_min = b2_max), 4 (AdaMomentum with b1 = 0), 5 (AdamAL with b2 = 0; v monotone; Adam
  under non-decreasing |g|), 11-12 (MaxVA beta_t), 20 (scale invariance);
- edge cases (eps = 0 with zero moments, the first MaxVA step, the delta guard, the ball
  projection's optimality conditions), vmap over a learning-rate grid, one compilation per
  static configuration, the diagnostics hook and the registry entries.

OCR corrections the references rely on (docs/optimizers.md): AdaMomentum Alg. 1 line 9 prints
m_t/sqrt(b_t), read m_hat_t/sqrt(v_hat_t); AdamAL Alg. 1 line 7 uses beta1 in the v-line,
read beta2, and its projection superscript -sqrt(v_t) is the sqrt(v_t)-weighted projection;
MaxVA eq. (8) writes w_t for w_{t-1}, eq. (7)'s beta_1 is the first-step coefficient
(``b2_init``), not the momentum alpha, and the bias correction is 1 - alpha^t (Alg. 1), not
the 1 - alpha^{t+1} of section 2.

Gradients are g_t = c (G_t + kappa x_{t-1}) with a fixed random sequence G (no exact zeros).
Each (optimizer, static options) is compiled once and driven by ``lax.scan`` with every
hyperparameter, c, kappa and a per-step learning-rate factor traced.
"""

from __future__ import annotations

import numpy as np
import optax
import pytest
import reference_seeds as ref
from harness import (
    KAPPA,
    NOISE,
    SHAPES,
    X0,
    T,
    as_hyper,
    assert_tree_close,
    run_optax,
)

from optlab._jax import jax, jnp
from optlab.optimizers import (
    _maxva,
    adam,
    adamal,
    adamomentum,
    aida_pq,
    entries,
    lamadam,
    laprop,
    madam,
)

MODULES = {"adamomentum": adamomentum, "adamal": adamal, "madam": madam, "lamadam": lamadam}
ONES = np.ones(T)


# --- drivers -----------------------------------------------------------------------------

TRACES: dict = {}
_RUNNERS: dict = {}


def runner(opt):
    """A jitted (hyper, x0, noise, lr_factor, c, kappa) -> {x, state, g} per step, one program
    per (optimizer, static options)."""
    key = (opt.name, tuple(sorted(opt.static.items())))
    if key in _RUNNERS:
        return _RUNNERS[key]

    def run(hyper, x0, noise, lr_factor, c, kappa):
        TRACES[key] = TRACES.get(key, 0) + 1
        state = opt.init(x0, hyper)

        def body(carry, inputs):
            x, s = carry
            n_t, f_t = inputs
            g = jax.tree_util.tree_map(lambda n, x: c * (n + kappa * x), n_t, x)
            h = hyper._replace(learning_rate=hyper.learning_rate * f_t)
            x, s = opt.step(x, g, s, h)
            return (x, s), {"x": x, "state": s, "g": g}

        return jax.lax.scan(body, (x0, state), (noise, lr_factor))[1]

    _RUNNERS[key] = jax.jit(run)
    return _RUNNERS[key]


def run_jax(opt, hyper=None, x0=X0, noise=NOISE, lr_factor=ONES, c=1.0, kappa=KAPPA):
    hyper = as_hyper(opt) if hyper is None else hyper
    out = runner(opt)(hyper, x0, noise, jnp.asarray(lr_factor), jnp.asarray(c), jnp.asarray(kappa))
    return jax.tree_util.tree_map(np.asarray, out)


def run_ref(cls, x0=X0, noise=NOISE, c=1.0, kappa=KAPPA, lr_schedule=None, steps=T, **hp):
    opt = cls(x0, **hp)
    grad_fn = lambda p, t: {k: c * (noise[k][t - 1] + kappa * p[k]) for k in p}  # noqa: E731
    return opt, ref.run(opt, grad_fn, steps, lr_schedule)


def moved(traj, x0=X0):
    return max(float(np.max(np.abs(traj[k][-1] - x0[k]))) for k in x0)


# --- 1. each optimizer against its NumPy transcription ----------------------------------
SCHEDULE = 1.0 / np.sqrt(np.arange(1, T + 1))  # lr_t = lr / sqrt(t)

# (id, static, hyper overrides, reference class, reference kwargs, lr factor or None)
REF_CASES = [
    ("adamomentum", {}, dict(learning_rate=1e-2), ref.AdaMomentum,
     dict(lr=1e-2, b1=0.9, b2=0.999, eps=1e-8), None),
    ("adamomentum", {}, dict(learning_rate=1e-2, b2=0.99, eps=1e-3, l2=0.05), ref.AdaMomentum,
     dict(lr=1e-2, b1=0.9, b2=0.99, eps=1e-3, l2=0.05), None),
    ("adamomentum", {}, dict(learning_rate=1e-2, weight_decay=0.5), ref.AdaMomentum,
     dict(lr=1e-2, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.5), None),
    ("adamomentum", {}, dict(learning_rate=1e-2, eps=1e-16, mu=1e-3), ref.AdaMomentum,
     dict(lr=1e-2, b1=0.9, b2=0.999, eps=1e-16, mu=1e-3), None),
    ("adamal", {}, dict(learning_rate=1e-2), ref.AdamAL,
     dict(lr=1e-2, b1=0.9, b2=0.999, eps=1e-8), None),
    ("adamal", {"bias_correction": True}, dict(learning_rate=1e-2, b2=0.9, eps=1e-3),
     ref.AdamAL, dict(lr=1e-2, b1=0.9, b2=0.9, eps=1e-3, bias_correction=True), None),
    ("adamal", {"projection": "box", "lower": -0.6, "upper": 0.5}, dict(learning_rate=2e-2),
     ref.AdamAL, dict(lr=2e-2, b1=0.9, b2=0.999, eps=1e-8, projection="box", lower=-0.6,
                      upper=0.5), None),
    ("adamal", {"projection": "ball", "radius": 2.5}, dict(learning_rate=3e-2, eps=1e-3),
     ref.AdamAL, dict(lr=3e-2, b1=0.9, b2=0.999, eps=1e-3, projection="ball", radius=2.5),
     None),
    ("adamal", {"projection": "ball", "radius": 1.5, "bias_correction": True},
     dict(learning_rate=3e-2, b2=0.99), ref.AdamAL,
     dict(lr=3e-2, b1=0.9, b2=0.99, eps=1e-8, projection="ball", radius=1.5,
          bias_correction=True), None),
    ("madam", {}, dict(learning_rate=1e-2), ref.MAdam,
     dict(lr=1e-2, b1=0.9, b2_min=0.5, b2_max=0.999, eps=1e-8, delta=1e-16), None),
    ("madam", {}, dict(learning_rate=1e-2, b2_max=1.0, l2=0.05), ref.MAdam,
     dict(lr=1e-2, b1=0.9, b2_min=0.5, b2_max=1.0, eps=1e-8, delta=1e-16, l2=0.05), None),
    ("madam", {}, dict(learning_rate=1e-2, b2_init=0.9, eps=1e-3, delta=1e-4,
                       weight_decay=0.5), ref.MAdam,
     dict(lr=1e-2, b1=0.9, b2_min=0.5, b2_max=0.999, b2_init=0.9, eps=1e-3, delta=1e-4,
          weight_decay=0.5), None),
    ("madam", {"eps_mode": "paper"}, dict(learning_rate=1e-2, eps=1e-3, b2_max=0.99),
     ref.MAdam, dict(lr=1e-2, b1=0.9, b2_min=0.5, b2_max=0.99, eps=1e-3, delta=1e-16,
                     eps_mode="paper"), None),
    ("madam", {"amsgrad": True}, dict(learning_rate=1e-2, b2_min=0.7, b2_max=0.95), ref.MAdam,
     dict(lr=1e-2, b1=0.9, b2_min=0.7, b2_max=0.95, eps=1e-8, delta=1e-16, amsgrad=True),
     None),
    ("lamadam", {}, dict(learning_rate=1e-2), ref.LaMAdam,
     dict(lr=1e-2, b1=0.9, b2_min=0.5, b2_max=0.98, eps=1e-15, delta=1e-16), None),
    ("lamadam", {}, dict(learning_rate=1e-2, b2_max=0.999, eps=1e-3, l2=0.05), ref.LaMAdam,
     dict(lr=1e-2, b1=0.9, b2_min=0.5, b2_max=0.999, eps=1e-3, delta=1e-16, l2=0.05), None),
    ("lamadam", {}, dict(learning_rate=1e-2, b2_init=0.95, weight_decay=0.5), ref.LaMAdam,
     dict(lr=1e-2, b1=0.9, b2_min=0.5, b2_max=0.98, b2_init=0.95, eps=1e-15, delta=1e-16,
          weight_decay=0.5), None),
    # lr_t = lr/sqrt(t): the official lr-EMA form, not Alg. 2's lr_t/(1 - alpha^t)
    ("lamadam", {}, dict(learning_rate=5e-2), ref.LaMAdam,
     dict(lr=5e-2, b1=0.9, b2_min=0.5, b2_max=0.98, eps=1e-15, delta=1e-16), SCHEDULE),
    ("lamadam", {"eps_mode": "paper"}, dict(learning_rate=1e-2, eps=1e-3), ref.LaMAdam,
     dict(lr=1e-2, b1=0.9, b2_min=0.5, b2_max=0.98, eps=1e-3, delta=1e-16, eps_mode="paper"),
     None),
    ("lamadam", {"amsgrad": True}, dict(learning_rate=1e-2, b2_min=0.7, b2_max=0.95),
     ref.LaMAdam, dict(lr=1e-2, b1=0.9, b2_min=0.7, b2_max=0.95, eps=1e-15, delta=1e-16,
                       amsgrad=True), None),
]  # fmt: skip


def _case_id(case):
    name, static, overrides = case[0], case[1], case[2]
    parts = [f"{k}={v}" for k, v in {**static, **overrides}.items() if k != "learning_rate"]
    parts += ["lr/sqrt(t)"] if case[5] is not None else []
    return name + ("[" + ",".join(parts) + "]" if parts else "")


@pytest.mark.parametrize("case", REF_CASES, ids=[_case_id(c) for c in REF_CASES])
def test_matches_numpy_reference(case):
    name, static, overrides, cls, hp, factor = case
    opt = MODULES[name].make(**static)
    schedule = None if factor is None else (lambda t: hp["lr"] * factor[t - 1])
    lr_factor = ONES if factor is None else factor
    got = run_jax(opt, as_hyper(opt, **overrides), lr_factor=lr_factor)["x"]
    reference, want = run_ref(cls, lr_schedule=schedule, **hp)
    assert_tree_close(got, want)
    assert moved(got) > 1e-2  # the runs moved: not two frozen trajectories
    if cls is ref.AdamAL and hp.get("projection") == "ball":
        assert reference.ball_hits > T // 8  # the projection was active (20-100 steps)
    if cls is ref.AdamAL and hp.get("projection") == "box":
        lo = min(float(np.min(v)) for v in got.values())
        hi = max(float(np.max(v)) for v in got.values())
        assert lo == hp["lower"] and hi == hp["upper"]  # both faces of the box were hit
    if cls in (ref.MAdam, ref.LaMAdam):  # MaxVA was active: beta hit b2_max and varied below
        betas = np.concatenate([np.ravel(b) for b in reference.beta_log[len(SHAPES) :]])
        lo, hi = hp["b2_min"], hp["b2_max"]
        assert np.any(betas == hi) and np.any((betas > lo) & (betas < hi))
        if lo > 0.5:  # beta~ >= 1/(1 + w) >= 1/2 (App. C), so only a larger b2_min is hit
            assert np.any(betas == lo)


# --- 2. identities (docs/optimizers.md#identities) ----------------------------------------------


def test_identity_1_adamomentum_e5_reparametrisation():
    """eps added to the EMA every step == eps-free EMA with eps/(1 - b2) inside the root of
    v_hat (Wang et al., arXiv:2106.11514, section 3.1), at every step; eps = 1e-3 so that it
    matters."""
    opt = adamomentum.make()
    got = run_jax(opt, as_hyper(opt, learning_rate=1e-2, b2=0.99, eps=1e-3))["x"]
    _, want = run_ref(ref.AdaMomentum, lr=1e-2, b1=0.9, b2=0.99, eps=1e-3, eps_form="root")
    assert_tree_close(got, want, rtol=1e-12)
    # and eps is not negligible here: eps = 0 gives a visibly different trajectory
    other = run_jax(opt, as_hyper(opt, learning_rate=1e-2, b2=0.99, eps=0.0))["x"]
    assert max(float(np.max(np.abs(other[k] - got[k]))) for k in got) > 1e-3


def test_identity_4_adamomentum_without_momentum_is_rmsprop_and_adam():
    """b1 = 0: m = g, so AdaMomentum = RMSprop with bias correction and eps/(1 - b2) in the
    root = Adam(b1 = 0, eps = 0, eps_root = eps/(1 - b2))."""
    lr, b2, eps = 1e-2, 0.99, 1e-4
    opt = adamomentum.make()
    got = run_jax(opt, as_hyper(opt, learning_rate=lr, b1=0.0, b2=b2, eps=eps))["x"]
    rms = optax.rmsprop(lr, decay=b2, eps=eps / (1 - b2), eps_in_sqrt=True, bias_correction=True)
    assert_tree_close(got, run_optax(rms), rtol=1e-12)
    ada = optax.adam(lr, b1=0.0, b2=b2, eps=0.0, eps_root=eps / (1 - b2))
    assert_tree_close(got, run_optax(ada), rtol=1e-12)


def test_identity_3_madam_with_a_fixed_beta_is_adam():
    """b2_min = b2_max = b2: official MAdam == optax.adam(b1 = alpha, b2, eps)."""
    lr, b2, eps = 1e-2, 0.99, 1e-6
    opt = madam.make()
    got = run_jax(opt, as_hyper(opt, learning_rate=lr, b2_min=b2, b2_max=b2, eps=eps))["x"]
    assert_tree_close(got, run_optax(optax.adam(lr, b1=0.9, b2=b2, eps=eps)), rtol=1e-12)


def test_identity_3_madam_paper_form_is_aida_2_1_form_a():
    """Paper Alg. 1 (E3) with a fixed beta == Aida(p=2, q=1, form a, mu=0), b1 = alpha."""
    lr, b2, eps = 1e-2, 0.99, 1e-3
    opt = madam.make(eps_mode="paper")
    got = run_jax(opt, as_hyper(opt, learning_rate=lr, b2_min=b2, b2_max=b2, eps=eps))["x"]
    aida = aida_pq.make(form="a")
    hp = as_hyper(aida, learning_rate=lr, b1=0.9, b2=b2, eps=eps, p=2.0, q=1.0, mu=0.0)
    assert_tree_close(got, run_jax(aida, hp)["x"], rtol=1e-12)


def test_identity_3_lamadam_with_a_fixed_beta_is_laprop():
    """b2_min = b2_max: official LaMAdam == official LaProp(b1 = alpha, b2 = b2_max), against
    optlab's laprop and a NumPy LaProp, including an lr schedule (both fold lr by an EMA)."""
    lr, b2, eps = 1e-2, 0.98, 1e-6
    opt = lamadam.make()
    hp = as_hyper(opt, learning_rate=lr, b2_min=b2, b2_max=b2, eps=eps)
    for factor in (ONES, SCHEDULE):
        got = run_jax(opt, hp, lr_factor=factor)["x"]
        lp = laprop.make()
        want = run_jax(lp, as_hyper(lp, learning_rate=lr, b1=0.9, b2=b2, eps=eps), lr_factor=factor)
        assert_tree_close(got, want["x"], rtol=1e-12)
        _, np_want = run_ref(
            ref.LaProp, lr=lr, b1=0.9, b2=b2, eps=eps, lr_schedule=lambda t, f=factor: lr * f[t - 1]
        )
        assert_tree_close(got, np_want, rtol=1e-12)


def test_identity_5_adamal_without_ema_is_amsgrad_of_g_squared():
    """b2 = 0: v_t = max(g_t^2, v_{t-1}), the running max of g^2 == optax.amsgrad(b2 = 0)
    without bias corrections."""
    lr, eps = 1e-2, 1e-8
    opt = adamal.make()
    got = run_jax(opt, as_hyper(opt, learning_rate=lr, b2=0.0, eps=eps))
    tx = optax.amsgrad(
        lr, b1=0.9, b2=0.0, eps=eps, bias_correction_mu=False, bias_correction_nu=False
    )
    assert_tree_close(got["x"], run_optax(tx), rtol=1e-12)
    g2max = {k: np.maximum.accumulate(got["g"][k] ** 2, axis=0) for k in got["g"]}
    assert_tree_close(got["state"].v, g2max, rtol=0, atol=0)


@pytest.mark.parametrize("b2", [0.5, 0.999])
def test_identity_5_adamal_v_is_monotone(b2):
    opt = adamal.make()
    v = run_jax(opt, as_hyper(opt, learning_rate=1e-2, b2=b2))["state"].v
    g = run_jax(opt, as_hyper(opt, learning_rate=1e-2, b2=b2))["g"]
    for k in v:
        assert np.all(np.diff(v[k], axis=0) >= 0)
        # and the equivalent form v_{t-1} + (1 - b2) max(g^2 - v_{t-1}, 0)
        prev = np.concatenate([np.zeros((1, *v[k].shape[1:])), v[k][:-1]])
        alt = prev + (1 - b2) * np.maximum(g[k] ** 2 - prev, 0)
        np.testing.assert_allclose(v[k], alt, rtol=1e-14, atol=0)
    # with b2 = 0.999 the max was active (it is not plain Adam on this sequence)
    if b2 == 0.999:
        sq = {k: g[k] ** 2 for k in g}
        prev = {k: np.concatenate([np.zeros((1, *v[k].shape[1:])), v[k][:-1]]) for k in v}
        assert any(np.any(sq[k] < prev[k]) for k in sq)


def test_identity_5_adamal_is_adam_when_the_gradient_grows():
    """|g_t| non-decreasing elementwise: max(g^2, v_{t-1}) = g^2, so AdamAL is Adam (same
    bias correction and eps): optlab adam (itself tested against optax.adam) with bias
    correction, optax.amsgrad
    (whose max is then inactive too) without."""
    rng = np.random.default_rng(3)
    base = {k: np.sign(rng.normal(size=s)) * (0.5 + rng.random(s)) for k, s in SHAPES.items()}
    grow = {k: base[k] * (1.0 + 0.02 * np.arange(T)).reshape(-1, *[1] * len(s))
            for k, s in SHAPES.items()}  # fmt: skip
    kw = dict(noise=grow, kappa=0.0)
    opt = adamal.make(bias_correction=True)
    got = run_jax(opt, as_hyper(opt, learning_rate=1e-2, eps=1e-3), **kw)["x"]
    ad = adam.make()
    assert_tree_close(got, run_jax(ad, as_hyper(ad, learning_rate=1e-2, eps=1e-3), **kw)["x"])
    opt = adamal.make()
    got = run_jax(opt, as_hyper(opt, learning_rate=1e-2, eps=1e-3), **kw)["x"]
    tx = optax.amsgrad(1e-2, eps=1e-3, bias_correction_mu=False, bias_correction_nu=False)
    assert_tree_close(got, run_optax(tx, **kw))


def _betas_from_states(opt, out, hyper):
    """beta_t recomputed from the JAX states before each step and g_t (the helper the step
    uses), with the consistency check w_t = beta_t w_{t-1} + 1 - beta_t against the state."""
    st = out["state"]
    zero = {k: np.zeros((1, *s)) for k, s in SHAPES.items()}
    prev = {name: {k: np.concatenate([zero[k], getattr(st, name)[k][:-1]]) for k in SHAPES}
            for name in ("u", "v", "w")}  # fmt: skip
    counts = jnp.arange(1, T + 1, dtype=jnp.int32)
    fn = jax.jit(jax.vmap(lambda c, u, v, w, g: _maxva.betas(c, _maxva.Moments(u, v, w), g, hyper)))
    beta = jax.tree_util.tree_map(np.asarray, fn(counts, prev["u"], prev["v"], prev["w"], out["g"]))
    for k in SHAPES:
        w_next = beta[k] * prev["w"][k] + (1 - beta[k])
        np.testing.assert_allclose(st.w[k], w_next, rtol=1e-14, atol=1e-15)
    return beta, st.w


@pytest.mark.parametrize("module", [madam, lamadam], ids=["madam", "lamadam"])
def test_identity_11_maxva_beta_properties(module):
    """beta_2 = b2_max with the automatic b2_init = b2_max; beta_2 = 1/(2 - b2_init) when that
    lies in [b2_min, b2_max] (b2_init = 0.9: 1/1.1); beta_t in [b2_min, b2_max]; w
    non-decreasing in (0, 1]."""
    opt = module.make()
    hyper = as_hyper(opt, learning_rate=1e-2, b2_min=0.5, b2_max=0.999)
    out = run_jax(opt, hyper)
    beta, w = _betas_from_states(opt, out, hyper)
    for k in SHAPES:
        assert np.all(beta[k][0] == 0.999) and np.all(beta[k][1] == 0.999)
        assert np.all((beta[k] >= 0.5) & (beta[k] <= 0.999))
        assert np.all(np.diff(w[k], axis=0) >= 0) and np.all((w[k] > 0) & (w[k] <= 1))
        np.testing.assert_allclose(w[k][0], 1 - 0.999, rtol=1e-15)
    assert any(np.any(beta[k] < 0.999) for k in SHAPES)  # not a constant beta
    hyper = as_hyper(opt, learning_rate=1e-2, b2_min=0.5, b2_max=0.999, b2_init=0.9)
    w = run_jax(opt, hyper)["state"].w
    for k in SHAPES:
        np.testing.assert_allclose(w[k][0], 0.1, rtol=1e-15)
        beta2 = (1 - w[k][1]) / (1 - w[k][0])  # read off the state: 1 - w_t = beta_t (1 - w_{t-1})
        np.testing.assert_allclose(beta2, ref.maxva_beta2_closed_form(0.1), rtol=1e-12)
        np.testing.assert_allclose(beta2, 1 / 1.1, rtol=1e-12)


@pytest.mark.parametrize("module", [madam, lamadam], ids=["madam", "lamadam"])
@pytest.mark.parametrize(
    "c, delta",
    [((1.0, -2.0, 0.5, 4.0, -0.25), 1e-16), ((1.0, -2.0, 0.5, 4.0, -0.25), 0.0),
     ((0.3, -1.7, 2.9, 1e-3, -12.1), 1e-8)],
    ids=["powers_of_two", "powers_of_two-delta=0", "general-delta=1e-8"],
)  # fmt: skip
def test_identity_12_maxva_constant_gradient(module, c, delta):
    """g_t = c for all t: u = c and sigma^2 = Delta^2 = 0 from t = 2 on, so beta_t = b2_min
    and w_t = 1 - b2_init b2_min^(t-1). Exact for powers of two (the moments are c w
    bitwise, also with delta = 0: the 0-ratio rule); for a general c, u = c only up to
    rounding, so sigma^2 ~ 1e-16 c^2 and delta must dominate it."""
    opt = module.make()
    c = np.asarray(c)
    noise = {"x": np.broadcast_to(c, (40, c.size)).copy()}
    x0 = {"x": np.zeros(c.size)}
    hyper = as_hyper(opt, learning_rate=1e-2, b2_min=0.6, b2_max=0.99, delta=delta, eps=0.0)
    out = run_jax(opt, hyper, x0=x0, noise=noise, kappa=0.0, lr_factor=np.ones(40))
    w = out["state"].w["x"]
    t = np.arange(1, 41)[:, None]
    want = ref.constant_gradient_w(t, 0.99, 0.6) * np.ones(c.size)
    np.testing.assert_allclose(w, want, rtol=1e-14)
    assert np.all(np.isfinite(out["x"]["x"]))
    # and each step is lr c/|c| = lr sgn(c) (eps = 0) up to rounding
    np.testing.assert_allclose(out["x"]["x"], -1e-2 * t * np.sign(c), rtol=1e-13)


MADAM = madam.make()
MADAM_STEP = jax.jit(MADAM.step)
BETA = jax.jit(_maxva.adaptive_beta)
DBETA_DG = jax.jit(jax.jacrev(_maxva.adaptive_beta, argnums=4))


def test_identity_12_maxva_deviation_equal_to_sigma_clips_to_b2_max():
    """R_t = Delta^2/sigma^2 = 1 (eq. 8): beta~ = 2 sigma^2 / (2 sigma^2 + delta) ~ 1 -> b2_max.
    The state is built by hand (w = 0.5, u = 1, sigma^2 = 0.25) and fed to a real step."""
    h = as_hyper(MADAM, b2_min=0.5, b2_max=0.97)
    half = jnp.full((2,), 0.5)
    state = madam.State(jnp.int32(5), jnp.zeros(2), half * 1.0, half * 1.25, half, None)
    g = jnp.asarray([1.5, 0.5])  # Delta = +-0.5, Delta^2 = sigma^2 = 0.25
    _, new = MADAM_STEP(jnp.zeros(2), g, state, h)
    np.testing.assert_allclose(np.asarray(new.w), 0.97 * 0.5 + 0.03, rtol=1e-15)
    unclipped = h._replace(b2_max=jnp.asarray(2.0))
    beta = BETA(jnp.int32(6), state.u, state.v, state.w, g, unclipped)
    np.testing.assert_allclose(np.asarray(beta), 0.5 / (0.5 + 1e-16), rtol=1e-15)


@pytest.mark.parametrize(
    "name, static, extra",
    [("adamomentum", {}, {}), ("adamal", {}, {}),
     ("adamal", {"projection": "ball", "radius": 2.5}, {}), ("madam", {}, {"delta": 0.0}),
     ("madam", {"eps_mode": "paper"}, {"delta": 0.0}),
     ("lamadam", {}, {"delta": 0.0}), ("lamadam", {"eps_mode": "paper"}, {"delta": 0.0})],
)  # fmt: skip
def test_identity_20_scale_invariance_with_eps_zero(name, static, extra):
    """f -> c f with eps = 0 (and delta = 0) leaves the trajectory unchanged."""
    opt = MODULES[name].make(**static)
    hyper = as_hyper(opt, learning_rate=1e-2, eps=0.0, **extra)
    a = run_jax(opt, hyper)["x"]
    b = run_jax(opt, hyper, c=1000.0)["x"]
    assert_tree_close(a, b, rtol=1e-11)
    assert moved(a) > 1e-2


# --- 3. edge cases --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, static, extra",
    [("adamomentum", {}, {}), ("adamal", {}, {}), ("adamal", {"bias_correction": True}, {}),
     ("adamal", {"projection": "ball", "radius": 2.5}, {}),
     ("madam", {}, {"delta": 0.0}), ("madam", {"eps_mode": "paper"}, {}),
     ("madam", {"amsgrad": True}, {"delta": 0.0}), ("lamadam", {}, {"delta": 0.0}),
     ("lamadam", {"eps_mode": "paper"}, {}), ("lamadam", {"amsgrad": True}, {"delta": 0.0})],
)  # fmt: skip
def test_eps_zero_with_zero_moments_gives_no_nan(name, static, extra):
    """eps = 0 (and delta = 0): the coordinates of leaf c have a zero gradient throughout, so
    zero moments and 0/0 denominators; they must stay put (0/0 -> 0), nothing becomes NaN,
    and the other leaves still move."""
    x0 = {**X0, "c": np.zeros(SHAPES["c"])}
    noise = {**NOISE, "c": np.zeros_like(NOISE["c"])}
    opt = MODULES[name].make(**static)
    hyper = as_hyper(opt, learning_rate=1e-2, eps=0.0, **extra)
    out = run_jax(opt, hyper, x0=x0, noise=noise)  # kappa x_c = 0: g_c = 0 exactly
    for leaf in jax.tree_util.tree_leaves(out):
        assert np.all(np.isfinite(leaf))
    assert np.all(out["x"]["c"] == 0) and np.all(out["g"]["c"] == 0)
    assert moved(out["x"], x0) > 1e-2


@pytest.mark.parametrize("module", [madam, lamadam], ids=["madam", "lamadam"])
@pytest.mark.parametrize("eps_mode", ["official", "paper"])
def test_first_maxva_step(module, eps_mode):
    """Eq. (7): beta_1 = b2_init, w_1 = 1 - b2_init, u~_1 = (1 - b2_init) g, v~_1 = (1 -
    b2_init) g^2. Official: x_1 = x_0 - lr g/(|g| + eps) for both. Paper: MAdam (E3)
    x_1 = x_0 - lr g sqrt(w_1)/sqrt(w_1 g^2 + eps); LaMAdam (E2)
    x_1 = x_0 - lr g/sqrt(g^2 + eps)."""
    opt = module.make(eps_mode=eps_mode)
    lr, eps, b_init = 0.1, 1e-2, 0.95
    h = as_hyper(opt, learning_rate=lr, eps=eps, b2_init=b_init)
    g = jnp.asarray([0.3, -2.0, 1e-3])
    x0 = jnp.asarray([1.0, 2.0, 3.0])
    x1, s = jax.jit(opt.step)(x0, g, opt.init(x0, h), h)
    gn = np.asarray(g)
    if eps_mode == "official":
        d = gn / (np.abs(gn) + eps)
    elif module is madam:
        d = gn * np.sqrt(1 - b_init) / np.sqrt((1 - b_init) * gn**2 + eps)
    else:
        d = gn / np.sqrt(gn**2 + eps)
    np.testing.assert_allclose(np.asarray(x1), np.asarray(x0) - lr * d, rtol=1e-14)
    np.testing.assert_allclose(np.asarray(s.w), 1 - b_init, rtol=1e-15)
    np.testing.assert_allclose(np.asarray(s.u), (1 - b_init) * gn, rtol=1e-15)
    np.testing.assert_allclose(np.asarray(s.v), (1 - b_init) * gn**2, rtol=1e-15)
    assert int(s.count) == 1


def test_maxva_first_beta_rule():
    """b2_init < 0: b2_max if b2_max < 1, else 0.9 (the synthetic experiment's (0.5, 1))."""
    opt = madam.make()
    for b2_max, want in ((0.999, 0.999), (0.98, 0.98), (1.0, 0.9)):
        h = as_hyper(opt, b2_max=b2_max)
        assert float(_maxva.first_beta(h)) == want
    assert float(_maxva.first_beta(as_hyper(opt, b2_init=0.7))) == 0.7


def test_maxva_delta_guard():
    """Delta = sigma = 0 (a repeated gradient): with delta = 0 eq. (6) is 0/0, taken as 0 so
    beta = b2_min; with delta > 0 the ratio is 0 anyway. Reverse-mode autodiff of beta_t
    stays finite there (the guard does not hide a NaN gradient). b2_max = 1 with
    sigma > 0, Delta = 0 and w = 1: beta~ = sigma^2/delta, clipped to 1."""
    u = jnp.asarray([0.5, 0.0])
    w = jnp.asarray([0.5, 0.5])
    v = jnp.asarray([0.5, 0.0])  # u_hat = 1, v_hat = 1: sigma = 0; second coordinate all zero
    g = jnp.asarray([1.0, 0.0])  # Delta = 0 in both
    for delta in (0.0, 1e-16):
        h = as_hyper(MADAM, b2_min=0.55, b2_max=0.99, delta=delta)
        beta = BETA(jnp.int32(3), u, v, w, g, h)
        np.testing.assert_array_equal(np.asarray(beta), [0.55, 0.55])
        assert np.all(np.isfinite(np.asarray(DBETA_DG(jnp.int32(3), u, v, w, g, h))))
        state = madam.State(jnp.int32(2), jnp.zeros(2), u, v, w, None)
        x, new = MADAM_STEP(jnp.zeros(2), g, state, h)
        np.testing.assert_allclose(np.asarray(new.w), 0.55 * 0.5 + 0.45, rtol=1e-15)
        assert np.all(np.isfinite(np.asarray(x)))
    h = as_hyper(MADAM, b2_min=0.5, b2_max=1.0, delta=1e-16)
    one = jnp.ones(2)
    beta = BETA(jnp.int32(9), one, 1.5 * one, one, one, h)
    np.testing.assert_array_equal(np.asarray(beta), [1.0, 1.0])


def test_adamal_first_step_without_bias_correction():
    """t = 1, eps = 0: m = (1 - b1) g, v = (1 - b2) g^2, so the step is
    lr (1 - b1)/sqrt(1 - b2) sgn(g), about 3.16 lr for (0.9, 0.999)."""
    opt = adamal.make()
    h = as_hyper(opt, learning_rate=0.1, eps=0.0)
    g = jnp.asarray([0.3, -2.0, 1e-3])
    x1, _ = opt.step(jnp.zeros(3), g, opt.init(jnp.zeros(3), h), h)
    np.testing.assert_allclose(
        np.asarray(x1), -0.1 * 0.1 / np.sqrt(0.001) * np.sign(np.asarray(g)), rtol=1e-14
    )


def test_adamal_ball_projection_optimality():
    """The weighted projection onto {||x|| <= R} of a point outside: ||x|| = R and the KKT
    condition a (y - x) = lam x with lam > 0 (x_i = a_i y_i/(a_i + lam)); a point inside is
    left alone. a spans 1e-3 .. 1e3 so the weighting matters."""
    rng = np.random.default_rng(7)
    y = {"p": jnp.asarray(rng.normal(size=5) * 3), "q": jnp.asarray(rng.normal(size=(2, 3)))}
    a = {
        "p": jnp.asarray(10.0 ** rng.uniform(-3, 3, 5)),
        "q": jnp.asarray(10.0 ** rng.uniform(-3, 3, (2, 3))),
    }  # noqa: E501
    radius = 1.5
    x = jax.jit(lambda y, a: adamal.project_ball(y, a, radius))(y, a)
    flat = lambda t: np.concatenate([np.ravel(np.asarray(t[k])) for k in ("p", "q")])  # noqa: E731
    xf, yf, af = flat(x), flat(y), flat(a)
    np.testing.assert_allclose(np.linalg.norm(xf), radius, rtol=1e-13)
    lam = af * (yf - xf) / xf
    np.testing.assert_allclose(lam, lam[0], rtol=1e-9)
    assert lam[0] > 0
    # differs from the Euclidean projection (the weights matter)
    assert np.max(np.abs(xf - yf * radius / np.linalg.norm(yf))) > 1e-2
    inside = jax.tree_util.tree_map(lambda v: v * 0.01, y)
    kept = jax.jit(lambda y, a: adamal.project_ball(y, a, radius))(inside, a)
    assert all(np.array_equal(np.asarray(kept[k]), np.asarray(inside[k])) for k in y)


# --- 4. vmap, compilation, diagnostics, registry ----------------------------------------------

VMAP_CASES = [
    ("adamomentum", {}),
    ("adamal", {"projection": "ball", "radius": 2.5}),
    ("madam", {"amsgrad": True}),
    ("lamadam", {}),
]


@pytest.mark.parametrize("name, static", VMAP_CASES, ids=[c[0] for c in VMAP_CASES])
def test_vmap_over_learning_rates_equals_separate_runs_and_compiles_once(name, static):
    opt = MODULES[name].make(**static)
    lrs = [1e-3, 1e-2, 3e-2]
    key = (opt.name, tuple(sorted(opt.static.items())))
    before = TRACES.get(key, 0)
    singles = [run_jax(opt, as_hyper(opt, learning_rate=lr))["x"] for lr in lrs]
    assert TRACES[key] - before <= 1  # new hyperparameter values reuse the program
    base = as_hyper(opt)
    grid = type(base)(*(jnp.broadcast_to(v, (3,)) for v in base))._replace(
        learning_rate=jnp.asarray(lrs)
    )
    args = (X0, NOISE, jnp.asarray(ONES), jnp.asarray(1.0), jnp.asarray(KAPPA))
    batched = jax.jit(jax.vmap(lambda h: runner(opt)(h, *args)["x"]))(grid)
    for i, x in enumerate(singles):
        for k in x:
            np.testing.assert_allclose(np.asarray(batched[k])[i], x[k], rtol=1e-12, atol=0)
        assert moved(x) > 1e-3


@pytest.mark.parametrize(
    "name, static",
    [("adamomentum", {}), ("adamal", {"bias_correction": True}), ("madam", {}),
     ("madam", {"eps_mode": "paper"}), ("madam", {"amsgrad": True}), ("lamadam", {}),
     ("lamadam", {"eps_mode": "paper"})],
)  # fmt: skip
def test_diagnostics_hook(name, static):
    """{"step_size", "denominator"} over a whole run: leafwise like the parameters, finite,
    positive, step_size = lr / denominator, and the denominator is what the step divides by:
    x_t = x_{t-1} - step_size_t m_t/(1 - b1^t) (adamomentum, madam, adamal)."""
    module = MODULES[name]
    opt = module.make(**static)
    h = as_hyper(opt, learning_rate=0.05)
    out = run_jax(opt, h)
    hook = jax.jit(jax.vmap(lambda g, s: module.ENTRY.diagnostics(g, s, h, opt.static)))
    d = jax.tree_util.tree_map(np.asarray, hook(out["g"], out["state"]))
    assert set(d) == {"step_size", "denominator"}
    bc1 = (1 - 0.9 ** np.arange(1, T + 1)).reshape(-1, 1)
    for k in X0:
        den, step = d["denominator"][k], d["step_size"][k]
        assert den.shape == (T, *X0[k].shape) and np.all(den > 0) and np.all(np.isfinite(step))
        np.testing.assert_allclose(step, 0.05 / den, rtol=1e-14)
        if name != "lamadam":
            x, m = out["x"][k], out["state"].m[k]
            prev = np.concatenate([X0[k][None], x[:-1]])
            want = prev - step * m / bc1.reshape(-1, *[1] * X0[k].ndim)
            np.testing.assert_allclose(x, want, rtol=1e-12, atol=1e-15)
    if name == "lamadam":  # n_t = g_t / D_t: M_t = b1 M_{t-1} + (1 - b1) lr n_t
        for k in X0:
            M = out["state"].M[k]
            prev = np.concatenate([np.zeros((1, *X0[k].shape)), M[:-1]])
            want = 0.9 * prev + 0.1 * 0.05 * out["g"][k] / d["denominator"][k]
            np.testing.assert_allclose(M, want, rtol=1e-12, atol=1e-15)


def test_registry_entries():
    table = entries()
    for name, module in MODULES.items():
        e = table[name]
        assert e is module.ENTRY and e.diagnostics is not None and e.bibtex
        opt = e.make()
        assert opt.name == name and set(opt.static) == set(e.static_choices) | (
            {"lower", "upper", "radius"} if name == "adamal" else set()
        )
        for key, choices in e.static_choices.items():
            assert opt.static[key] == choices[0]
        assert module.__doc__ and "Departures" in module.__doc__
    for name in ("madam", "lamadam"):
        bounds = table[name].all_bounds()
        assert bounds["b2_min"] == (0.0, 1.0, "[]") and bounds["b2_max"] == (0.0, 1.0, "[]")
        assert bounds["delta"][0] == 0.0


@pytest.mark.parametrize(
    "name, static",
    [("madam", {"eps_mode": "E1"}), ("lamadam", {"eps_mode": "x"}),
     ("adamal", {"projection": "sphere"}),
     ("adamal", {"projection": "box", "lower": 1.0, "upper": 0.0}),
     ("adamal", {"projection": "ball", "radius": 0.0})],
)  # fmt: skip
def test_bad_static_options_raise(name, static):
    with pytest.raises(ValueError, match=name):
        MODULES[name].make(**static)
