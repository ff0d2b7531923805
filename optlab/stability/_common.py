"""Constants shared by the stability modules (see the package docstring)."""

from __future__ import annotations

from optlab._jax import jax

lax = jax.lax

BIAS_FREE_COUNT = 2**30
BIAS_NOTE = (
    "bias correction removed by evaluating the step at step count t = 2**30 "
    "(b**t underflows to exactly 0 in float64 for b < 1 - 7e-7)"
)
STATUSES = ("stable", "unstable", "undetermined", "non_differentiable")

# entry kinds of the assembled Jacobian
SMOOTH, AD_WRONG, KINK, SINGULAR, UNRESOLVED = 0, 1, 2, 3, 4
KIND_NAMES = ("smooth", "ad-wrong", "kink", "singular", "unresolved")
# convergence codes of one quotient sequence
CONVERGED, GROWS, NOT_CONVERGED, NO_DATA = 0, 1, 2, 3

BUCKET = 128  # grid points per call of an analysis program (padded): one shape, one compile
RTOL = 1e-6  # relative agreement of quotients with each other and with autodiff
FLOOR = 1e-9  # drop h below FLOOR * max(|z*_i|, |z*_j|)
FROZEN_STEPS = 2000  # steps with x held at the simulation start (start_nonlinearity)
FIXED_POINT_TOL = 1e-10  # a fixed point: max|H(z*) - z*| <= FIXED_POINT_TOL * max(1, |z*|)
