"""The layerwise family: AdamL, AdaBeliefL, LAdam, LAdaBelief, Aida-K, AidaGrad, LAida.

Zhang, Niwa, Kleijn, arXiv:2203.13273 v2; update rules of docs/optimizers.md#layerwise-family,
identities of docs/optimizers.md#identities (6-10). Every JAX optimizer is checked against
``reference_layerwise.py``, a NumPy transcription of the algorithm boxes with the OCR corrections of
docs/optimizers.md#layerwise-family applied:

- Alg. 1 line 7 "1 - beta_t^t" is 1 - b1^t (eq. 10 uses m_t / (1 - b1^t));
- Alg. 2's scrambled line numbers are read as eq. (11), v_l,0 = 0;
- Alg. 3 lines 5-15 rebuilt from eqs. (12)-(14): both new vectors from the (k-1) pair,
  eq. (13)'s left side g^(k-1) read as g^(k), v_0 = 0, update x_t = x_{t-1} - lr m~/sqrt(v~);
- Alg. 4 line 11 "eta_t m_t / sqrt(n~_t)" is lr m~_t / sqrt(v~_t); the statistic is (g^p)^2;
- Alg. 5 lines 9-10 denominators are |g^(k-1)|^2 + xi and |m^(k-1)|^2 + xi; line 14's
  1 - beta^t is 1 - b1^t for m~ and 1 - b2^t for v~.

Each (optimizer, static options, parameter shapes) has one jitted step (``runner``), driven
by a short Python loop; hyperparameters are traced arguments, so different values reuse the
program (a compile is the main cost here: a step compiles faster than a scan of it).
"""

from __future__ import annotations

import functools
import importlib
import math

import numpy as np
import optax
import pytest
import reference_layerwise as ref

from optlab._jax import jax, jnp
from optlab.optimizers import _layerwise as lw
from optlab.optimizers import entries

NAMES = ("adaml", "adabeliefl", "ladam", "ladabelief", "aida_k", "aidagrad", "laida")
WITH_K = ("aida_k", "laida")
POST = ("adaml", "adabeliefl")
SHAPES = {"a": (3,), "b": (2, 4), "c": (5,)}
CHUNK_SHAPES = {"a": (4,), "b": (2, 4), "c": (6,)}  # chunk:2 must divide every leaf
T = 120


def entry_of(name):
    """The module's ENTRY, imported directly (independent of the other optimizer files)."""
    return importlib.import_module(f"optlab.optimizers.{name}").ENTRY


def shapes_for(layers):
    return CHUNK_SHAPES if layers.startswith("chunk") else SHAPES


def problem(shapes, seed=0, noise_scale=0.3, steps=T):
    """x0, and g_t = A*(x_{t-1} - c) + noise_t (A = 0 gives a pure random sequence)."""
    rng = np.random.default_rng(seed)
    x0 = {k: rng.normal(size=s) for k, s in shapes.items()}
    a = {k: rng.uniform(0.5, 2.0, size=s) for k, s in shapes.items()}
    c = {k: rng.normal(size=s) for k, s in shapes.items()}
    noise = {k: noise_scale * rng.normal(size=(steps, *s)) for k, s in shapes.items()}
    return x0, a, c, noise


def zeros_like(tree):
    return {k: np.zeros_like(v) for k, v in tree.items()}


def make_opt(name, layers="leaf", k=None):
    kw = {"layers": layers}
    if k is not None:
        kw["k"] = k
    return entry_of(name).make(**kw)


def hyper_of(opt, **values):
    """The optimizer's Hyper with ``values`` set, as float64 arrays (traced by jit)."""
    h = opt.hyper._replace(**{k: v for k, v in values.items() if k in opt.hyper._fields})
    return jax.tree_util.tree_map(lambda v: jnp.asarray(v, jnp.float64), h)


def ref_hyper(h):
    return {k: float(v) for k, v in h._asdict().items()}


TRACES: dict = {}


@functools.cache
def runner(name, layers="leaf", k=None, shape_key=None):
    """One jitted step (with the gradient g = A(x - c) + noise_t) per (optimizer, static
    options, shapes), driven by a Python loop: (x0, hyper, A, c, noise) -> (x_1..x_T stacked,
    final state). ``TRACES`` counts how often the step was traced."""
    opt = make_opt(name, layers, k)
    key = (name, layers, k, shape_key)
    TRACES[key] = 0

    @jax.jit
    def one(x, st, h, a, c, nz):
        TRACES[key] += 1
        return opt.step(x, {n: a[n] * (x[n] - c[n]) + nz[n] for n in x}, st, h)

    def run(x0, h, a, c, noise):
        x, st = x0, opt.init(x0, opt.hyper)
        xs = []
        for t in range(next(iter(noise.values())).shape[0]):
            x, st = one(x, st, h, a, c, {n: v[t] for n, v in noise.items()})
            xs.append(x)
        return {n: np.stack([np.asarray(x[n]) for x in xs]) for n in x0}, st

    return opt, run


def run_jax(name, x0, h_values, a, c, noise, layers="leaf", k=None):
    if name in WITH_K and k is None:
        k = 2  # the default: one program for k=None and k=2
    shape_key = tuple(sorted((n, v.shape) for n, v in x0.items()))
    opt, fn = runner(name, layers, k, shape_key)
    h = hyper_of(opt, **h_values)
    xs, state = fn(x0, h, a, c, noise)
    return opt, h, xs, state


def run_ref(name, x0, h, a, c, noise, layers="leaf", k=2, ordering="paper"):
    def grad_fn(x, t):
        return {n: a[n] * (x[n] - c[n]) + noise[n][t - 1] for n in x}

    steps = next(iter(noise.values())).shape[0]
    xs, state = ref.run(name, x0, grad_fn, steps, ref_hyper(h), layers, k, ordering)
    return {n: np.stack([x[n] for x in xs[1:]]) for n in x0}, state


@functools.cache
def jitted_diagnostics(name, layers, k):
    static = make_opt(name, layers, k).static
    fn = entry_of(name).diagnostics
    return jax.jit(lambda s, h: fn(None, s, h, static))


def diagnostics(name, state, h, static):
    """The ENTRY diagnostics hook, jitted (one compile instead of many eager ops)."""
    return jitted_diagnostics(name, static["layers"], static.get("k"))(state, h)


def assert_trees_close(got, want, rtol=1e-10, atol=1e-14):
    assert set(got) == set(want)
    for n in want:
        np.testing.assert_allclose(got[n], want[n], rtol=rtol, atol=atol, err_msg=n)


@functools.cache
def optax_pure(kind, eps, eps_root, seed=1):
    """optax.adam / optax.adabelief (lr 0.05, b1 0.9, b2 0.99) on ``pure_sequence(seed)``."""
    x0, _, _, noise = pure_sequence(seed=seed)
    make = {"adam": optax.adam, "adabelief": optax.adabelief}[kind]
    tx = make(ID_H["learning_rate"], b1=0.9, b2=0.99, eps=eps, eps_root=eps_root)
    return optax_run(tx, x0, noise)


def optax_run(tx, x0, noise):
    """optax on a pure gradient sequence; optax needs standard dtype promotion."""
    with jax.numpy_dtype_promotion("standard"):

        @jax.jit
        def run(x0, noise):
            def body(carry, g):
                x, s = carry
                u, s = tx.update(g, s, x)
                x = optax.apply_updates(x, u)
                return (x, s), x

            return jax.lax.scan(body, (x0, tx.init(x0)), noise)[1]

        return {n: np.asarray(v) for n, v in run(x0, noise).items()}


# ------------------------------------------------------------------- contract


def test_registered():
    for name in NAMES:
        assert entries()[name] is entry_of(name)


@pytest.mark.parametrize("name", NAMES)
def test_contract(name):
    entry = entry_of(name)
    opt = entry.make()
    assert opt.name == name == entry.id
    assert opt.static["layers"] == "leaf"
    for field in ("learning_rate", "b1", "b2", "eps", "l2", "weight_decay"):
        assert field in opt.hyper._fields
    assert opt.hyper.learning_rate == 1e-3 and opt.hyper.b1 == 0.9 and opt.hyper.b2 == 0.999
    assert opt.hyper.eps == 1e-8 and opt.hyper.l2 == 0.0 and opt.hyper.weight_decay == 0.0
    if name in ("aida_k", "aidagrad", "laida"):
        assert opt.hyper.xi == 1e-20
    if name in WITH_K:
        assert opt.static["k"] == 2
        with pytest.raises(ValueError):
            entry.make(k=-1)
        with pytest.raises(ValueError):
            entry.make(k=1.5)
    x0 = {n: jnp.ones(s) for n, s in SHAPES.items()}
    state = opt.init(x0, opt.hyper)
    assert state._fields[0] == "count" and state.count.dtype == jnp.int32
    per_layer = name in ("ladam", "ladabelief", "laida")
    for n, s in SHAPES.items():
        assert state.v[n].shape == ((1,) if per_layer else s)
    assert make_opt(name, "coord").init(x0, opt.hyper).v["b"].shape == (
        (8,) if per_layer else (2, 4)
    )
    with pytest.raises(ValueError):
        entry.make(layers="rows")
    with pytest.raises(ValueError):  # chunk:2 does not divide a leaf of size 3
        make_opt(name, "chunk:2").init(x0, opt.hyper)
    assert entry.diagnostics is not None and entry.bibtex and "2203.13273" in entry.paper


# ------------------------------------------------------------------- NumPy reference

CASES = [(n, layers, None) for n in NAMES for layers in ("leaf", "coord", "chunk:2")]
CASES += [("aida_k", "leaf", 3), ("laida", "leaf", 1)]
SETTINGS = (
    {"learning_rate": 0.05},
    {"learning_rate": 0.02, "l2": 0.05, "xi": 1e-3},
    {"learning_rate": 0.05, "b1": 0.8, "b2": 0.99, "eps": 1e-4, "weight_decay": 0.5},
)


@pytest.mark.parametrize(("name", "layers", "k"), CASES)
def test_matches_numpy_reference(name, layers, k):
    """120 steps on g = A(x - c) + noise, float64, a 3-leaf dict, rtol 1e-10, for three
    hyperparameter settings (defaults; coupled l2 with xi = 1e-3; decoupled weight decay with
    other b1, b2, eps) through one compiled program. The reference is the algorithm box
    (OCR corrections in the module docstring)."""
    x0, a, c, noise = problem(shapes_for(layers))
    for values in SETTINGS:
        _, h, xs, _ = run_jax(name, x0, values, a, c, noise, layers, k)
        want, _ = run_ref(name, x0, h, a, c, noise, layers, 2 if k is None else k)
        assert all(np.all(np.isfinite(v)) for v in xs.values())
        assert_trees_close(xs, want)
        moved = max(np.max(np.abs(xs[n][-1] - x0[n])) for n in x0)
        assert moved > 1e-2  # the comparison is not between two frozen runs


# -------------------------------------------------------------- docs/optimizers.md#identities (6-7)

ID_H = {"learning_rate": 0.05, "b1": 0.9, "b2": 0.99, "eps": 1e-3, "xi": 0.0}


def pure_sequence(shapes=SHAPES, seed=1):
    x0, _, c, noise = problem(shapes, seed=seed, noise_scale=1.0)
    return x0, zeros_like(x0), c, noise


@pytest.mark.parametrize(
    ("name", "k"),
    [("ladabelief", None), ("adabeliefl", None), ("laida", 2)] + [("aida_k", k) for k in (1, 2, 3)],
)
def test_coord_layers_equal_adabelief_without_outer_eps(name, k):
    """docs/optimizers.md#identities (6): with one-element layers (layers="coord", xi = 0),
    LAdaBelief, AdaBeliefL, Aida-K (K = 1..3) and LAida equal optax.adabelief(eps=0, eps_root=eps)
    on a random gradient sequence (eps = 1e-3, b2 = 0.99, so eps/(1-b2) is not negligible). K = 0
    makes no projection, so it does not depend on the layers: it is checked with whole-leaf layers
    in ``test_aida_k0_is_adabelief_without_outer_eps_for_any_layers``."""
    x0, a, c, noise = pure_sequence()
    _, _, xs, _ = run_jax(name, x0, ID_H, a, c, noise, "coord", k)
    assert_trees_close(xs, optax_pure("adabelief", 0.0, ID_H["eps"]))


@pytest.mark.parametrize("name", ["ladam", "adaml", "aidagrad"])
def test_coord_layers_equal_adam_with_eps_root(name):
    """docs/optimizers.md#identities (7) (and the E5 identity of
    docs/optimizers.md#epsilon-placements): with layers="coord" and xi = 0, LAdam, AdamL and
    AidaGrad equal optax.adam(eps=0, eps_root=eps/(1-b2))."""
    x0, a, c, noise = pure_sequence()
    _, _, xs, _ = run_jax(name, x0, ID_H, a, c, noise, "coord")
    assert_trees_close(xs, optax_pure("adam", 0.0, ID_H["eps"] / (1 - ID_H["b2"])))


def test_leaf_layers_differ_from_per_coordinate_methods():
    """The identities above are not vacuous: with whole-leaf layers LAdam differs from Adam
    and Aida-K (K = 2) from AdaBelief."""
    x0, a, c, noise = pure_sequence()
    _, _, xs, _ = run_jax("ladam", x0, ID_H, a, c, noise, "leaf")
    want = optax_pure("adam", 0.0, ID_H["eps"] / (1 - ID_H["b2"]))
    assert np.max(np.abs(xs["b"] - want["b"])) > 1e-3
    _, _, xs, _ = run_jax("aida_k", x0, ID_H, a, c, noise, "leaf", 2)
    assert np.max(np.abs(xs["b"] - optax_pure("adabelief", 0.0, ID_H["eps"])["b"])) > 1e-3


def test_aida_k0_is_adabelief_without_outer_eps_for_any_layers():
    """docs/optimizers.md#identities (8), last point: K = 0 makes no projection, so Aida-K is
    optax.adabelief(eps=0, eps_root=eps) whatever the layering."""
    x0, a, c, noise = pure_sequence()
    _, _, xs, _ = run_jax("aida_k", x0, ID_H, a, c, noise, "leaf", 0)
    assert_trees_close(xs, optax_pure("adabelief", 0.0, ID_H["eps"]))


# ------------------------------------------------------------------- E5


@pytest.mark.parametrize("name", NAMES)
def test_e5_eps_in_the_ema(name):
    """docs/optimizers.md#epsilon-placements, E5: eps added to the EMA every step shifts the
    bias-corrected second moment by exactly eps/(1-b2) (the eps terms sum to eps (1 - b2^t)/(1 -
    b2)); checked at t = T on a pure gradient sequence, so m and the statistic do not depend on
    eps."""
    x0, a, c, noise = pure_sequence()
    h = {"learning_rate": 0.05, "b1": 0.9, "b2": 0.99, "xi": 1e-3}
    _, _, _, s_eps = run_jax(name, x0, {**h, "eps": 1e-3}, a, c, noise)
    _, _, _, s_0 = run_jax(name, x0, {**h, "eps": 0.0}, a, c, noise)
    bc2 = 1 - 0.99**T
    for n in x0:
        shift = (np.asarray(s_eps.v[n]) - np.asarray(s_0.v[n])) / bc2
        np.testing.assert_allclose(shift, 1e-3 / (1 - 0.99), rtol=1e-10)


# -------------------------------------------------------------- docs/optimizers.md#identities (8-9)


def rand_pair(rng, n):
    return rng.normal(size=n), rng.normal(size=n)


@pytest.mark.parametrize("layers", ["leaf", "chunk:3"])
def test_aida_projection_closed_form(layers):
    """docs/optimizers.md#identities (8) on random (m, g), xi = 0: per layer, sum of the squared
    residual = c^(2K) |m - g|^2 with c the cosine of (m, g); for even K the residual is c^K (m - g)
    elementwise, for odd K c^(K-1) (b g - a m) with b = <g,m>/|g|^2, a = <g,m>/|m|^2;
    |m^(k) - g^(k)| is non-increasing in k; the JAX residual equals the NumPy transcription
    in the paper's ordering and, up to the sign (-1)^K that leaves the squared residual
    unchanged, in the official code's ordering (also with xi > 0)."""
    rng = np.random.default_rng(3)
    m, g = rand_pair(rng, 12)
    m_j, g_j = jnp.asarray(m), jnp.asarray(g)
    spec = lw.check_layers(layers)
    all_k = jax.jit(lambda m, g, xi: [lw.aida_residual(m, g, spec, k, xi) for k in range(6)])
    by_xi = {xi: [np.asarray(r) for r in all_k(m_j, g_j, xi)] for xi in (0.0, 1e-2)}
    idx_list = ref.layer_indices(12, layers)
    norms_prev = None
    for k in range(6):
        r = by_xi[0.0][k]
        norms = []
        for idx in idx_list:
            ml, gl = m[idx], g[idx]
            cos = ml @ gl / (np.linalg.norm(ml) * np.linalg.norm(gl))
            np.testing.assert_allclose(
                np.sum(r[idx] ** 2), cos ** (2 * k) * np.sum((ml - gl) ** 2), rtol=1e-12
            )
            if k % 2 == 0:
                np.testing.assert_allclose(r[idx], cos**k * (ml - gl), rtol=1e-12, atol=1e-15)
            else:
                b, a = gl @ ml / (gl @ gl), gl @ ml / (ml @ ml)
                np.testing.assert_allclose(
                    r[idx], cos ** (k - 1) * (b * gl - a * ml), rtol=1e-12, atol=1e-15
                )
            norms.append(np.linalg.norm(r[idx]))
            for xi in (0.0, 1e-2):
                r_x = by_xi[xi][k][idx]
                mk, gk = ref.projections(ml, gl, k, xi, "paper")
                np.testing.assert_allclose(r_x, mk - gk, rtol=1e-12, atol=1e-15)
                # the official loop swaps the labels at every k: same square, sign (-1)^K
                pm, pg = ref.projections(ml, gl, k, xi, "official")
                np.testing.assert_allclose(r_x, (-1) ** k * (pm - pg), rtol=1e-12, atol=1e-15)
        if norms_prev is not None:
            assert np.all(np.array(norms) <= np.array(norms_prev) * (1 + 1e-12))
            assert np.any(np.array(norms) < np.array(norms_prev))
        norms_prev = norms


def test_aida_projection_zero_vectors_xi0():
    """A zero m or g in a layer with xi = 0 gives a zero residual (0/0 -> 0), not NaN."""
    spec = lw.check_layers("chunk:2")
    m = jnp.asarray([0.0, 0.0, 1.0, 2.0])
    g = jnp.asarray([1.0, -1.0, 0.0, 0.0])
    for k in (1, 2):
        r = np.asarray(lw.aida_residual(m, g, spec, k, 0.0))
        np.testing.assert_array_equal(r, 0.0)
    np.testing.assert_array_equal(np.asarray(lw.grad_onto_momentum(m, g, spec, 0.0)), 0.0)


def closed_form_run(pre, k, x0, noise, h, layers):
    """AdaBelief (E5, no outer eps) whose residual is scaled by the layer cosine:
    elementwise c^K (m - g) (Aida-K, even K) or the layer mean times c^(2K) (LAida, any K)."""
    lr, b1, b2, eps = h["learning_rate"], h["b1"], h["b2"], h["eps"]
    x = {n: v.copy() for n, v in x0.items()}
    m = {n: np.zeros(v.size) for n, v in x0.items()}
    idx = {n: ref.layer_indices(v.size, layers) for n, v in x0.items()}
    v = {n: (np.zeros(len(idx[n])) if pre else np.zeros(x0[n].size)) for n in x0}
    out = {n: [] for n in x0}
    for t in range(1, noise["a"].shape[0] + 1):
        for n in x0:
            g = noise[n][t - 1].reshape(-1)
            m[n] = b1 * m[n] + (1 - b1) * g
            mf = m[n]
            step = np.empty_like(mf)
            for li, ix in enumerate(idx[n]):
                cos = mf[ix] @ g[ix] / (np.linalg.norm(mf[ix]) * np.linalg.norm(g[ix]))
                if pre:
                    inc = cos ** (2 * k) * np.mean((mf[ix] - g[ix]) ** 2)
                    v[n][li] = b2 * v[n][li] + (1 - b2) * inc + eps
                    step[ix] = mf[ix] / (1 - b1**t) / np.sqrt(v[n][li] / (1 - b2**t))
                else:
                    res = cos**k * (mf[ix] - g[ix])
                    v[n][ix] = b2 * v[n][ix] + (1 - b2) * res**2 + eps
                    step[ix] = mf[ix] / (1 - b1**t) / np.sqrt(v[n][ix] / (1 - b2**t))
            x[n] = x[n] - lr * step.reshape(x[n].shape)
            out[n].append(x[n])
    return {n: np.stack(o) for n, o in out.items()}


@pytest.mark.parametrize(
    ("name", "k", "layers"),
    [("aida_k", 2, "leaf"), ("aida_k", 2, "chunk:2"), ("laida", 2, "leaf"), ("laida", 1, "leaf")],
)
def test_aida_trajectory_closed_form(name, k, layers):
    """docs/optimizers.md#identities (8-9) along a trajectory (xi = 0): Aida-K with even K is
    AdaBelief with the residual scaled by c_l^K; LAida (any K) is LAdaBelief with each layer's
    increment scaled by c_l^(2K)."""
    x0, a, c, noise = pure_sequence(shapes_for(layers))
    _, _, xs, _ = run_jax(name, x0, ID_H, a, c, noise, layers, k)
    want = closed_form_run(name == "laida", k, x0, noise, ID_H, layers)
    assert_trees_close(xs, want)


# --------------------------------------------------------------- docs/optimizers.md#identities (10)


@pytest.mark.parametrize("layers", ["leaf", "chunk:2"])
@pytest.mark.parametrize(
    ("pre", "post", "k"),
    [("ladam", "adaml", None), ("ladabelief", "adabeliefl", None), ("laida", "aida_k", 2)],
)
def test_jensen_pre_vs_post(pre, post, k, layers):
    """docs/optimizers.md#identities (10), same gradient sequence: the pre-processed scalar v_l is
    the layer mean of the per-coordinate v, so its step 1/sqrt(v~_l) is <= the layer mean of the
    elementwise steps 1/sqrt(v~) (Jensen; gamma_l for AdamL/AdaBeliefL), strictly here."""
    x0, a, c, noise = pure_sequence(shapes_for(layers))
    h = {**ID_H, "xi": 1e-20, "eps": 1e-8}
    opt_pre, h_pre, _, s_pre = run_jax(pre, x0, h, a, c, noise, layers, k)
    opt_post, h_post, _, s_post = run_jax(post, x0, h, a, c, noise, layers, k)
    d_pre = diagnostics(pre, s_pre, h_pre, opt_pre.static)["step_size"]
    d_post = diagnostics(post, s_post, h_post, opt_post.static)["step_size"]
    for n in x0:
        v_post = np.asarray(s_post.v[n]).reshape(-1)
        step_pre = np.asarray(d_pre[n]).reshape(-1)
        step_post = np.asarray(d_post[n]).reshape(-1)
        for li, idx in enumerate(ref.layer_indices(x0[n].size, layers)):
            np.testing.assert_allclose(s_pre.v[n][li], np.mean(v_post[idx]), rtol=1e-12)
            np.testing.assert_allclose(step_pre[idx], step_pre[idx[0]], rtol=1e-15)
            assert step_pre[idx[0]] < np.mean(step_post[idx])


def test_adaml_equals_ladam_when_layer_v_is_uniform():
    """docs/optimizers.md#identities (10), last point: gradients with the same |g| on every
    coordinate of a layer give one v per layer, and then AdamL equals LAdam."""
    x0, a, c, noise = pure_sequence(CHUNK_SHAPES)
    rng = np.random.default_rng(5)
    for n, v in noise.items():
        mag = rng.uniform(0.1, 2.0, size=(T, v[0].size // 2, 1))
        noise[n] = (np.sign(v).reshape(T, -1, 2) * mag).reshape(v.shape)
    _, _, xs_post, _ = run_jax("adaml", x0, ID_H, a, c, noise, "chunk:2")
    _, _, xs_pre, _ = run_jax("ladam", x0, ID_H, a, c, noise, "chunk:2")
    assert_trees_close(xs_post, xs_pre)


# ------------------------------------------------------------------- diagnostics


@pytest.mark.parametrize("name", NAMES)
def test_diagnostics_match_the_step(name):
    """The diagnostics hook: x_{T-1} - x_T = step_size * m~_T (no decay) and
    step_size = lr / denominator."""
    x0, a, c, noise = problem(SHAPES)
    opt, h, xs, state = run_jax(name, x0, {"learning_rate": 0.05}, a, c, noise)
    diag = diagnostics(name, state, h, opt.static)
    bc1 = 1 - 0.9**T
    for n in x0:
        m_tilde = np.asarray(state.m[n]) / bc1
        size = np.asarray(diag["step_size"][n])
        assert size.shape == x0[n].shape
        np.testing.assert_allclose(xs[n][-2] - xs[n][-1], size * m_tilde, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(size * np.asarray(diag["denominator"][n]), 0.05, rtol=1e-12)


# ------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("layers", ["leaf", "coord"])
def test_zero_gradient_leaf(name, layers):
    """A leaf whose gradient is always 0 does not move (or only shrinks by the decoupled
    decay), and nothing is NaN: with the default eps/xi and, except for AdamL/AdaBeliefL
    (which need eps > 0), with eps = xi = 0 (0/0 -> 0)."""
    x0, a, c, noise = problem(SHAPES)
    a["b"] = np.zeros_like(a["b"])
    noise["b"] = np.zeros_like(noise["b"])
    cases = [{"learning_rate": 0.05}, {"learning_rate": 0.05, "weight_decay": 0.1}]
    if name not in POST:
        cases.append({"learning_rate": 0.05, "eps": 0.0, "xi": 0.0})
    for values in cases:
        _, _, xs, state = run_jax(name, x0, values, a, c, noise, layers)
        for tree in (xs, state.m, state.v):
            assert all(np.all(np.isfinite(np.asarray(v))) for v in tree.values())
        shrink = (1 - 0.05 * values.get("weight_decay", 0.0)) ** np.arange(1, T + 1)
        np.testing.assert_allclose(xs["b"], shrink[:, None, None] * x0["b"], rtol=1e-13)
        assert np.max(np.abs(xs["a"][-1] - x0["a"])) > 1e-2


@pytest.mark.parametrize("name", ["aida_k", "laida", "aidagrad", "ladam", "ladabelief"])
def test_eps0_zero_first_gradient(name):
    """eps = xi = 0 with zero moments: an all-zero gradient at t = 1 (m = v = 0) gives a zero
    step, not NaN; later nonzero gradients then move x normally."""
    x0, a, c, noise = problem(SHAPES)
    for n in noise:
        noise[n][0] = 0.0
        a[n] = np.zeros_like(a[n])
    _, _, xs, _ = run_jax(name, x0, {"learning_rate": 0.05, "eps": 0.0, "xi": 0.0}, a, c, noise)
    for n in x0:
        assert np.all(np.isfinite(xs[n]))
        np.testing.assert_array_equal(xs[n][0], x0[n])
        assert np.max(np.abs(xs[n][-1] - x0[n])) > 1e-2


@pytest.mark.parametrize("name", POST)
def test_post_processing_needs_positive_eps(name):
    """docs/optimizers.md#adaml: AdamL/AdaBeliefL need eps > 0. A concrete eps <= 0 is refused by
    init and by the ENTRY bounds; a traced eps = 0 with an all-zero leaf (gamma = inf there, m = 0)
    leaves that leaf in place without NaN."""
    entry = entry_of(name)
    opt = entry.make()
    x0 = {n: jnp.ones(s) for n, s in SHAPES.items()}
    with pytest.raises(ValueError, match="eps"):
        opt.init(x0, opt.hyper._replace(eps=0.0))
    with pytest.raises(ValueError, match="eps"):
        opt.init(x0, opt.hyper._replace(eps=jnp.asarray([1e-8, 0.0])))
    low, _ = entry.all_bounds()["eps"]
    assert 0.0 < low <= math.ulp(0.0)
    x0, a, c, noise = problem(SHAPES)
    a["b"] = np.zeros_like(a["b"])
    noise["b"] = np.zeros_like(noise["b"])
    _, _, xs, _ = run_jax(name, x0, {"learning_rate": 0.05, "eps": 0.0}, a, c, noise)
    np.testing.assert_array_equal(xs["b"], np.broadcast_to(x0["b"], xs["b"].shape))
    assert np.all(np.isfinite(xs["a"])) and np.all(np.isfinite(xs["c"]))


# ------------------------------------------------------------------- vmap and compile once


@pytest.mark.parametrize(
    ("name", "layers"), [("adaml", "chunk:2"), ("laida", "leaf"), ("aida_k", "coord")]
)
def test_vmap_over_learning_rate_and_single_compile(name, layers):
    """A vmap over 3 learning rates equals 3 separate runs (120 steps), and the jitted step
    is traced once for the 3 values (hyperparameters are traced, not baked in). One member
    of each kind (post, pre, elementwise with projections) and each layering; the common
    contract test (test_optimizer_contract.py) runs the same check on every optimizer."""
    x0, a, c, noise = problem(shapes_for(layers))
    k = 2 if name in WITH_K else None
    shape_key = tuple(sorted((n, v.shape) for n, v in x0.items()))
    opt, fn = runner(name, layers, k, shape_key)  # every call of it has the same signature
    lrs = (0.01, 0.03, 0.1)
    singles = [fn(x0, hyper_of(opt, learning_rate=lr), a, c, noise)[0] for lr in lrs]
    assert TRACES[(name, layers, k, shape_key)] == 1

    def one(x, st, h, nz):
        return opt.step(x, {n: a[n] * (x[n] - c[n]) + nz[n] for n in x}, st, h)

    axes = jax.tree_util.tree_map(lambda _: None, opt.hyper)._replace(learning_rate=0)
    batched = jax.jit(jax.vmap(one, in_axes=(0, 0, axes, None)))
    h = hyper_of(opt)._replace(learning_rate=jnp.asarray(lrs))
    x = {n: jnp.stack([jnp.asarray(v)] * 3) for n, v in x0.items()}
    st = jax.jit(jax.vmap(lambda _: opt.init(x0, opt.hyper)))(jnp.arange(3))
    for t in range(T):
        x, st = batched(x, st, h, {n: v[t] for n, v in noise.items()})
    for i, single in enumerate(singles):
        for n in x0:
            np.testing.assert_allclose(np.asarray(x[n][i]), single[n][-1], rtol=1e-12, atol=1e-15)
    assert not np.allclose(np.asarray(x["b"][0]), np.asarray(x["b"][2]))
