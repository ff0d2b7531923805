"""The 2-D trajectory problems against docs/problems.md#2-d-problems (float64, strict promotion)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optlab.metrics import make_metrics
from problems import PROBLEMS, get_problem
from problems.classic2d import sign_abs

IDS = [
    "rosenbrock", "beale", "ackley", "sphere", "three_hump_camel", "rastrigin", "himmelblau",
    "booth", "styblinski_tang", "goldstein_price", "saddle", "saddle_bounded", "abs_sum",
    "abs_rot", "quad_rot",
]  # fmt: skip

# id: (default start, f(start), window (x_min, x_max, y_min, y_max)) --
# docs/problems.md#2-d-problems
START = {
    "rosenbrock": ((-2.0, 2.0), 409.0, (-2, 2, -1, 3)),
    "beale": ((3.0, 4.0), 39062.953125, (-4.5, 4.5, -4.5, 4.5)),
    "ackley": ((2.0, 2.0), 20 - 20 * math.exp(-0.4), (-5, 5, -5, 5)),  # 6.5936
    "sphere": ((3.0, 4.0), 25.0, (-5, 5, -5, 5)),
    "three_hump_camel": ((-2.0, 2.0), 28 / 15, (-2, 2, -2, 2)),  # 1.8667
    "rastrigin": ((-2.0, 3.5), 36.25, (-4.5, 4.5, -4.5, 4.5)),
    "himmelblau": ((0.0, 0.0), 170.0, (-5, 5, -5, 5)),
    "booth": ((0.0, 0.0), 74.0, (-10, 10, -10, 10)),
    "styblinski_tang": ((0.0, 0.0), 0.0, (-5, 5, -5, 5)),
    "goldstein_price": ((1.0, 1.0), 1876.0, (-2, 2, -2, 2)),
    "saddle": ((1.0, 1e-3), 1 - 1e-6, (-1.5, 1.5, -1.5, 1.5)),
    "saddle_bounded": ((1.0, 1e-3), 1 + 0.25e-12 - 0.5e-6, (-1.5, 1.5, -1.5, 1.5)),
    "abs_sum": ((-2.5, 0.0), 2.5, (-3, 3, -3, 3)),
    "abs_rot": ((2.5, 0.0), 2.75, (-3, 3, -3, 3)),
    "quad_rot": ((2.5, 0.0), 6.875, (-3, 3, -3, 3)),
}
# id: (global minimisers, f*) -- docs/problems.md#2-d-problems (6-decimal values there)
MINIMA = {
    "rosenbrock": ([(1, 1)], 0.0),
    "beale": ([(3, 0.5)], 0.0),
    "ackley": ([(0, 0)], 0.0),
    "sphere": ([(0, 0)], 0.0),
    "three_hump_camel": ([(0, 0)], 0.0),
    "rastrigin": ([(0, 0)], 0.0),
    "himmelblau": (
        [(3, 2), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)],
        0.0,
    ),
    "booth": ([(1, 3)], 0.0),
    "styblinski_tang": ([(-2.903534, -2.903534)], -78.332331),
    "goldstein_price": ([(0, -1)], 3.0),
    "saddle": (None, None),
    "saddle_bounded": ([(0, 1), (0, -1)], -0.25),
    "abs_sum": ([(0, 0)], 0.0),
    "abs_rot": ([(0, 0)], 0.0),
    "quad_rot": ([(0, 0)], 0.0),
}
SMOOTH_AT_MIN = {k for k in IDS if k not in ("ackley", "abs_sum", "abs_rot")}


def _f(p, z):
    return float(p.loss(jnp.asarray(z, jnp.float64), None))


def test_registered_with_tags():
    for pid in IDS:
        assert pid in PROBLEMS
        p = get_problem(pid)
        assert p.name == pid and p.dim == 2 and "2d" in p.tags
        assert p.sample is None and p.init is None and p.reference
        assert p.f_star_kind == ("none" if pid == "saddle" else "global")


@pytest.mark.parametrize("pid", IDS)
def test_start_value_and_window(pid):
    start, f0, box = START[pid]
    p = get_problem(pid)
    np.testing.assert_array_equal(np.asarray(p.x0), start)
    assert _f(p, p.x0) == pytest.approx(f0, rel=1e-12, abs=1e-15)
    assert float(p.value(p.x0)) == _f(p, p.x0)
    assert p.plot_box == box
    x_lo, x_hi, y_lo, y_hi = box
    pts = [np.asarray(p.x0)] + ([] if p.x_star is None else list(np.atleast_2d(p.x_star)))
    for x, y in pts:
        assert x_lo <= x <= x_hi and y_lo <= y <= y_hi
    np.testing.assert_array_equal(p.project(p.x0), p.x0)  # unconstrained: identity


def test_other_published_starts_and_bad_x0():
    p = get_problem("rosenbrock", x0=(-1.2, 1.0))
    assert _f(p, p.x0) == pytest.approx(24.2, rel=1e-13)
    p = get_problem("beale", x0=[1, 1.5])
    assert _f(p, p.x0) == 41.25 and p.options["x0"] == (1.0, 1.5)
    g = jax.grad(get_problem("styblinski_tang").loss)(jnp.zeros(2))
    np.testing.assert_allclose(g, [2.5, 2.5], rtol=1e-15)  # docs/problems.md: gradient (2.5, 2.5)
    with pytest.raises(ValueError):
        get_problem("sphere", x0=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError):
        get_problem("sphere", x0=(1.0, float("nan")))


@pytest.mark.parametrize("pid", IDS)
def test_minimisers(pid):
    want, f_star = MINIMA[pid]
    p = get_problem(pid)
    if want is None:
        assert p.x_star is None and p.f_star is None
        return
    xs = np.atleast_2d(np.asarray(p.x_star))
    assert xs.shape == (len(want), 2)
    np.testing.assert_allclose(xs, want, atol=1e-6)  # the record agrees with the spec table
    assert p.f_star == pytest.approx(f_star, abs=1e-6)
    grad = jax.grad(p.loss)
    for z in xs:
        assert _f(p, z) == pytest.approx(p.f_star, abs=1e-12)
        g = np.asarray(grad(jnp.asarray(z), None))
        # at a kink (Ackley's cone, the abs toys) the convention gives exactly 0
        tol = 1e-9 if pid in SMOOTH_AT_MIN else 0.0
        assert np.all(np.abs(g) <= tol), g


@pytest.mark.parametrize("pid", IDS)
def test_no_nan_gradient_on_window(pid):
    p = get_problem(pid)
    x_lo, x_hi, y_lo, y_hi = p.plot_box
    gx, gy = np.meshgrid(np.linspace(x_lo, x_hi, 41), np.linspace(y_lo, y_hi, 41))
    pts = [np.stack([gx.ravel(), gy.ravel()], 1), np.asarray(p.x0)[None]]
    if p.x_star is not None:
        pts.append(np.atleast_2d(p.x_star))
    pts.append(np.zeros((1, 2)))  # the origin: kinks and Ackley's cone
    pts.append([[1e-150, 0.0], [0.0, 1e-300], [1e-8, -1e-8]])
    z = jnp.asarray(np.concatenate(pts, 0))
    f, g = jax.jit(jax.vmap(jax.value_and_grad(p.loss)))(z, None)
    assert bool(jnp.all(jnp.isfinite(f))) and bool(jnp.all(jnp.isfinite(g)))


@pytest.mark.parametrize("pid", IDS)
def test_gradient_matches_central_differences(pid):
    p = get_problem(pid)
    x_lo, x_hi, y_lo, y_hi = p.plot_box
    rng = np.random.default_rng(7)
    pts = [np.asarray(p.x0)] + [
        np.array([rng.uniform(x_lo, x_hi), rng.uniform(y_lo, y_hi)]) for _ in range(3)
    ]
    grad = jax.jit(jax.grad(p.loss))
    h = 1e-6
    for z in pts:
        if pid in ("abs_sum", "abs_rot") and np.min(np.abs([*z, z[0] + z[1], z[0] - z[1]])) < 1e-4:
            continue  # on a kink: no derivative to compare against
        g = np.asarray(grad(jnp.asarray(z), None))
        fd = np.array([(_f(p, z + h * e) - _f(p, z - h * e)) / (2 * h) for e in np.eye(2)])
        assert np.max(np.abs(g - fd)) <= 1e-6 * (1 + np.max(np.abs(g))), (z, g, fd)


@pytest.mark.parametrize("pid", [k for k in IDS if get_problem(k).options.get("stationary_points")])
def test_stationary_points_by_newton(pid):
    """The other stationary points listed in docs/problems.md: Newton from the stored point
    stays within 1e-5, lands on the stated value, and the Hessian has the stated signature."""
    p = get_problem(pid)
    grad, hess = jax.jit(jax.grad(p.loss)), jax.jit(jax.hessian(p.loss))
    for x, y, f, kind in p.options["stationary_points"]:
        z = jnp.asarray([x, y])
        for _ in range(30):
            z = z - jnp.linalg.solve(hess(z, None), grad(z, None))
        assert float(jnp.max(jnp.abs(z - jnp.asarray([x, y])))) < 1e-5
        assert float(jnp.linalg.norm(grad(z, None))) < 1e-9
        assert _f(p, z) == pytest.approx(f, abs=1e-5 * max(1.0, abs(f)))
        eig = np.linalg.eigvalsh(np.asarray(hess(z, None)))
        sig = {"local-min": eig.min() > 0, "local-max": eig.max() < 0}
        assert sig.get(kind, eig.min() < 0 < eig.max()), (kind, eig)


def test_sign_convention_at_kinks():
    gs = jax.grad(get_problem("abs_sum").loss)
    np.testing.assert_array_equal(gs(jnp.zeros(2), None), [0.0, 0.0])
    np.testing.assert_array_equal(gs(jnp.asarray([0.0, -2.0]), None), [0.0, -1.0])
    gr = jax.grad(get_problem("abs_rot").loss)
    np.testing.assert_array_equal(gr(jnp.zeros(2), None), [0.0, 0.0])
    # on the kink x + y = 0 only the |x - y|/10 term contributes: (0.1, -0.1)
    np.testing.assert_allclose(gr(jnp.asarray([1.0, -1.0]), None), [0.1, -0.1], rtol=1e-15)
    assert float(jax.grad(sign_abs)(0.0)) == 0.0 and float(jax.grad(jnp.abs)(0.0)) == 1.0
    ga = jax.grad(get_problem("ackley").loss)(jnp.zeros(2), None)
    np.testing.assert_array_equal(ga, [0.0, 0.0])  # jnp.sqrt would give NaN here


@pytest.mark.parametrize("pid", IDS)
def test_float32_stays_float32(pid):
    p = get_problem(pid)
    z32 = p.x0.astype(jnp.float32)
    f, g = jax.value_and_grad(p.loss)(z32, None)
    assert f.dtype == jnp.float32 and g.dtype == jnp.float32
    assert float(f) == pytest.approx(_f(p, p.x0), rel=1e-5, abs=1e-6)


def test_metrics_use_the_nearest_minimiser():
    m = make_metrics(get_problem("himmelblau"))
    loss, gap, gn, dist = m(jnp.asarray([-2.805118086952745, 3.231312518250573]))
    assert float(dist) == pytest.approx(0.1, rel=1e-9)
    assert float(gap) == float(loss) > 0
    _, gap, _, dist = make_metrics(get_problem("saddle"))(jnp.asarray([0.5, 0.5]))
    assert np.isnan(float(gap)) and np.isnan(float(dist))
    sb = get_problem("saddle_bounded")
    _, gap, _, dist = make_metrics(sb)(jnp.asarray([0.0, -1.0]))
    assert float(gap) == 0.0 and float(dist) == 0.0
    assert sb.options["escape_threshold"] == 0.5
    assert get_problem("saddle").options["escape_threshold"] == 1.0


def test_figure_metrics_and_escape_success():
    known = {"loss", "gap", "dist", "grad_norm", "x_0", "x_1"}
    for pid in IDS:
        p = get_problem(pid)
        assert p.metrics and set(p.metrics) <= known, (pid, p.metrics)
        if p.f_star is None:
            assert "gap" not in p.metrics and "dist" not in p.metrics
    for pid, thr in (("saddle", 1.0), ("saddle_bounded", 0.5)):
        ok = get_problem(pid).success
        z = np.array([[0.0, thr + 1e-9], [0.3, -thr - 0.1], [1.0, thr], [0.0, 0.0]])
        np.testing.assert_array_equal(ok(z), [True, True, False, False])
    assert get_problem("rosenbrock").success is None
