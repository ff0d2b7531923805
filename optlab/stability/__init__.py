"""Local stability of an optimizer's step map at a fixed point (stability.md).

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
   if H(z0) != z0 (weight decay with x* != 0, an eps added to an EMA, ...) a damped
   Newton solve of H(z) = z with the pseudo-inverse of J - I (stability.md section 5);
   the residual max|H(z*) - z*| is reported;
2. the Jacobian by ``jax.jacfwd``;
3. one-sided difference quotients for every coordinate on a ladder h = s_j 10^-k
   (k = 1..``levels`` = 75, s_j = max(|z*_j|, 1): deep enough for the linear regime of
   eps >= 1e-70, shallow enough that h**4 does not underflow), levels with
   h < 1e-9 max(|z*_i|, |z*_j|) dropped (rounding), second-moment coordinates (and any
   whose backward side is not finite) forward only, and the same along ``directions``
   random feasible directions (stability.md section 7.1);
4. probes: the Hessian of f at the fixed point, coordinate directions along which z* is a
   whole family of fixed points, H at the simulation start z* + delta.

Everything else happens in NumPy at the edge (:func:`verdicts`): each entry is classified
(smooth / ad-wrong / kink / singular / unresolved), the Jacobian is assembled (quotient value
where AD is wrong), eigenvalues come from ``numpy.linalg.eigvals``, and every point gets a
status ``stable``, ``unstable``, ``undetermined`` or ``non_differentiable`` with its reason.
Closed forms live with the optimizers they belong to (``OptimizerEntry.linearisation``,
built on :mod:`optlab.linear`), and what the analysis must know about state fields (step
counter, non-negative accumulators, running maxima, carried constants) is the entry's
``state_roles``: nothing here looks an optimizer up by id. :func:`classify_simulation` turns
simulated distances into ``decays`` / ``fluctuates`` / ``stalls`` / ``diverges``.

No pandas, no matplotlib. Modules: `stepmap` (H on a flat z), `analyzer` (the compiled
program), `verdicts` (NumPy), `simulation` (classes).
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
    TRACES,
)
from optlab.stability.analyzer import Analyzer, equivariance_gaps
from optlab.stability.simulation import (
    SIM_CLASSES,
    SIM_RULE,
    classify_simulation,
    late_power,
)
from optlab.stability.stepmap import Layout, StepMap, infer_roles, layout_of
from optlab.stability.verdicts import Verdict, _sccs, balance, verdicts

__all__ = [
    "BIAS_FREE_COUNT",
    "BIAS_NOTE",
    "FIXED_POINT_TOL",
    "FLOOR",
    "RTOL",
    "SIM_CLASSES",
    "SIM_RULE",
    "STATUSES",
    "TRACES",
    "Analyzer",
    "ClosedForm",
    "Layout",
    "StepMap",
    "Verdict",
    "_sccs",
    "balance",
    "classify_simulation",
    "complex_interval",
    "equivariance_gaps",
    "infer_roles",
    "late_power",
    "layout_of",
    "phi_c_exact",
    "phi_c_paper",
    "quadratic_roots",
    "theorem2_eigenvalues",
    "verdicts",
]
