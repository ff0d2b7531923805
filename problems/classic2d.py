"""Two-dimensional trajectory problems (docs/problems.md#2-d-problems).

Every loss is a function of z = (x, y) = (z[..., 0], z[..., 1]); ``batch`` is ignored.
``plot_box`` is (x_min, x_max, y_min, y_max), matplotlib's ``extent`` order. Each factory
takes one option, ``x0`` (two numbers), whose default is the start point given in
docs/problems.md#2-d-problems (the ones marked "lab" there are lab choices). Known stationary points
other than the global minimisers are kept in ``options["stationary_points"]`` as (x, y, f, kind)
rows, for "which basin was reached" metrics.

Numerics (docs/problems.md#pitfalls): Ackley uses a safe square root, so its gradient at the
origin is 0 rather than NaN; ``abs_sum`` and ``abs_rot`` use an absolute value whose
derivative is sign(u) with sign(0) = 0 (``jax.grad(jnp.abs)(0.0)`` would give 1). All
constants are Python floats, so a float32 iterate stays float32 under strict promotion.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from optlab._jax import jax, jnp
from problems.spec import Problem, ProblemEntry

SEC3 = "docs/problems.md#2-d-problems"
ADAMOMENTUM = "AdaMomentum (Wang et al., arXiv:2106.11514) Appendix A"
ADABELIEF = "Zhuang et al., AdaBelief, NeurIPS 2020, Fig. 3 (starts from seiyab/* reproductions)"

# Himmelblau's four zeros, solved to float64 accuracy (docs/problems.md gives 6 decimals).
HIMMELBLAU_ZEROS = (
    (3.0, 2.0),
    (-2.805118086952745, 3.131312518250573),
    (-3.779310253377747, -3.2831859912861696),
    (3.5844283403304917, -1.8481265269644036),
)
# Root in (-3, -2.5) of 4z^3 - 32z + 5 = 0 and the 2-D value at (z, z).
ST_Z = -2.903534027771177
ST_F = -78.33233140754282
ST_W = 2.746802770990837  # the other (local) root in (2.5, 3)


@jax.custom_jvp
def sign_abs(u):
    """|u| whose derivative is sign(u), with sign(0) = 0 (docs/problems.md#pitfalls)."""
    return jnp.abs(u)


@sign_abs.defjvp
def _sign_abs_jvp(primals, tangents):
    (u,), (du,) = primals, tangents
    return jnp.abs(u), jnp.sign(u) * du


def safe_sqrt(u):
    """sqrt(u) for u >= 0 with a finite (zero) gradient at u = 0."""
    pos = u > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, u, 1.0)), 0.0)


def _xy(z):
    return z[..., 0], z[..., 1]


def rosenbrock(z, batch=None):
    x, y = _xy(z)
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def beale(z, batch=None):
    x, y = _xy(z)
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def ackley(z, batch=None):
    x, y = _xy(z)
    r = safe_sqrt(0.5 * (x * x + y * y))
    c = 0.5 * (jnp.cos(2.0 * math.pi * x) + jnp.cos(2.0 * math.pi * y))
    return -20.0 * jnp.exp(-0.2 * r) - jnp.exp(c) + math.e + 20.0


def sphere(z, batch=None):
    x, y = _xy(z)
    return x * x + y * y


def three_hump_camel(z, batch=None):
    x, y = _xy(z)
    return 2.0 * x**2 - 1.05 * x**4 + x**6 / 6.0 + x * y + y * y


def rastrigin(z, batch=None):
    x, y = _xy(z)
    return (
        20.0
        + (x * x - 10.0 * jnp.cos(2.0 * math.pi * x))
        + (y * y - 10.0 * jnp.cos(2.0 * math.pi * y))
    )


def himmelblau(z, batch=None):
    x, y = _xy(z)
    return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2


def booth(z, batch=None):
    x, y = _xy(z)
    return (x + 2.0 * y - 7.0) ** 2 + (2.0 * x + y - 5.0) ** 2


def styblinski_tang(z, batch=None):
    return 0.5 * jnp.sum(z**4 - 16.0 * z**2 + 5.0 * z, axis=-1)


def goldstein_price(z, batch=None):
    x, y = _xy(z)
    a = 1.0 + (x + y + 1.0) ** 2 * (
        19.0 - 14.0 * x + 3.0 * x * x - 14.0 * y + 6.0 * x * y + 3.0 * y * y
    )
    b = 30.0 + (2.0 * x - 3.0 * y) ** 2 * (
        18.0 - 32.0 * x + 12.0 * x * x + 48.0 * y - 36.0 * x * y + 27.0 * y * y
    )
    return a * b


def saddle(z, batch=None):
    x, y = _xy(z)
    return x * x - y * y


def saddle_bounded(z, batch=None):
    x, y = _xy(z)
    return x * x + 0.25 * y**4 - 0.5 * y * y


def abs_sum(z, batch=None):
    x, y = _xy(z)
    return sign_abs(x) + sign_abs(y)


def abs_rot(z, batch=None):
    x, y = _xy(z)
    return sign_abs(x + y) + sign_abs(x - y) / 10.0


def quad_rot(z, batch=None):
    x, y = _xy(z)
    return (x + y) ** 2 + (x - y) ** 2 / 10.0


@dataclass(frozen=True)
class _Def:
    id: str
    loss: Callable
    summary: str
    x0: tuple[float, float]
    x_star: tuple | None  # one (x, y) or several
    f_star: float | None
    box: tuple[float, float, float, float]
    tags: frozenset[str]
    reference: str
    notes: str = ""
    stationary: tuple = field(default=())  # (x, y, f, kind)
    escape: float | None = None  # escape-time threshold on abs(y)
    metrics: tuple[str, ...] = ("gap", "dist")  # what the figures show first


def _t(*names: str) -> frozenset[str]:
    return frozenset({"2d", *names})


DEFS = [
    _Def(
        id="rosenbrock",
        loss=rosenbrock,
        summary="(1 - x)^2 + 100 (y - x^2)^2",
        x0=(-2.0, 2.0),
        x_star=(1.0, 1.0),
        f_star=0.0,
        box=(-2.0, 2.0, -1.0, 3.0),
        tags=_t("valley"),
        reference=f"{SEC3}; start and window from jettify/kozistr visualisers",
        notes=(
            "f(x0) = 409; the classic MGH start (-1.2, 1) (f = 24.2) is option x0=(-1.2, 1); "
            "log-spaced contours"
        ),
    ),
    _Def(
        id="beale",
        loss=beale,
        summary="(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
        x0=(3.0, 4.0),
        x_star=(3.0, 0.5),
        f_star=0.0,
        box=(-4.5, 4.5, -4.5, 4.5),
        tags=_t("valley"),
        reference=f"{SEC3}; {ADAMOMENTUM}; start/window: the widely copied Beale animation",
        notes=(
            "f(x0) = 39062.953125; third-party Adam demos start at (1, 1.5) (f = 41.25). A valley "
            "runs off to x -> -inf with y -> 1 + u/x (u = -0.99107), along which f decreases to "
            "the unattained infimum 0.452009; contours log-spaced 1e0..1e5 (35 levels)"
        ),
    ),
    _Def(
        id="ackley",
        loss=ackley,
        summary="Ackley's function (2-D)",
        x0=(2.0, 2.0),
        x_star=(0.0, 0.0),
        f_star=0.0,
        box=(-5.0, 5.0, -5.0, 5.0),
        tags=_t("multimodal", "nonsmooth"),
        reference=f"{SEC3}; {ADAMOMENTUM}",
        notes=(
            "start (2, 2) is a lab choice (f = 6.5936); not differentiable at the origin (cone of "
            "the square root): a safe square root gives gradient 0 there"
        ),
        stationary=(
            (0.952166536, 0.0, 2.579928, "local-min"),
            (-0.952166536, 0.0, 2.579928, "local-min"),
            (0.0, 0.952166536, 2.579928, "local-min"),
            (0.0, -0.952166536, 2.579928, "local-min"),
        ),
    ),
    _Def(
        id="sphere",
        metrics=("loss", "dist"),
        loss=sphere,
        summary="x^2 + y^2",
        x0=(3.0, 4.0),
        x_star=(0.0, 0.0),
        f_star=0.0,
        box=(-5.0, 5.0, -5.0, 5.0),
        tags=_t("convex", "quadratic"),
        reference=f"{SEC3}; {ADAMOMENTUM}",
        notes="start (3, 4) is a lab choice (f = 25)",
    ),
    _Def(
        id="three_hump_camel",
        loss=three_hump_camel,
        summary="2x^2 - 1.05x^4 + x^6/6 + xy + y^2",
        x0=(-2.0, 2.0),
        x_star=(0.0, 0.0),
        f_star=0.0,
        box=(-2.0, 2.0, -2.0, 2.0),
        tags=_t("multimodal"),
        reference=f"{SEC3}; {ADAMOMENTUM}",
        notes="start (-2, 2) is a lab choice (f = 1.8667); SFU domain [-5, 5]^2",
        stationary=(
            (1.747552, -0.873776, 0.298638, "local-min"),
            (-1.747552, 0.873776, 0.298638, "local-min"),
        ),
    ),
    _Def(
        id="rastrigin",
        loss=rastrigin,
        summary="Rastrigin's function (2-D)",
        x0=(-2.0, 3.5),
        x_star=(0.0, 0.0),
        f_star=0.0,
        box=(-4.5, 4.5, -4.5, 4.5),
        tags=_t("multimodal"),
        reference=f"{SEC3}; start and window from jettify/kozistr visualisers",
        notes="f(x0) = 36.25; local minima near the integer points",
        stationary=(
            (0.994959, 0.0, 0.994959, "local-min"),
            (-0.994959, 0.0, 0.994959, "local-min"),
            (0.0, 0.994959, 0.994959, "local-min"),
            (0.0, -0.994959, 0.994959, "local-min"),
        ),
    ),
    _Def(
        id="himmelblau",
        metrics=("loss", "dist"),
        loss=himmelblau,
        summary="(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        x0=(0.0, 0.0),
        x_star=HIMMELBLAU_ZEROS,
        f_star=0.0,
        box=(-5.0, 5.0, -5.0, 5.0),
        tags=_t("multimodal"),
        reference=SEC3,
        notes=(
            "four global minimisers (x_star has shape (4, 2)); record the basin reached; start "
            "(0, 0) is a lab choice (f = 170)"
        ),
        stationary=((-0.270845, -0.923039, 181.6165, "local-max"),),
    ),
    _Def(
        id="booth",
        metrics=("gap", "dist"),
        loss=booth,
        summary="(x + 2y - 7)^2 + (2x + y - 5)^2",
        x0=(0.0, 0.0),
        x_star=(1.0, 3.0),
        f_star=0.0,
        box=(-10.0, 10.0, -10.0, 10.0),
        tags=_t("convex", "quadratic"),
        reference=SEC3,
        notes="start (0, 0) is a lab choice (f = 74)",
    ),
    _Def(
        id="styblinski_tang",
        loss=styblinski_tang,
        summary="1/2 sum(z^4 - 16 z^2 + 5 z)",
        x0=(0.0, 0.0),
        x_star=(ST_Z, ST_Z),
        f_star=ST_F,
        box=(-5.0, 5.0, -5.0, 5.0),
        tags=_t("multimodal"),
        reference=SEC3,
        notes="start (0, 0) is a lab choice (f = 0, gradient (2.5, 2.5)); f* = -39.16617 n in n-D",
        stationary=(
            (ST_Z, ST_W, -64.195612, "local-min"),
            (ST_W, ST_Z, -64.195612, "local-min"),
            (ST_W, ST_W, -50.058893, "local-min"),
        ),
    ),
    _Def(
        id="goldstein_price",
        loss=goldstein_price,
        summary="Goldstein-Price function",
        x0=(1.0, 1.0),
        x_star=(0.0, -1.0),
        f_star=3.0,
        box=(-2.0, 2.0, -2.0, 2.0),
        tags=_t("multimodal"),
        reference=SEC3,
        notes="f* = 3, not 0: plot log(f - f* + 1e-16); start (1, 1) is a lab choice (f = 1876)",
        stationary=(
            (-0.6, -0.4, 30.0, "local-min"),
            (1.8, 0.2, 84.0, "local-min"),
            (1.2, 0.8, 840.0, "local-min"),
        ),
    ),
    _Def(
        id="saddle",
        metrics=("loss", "x_1"),
        loss=saddle,
        summary="x^2 - y^2 (unbounded below)",
        x0=(1.0, 1e-3),
        x_star=None,
        f_star=None,
        box=(-1.5, 1.5, -1.5, 1.5),
        tags=_t("saddle", "unbounded"),
        reference=SEC3,
        notes=(
            "no minimiser; metric: escape time, the first step with abs(y) > 1 "
            "(options escape_coordinate, escape_threshold); plot f, not f - f*. Start is a lab "
            "choice"
        ),
        stationary=((0.0, 0.0, 0.0, "saddle"),),
        escape=1.0,
    ),
    _Def(
        id="saddle_bounded",
        metrics=("gap", "x_1"),
        loss=saddle_bounded,
        summary="x^2 + y^4/4 - y^2/2",
        x0=(1.0, 1e-3),
        x_star=((0.0, 1.0), (0.0, -1.0)),
        f_star=-0.25,
        box=(-1.5, 1.5, -1.5, 1.5),
        tags=_t("saddle"),
        reference=SEC3,
        notes=(
            "bounded-below version of the saddle demo; escape time = first step with abs(y) > "
            "1/2 (lab choice: the minimisers sit at abs(y) = 1); start is a lab choice"
        ),
        stationary=((0.0, 0.0, 0.0, "saddle"),),
        escape=0.5,
    ),
    _Def(
        id="abs_sum",
        metrics=("loss", "dist"),
        loss=abs_sum,
        summary="|x| + |y|",
        x0=(-2.5, 0.0),
        x_star=(0.0, 0.0),
        f_star=0.0,
        box=(-3.0, 3.0, -3.0, 3.0),
        tags=_t("convex", "nonsmooth"),
        reference=ADABELIEF,
        notes="gradient sign(x), sign(y) with sign(0) = 0 (custom JVP)",
    ),
    _Def(
        id="abs_rot",
        metrics=("loss", "dist"),
        loss=abs_rot,
        summary="|x + y| + |x - y|/10",
        x0=(2.5, 0.0),
        x_star=(0.0, 0.0),
        f_star=0.0,
        box=(-3.0, 3.0, -3.0, 3.0),
        tags=_t("convex", "nonsmooth"),
        reference=ADABELIEF,
        notes="gradient with sign(0) = 0 (custom JVP)",
    ),
    _Def(
        id="quad_rot",
        metrics=("loss", "dist"),
        loss=quad_rot,
        summary="(x + y)^2 + (x - y)^2/10",
        x0=(2.5, 0.0),
        x_star=(0.0, 0.0),
        f_star=0.0,
        box=(-3.0, 3.0, -3.0, 3.0),
        tags=_t("convex", "quadratic"),
        reference=ADABELIEF,
    ),
]


def _start(value, pid: str) -> tuple[float, float]:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.shape != (2,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{pid}: x0 must be two finite numbers, got {value!r}")
    return float(arr[0]), float(arr[1])


def _escaped(threshold: float):
    def success(z):
        """Escaped the saddle: abs(y_T) > threshold."""
        return np.abs(np.asarray(z)[..., 1]) > threshold

    return success


def _factory(d: _Def):
    def make(x0=d.x0) -> Problem:
        start = _start(x0, d.id)
        options: dict = {"x0": start}
        if d.stationary:
            options["stationary_points"] = d.stationary
        success = None
        if d.escape is not None:
            options["escape_coordinate"] = 1  # y
            options["escape_threshold"] = d.escape
            success = _escaped(d.escape)
        return Problem(
            name=d.id,
            loss=d.loss,
            x0=jnp.asarray(start, dtype=jnp.float64),
            x_star=None if d.x_star is None else jnp.asarray(d.x_star, dtype=jnp.float64),
            f_star=d.f_star,
            f_star_kind="none" if d.f_star is None else "global",
            plot_box=d.box,
            tags=d.tags,
            reference=d.reference,
            notes=d.notes,
            options=options,
            metrics=d.metrics,
            success=success,
        )

    make.__doc__ = f"{d.summary} ({d.id}), started at ``x0`` (default {d.x0})."
    return make


ENTRIES = [
    ProblemEntry(
        id=d.id,
        make=_factory(d),
        summary=d.summary,
        defaults={"x0": d.x0},
        tags=d.tags,
    )
    for d in DEFS
]
