"""The registry record of an optimizer: its factory plus what `optlab list` shows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from optlab.types import Optimizer

# What the analysis needs to know about a field of an optimizer's State (by field name;
# a field not named is ordinary dynamics; an entry that names none at all has its roles
# inferred from what its step does, see optlab.stability.infer_roles):
#   "counter"      the integer step count (held fixed, never differentiated)
#   "nonnegative"  must stay >= 0 (second moments): one-sided difference quotients only
#   "running_max"  a running maximum (non-negative, piecewise: ties at the fixed point)
#   "constant"     a float carried unchanged by the step (held fixed, not part of z)
StateRole = Literal["counter", "nonnegative", "running_max", "constant"]
STATE_ROLES: tuple[str, ...] = ("counter", "nonnegative", "running_max", "constant")

# A closed-form linearisation at the fixed point: (static options, numeric hyperparameters
# as floats, Hessian eigenvalues at x*, whether z* = (x*, zero state) is the fixed point)
# -> optlab.linear.ClosedForm, or None where the closed form does not apply.
Linearisation = Callable[[Mapping[str, object], Mapping[str, float], object, bool], object]

# Checked for every optimizer that has the hyperparameter: (low, high, brackets) with
# None for no bound and brackets "[]", "[)", ... saying which ends are included.
Bound = tuple[float | None, float | None, str]
COMMON_BOUNDS: Mapping[str, Bound] = {
    "learning_rate": (0.0, None, "[]"),
    "eps": (0.0, None, "[]"),
    "b1": (0.0, 1.0, "[)"),
    "b2": (0.0, 1.0, "[)"),
    "momentum": (0.0, 1.0, "[)"),
    "mu": (0.0, 1.0, "[)"),
    "weight_decay": (0.0, None, "[]"),
    "l2": (0.0, None, "[]"),
}


@dataclass(frozen=True)
class OptimizerEntry:
    id: str
    make: Callable[..., Optimizer]  # static (structural) options as keyword arguments
    summary: str  # one line
    paper: str  # short citation with algorithm / equation number
    eps: str  # where eps goes (inside or outside the root, in the EMA, ...)
    decay: str  # weight-decay modes offered
    bibtex: str = ""
    bounds: Mapping[str, Bound] = field(default_factory=dict)  # adds to / overrides COMMON
    # hyperparameters that get a specialised program when every grid value is an integer
    integer_hypers: tuple[str, ...] = ()
    # allowed values of each static option, first = default (free-form options: omit)
    static_choices: Mapping[str, tuple] = field(default_factory=dict)
    # opt-in diagnostics (--diagnostics): (grads, new_state, hyper, static) -> dict of
    # elementwise pytrees; keys "step_size" (the effective elementwise step lr*d_t/m_hat_t)
    # and "denominator" (what the method divides by, e.g. sqrt(v_hat)+eps), when defined.
    diagnostics: Callable[..., dict] | None = None
    # roles of State fields that the stability analysis must respect (see StateRole)
    state_roles: Mapping[str, StateRole] = field(default_factory=dict)
    # the closed-form Jacobian eigenvalues at the fixed point, when a paper gives them
    linearisation: Linearisation | None = None
    # what is known about the fixed point beyond what the numbers show (a continuum of
    # fixed points, a tie, a discontinuity), printed beside every verdict
    fixed_point_note: str = ""
    # paper symbols of hyperparameters for axis labels and tables ("learning_rate": "η")
    symbols: Mapping[str, str] = field(default_factory=dict)

    def all_bounds(self) -> dict[str, Bound]:
        return {**COMMON_BOUNDS, **self.bounds}
