"""Constants shared by the stability modules (see the package docstring)."""

from __future__ import annotations

from collections import Counter

from optlab._jax import jax

lax = jax.lax

BIAS_FREE_COUNT = 2**30
BIAS_NOTE = (
    "bias correction removed by evaluating the step at step count t = 2**30 "
    "(b**t underflows to exactly 0 in float64 for b < 1 - 7e-7)"
)
STATUSES = ("stable", "unstable", "undetermined", "non_differentiable")
TRACES: Counter = Counter()  # optimizer id -> times an analysis program was traced
_PROGRAMS: dict = {}  # cache_key -> jitted program (a repeated analysis does not recompile)

# State leaves that must stay >= 0 (second moments, running maxima): forward quotients only.
NONNEGATIVE_LEAVES = frozenset({"r", "v", "s", "s_max", "v_max", "nu"})

# Float state leaves that the step carries unchanged (constants, not dynamics): held fixed
# like the step counter instead of adding a spurious eigenvalue 1 to J.
CONSTANT_LEAVES = {"adabound": ("base_lr",)}

# What is known about a method's fixed point beyond what the numbers show
# (docs/stability.md#non-smooth-cases).
FIXED_POINT_NOTES = {
    "amsgrad": (
        "running max v_max: a continuum of fixed points (any v_max* >= 0); at v_max* = 0 (the "
        "init state) the max sits at a tie and the map is not differentiable; analyse a point "
        "of the family with --state v_max=VALUE"
    ),
    "adagrad": "the accumulator only grows: a family of fixed points (eigenvalue 1)",
    "signsgd": "sign update: discontinuous at z*; expect a bounded oscillation of size ~lr",
    "adabound": (
        "clipped step size: piecewise map; base_lr (a constant carried in the state) is held "
        "fixed, not part of z"
    ),
    "msvag": "variance-adapted factor clipped to [0, 1] and 0/0 at z*: piecewise / degenerate",
    "fromage": "ratio ||x||/||g||: infinite times zero at g = 0 (degenerate at z*)",
}

# entry kinds (docs/stability.md#jacobian)
SMOOTH, AD_WRONG, KINK, SINGULAR, UNRESOLVED = 0, 1, 2, 3, 4
KIND_NAMES = ("smooth", "ad-wrong", "kink", "singular", "unresolved")
# convergence codes of one quotient sequence
CONVERGED, GROWS, NOT_CONVERGED, NO_DATA = 0, 1, 2, 3

BUCKET = 128  # grid points per call of an analysis program (padded): one shape, one compile
RTOL = 1e-6  # relative agreement of quotients with each other and with autodiff
FLOOR = 1e-9  # drop h below FLOOR * max(|z*_i|, |z*_j|)
FROZEN_STEPS = 2000  # steps with x held at the simulation start (start_nonlinearity)
FIXED_POINT_TOL = 1e-10  # a fixed point: max|H(z*) - z*| <= FIXED_POINT_TOL * max(1, |z*|)
