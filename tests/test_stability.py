"""The stability analyzer (optlab.stability) against closed forms and docs/stability.md.

Every case runs through the real pipeline: the compiled, grid-vmapped analysis program
(autodiff Jacobian + one-sided difference quotients + fixed-point solve), then the NumPy
verdicts. Closed forms are written out here independently of optlab.stability.theory.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optlab import api, registry
from optlab import stability as st
from optlab.types import Optimizer
from problems.spec import Problem

B1 = 0.9


def analyse(problem, spec, values, *, state=(), tol=1e-8, x_star=None, translate=False):
    """(plan, verdicts by grid point, raw results by grid point) for ``spec`` on ``problem``."""
    plan = api.plan_optimizer(spec, {k: list(v) for k, v in values.items()})
    xs = np.asarray(problem.x_star if x_star is None else x_star, float)
    verdicts, raw = {}, {}
    for fixed, idx in plan.grid.integer_groups(plan.entry.integer_hypers):
        an = st.Analyzer(
            problem, plan.opt, xs, fixed=fixed, state_overrides=tuple(state), translate=translate
        )
        res = an.run(plan.grid.batch(type(plan.opt.hyper), idx))
        for j, (i, v) in enumerate(zip(idx, st.verdicts(res, an.layout(), tol), strict=True)):
            verdicts[i] = v
            raw[i] = {k: a[j] for k, a in res.items()}
    return plan, verdicts, raw


def hp(plan, i):
    return dict(zip(plan.grid.names, plan.grid.points[i], strict=True))


def match(a, b) -> float:
    """max |a_k - b_k| / max(1, |b_k|) over the best pairing (sorted greedy matching)."""
    a, b = list(np.asarray(a, complex)), list(np.asarray(b, complex))
    assert len(a) == len(b)
    worst = 0.0
    for x in sorted(a, key=lambda v: -abs(v)):
        k = int(np.argmin([abs(x - y) for y in b]))
        worst = max(worst, abs(x - b[k]) / max(1.0, abs(b[k])))
        b.pop(k)
    return worst


def theorem2(phi, b1, b2, mu):
    """eqs. (22)-(24), written independently: beta2 and the roots of l^2 - T l + D."""
    T = 1 - mu + b1 - phi * (1 - b1)
    D = b1 * (1 - mu)
    disc = complex(T * T - 4 * D)
    if disc.real >= 0:  # stable formula for real roots
        big = (T + math.copysign(1.0, T) * math.sqrt(disc.real)) / 2
        return [b2, big, D / big]
    r = disc**0.5
    return [b2, (T + r) / 2, (T - r) / 2]


@pytest.fixture(scope="module")
def quad():
    return registry.get_problem("quadratic")  # f = 5 x^2, gamma = 10, x* = 0


# ---- Theorem 2: (p, q) = (2, 1), form a ----------------------------------------------------
PHIS = np.concatenate([np.logspace(-3, 3, 49), [10.0, 38.0 - 1e-6, 38.0 + 1e-6]])


@pytest.fixture(scope="module")
def theorem2_grid(quad):
    eps = 1e-10
    lrs = PHIS * math.sqrt(eps) / 10.0
    values = {
        "p": [2],
        "q": [1],
        "eps": [eps],
        "b1": [B1],
        "b2": [0.999],
        "mu": [0.0, 1e-5],
        "learning_rate": lrs.tolist(),
    }
    # module fixtures run outside the per-test strict-promotion context of conftest.py; use it
    # here too, so that later tests reuse this compiled program (the config is part of the key)
    with jax.numpy_dtype_promotion("strict"):
        return analyse(quad, "aida_pq", values)


def test_theorem2_eigenvalues_over_phi(theorem2_grid):
    plan, verdicts, _ = theorem2_grid
    checked = 0
    for i, v in verdicts.items():
        h = hp(plan, i)
        phi = h["learning_rate"] * 10.0 / math.sqrt(h["eps"])
        T = 1 - h["mu"] + B1 - phi * (1 - B1)
        if abs(T * T - 4 * B1 * (1 - h["mu"])) < 1e-6:
            continue  # a double root: eigenvalues are only sqrt(eps_mach)-conditioned there
        assert v.jacobian_source == "autodiff", v.nonsmooth_entries
        assert match(v.eigenvalues, theorem2(phi, B1, 0.999, h["mu"])) <= 1e-10, (phi, h)
        rho = max(abs(x) for x in theorem2(phi, B1, 0.999, h["mu"]))
        assert v.spectral_radius == pytest.approx(rho, rel=1e-10)
        expect = "stable" if rho < 1 - 1e-8 else "unstable" if rho > 1 + 1e-8 else "undetermined"
        assert v.status == expect, (phi, h, v.reason)
        checked += 1
    assert checked >= 95


def test_exact_boundary_and_paper_condition(theorem2_grid):
    """Stability is lost exactly at phi_c = (1 + b1)(2 - mu)/(1 - b1) (a real eigenvalue
    through -1); the paper's (25) is stricter by exactly mu in phi."""
    plan, verdicts, _ = theorem2_grid
    for mu in (0.0, 1e-5):
        pc = st.phi_c_exact(B1, mu)
        assert pc == pytest.approx((1 + B1) * (2 - mu) / (1 - B1), rel=1e-15)
        assert pc - st.phi_c_paper(B1, mu) == pytest.approx(mu, rel=1e-6, abs=1e-15)
        for i, v in verdicts.items():
            h = hp(plan, i)
            if h["mu"] != mu:
                continue
            phi = h["learning_rate"] * 10.0 / math.sqrt(h["eps"])
            if abs(phi - 38.0) < 1e-3:  # just below / just above phi_c = 38 - 1.9 mu
                assert v.status == ("stable" if phi < pc else "unstable"), phi
                assert np.min(np.real(v.eigenvalues)) == pytest.approx(-1.0, abs=1e-3)
    lo, hi = st.complex_interval(B1, 1e-5)
    assert (lo, hi) == (pytest.approx(0.0263, abs=5e-5), pytest.approx(37.97, abs=5e-3))


def test_mu_zero_small_phi_is_undetermined(quad):
    """With mu = 0 and phi -> 0 the spectral radius tends to 1 (docs/stability.md#closed-forms)."""
    values = {
        "p": [2],
        "q": [1],
        "eps": [1e-10],
        "b2": [0.999],
        "mu": [0.0],
        "learning_rate": [1e-16, 1e-7],
    }
    plan, verdicts, _ = analyse(quad, "aida_pq", values)
    assert verdicts[0].status == "undetermined"
    assert "Theorem 1 gives no verdict" in verdicts[0].reason
    assert verdicts[1].status == "stable"


def test_grid_compiles_once_and_equals_points(quad):
    values = {
        "p": [2],
        "q": [1],
        "eps": [1e-12, 1e-10],
        "b2": [0.999],
        "mu": [1e-10],
        "learning_rate": [1e-7, 3e-6, 3e-5, 1e-4],
    }
    plan = api.plan_optimizer("aida_pq", values)
    an = st.Analyzer(quad, plan.opt, np.zeros(1), fixed={"p": 2, "q": 1}, delta=3e-10)
    st.PROGRAMS.clear()  # a fresh program: its traces start at 0
    grid = an.run(plan.grid.batch(type(plan.opt.hyper)))
    assert an.program().traces == 1
    layout = an.layout()
    whole = st.verdicts(grid, layout)
    for i in range(len(plan.grid)):
        one = an.run(plan.grid.batch(type(plan.opt.hyper), [i]))
        for key in ("jac_ad", "z", "fwd_value", "bwd_value", "dir_value"):
            np.testing.assert_array_equal(one[key][0], grid[key][i], err_msg=key)
        v = st.verdicts(one, layout)[0]
        assert v.status == whole[i].status
        np.testing.assert_array_equal(v.eigenvalues, whole[i].eigenvalues)
    assert an.program().traces == 1  # every point ran through the same program


# ---- gradient descent and heavy ball ---------------------------------------------------------
def test_gradient_descent_closed_form():
    prob = registry.get_problem("quadratic", {"gamma": (1.0, 4.0, 10.0)})
    lrs = [0.01, 0.1, 0.19, 0.2, 0.21, 0.5]
    plan, verdicts, _ = analyse(prob, "sgd", {"learning_rate": lrs})
    for i, v in verdicts.items():
        lr = hp(plan, i)["learning_rate"]
        expect = 1 - lr * np.array([1.0, 4.0, 10.0])
        np.testing.assert_allclose(np.sort(v.eigenvalues.real), np.sort(expect), atol=1e-14)
        assert np.all(v.eigenvalues.imag == 0)
        rho = np.max(np.abs(expect))
        want = "stable" if rho < 1 - 1e-8 else "unstable" if rho > 1 + 1e-8 else "undetermined"
        assert v.status == want, (lr, v.reason)
    assert verdicts[3].status == "undetermined"  # lr = 2/10: eigenvalue -1 exactly


def test_heavy_ball_companion_matrix():
    gam = np.array([1.0, 10.0])
    prob = registry.get_problem("quadratic", {"gamma": tuple(gam)})
    values = {"learning_rate": [0.01, 0.1, 0.37, 0.39], "momentum": [0.0, 0.5, 0.9]}
    plan, verdicts, _ = analyse(prob, "heavy_ball", values)
    for i, v in verdicts.items():
        h = hp(plan, i)
        lr, b = h["learning_rate"], h["momentum"]
        expect = []
        for g in gam:  # m' = b m + g(x), x' = x - lr m'
            companion = np.array([[b, g], [-lr * b, 1 - lr * g]])
            expect += list(np.linalg.eigvals(companion))
        assert match(v.eigenvalues, expect) <= 1e-10, h
        rho = max(abs(x) for x in expect)
        assert v.status == ("stable" if rho < 1 else "unstable"), (h, rho)


# ---- Theorem 3 and the marginal cases --------------------------------------------------------
def test_q_above_one_gives_b1_b2_one_minus_mu(quad):
    values = {
        "p": [2],
        "q": [2],
        "eps": [1e-10],
        "b1": [B1],
        "b2": [0.999],
        "mu": [0.0, 1e-10, 1e-4],
        "learning_rate": [1e-3, 1e-1],
    }
    plan, verdicts, _ = analyse(quad, "aida_pq", values)
    for i, v in verdicts.items():
        h = hp(plan, i)
        assert match(v.eigenvalues, [B1, 0.999, 1 - h["mu"]]) <= 1e-14, h
        if h["mu"] in (0.0, 1e-10):  # Remark 1: Theorem 1 says nothing (docs/stability.md#statuses)
            assert v.status == "undetermined", v.reason
            assert f"1 - rho = {1 - v.spectral_radius:.3g}" in v.reason
        else:
            assert v.status == "stable"


def test_p_one_is_non_differentiable_with_reduced_block(quad):
    """p = 1: |g|^1 kinks at g = 0, only in the r-row; the reduced (m, x) block decides
    (docs/stability.md#findings): q = 1 with Theorem 2 and delta = eps, q = 2 marginal."""
    values = {
        "p": [1],
        "q": [1, 2],
        "eps": [1e-10],
        "b2": [0.999],
        "mu": [1e-10],
        "learning_rate": [1e-12, 1e-8],
    }
    plan, verdicts, _ = analyse(quad, "aida_pq", values)
    for i, v in verdicts.items():
        h = hp(plan, i)
        assert v.status == "non_differentiable"
        assert "r<-x:kink" in v.nonsmooth_entries
        assert "reduced-block verdict" in v.reason
        if h["q"] == 1:
            phi = h["learning_rate"] * 10.0 / h["eps"]
            assert match(v.eigenvalues, theorem2(phi, B1, 0.999, h["mu"])) <= 1e-10
            want = "stable" if phi < st.phi_c_exact(B1, h["mu"]) else "unstable"
            assert v.reduced_verdict == want, phi
        else:
            assert v.reduced_verdict == "undetermined"


def test_form_b_below_one_uses_quotients(quad):
    """Form b with q/p < 1: AD gives NaN for the whole x-row; the map is differentiable at
    z* and the verdict comes from the quotients, with delta = eps (docs/stability.md#findings)."""
    values = {
        "p": [2],
        "q": [1],
        "eps": [1e-10],
        "b2": [0.999],
        "mu": [1e-10],
        "learning_rate": [1e-10, 3.7e-10, 3.9e-10],
    }
    plan, verdicts, raw = analyse(quad, "aida_pq[form=b]", values)
    for i, v in verdicts.items():
        h = hp(plan, i)
        assert np.isnan(raw[i]["jac_ad"][0]).all()  # the x row
        assert v.jacobian_source == "autodiff+quotients"
        assert "AD non-finite" in v.reason and "not C1" in v.reason
        phi = h["learning_rate"] * 10.0 / h["eps"]
        assert match(v.eigenvalues, theorem2(phi, B1, 0.999, h["mu"])) <= 1e-8
        assert v.status == ("stable" if phi < 38 - 1e-6 else "unstable"), phi


def naive_aida():
    """Aida (2, 1) form a with the signed power written as |m|**1 * sign(m): autodiff gives
    d/dm = 0 at m = 0 (docs/stability.md#jacobian), so dx'/dm = 0 and AdamW looks stable for every
    lr."""
    base = registry.optimizer_entry("aida_pq").make()

    def step(params, grads, state, h):
        count = state.count + 1
        m = h.b1 * state.m + (1 - h.b1) * grads
        r = h.b2 * state.r + (1 - h.b2) * grads * grads
        bc1 = 1 - h.b1 ** count.astype(params.dtype)
        bc2 = 1 - h.b2 ** count.astype(params.dtype)
        u = (m / bc1) / jnp.sqrt((r + h.eps) / bc2)
        d = jnp.abs(u) ** 1 * jnp.sign(u)
        return (1 - h.mu) * params - h.learning_rate * d, type(state)(count, m, r)

    return Optimizer("naive_aida", base.init, step, base.hyper, {}, "test")


def test_naive_signed_power_is_caught_by_quotients(quad):
    opt = naive_aida()
    h = opt.hyper._replace(p=2.0, q=1.0, eps=1e-10, b2=0.999, mu=1e-10)
    lrs = [1e-6, 1e-4]
    batch = type(h)(**{k: jnp.asarray([getattr(h, k)] * 2) for k in h._fields})
    batch = batch._replace(learning_rate=jnp.asarray(lrs))
    an = st.Analyzer(quad, opt, np.zeros(1))
    res = an.run(batch)
    for k, v in enumerate(st.verdicts(res, an.layout())):
        assert res["jac_ad"][k][0, 1] == 0.0  # the autodiff entry dx'/dm is (wrongly) 0
        assert "x<-m:ad-wrong" in v.nonsmooth_entries
        assert v.jacobian_source == "autodiff+quotients"
        phi = lrs[k] * 10 / 1e-5
        assert match(v.eigenvalues, theorem2(phi, B1, 0.999, 1e-10)) <= 1e-8
        assert v.status == ("stable" if phi < 38 else "unstable")


def test_eps_zero_has_no_linear_verdict(quad):
    values = {"p": [2], "q": [1], "eps": [0.0], "mu": [0.0], "learning_rate": [1e-3]}
    plan, verdicts, _ = analyse(quad, "aida_pq", values)
    v = verdicts[0]
    assert v.status == "non_differentiable"
    assert "singular in x<-x" in v.reason


def test_sign_update_is_non_differentiable(quad):
    plan, verdicts, _ = analyse(quad, "signsgd", {"learning_rate": [1e-3]})
    v = verdicts[0]
    assert v.status == "non_differentiable" and "singular" in v.reason
    assert math.isnan(v.spectral_radius)


def test_amsgrad_tie_and_family(quad):
    """At v_max* = 0 the max sits at a tie: no linear verdict; on the family (v_max* > 0)
    one eigenvalue is exactly 1 along v_max and the transverse block is Adam's."""
    _, tie, _ = analyse(quad, "amsgrad", {"learning_rate": [1e-7]})
    assert tie[0].status == "non_differentiable"
    assert "directional derivative" in tie[0].reason
    _, fam, _ = analyse(quad, "amsgrad", {"learning_rate": [1e-7]}, state=(("v_max", 1e-6),))
    v = fam[0]
    assert v.status == "undetermined"
    assert "family of fixed points along v_max" in v.reason
    # transverse block: Adam E1 with sqrt(v_max* / 1) + eps as denominator
    delta = math.sqrt(1e-6) + 1e-8
    phi = 1e-7 * 10 / delta
    rho_t = max(abs(x) for x in theorem2(phi, B1, 0.999, 0.0))
    assert v.transverse_radius == pytest.approx(rho_t, rel=1e-9)


# ---- weight decay with x* != 0: the shifted fixed point (docs/stability.md#findings) -------------
def test_shifted_fixed_point_and_learning_rate_limit():
    prob = Problem(
        name="shifted_quadratic_test",
        loss=lambda x, batch=None: 5.0 * jnp.sum((x - 1.0) ** 2),
        x0=jnp.asarray([1.0]),
        x_star=jnp.asarray([1.0]),
        f_star=0.0,
    )
    values = {
        "p": [2],
        "q": [2],
        "eps": [1e-8],
        "b2": [0.999],
        "mu": [1e-4],
        "learning_rate": [3e-4, 1e-3, 1e-2],
    }
    plan, verdicts, raw = analyse(prob, "aida_pq", values)
    expected_rho = {3e-4: 0.9993, 1e-3: 3.86, 1e-2: 17.9}
    for i, v in verdicts.items():
        lr = hp(plan, i)["learning_rate"]
        # fixed point: mu x = lr g^2/(g^2 + eps), g = 10 (x - 1) < 0  ->  solve for x
        lo, hi = 1 - 1e-3, 1.0
        for _ in range(200):
            x = (lo + hi) / 2
            g2 = (10 * (x - 1)) ** 2
            lo, hi = (lo, x) if 1e-4 * x > lr * g2 / (g2 + 1e-8) else (x, hi)
        assert raw[i]["z"][0] == pytest.approx(x, rel=1e-13, abs=1e-15)
        assert v.fixed_point.startswith("shifted: solved H(z) = z by Newton")
        assert float(raw[i]["residual0"]) > 0
        assert v.spectral_radius == pytest.approx(expected_rho[lr], rel=5e-3)
        assert v.status == ("stable" if lr == 3e-4 else "unstable")


# ---- problems with x* != 0 ---------------------------------------------------------------------
def test_fun5_gradient_descent_uses_the_hessian_at_x_star():
    prob = registry.get_problem("fun5", {"dim": 3})
    x_star = np.asarray(prob.x_star, float)
    hess = np.asarray(jax.hessian(lambda x: prob.value(x))(jnp.asarray(x_star)))
    lam = np.linalg.eigvalsh(hess)
    lrs = [0.5 / lam.max(), 1.9 / lam.max(), 2.1 / lam.max()]
    plan, verdicts, _ = analyse(prob, "sgd", {"learning_rate": lrs})
    for i, v in verdicts.items():
        lr = lrs[i]
        np.testing.assert_allclose(np.sort(v.eigenvalues.real), np.sort(1 - lr * lam), atol=1e-8)
        assert v.status == ("stable" if lr * lam.max() < 2 else "unstable")


@pytest.mark.slow
def test_equivariance_check_and_local_coordinates():
    """Without decay the step depends on x only through g: analysed in y = x - x* the
    quotients reach the linear regime below the float64 spacing of x*."""
    prob = registry.get_problem("rosenbrock")
    x_star = np.asarray(prob.x_star, float)
    plan = api.plan_optimizer(
        "aida_pq", {"p": [2], "q": [1], "eps": [1e-10], "mu": [0.0, 1e-4], "learning_rate": [1e-6]}
    )
    batch = plan.grid.batch(type(plan.opt.hyper))
    gaps = st.equivariance_gaps(prob, plan.opt, x_star, batch, {"p": 2, "q": 1})
    assert gaps[0] < 1e-15 and gaps[1] > 1e-6  # mu x breaks translation equivariance
    _, verdicts, raw = analyse(
        prob,
        "aida_pq",
        {"p": [2], "q": [1], "eps": [1e-10], "mu": [0.0], "learning_rate": [1e-6]},
        translate=True,
    )
    v = verdicts[0]
    assert v.jacobian_source == "autodiff" and v.nonsmooth_entries == ""
    np.testing.assert_allclose(raw[0]["z"][:2], x_star)
    hess = np.array([[802.0, -400.0], [-400.0, 200.0]])
    phis = 1e-6 * np.linalg.eigvalsh(hess) / 1e-5
    expect = sum((theorem2(f, B1, 0.99, 0.0) for f in phis), [])
    assert match(v.eigenvalues, expect) <= 1e-10


# ---- pieces without JAX --------------------------------------------------------------------------
def test_classify_simulation_rule():
    steps = np.arange(0, 1001, 10)
    t = steps.astype(float)
    d0 = 1e-10
    rows = {
        "decays": d0 * 0.97**t,  # geometric
        "stalls": d0 / (1 + t / 50),  # algebraic creep: not a decay
        "fluctuates": d0 * (1 + 1e4 * np.abs(np.sin(t))),  # pushed away, kept away
        "diverges": d0 * 1.02**t,
        "underflow": np.where(t < 500, d0 * 0.1 ** (t / 10), 0.0),
        "frozen": np.concatenate([d0 * np.ones(50), np.full(51, 1e-300)]),
    }
    classes, flags = st.classify_simulation(
        np.stack(list(rows.values())), steps, -np.ones(len(rows), int)
    )
    assert classes == ["decays", "stalls", "fluctuates", "diverges", "decays", "decays"]
    assert flags[4] == "underflow" and flags[5] == "underflow" and flags[0] == ""
    nan = np.full((1, steps.size), np.nan)
    assert st.classify_simulation(nan, steps, np.array([7]))[0] == ["diverges"]


def test_quadratic_roots_have_no_cancellation():
    r = st.quadratic_roots(np.array([-1e12, 1.0]), np.array([0.9, 0.5]))
    big, small = r[0], r[2]
    assert small == pytest.approx(0.9 / big, rel=1e-15)  # the plain formula gives 0 here
    assert abs(r[1]) == pytest.approx(math.sqrt(0.5), rel=1e-15)  # a complex pair


def test_sccs_and_balance():
    adj = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1]], bool)  # x<->m, r<-x
    comps = st._sccs(adj)
    assert sorted(map(tuple, comps)) == [(0, 1), (2,)]
    d = st.balance(np.array([[0.0, 1e6], [1e-6, 0.0]]))
    assert d[1] / d[0] == pytest.approx(1e-6, rel=1e-6)
