"""The baseline optimizers: amsgrad, adabelief, rmsprop, adagrad, yogi, adabound, radam, laprop,
nadam, msvag, fromage, signsgd (docs/optimizers.md#baselines, #reference-libraries,
#identities (13-20), #choices).

- every optimizer against ``reference_baselines.py`` (NumPy transcriptions of the official
  code / paper, float64) for 120 steps on a 3-leaf pytree, rtol 1e-10;
- against optax where optax implements the same formula, and each known library difference
  as a test that the difference is there;
- the identities of docs/optimizers.md#identities (M-SVAG = SGD under a constant gradient,
  AdaBound's two limits, RAdam's first five steps, Fromage's norm preservation, scale invariance and
  where it fails);
- edge cases (sgn(0) = 0, eps = 0 with zero moments, autodiff through the step), vmap over a
  learning-rate grid, one compilation per static configuration, the diagnostics hook.

Gradients are g_t = c (G_t + kappa x_{t-1}) with a fixed random sequence G (no exact zeros);
each (optimizer, static options) is compiled once and driven by ``lax.scan``, with every
hyperparameter, c and kappa traced, so different values reuse the program.
"""

from __future__ import annotations

import numpy as np
import optax
import pytest
import reference_baselines as ref
from harness import (
    ATOL,
    KAPPA,
    NOISE,
    RTOL,
    SHAPES,
    X0,
    T,
    as_hyper,
    assert_tree_close,
    run_optax,
)

from optlab._jax import jax, jnp
from optlab.optimizers import (
    adabelief,
    adabound,
    adagrad,
    adam,
    amsgrad,
    entries,
    fromage,
    heavy_ball,
    laprop,
    msvag,
    nadam,
    radam,
    rmsprop,
    signsgd,
    yogi,
)

MODULES = {
    "amsgrad": amsgrad,
    "adabelief": adabelief,
    "rmsprop": rmsprop,
    "adagrad": adagrad,
    "yogi": yogi,
    "adabound": adabound,
    "radam": radam,
    "laprop": laprop,
    "nadam": nadam,
    "msvag": msvag,
    "fromage": fromage,
    "signsgd": signsgd,
}

# --- drivers -----------------------------------------------------------------------------

TRACES: dict = {}  # (runner key, leaf shapes) -> number of times the program was traced


def shapes_of(tree):
    return tuple(sorted((k, tuple(v.shape)) for k, v in tree.items()))


_RUNNERS: dict = {}


def runner(opt, batched=False):
    """A jitted (hyper, x0, noise, c, kappa, lr_scale) -> trajectory, one per (optimizer,
    static); step t sees learning_rate * lr_scale[t-1] (a schedule, as the runner applies one:
    ``init`` sees the base learning rate).

    ``batched=True``: vmapped over a grid of hyperparameters (everything else shared); it also
    returns, per step, the diagnostics hook and the state's m, and at the end the tangent of
    the step map y -> step(y, grad(y), state) along y (forward-mode autodiff through a step).
    """
    key = (opt.name, tuple(sorted(opt.static.items())), batched)
    if key in _RUNNERS:
        return _RUNNERS[key]
    diagnostics = MODULES[opt.name].ENTRY.diagnostics if batched else None

    def run(hyper, x0, noise, c, kappa, lr_scale):
        traced = (key, shapes_of(x0))
        TRACES[traced] = TRACES.get(traced, 0) + 1
        state = opt.init(x0, hyper)

        def grads(n, x):
            return jax.tree_util.tree_map(lambda n, x: c * (n + kappa * x), n, x)

        def body(carry, inputs):
            (x, s), (g_t, scale) = carry, inputs
            g = grads(g_t, x)
            h = hyper._replace(learning_rate=hyper.learning_rate * scale)
            x, s = opt.step(x, g, s, h)
            out = {"x": x}
            if batched:
                out["m"] = getattr(s, "m", x)
                if diagnostics is not None:
                    out["diag"] = diagnostics(g, s, h, opt.static)
            return (x, s), out

        (x, s), out = jax.lax.scan(body, (x0, state), (noise, lr_scale))
        if not batched:
            return out["x"]
        last = jax.tree_util.tree_map(lambda n: n[-1], noise)
        step_map = lambda y: opt.step(y, grads(last, y), s, hyper)[0]  # noqa: E731
        out["tangent"] = jax.jvp(step_map, (x,), (x,))[1]
        return out

    fn = jax.jit(jax.vmap(run, in_axes=(0, None, None, None, None, None)) if batched else run)
    _RUNNERS[key] = (fn, key)
    return _RUNNERS[key]


CONSTANT = np.ones(T)


def grid_of(opt, lrs, **overrides):
    base = as_hyper(opt, **overrides)._replace(learning_rate=jnp.asarray(lrs))
    return type(base)(*(jnp.broadcast_to(v, (len(lrs),)) for v in base))


def run_jax(opt, hyper=None, x0=X0, noise=NOISE, c=1.0, kappa=KAPPA, lr_scale=CONSTANT):
    fn, _ = runner(opt)
    hyper = as_hyper(opt) if hyper is None else hyper
    out = fn(hyper, x0, noise, jnp.asarray(c), jnp.asarray(kappa), lr_scale)
    return {k: np.asarray(v) for k, v in out.items()}


def run_ref(cls, x0=X0, noise=NOISE, c=1.0, kappa=KAPPA, lr_schedule=None, **hp):
    opt = cls(x0, **hp)
    grad_fn = lambda p, t: {k: c * (noise[k][t - 1] + kappa * p[k]) for k in p}  # noqa: E731
    traj = ref.run(opt, grad_fn, T, lr_schedule)
    # the case exercises what it is meant to: both AdaBound bounds, Fromage's p_bound
    if cls is ref.AdaBound:
        assert np.all(opt.clipped > 0), opt.clipped
    if cls is ref.Fromage and hp.get("p_bound") is not None:
        assert getattr(opt, "bounded", 0) > 0
    return traj


def max_rel_diff(a, b):
    return max(float(np.max(np.abs(a[k] - b[k]) / np.maximum(np.abs(b[k]), 1e-300))) for k in a)


# --- 1. each optimizer against its NumPy transcription ----------------------------------
# (id, static kwargs, hyper overrides, reference class, reference kwargs)
REF_CASES = [
    ("amsgrad", {}, dict(learning_rate=1e-2, l2=0.05, weight_decay=0.5), ref.AMSGrad,
     dict(lr=1e-2, b1=0.9, b2=0.999, eps=1e-8, l2=0.05, weight_decay=0.5, variant="torch")),
    ("amsgrad", {"amsgrad_variant": "optax"}, dict(learning_rate=1e-2, b2=0.99, eps=1e-3),
     ref.AMSGrad, dict(lr=1e-2, b1=0.9, b2=0.99, eps=1e-3, variant="optax")),
    ("amsgrad", {"amsgrad_variant": "paper"}, dict(learning_rate=1e-2, eps=1e-3), ref.AMSGrad,
     dict(lr=1e-2, b1=0.9, b2=0.999, eps=1e-3, variant="paper")),
    ("adabelief", {}, dict(learning_rate=1e-2, eps=1e-3, l2=0.05), ref.AdaBelief,
     dict(lr=1e-2, b1=0.9, b2=0.999, eps=1e-3, l2=0.05)),
    ("adabelief", {}, dict(learning_rate=1e-2, eps=1e-3, weight_decay=0.5), ref.AdaBelief,
     dict(lr=1e-2, b1=0.9, b2=0.999, eps=1e-3, weight_decay=0.5)),
    ("adabelief", {}, dict(learning_rate=1e-2, eps=1e-8, mu=1e-3), ref.AdaBelief,
     dict(lr=1e-2, b1=0.9, b2=0.999, eps=1e-8, mu=1e-3)),
    ("adabelief", {"amsgrad": True}, dict(learning_rate=1e-2, b2=0.99, eps=1e-4),
     ref.AdaBelief, dict(lr=1e-2, b1=0.9, b2=0.99, eps=1e-4, amsgrad=True)),
    ("rmsprop", {}, dict(eps=1e-3, l2=0.05), ref.RMSprop,
     dict(lr=1e-2, alpha=0.99, eps=1e-3, l2=0.05)),
    ("rmsprop", {"centered": True}, dict(decay=0.9, eps=1e-4, momentum=0.9), ref.RMSprop,
     dict(lr=1e-2, alpha=0.9, eps=1e-4, momentum=0.9, centered=True)),
    ("rmsprop", {"centered": True, "eps_in_sqrt": True, "bias_correction": True},
     dict(decay=0.9, eps=1e-3, momentum=0.5), ref.RMSprop,
     dict(lr=1e-2, alpha=0.9, eps=1e-3, momentum=0.5, centered=True, eps_in_sqrt=True,
          bias_correction=True)),
    ("adagrad", {}, dict(learning_rate=0.1, eps=1e-3, initial_accumulator_value=0.05,
                         lr_decay=0.01, l2=0.05), ref.Adagrad,
     dict(lr=0.1, eps=1e-3, initial_accumulator_value=0.05, lr_decay=0.01, l2=0.05)),
    ("adagrad", {"eps_in_sqrt": True}, dict(learning_rate=0.1, eps=1e-2), ref.Adagrad,
     dict(lr=0.1, eps=1e-2, eps_in_sqrt=True)),
    ("yogi", {}, dict(l2=0.05), ref.Yogi,
     dict(lr=1e-2, b1=0.9, b2=0.999, eps=1e-3, initial_accumulator_value=1e-6, l2=0.05)),
    # gamma = 0.05, lr = 0.1, final_lr = 0.12: both bounds are active (checked below)
    ("adabound", {}, dict(learning_rate=0.1, final_lr=0.12, gamma=0.05, l2=0.05, mu=1e-3),
     ref.AdaBound, dict(lr=0.1, b1=0.9, b2=0.999, eps=1e-8, final_lr=0.12, gamma=0.05, l2=0.05,
                        mu=1e-3)),
    ("adabound", {"amsbound": True}, dict(learning_rate=0.1, final_lr=0.12, gamma=0.05),
     ref.AdaBound, dict(lr=0.1, b1=0.9, b2=0.999, eps=1e-8, final_lr=0.12, gamma=0.05,
                        amsbound=True)),
    ("radam", {}, dict(learning_rate=1e-2, eps=1e-3, weight_decay=0.5), ref.RAdam,
     dict(lr=1e-2, b1=0.9, b2=0.999, eps=1e-3, weight_decay=0.5)),
    ("radam", {"degenerated_to_sgd": True}, dict(learning_rate=1e-2, b2=0.99, weight_decay=0.5),
     ref.RAdam, dict(lr=1e-2, b1=0.9, b2=0.99, eps=1e-8, weight_decay=0.5,
                     degenerated_to_sgd=True)),
    ("laprop", {}, dict(learning_rate=1e-2, eps=1e-4, mu=1e-3), ref.LaProp,
     dict(lr=1e-2, b1=0.9, b2=0.999, eps=1e-4, mu=1e-3)),
    ("laprop", {"amsgrad": True}, dict(learning_rate=1e-2, b2=0.99), ref.LaProp,
     dict(lr=1e-2, b1=0.9, b2=0.99, eps=1e-15, amsgrad=True)),
    ("laprop", {"amsgrad": True, "centered": True}, dict(learning_rate=1e-2, b2=0.9),
     ref.LaProp, dict(lr=1e-2, b1=0.9, b2=0.9, eps=1e-15, amsgrad=True, centered=True)),
    ("nadam", {}, dict(eps=1e-3, l2=0.05, weight_decay=0.5), ref.NAdam,
     dict(lr=2e-3, b1=0.9, b2=0.999, eps=1e-3, l2=0.05, weight_decay=0.5)),
    ("nadam", {"torch_schedule": True}, dict(eps=1e-3, momentum_decay=0.05), ref.NAdam,
     dict(lr=2e-3, b1=0.9, b2=0.999, eps=1e-3, torch_schedule=True, momentum_decay=0.05)),
    ("msvag", {}, dict(learning_rate=0.1), ref.MSVAG, dict(lr=0.1, beta=0.9)),
    ("fromage", {}, dict(learning_rate=0.05), ref.Fromage, dict(lr=0.05)),
    ("fromage", {"layers": "coord", "p_bound": 1.02}, dict(learning_rate=0.05), ref.Fromage,
     dict(lr=0.05, chunk=1, p_bound=1.02)),
    ("signsgd", {}, dict(learning_rate=1e-2), ref.SignSGD, dict(lr=1e-2)),
]  # fmt: skip


def _case_id(case):
    name, static = case[0], case[1]
    return name + "".join(f"-{k}={v}" for k, v in static.items())


@pytest.mark.parametrize("case", REF_CASES, ids=[_case_id(c) for c in REF_CASES])
def test_matches_numpy_reference(case):
    name, static, overrides, cls, hp = case
    opt = MODULES[name].make(**static)
    got = run_jax(opt, as_hyper(opt, **overrides))
    want = run_ref(cls, **hp)
    assert_tree_close(got, want)
    # the run moved (the comparison is not between two frozen trajectories)
    assert max(float(np.max(np.abs(got[k][-1] - X0[k]))) for k in X0) > 1e-3


def test_every_option_is_covered_by_a_reference_case():
    for name, module in MODULES.items():
        choices = module.ENTRY.static_choices
        for option, values in choices.items():
            covered = {c[1].get(option, values[0]) for c in REF_CASES if c[0] == name}
            assert covered == set(values), (name, option, covered)


@pytest.mark.parametrize(
    "case",
    [
        (adabound, dict(learning_rate=0.1, final_lr=0.12, gamma=0.05), ref.AdaBound,
         dict(lr=0.1, b1=0.9, b2=0.999, eps=1e-8, final_lr=0.12, gamma=0.05)),
        (laprop, dict(learning_rate=1e-2, eps=1e-4), ref.LaProp,
         dict(lr=1e-2, b1=0.9, b2=0.999, eps=1e-4)),
    ],
    ids=["adabound", "laprop"],
)  # fmt: skip
def test_learning_rate_schedule_as_official(case):
    """AdaBound's final_lr follows lr_t/lr_0 and LaProp's lr-EMAs follow lr_t, as in the
    official code under a torch scheduler (here the runner's inv_sqrt schedule)."""
    module, overrides, cls, hp = case
    opt = module.make()
    lr0 = overrides["learning_rate"]
    schedule = lambda t: lr0 / np.sqrt(t)  # noqa: E731  (the runner's inv_sqrt)
    got = run_jax(opt, as_hyper(opt, **overrides), lr_scale=1 / np.sqrt(np.arange(1, T + 1)))
    assert_tree_close(got, run_ref(cls, lr_schedule=schedule, **hp))
    # and the schedule matters: a constant lr is another trajectory
    assert max_rel_diff(got, run_jax(opt, as_hyper(opt, **overrides))) > 1e-3


# --- 2. optax where it implements the same formula; differences as tests ------------------


def test_amsgrad_variants_vs_optax():
    with jax.numpy_dtype_promotion("standard"):
        tx_optax = optax.amsgrad(1e-2, eps=1e-3)
        tx_paper = optax.amsgrad(1e-2, eps=1e-3, bias_correction_mu=False, bias_correction_nu=False)
    ref_optax, ref_paper = run_optax(tx_optax), run_optax(tx_paper)
    for variant, want in (("optax", ref_optax), ("paper", ref_paper)):
        opt = amsgrad.make(amsgrad_variant=variant)
        assert_tree_close(run_jax(opt, as_hyper(opt, learning_rate=1e-2, eps=1e-3)), want)
    # torch's max over the raw v (optlab default) is not optax's max over v_hat
    opt = amsgrad.make()
    torch_form = run_jax(opt, as_hyper(opt, learning_rate=1e-2, eps=1e-3))
    assert max_rel_diff(torch_form, ref_optax) > 1e-3


def test_adabelief_is_optax_with_eps_root_eps():
    eps = 1e-3
    opt = adabelief.make()
    got = run_jax(opt, as_hyper(opt, learning_rate=1e-2, eps=eps))
    with jax.numpy_dtype_promotion("standard"):
        same = optax.adabelief(1e-2, eps=eps, eps_root=eps)  # optax adds eps_root to its state
    assert_tree_close(got, run_optax(same))


def test_yogi_equals_optax():
    opt = yogi.make()
    assert_tree_close(run_jax(opt), run_optax(optax.yogi(1e-2)))


def test_radam_vs_optax():
    with jax.numpy_dtype_promotion("standard"):
        tx0 = optax.radam(1e-2, eps=0.0)  # always degenerates to SGD while rho_t < 5
    want = run_optax(tx0)
    opt = radam.make(degenerated_to_sgd=True)
    assert_tree_close(run_jax(opt, as_hyper(opt, learning_rate=1e-2, eps=0.0)), want)
    # official default (degenerated_to_sgd=False): no update at all for t <= 5
    opt = radam.make()
    got = run_jax(opt, as_hyper(opt, learning_rate=1e-2, eps=0.0))
    assert max(float(np.max(np.abs(got[k][:5] - want[k][:5]))) for k in got) > 1e-3


def test_fromage_vs_optax_min_norm():
    x0 = dict(X0, c=np.zeros(5))  # layer c starts at 0: a zero-norm layer
    opt = fromage.make()
    got = run_jax(opt, as_hyper(opt, learning_rate=0.05), x0=x0)
    assert_tree_close(got, run_optax(optax.fromage(0.05, min_norm=0.0), x0=x0))
    default = run_optax(optax.fromage(0.05), x0=x0)  # min_norm = 1e-6
    for k in ("a", "b"):  # non-zero layers: identical
        np.testing.assert_allclose(got[k], default[k], rtol=RTOL, atol=ATOL)
    # the zero layer: the official trust ratio 1 vs optax's 1e-6/||g|| at the first step
    g1 = NOISE["c"][0]
    np.testing.assert_allclose(got["c"][0], -0.05 * g1 / np.sqrt(1 + 0.05**2), rtol=1e-12)
    assert np.max(np.abs(default["c"][0])) < 1e-6


def test_signsgd_equals_optax():
    opt = signsgd.make()
    assert_tree_close(run_jax(opt), run_optax(optax.sign_sgd(1e-3)))


def test_nadam_vs_optax():
    opt = nadam.make()
    keras_form = run_optax(optax.nadam(2e-3, eps=1e-3))
    assert_tree_close(run_jax(opt, as_hyper(opt, eps=1e-3)), keras_form)
    with jax.numpy_dtype_promotion("standard"):
        txw = optax.nadamw(2e-3, eps=1e-3, weight_decay=0.5)
    assert_tree_close(run_jax(opt, as_hyper(opt, eps=1e-3, weight_decay=0.5)), run_optax(txw))
    # torch's mu-schedule is a different method
    opt_t = nadam.make(torch_schedule=True)
    torch_form = run_jax(opt_t, as_hyper(opt_t, eps=1e-3))
    assert max_rel_diff(torch_form, keras_form) > 1e-3


def test_rmsprop_vs_optax():
    eps = 1e-3
    cases = [
        ({}, dict(eps=eps), dict(decay=0.99, eps=eps, eps_in_sqrt=False)),
        ({"centered": True}, dict(decay=0.9, eps=1e-4, momentum=0.9),
         dict(decay=0.9, eps=1e-4, eps_in_sqrt=False, centered=True, momentum=0.9)),
        ({"centered": True, "eps_in_sqrt": True, "bias_correction": True},
         dict(decay=0.9, eps=eps, momentum=0.5),
         dict(decay=0.9, eps=eps, centered=True, momentum=0.5, bias_correction=True)),
    ]  # fmt: skip
    for static, ours, theirs in cases:
        opt = rmsprop.make(**static)
        with jax.numpy_dtype_promotion("standard"):
            tx = optax.rmsprop(1e-2, **theirs)
        assert_tree_close(run_jax(opt, as_hyper(opt, **ours)), run_optax(tx))
    # optax's own defaults (decay 0.9, eps inside the root) are not torch's
    opt = rmsprop.make()
    got = run_jax(opt, as_hyper(opt, eps=eps))
    with jax.numpy_dtype_promotion("standard"):
        tx = optax.rmsprop(1e-2, eps=eps)
    assert max_rel_diff(got, run_optax(tx)) > 1e-3


def test_adagrad_vs_optax():
    opt = adagrad.make(eps_in_sqrt=True)
    same = run_jax(opt, as_hyper(opt, learning_rate=0.1, initial_accumulator_value=0.1, eps=1e-7))
    tx = optax.adagrad(0.1)  # s_0 = 0.1, eps = 1e-7 inside the root
    assert_tree_close(same, run_optax(tx))
    # torch's defaults (s_0 = 0, eps = 1e-10 outside) differ from optax's
    opt = adagrad.make()
    assert max_rel_diff(run_jax(opt, as_hyper(opt, learning_rate=0.1)), run_optax(tx)) > 1e-3


# --- 3. identities (docs/optimizers.md#identities) -----------------------------------------------


def test_msvag_constant_gradient_is_sgd():
    c = {k: np.random.default_rng(2).uniform(0.5, 2.0, size=s) for k, s in SHAPES.items()}
    noise = {k: np.broadcast_to(v, (T, *v.shape)).copy() for k, v in c.items()}
    opt = msvag.make()
    got = run_jax(opt, as_hyper(opt, learning_rate=0.1), noise=noise, kappa=0.0)
    steps = np.arange(1, T + 1)
    for k in c:
        want = X0[k][None] - 0.1 * steps.reshape((-1,) + (1,) * c[k].ndim) * c[k][None]
        np.testing.assert_allclose(got[k], want, rtol=1e-10, atol=1e-12)


def test_adabound_limits():
    hp = dict(learning_rate=1e-2, b1=0.9, b2=0.999, eps=1e-6)
    opt = adabound.make()
    # gamma -> 0: bounds [0, inf], Adam with eps outside the raw root (E4)
    small = run_jax(opt, as_hyper(opt, gamma=1e-12, **hp))
    e4 = adam.make(eps_mode="E4")
    assert_tree_close(small, run_jax(e4, as_hyper(e4, **hp)))
    # gamma -> inf: both bounds at final_lr, the dampened heavy ball with lr = final_lr
    large = run_jax(opt, as_hyper(opt, gamma=1e12, final_lr=0.05, **hp))
    hb = heavy_ball.make(dampening=True)
    assert_tree_close(large, run_jax(hb, as_hyper(hb, learning_rate=0.05, momentum=0.9)))


def test_radam_no_update_for_first_five_steps():
    opt = radam.make()
    xs = run_jax(opt, as_hyper(opt, learning_rate=1e-2, weight_decay=0.5))  # no decay either
    for k in X0:
        np.testing.assert_array_equal(xs[k][:5], np.broadcast_to(X0[k], xs[k][:5].shape))
        assert np.all(xs[k][5] != X0[k])
    rho, rect, _ = radam.rectification(jnp.arange(1, 8), 0.999)
    t = np.arange(1, 8)
    exact = (2 / 0.001 - 1) - 2 * t * 0.999**t / (1 - 0.999**t)
    np.testing.assert_allclose(np.asarray(rho), exact, rtol=1e-11)
    # docs/optimizers.md#radam quotes 1.0, 2.0, 3.0, 4.0, 4.996 (rounded)
    np.testing.assert_allclose(exact[:5], [1.0, 2.0, 3.0, 4.0, 4.996], atol=3e-3)
    assert np.asarray(rect).tolist() == [False] * 5 + [True] * 2


def test_radam_degenerate_early_steps_are_sgd_momentum():
    opt = radam.make(degenerated_to_sgd=True)
    lr = 1e-2
    xs = run_jax(opt, as_hyper(opt, learning_rate=lr), kappa=0.0)
    m = {k: np.zeros_like(v) for k, v in X0.items()}
    x = {k: v.copy() for k, v in X0.items()}
    for t in range(1, 6):
        for k in X0:
            m[k] = 0.9 * m[k] + 0.1 * NOISE[k][t - 1]
            x[k] = x[k] - lr * m[k] / (1 - 0.9**t)
            np.testing.assert_allclose(xs[k][t - 1], x[k], rtol=1e-12)


@pytest.mark.parametrize("layers", ["leaf", "chunk:2"])
def test_fromage_orthogonal_gradient_keeps_layer_norms(layers):
    rng = np.random.default_rng(3)
    shapes = {"a": (4,), "b": (2, 4), "c": (6,)}
    x = {k: jnp.asarray(rng.normal(size=s)) for k, s in shapes.items()}
    n = 2 if layers == "chunk:2" else None
    opt = fromage.make(layers=layers)
    h = as_hyper(opt, learning_rate=0.3)
    state = opt.init(x, h)
    step = jax.jit(opt.step)

    def rows(v):
        v = np.asarray(v).reshape(-1)
        return v.reshape(-1, n) if n else v[None, :]

    for _ in range(3):
        g = {}
        for k, v in x.items():
            xr, r = rows(v), rng.normal(size=rows(v).shape)
            r = r - (np.sum(r * xr, 1, keepdims=True) / np.sum(xr * xr, 1, keepdims=True)) * xr
            g[k] = jnp.asarray(r.reshape(v.shape))
        before = {k: np.linalg.norm(rows(v), axis=1) for k, v in x.items()}
        x_new, state = step(x, g, state, h)
        for k in x:
            np.testing.assert_allclose(
                np.linalg.norm(rows(x_new[k]), axis=1), before[k], rtol=1e-12
            )
            assert np.max(np.abs(np.asarray(x_new[k]) - np.asarray(x[k]))) > 1e-2
        x = x_new


INVARIANT = [  # (id, static, overrides with eps = 0)
    ("amsgrad", {}, dict(eps=0.0)),
    ("amsgrad", {"amsgrad_variant": "optax"}, dict(eps=0.0)),
    ("adabelief", {}, dict(eps=0.0)),
    ("rmsprop", {"centered": True}, dict(eps=0.0, momentum=0.9)),
    ("adagrad", {}, dict(eps=0.0)),
    ("radam", {}, dict(eps=0.0)),
    ("laprop", {}, dict(eps=0.0)),
    ("nadam", {}, dict(eps=0.0)),
    ("nadam", {"torch_schedule": True}, dict(eps=0.0)),
    ("fromage", {}, {}),
    ("signsgd", {}, {}),
]
NOT_INVARIANT = [
    ("yogi", {}, dict(eps=0.0)),  # the 1e-6 initial accumulator
    ("adabound", {}, dict(eps=0.0)),  # absolute bounds
    ("msvag", {}, {}),  # the step is proportional to the gradient
]
SCALE = 2.0**-10  # a power of two: every rescaled operation is exact


@pytest.mark.parametrize("case", INVARIANT, ids=[_case_id(c) for c in INVARIANT])
def test_scale_invariance(case):
    name, static, overrides = case
    opt = MODULES[name].make(**static)
    h = as_hyper(opt, **overrides)
    base = run_jax(opt, h)
    assert_tree_close(run_jax(opt, h, c=SCALE), base, rtol=1e-12, atol=0)


@pytest.mark.parametrize("case", NOT_INVARIANT, ids=[_case_id(c) for c in NOT_INVARIANT])
def test_scale_invariance_fails(case):
    name, static, overrides = case
    opt = MODULES[name].make(**static)
    h = as_hyper(opt, **overrides)
    assert max_rel_diff(run_jax(opt, h, c=SCALE), run_jax(opt, h)) > 1e-3


# --- 4. edge cases -------------------------------------------------------------------------


def test_signsgd_sign_of_zero_is_zero():
    noise = {k: v.copy() for k, v in NOISE.items()}
    noise["a"][0] = [0.0, -5.0, 1e-300]
    xs = run_jax(
        signsgd.make(), as_hyper(signsgd.make(), learning_rate=0.5), noise=noise, kappa=0.0
    )
    np.testing.assert_array_equal(xs["a"][0], X0["a"] + [0.0, 0.5, -0.5])


EPS_ZERO = {  # optimizers with an eps, set to 0 (msvag has none; its 0/0 is the same case)
    "amsgrad": dict(eps=0.0),
    "adabelief": dict(eps=0.0),
    "rmsprop": dict(eps=0.0),
    "adagrad": dict(eps=0.0),
    "yogi": dict(eps=0.0, initial_accumulator_value=0.0),
    "adabound": dict(eps=0.0),
    "radam": dict(eps=0.0),
    "laprop": dict(eps=0.0),
    "nadam": dict(eps=0.0),
    "msvag": {},
    "fromage": {},
    "signsgd": {},
}
ZERO_C = dict(NOISE, c=np.zeros_like(NOISE["c"]))  # leaf c: gradient always 0 (with kappa = 0)
CONFIGS = sorted({(c[0], tuple(sorted(c[1].items()))) for c in REF_CASES})


@pytest.mark.parametrize("config", CONFIGS, ids=[n + str(dict(s)) for n, s in CONFIGS])
def test_eps_zero_with_zero_moments(config):
    """Every static configuration, eps = 0, a leaf whose gradient is always 0 (so every
    moment of it is 0): no NaN, that leaf does not move, the others do (0/0 rule)."""
    name, static = config
    opt = MODULES[name].make(**dict(static))
    xs = run_jax(opt, as_hyper(opt, learning_rate=1e-2, **EPS_ZERO[name]), noise=ZERO_C, kappa=0.0)
    for k in X0:
        assert np.all(np.isfinite(xs[k])), k
    if name == "fromage":  # x - lr*0, then / sqrt(1 + lr^2), every step
        shrink = (1 + 1e-4) ** -(np.arange(1, T + 1) / 2)
        np.testing.assert_allclose(xs["c"], shrink[:, None] * X0["c"], rtol=1e-12)
    else:
        np.testing.assert_array_equal(xs["c"], np.broadcast_to(X0["c"], xs["c"].shape))
    assert np.max(np.abs(xs["a"][-1] - X0["a"])) > 1e-3


def test_yogi_initial_accumulator_moves_a_zero_gradient_leaf():
    """With the default m_0 = v_0 = 1e-6, m_hat is not 0 although g = 0: leaf c drifts a little
    (with initial_accumulator_value = 0 it does not move: test_eps_zero_with_zero_moments)."""
    opt = yogi.make()
    xs = run_jax(opt, noise=ZERO_C, kappa=0.0)
    drift = np.max(np.abs(xs["c"][-1] - X0["c"]))
    assert 0 < drift < 1e-4


def test_adabound_bounds_at_first_step():
    """t = 1 with final_lr = 0.1, gamma = 1e-3: bounds [0.1 (1 - 1/1.001), 0.1 (1 + 1000)]; a
    huge gradient is clipped from below, a tiny one from above (diagnostics hook)."""
    opt = adabound.make()
    noise = {k: v.copy() for k, v in NOISE.items()}
    noise["a"][0] = [1e6, 1e-6, 1.0]
    fn_b, _ = runner(opt, batched=True)
    out = fn_b(grid_of(opt, (1e-3,) * 3), X0, noise, jnp.asarray(1.0), jnp.asarray(0.0), CONSTANT)
    step = np.asarray(out["diag"]["step_size"]["a"][0, 0]) / (1 - 0.9)  # clip(s_1)
    np.testing.assert_allclose(step[:2], [0.1 * (1 - 1 / 1.001), 0.1 * (1 + 1 / 1e-3)])
    assert step[0] < step[2] < step[1]


# --- 5. vmap over a learning-rate grid; one compilation ------------------------------------

GRID_LR = {  # three learning rates per optimizer, around its default
    "amsgrad": (1e-3, 1e-2, 3e-2),
    "adabelief": (1e-3, 1e-2, 3e-2),
    "rmsprop": (1e-3, 1e-2, 3e-2),
    "adagrad": (1e-2, 0.1, 0.3),
    "yogi": (1e-3, 1e-2, 3e-2),
    "adabound": (1e-3, 1e-2, 0.1),
    "radam": (1e-3, 1e-2, 3e-2),
    "laprop": (4e-4, 4e-3, 4e-2),
    "nadam": (2e-3, 2e-2, 5e-2),
    "msvag": (1e-2, 0.05, 0.1),
    "fromage": (1e-2, 0.05, 0.1),
    "signsgd": (1e-3, 1e-2, 3e-2),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_vmap_grid_equals_separate_runs_and_compiles_once(name):
    opt = MODULES[name].make()
    lrs = GRID_LR[name]
    _, key = runner(opt)
    separate = [run_jax(opt, as_hyper(opt, learning_rate=lr)) for lr in lrs]
    assert TRACES[(key, shapes_of(X0))] == 1  # three hyperparameter values, one program
    fn_b, key_b = runner(opt, batched=True)
    out = fn_b(grid_of(opt, lrs), X0, NOISE, jnp.asarray(1.0), jnp.asarray(KAPPA), CONSTANT)
    for i in range(3):
        got = {k: np.asarray(v[i]) for k, v in out["x"].items()}
        assert_tree_close(got, separate[i])  # M-SVAG amplifies rounding by 1/(1 - rho)
    assert max_rel_diff(separate[0], separate[2]) > 1e-6  # the grid points differ
    fn_b(
        grid_of(opt, lrs, **EPS_ZERO[name]),
        X0,
        ZERO_C,
        jnp.asarray(2.0),
        jnp.asarray(0.0),
        CONSTANT,
    )
    assert TRACES[(key_b, shapes_of(X0))] == 1


# x_{t-1} - x_t = step_size * u_t, with u the quantity each method's step size multiplies
M_HAT = ("amsgrad", "adabelief", "yogi", "adabound", "radam", "msvag")
RAW_G = ("rmsprop", "adagrad", "signsgd")


@pytest.mark.parametrize("name", list(MODULES))
def test_diagnostics_and_autodiff_through_the_step(name):
    """The batched program (shared with the vmap test) with eps = 0 and leaf c's gradient
    always 0: the diagnostics hook describes the step actually taken, and the forward-mode
    tangent of the step map is finite (the 0/0 rule is autodiff-safe)."""
    opt = MODULES[name].make()
    fn_b, _ = runner(opt, batched=True)
    grid = grid_of(opt, GRID_LR[name], **EPS_ZERO[name])
    out = fn_b(grid, X0, ZERO_C, jnp.asarray(1.0), jnp.asarray(0.0), CONSTANT)
    for leaf in jax.tree_util.tree_leaves(out["tangent"]):
        assert np.all(np.isfinite(np.asarray(leaf)))
    diag = out.get("diag")
    if MODULES[name].ENTRY.diagnostics is None:
        assert name == "fromage" and diag is None  # needs x, which the hook does not get
        return
    assert set(diag) <= {"step_size", "denominator"} and "step_size" in diag
    t = np.arange(1, T + 1)
    for i, lr in enumerate(GRID_LR[name]):
        for k in X0:
            x = np.asarray(out["x"][k][i])
            moved = np.concatenate([X0[k][None], x[:-1]]) - x
            step = np.asarray(diag["step_size"][k][i])
            assert step.shape == x.shape and np.all(np.isfinite(step)) and np.all(step >= 0)
            if "denominator" in diag and name not in ("adabound", "radam"):
                den = np.asarray(diag["denominator"][k][i])
                ok = (den > 0) & np.isfinite(den)
                np.testing.assert_allclose(step[ok] * den[ok], lr, rtol=1e-12)
                assert np.all(step[~ok] == 0)
            if name in M_HAT:
                beta = float((grid.beta if name == "msvag" else grid.b1)[i])
                bc1 = (1 - beta**t).reshape((-1,) + (1,) * X0[k].ndim)
                u = np.asarray(out["m"][k][i]) / bc1
            elif name in RAW_G:
                u = ZERO_C[k]
            else:
                continue  # nadam (m_bar) and laprop (momentum of the normalised gradient)
            np.testing.assert_allclose(moved, step * u, rtol=1e-9, atol=1e-15)


def test_registry_records():
    reg = entries()
    for name, module in MODULES.items():
        entry = reg[name]
        assert entry is module.ENTRY and entry.id == name
        opt = module.make()
        assert opt.name == name
        assert type(opt.hyper) is module.Hyper and opt.hyper == module.Hyper()
        assert module.State._fields[0] == "count"
        state = opt.init({k: jnp.asarray(v) for k, v in X0.items()}, opt.hyper)
        assert state.count.dtype == jnp.int32 and int(state.count) == 0
        for option, values in entry.static_choices.items():
            assert opt.static[option] == values[0]
        bounds = entry.all_bounds()
        for field, value in opt.hyper._asdict().items():
            lo, hi, brackets = bounds.get(field, (None, None, "[]"))
            assert lo is None or (value >= lo if brackets[0] == "[" else value > lo), (name, field)
            assert hi is None or (value <= hi if brackets[1] == "]" else value < hi), (name, field)
        assert entry.bibtex.startswith("@") and entry.paper and entry.eps and entry.decay
        assert module.__doc__ and "Departures" in module.__doc__
    with pytest.raises(ValueError):
        amsgrad.make(amsgrad_variant="keras")
    with pytest.raises(ValueError):
        fromage.make(layers="rows")
