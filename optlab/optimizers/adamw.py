"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, ICLR 2019, Alg. 2).

Update: Adam's m, v (see ``adam``), then
x_t = (1 - lr * weight_decay) x_{t-1} - lr * m_hat_t / (sqrt(v_hat_t) + eps).

Symbols -> hyperparameters: alpha -> ``learning_rate``, lambda -> ``weight_decay``
(scaled by the learning rate, as in ``torch.optim.AdamW`` and ``optax.adamw``; the schedule
multiplier eta_t of the paper is folded into the learning rate). Static ``eps_mode`` as Adam.
Defaults: lr = 1e-3, (0.9, 0.999), eps = 1e-8, weight_decay = 1e-2 (torch's default;
optax uses 1e-4). The Aida paper's "AdamW" is the un-scaled form: ``aida_pq`` with
(p, q) = (2, 1) and ``mu``.

Departures: none in E1; the decay multiplies x_{t-1} before the Adam step is subtracted,
as in torch and optax.
"""

from __future__ import annotations

from typing import NamedTuple

from optlab.linear import ClosedForm
from optlab.optimizers._common import init_count, step_from, zeros_like_tree
from optlab.optimizers._entry import OptimizerEntry
from optlab.optimizers.adam import (
    EPS_MODES,
    State,
    adam_moments,
    check_eps_mode,
    diagnostics,
    theorem2_form,
)
from optlab.types import Optimizer

REFERENCE = "Loshchilov & Hutter (2019), Decoupled Weight Decay Regularization, Alg. 2"


class Hyper(NamedTuple):
    learning_rate: float = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 1e-2


def make(eps_mode: str = "E1") -> Optimizer:
    check_eps_mode(eps_mode)
    static = {"eps_mode": eps_mode}

    def init(params, hyper):
        del hyper
        return State(init_count(), zeros_like_tree(params), zeros_like_tree(params))

    def step(params, grads, state, h):
        state, d = adam_moments(state, grads, h, static)
        new = step_from(params, d, h.learning_rate, weight_decay=h.weight_decay)
        return new, state

    return Optimizer("adamw", init, step, Hyper(), static, REFERENCE)


def linearisation(static, hyper, curvatures, at_zero_state) -> ClosedForm | None:
    """Theorem 2 with the decoupled decay mu = lr * weight_decay (Adam's
    :func:`~optlab.optimizers.adam.theorem2_form`), at z* = (x*, 0, 0) only."""
    if not at_zero_state:
        return None
    mu = hyper["learning_rate"] * hyper.get("weight_decay", 0.0)
    return theorem2_form(static, hyper, curvatures, mu, "lr*weight_decay")


ENTRY = OptimizerEntry(
    id="adamw",
    make=make,
    summary="AdamW: Adam with decoupled decay (1 - lr*weight_decay) x",
    paper=REFERENCE,
    eps="E1 m_hat/(sqrt(v_hat)+eps); eps_mode E2-E5 selectable",
    decay="weight_decay: decoupled, scaled by lr",
    static_choices={"eps_mode": EPS_MODES},
    diagnostics=diagnostics,
    linearisation=linearisation,
    state_roles={"count": "counter", "v": "nonnegative"},
    symbols={"learning_rate": "α", "b1": "β1", "b2": "β2", "eps": "ε", "weight_decay": "λ"},
    bibtex="""@inproceedings{loshchilov2019decoupled,
  title     = {Decoupled Weight Decay Regularization},
  author    = {Loshchilov, Ilya and Hutter, Frank},
  booktitle = {International Conference on Learning Representations},
  year      = {2019}
}""",
)
