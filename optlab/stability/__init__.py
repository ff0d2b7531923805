"""Local stability of an optimizer's step map at a fixed point.

The optimizer is read as a dynamical system z_{t+1} = H(t, z_t) on the flattened
floating-point leaves of (params, optimizer state); integer leaves (the step counter) are
not part of z. Its autonomous part H-bar is obtained by **evaluating the step at the step
count t = 2**30**, where every bias-correction power b**t (b < 1 - 7e-7) underflows to
exactly 0 in float64, so the corrections 1 - b**t are exactly 1; schedules that depend on
t are read at that t (``autonomy_gap`` measures what is left: H at 2**30 against H at
2**30 + 2**20 at a probe point). No optimizer file is changed for this.

One compiled program per (problem, optimizer, integer exponents) does, for every grid point
(``vmap``):

1. the fixed point: z0 = (x*, the optimizer's init state there, with ``state`` overrides);
   if H(z0) != z0 (weight decay with x* != 0, an eps added to an EMA, MaxVA's zeroth
   moment, ...) a damped Newton solve of H(z) = z; the residual max|H(z*) - z*| is
   reported;
2. the Jacobian by ``jax.jacfwd``;
3. one-sided difference quotients for every coordinate on a ladder h = s_j 10^-k
   (k = 1..``levels`` = 75, s_j = max(|z*_j|, 1): deep enough for the linear regime of
   eps >= 1e-70, shallow enough that h**4 does not underflow), levels with
   h < 1e-9 max(|z*_i|, |z*_j|) dropped (rounding), second-moment coordinates (and any
   whose backward side is not finite) forward only; a sequence that reaches the rounding
   floor of its entry is 0 within it (an exact zero or a cancellation). Then the same
   along ``directions`` random feasible directions, each component scaled to where its
   coordinate's own quotients are linear (the linearity test that catches a max at a tie);
4. probes: the Hessian of f at the fixed point, coordinate directions along which z* is a
   whole family of fixed points, H at the simulation start z* + delta.

Everything else happens in NumPy at the edge (:func:`verdicts`): each entry is classified
(smooth / ad-wrong / kink / singular / unresolved, each test on the entry's own scale), the
Jacobian is assembled (quotient value where AD is wrong), its eigenvalues come with error
bounds (:mod:`optlab.stability.spectrum`), and every point gets one frozen
:class:`Verdict`: ``stable``, ``unstable``, ``undetermined`` or ``non_differentiable`` with
its reason. Closed forms live with the optimizers they belong to
(``OptimizerEntry.linearisation``, built on :mod:`optlab.linear`), and what the analysis
must know about state fields (step counter, non-negative accumulators, running maxima,
carried constants) is the entry's ``state_roles``: nothing here looks an optimizer up by
id. :func:`classify_simulation` turns simulated distances into ``decays`` / ``fluctuates``
/ ``stalls`` / ``diverges``.

Modules: `stepmap` (H on a flat z), `analyzer` (the compiled program), `verdicts` and
`spectrum` (NumPy), `simulation` (classes), `orbits` (the simulated iteration), `refine`
(boundaries by bisection), `report` (rows, boundary and summary; the only pandas user).
No matplotlib.
"""

from __future__ import annotations

from optlab.linear import (
    ClosedForm,
    complex_interval,
    phi_c_exact,
    phi_c_paper,
    quadratic_roots,
    theorem2_eigenvalues,
)
from optlab.stability._common import (
    BIAS_FREE_COUNT,
    BIAS_NOTE,
    FIXED_POINT_TOL,
    FLOOR,
    RTOL,
    STATUSES,
)
from optlab.stability.analyzer import PROGRAMS, Analyzer, equivariance_gaps
from optlab.stability.simulation import (
    SIM_CLASSES,
    SIM_RULE,
    classify_simulation,
    late_power,
)
from optlab.stability.spectrum import Spectrum, balance, classify_rho, spectrum
from optlab.stability.stepmap import Layout, StepMap, infer_roles, layout_of
from optlab.stability.verdicts import Verdict, _sccs, verdicts

__all__ = [
    "BIAS_FREE_COUNT",
    "BIAS_NOTE",
    "FIXED_POINT_TOL",
    "FLOOR",
    "RTOL",
    "SIM_CLASSES",
    "SIM_RULE",
    "STATUSES",
    "PROGRAMS",
    "Analyzer",
    "ClosedForm",
    "Layout",
    "StepMap",
    "Spectrum",
    "Verdict",
    "_sccs",
    "balance",
    "classify_rho",
    "classify_simulation",
    "complex_interval",
    "equivariance_gaps",
    "infer_roles",
    "late_power",
    "layout_of",
    "phi_c_exact",
    "phi_c_paper",
    "quadratic_roots",
    "spectrum",
    "theorem2_eigenvalues",
    "verdicts",
]
