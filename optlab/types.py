"""Core records shared by every layer: the optimizer contract and the run trace.

Nothing here imports JAX: records hold whatever arrays the caller gives them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

Array = Any  # a jax or numpy array
Params = Any  # a pytree of arrays
Grads = Any  # a pytree shaped like Params
State = Any  # an optimizer's state: a NamedTuple of arrays / pytrees
Hyper = Any  # a NamedTuple of numeric hyperparameters (floats or arrays)
Key = Any  # a jax PRNG key
Batch = Any  # what a stochastic problem's sampler returns


class Optimizer(NamedTuple):
    """An optimizer is a pair of pure functions over pytrees (optax's contract) whose
    numeric hyperparameters are an argument of ``step`` (so a sweep is a ``vmap``).

    ``step`` returns the new parameters, not an update: the papers write x_t = ...,
    including decoupled decay such as Aida's (1 - mu) x.
    """

    name: str
    init: Callable[[Params, Hyper], State]
    step: Callable[[Params, Grads, State, Hyper], tuple[Params, State]]
    hyper: Hyper
    static: Mapping[str, object]
    reference: str


class Trace(NamedTuple):
    """What a sweep returns; leading axes [grid, seed] added by vmap.

    ``step`` holds the recorded step numbers (0 is x0, the last step is always there).
    Metrics at or after ``diverged_step`` are NaN; ``diverged_step`` is -1 when none.
    """

    step: Array  # (R,)
    loss: Array  # (G, S, R)
    gap: Array
    grad_norm: Array
    dist: Array
    diverged_step: Array  # (G, S)
    x: Array | None  # (G, S, R, d) when recorded
    extras: dict[str, Array]
