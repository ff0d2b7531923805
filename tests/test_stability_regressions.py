"""Regression tests for the stability analyzer's wrong verdicts (issue 11), each through the
real pipeline; expected values are written out here from the closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from optlab import api, api_stability, registry
from optlab import stability as st
from optlab.config import StabilityConfig


def run(optimizer="aida_pq", simulate=False, **hyper):
    config = StabilityConfig(
        optimizer=optimizer,
        hyper=tuple((k, tuple(float(x) for x in np.atleast_1d(v))) for k, v in hyper.items()),
        simulate=simulate,
        refine=False,  # the boundary bisection is tested elsewhere; here only the verdicts
    )
    return api_stability.stability(config)


def theorem2_radius(phi, b1=0.9, mu=0.0):
    """max |root| of l^2 - T l + D, T = 1 - mu + b1 - phi (1 - b1), D = b1 (1 - mu)."""
    roots = np.roots([1.0, -(1 - mu + b1 - phi * (1 - b1)), b1 * (1 - mu)])
    return float(np.max(np.abs(roots)))


def test_madam_gets_a_linear_verdict_at_its_defaults(tmp_path):
    """At z* MAdam's coefficient is pinned at b2_min while v stays below ~delta = 1e-16, so
    the map is differentiable there; the linearity probes must reach that regime. The (x, m)
    block is Adam's with delta = eps = 1e-8: phi = 1 (complex pair, |lambda| = sqrt(b1)),
    phi = 39 and phi = 1000 (a real root below -1)."""
    r = run("madam", learning_rate=[1e-9, 3.9e-8, 1e-6])
    t = r.table
    assert t.status.tolist() == ["stable", "unstable", "unstable"], t.reason.tolist()
    want = [math.sqrt(0.9), 1 + math.sqrt(0.1), theorem2_radius(1000.0)]
    assert want[2] == pytest.approx(98.0908, abs=1e-4)
    np.testing.assert_allclose(t.spectral_radius, want, rtol=1e-8)
    # the fixed point moved only in the state (w: 0 -> 1), not in x
    assert "x* unchanged, the state moved 1 from its init value" in t.fixed_point[0]
    assert "x moved 0" not in " ".join(t.fixed_point)
    r.save(tmp_path / "madam")  # the explicit save writes what the call computed
    assert (tmp_path / "madam" / "stability.csv").is_file()


def test_adam_at_lr_equal_eps_is_stable():
    """lr = eps = 1e-8 on 5 x^2: x <- x = 1 - lr (1 - b1) gamma / eps cancels to exactly 0;
    its quotients fall to the rounding floor and AD gives NaN there. 0 is the entry, and the
    point is as stable as its neighbours (rho = b2 = 0.999)."""
    t = run("adam", learning_rate=[0.9999e-8, 1e-8, 1.0001e-8], eps=1e-8).table
    assert (t.status == "stable").all(), t.reason.tolist()
    np.testing.assert_allclose(t.spectral_radius, 0.999, rtol=1e-12)


@pytest.fixture(scope="module")
def aida_p1():
    """Aida (1, 1) on a 9 x 9 (eta, eps) grid, ||J|| up to ~1e22."""
    return run(
        p=1,
        q=1,
        mu=1e-10,
        learning_rate=np.geomspace(1e-8, 1e-2, 9),
        eps=np.geomspace(1e-30, 1e-10, 9),
    )


def test_p_one_kink_is_flagged_at_every_point(aida_p1):
    """|g|^1 kinks at g = 0 (r <- x: forward (1 - b2) gamma, backward -(1 - b2) gamma) at
    every point; the test must not lose it when the rest of J is huge."""
    t = aida_p1.table
    assert (t.status == "non_differentiable").all(), t.status.value_counts()
    assert t.nonsmooth_entries.str.contains("r<-x:kink").all()
    assert (t.reduced_verdict == t.theory_status).all()


def test_no_eigenvalue_is_reported_beyond_its_accuracy(aida_p1):
    """Every autodiff eigenvalue is within its stated error bound of the closed form, and one
    below its bound is not printed as a number (eigenvalues.csv)."""
    e = aida_p1.eigenvalues
    t = aida_p1.table
    assert t.theory_within_bounds.all()
    ad = e[e.source == "autodiff"]
    unresolved = ad[ad.real.isna()]
    assert len(unresolved) and unresolved.accuracy.str.contains("below the achievable").all()
    assert (unresolved.error_bound > 0).all()
    resolved = ad[ad.real.notna()]
    for _, row in resolved.iterrows():
        th = e[(e.source == "theory") & (e.point == row.point)]
        gap = np.min(np.abs(th.real + 1j * th.imag - (row.real + 1j * row.imag)))
        assert gap <= row.error_bound + 1e-15 * max(1.0, row.modulus), row
    assert aida_p1.summary["theory"]["max_eigenvalue_error"] < 1e-12


def test_small_eigenvalue_at_huge_radius_is_not_noise():
    """rho = 1e27 (Adam, lr = 1e-3, eps = 1e-30): the small root 9e-28 of the (x, m) pair is
    only known to ~1e11; b2 = 0.999 (its own block) stays exact."""
    r = run("adam", learning_rate=1e-3, eps=1e-30)
    ad = r.eigenvalues[r.eigenvalues.source == "autodiff"].sort_values("index")
    assert ad.modulus.iloc[0] == pytest.approx(1e27, rel=1e-12)
    assert ad.modulus.iloc[1] == pytest.approx(0.999, rel=1e-14)
    assert math.isnan(ad.real.iloc[2]) and ad.error_bound.iloc[2] > 1e10
    assert r.summary["theory"]["max_eigenvalue_error"] < 1e-14
    assert r.summary["theory"]["within_error_bounds"] == 1


def test_unstable_orbit_below_the_start_offset_fluctuates():
    """eps = 1e-20, eta = 1.1 eta_c: the orbit first contracts to ~1e-34, then grows back and
    oscillates in bursts up to ~4.5e-11, below the start offset 1e-10: fluctuates."""
    eps = 1e-20
    eta_c = 3.8 * math.sqrt(eps) * (1 - 0.5e-10)  # mu = 1e-10
    r = run(p=2, q=1, eps=eps, mu=1e-10, b2=0.999, learning_rate=1.1 * eta_c, simulate=True)
    row = r.table.iloc[0]
    assert row.status == "unstable"
    assert row.sim_late_max_dist < 1e-10  # below --delta: the old rule said "stalls"
    assert row.sim_class == "fluctuates" and row.sim_agrees == "yes"


def test_amplitude_history_rule():
    steps = np.arange(0, 20001, 20)
    t = steps.astype(float)
    d0 = 1e-10
    # contracts to 1e-34 by t = 2000, grows back, oscillates in bursts below d0
    burst = np.where(
        t < 2000,
        d0 * 1e-24 ** (t / 2000),
        np.minimum(1e-34 * 1.05 ** np.minimum(t - 2000, 2000), 4.5e-11 * np.abs(np.sin(t / 7))),
    )
    # reaches x_f = 1 exactly, then rounding kicks it by one ulp now and then
    jitter = np.where(t < 2000, d0 * 0.5 ** (t / 20), 2.2e-16 * (t.astype(int) % 40 == 0))
    classes, _ = st.classify_simulation(
        np.stack([burst, jitter]), steps, -np.ones(2, int), resolution=[0.0, 1.8e-15]
    )
    assert classes == ["fluctuates", "stalls"]  # the second has not grown back


def test_reason_lists_a_bounded_number_of_entries():
    """signSGD on an 8-dimensional quadratic: sign(g) jumps at g = 0 in every coordinate;
    the reason names six of the eight entries and counts the rest (all are in
    nonsmooth_entries)."""
    prob = registry.get_problem("quadratic", {"gamma": tuple(np.linspace(1.0, 10.0, 8))})
    plan = api.plan_optimizer("signsgd", {"learning_rate": [1e-3]})
    an = st.Analyzer(prob, plan.opt, np.asarray(prob.x_star, float))
    v = st.verdicts(an.run(plan.grid.batch(type(plan.opt.hyper))), an.layout())[0]
    assert v.status == "non_differentiable"
    assert v.nonsmooth_entries.count(":singular") == 8
    assert v.reason.count("singular in") == 6 and "; and 2 more" in v.reason
    with pytest.raises(AttributeError):  # built once, never mutated
        v.reason = "changed"
