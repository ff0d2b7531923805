"""The problem record: data, not machinery."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def identity(x):
    return x


@dataclass(frozen=True, eq=False)
class Problem:
    """One optimisation problem, ready to run.

    ``loss(x, batch)`` is what gradients are taken of (``batch`` comes from ``sample``;
    None for deterministic problems). ``objective(x)`` is the deterministic metric
    (population loss); it defaults to ``loss(x, None)``. ``x_star`` is (d,) or (k, d)
    for several minimisers. ``f_star_kind`` is one of "global", "local-from-x0", "none".
    ``init(key)``, when set, draws a random start per seed instead of ``x0``.
    Problems tagged "online" get the regret R_t = sum_s loss(x_{s-1}, batch_s) -
    loss(x_star, batch_s) recorded by the runner.
    """

    name: str
    loss: Callable[[Any, Any], Any]
    x0: Any
    objective: Callable[[Any], Any] | None = None
    x_star: Any | None = None
    f_star: float | None = None
    f_star_kind: str = "none"
    sample: Callable[[Any, Any], Any] | None = None
    project: Callable[[Any], Any] = identity
    plot_box: tuple[float, float, float, float] | None = None
    tags: frozenset[str] = frozenset()
    reference: str = ""
    init: Callable[[Any], Any] | None = None
    notes: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    # what the figures show first: "grad_norm", "loss", "gap", "dist", "avg_regret", ...
    metrics: tuple[str, ...] = ("grad_norm",)
    # x_final -> bool array: the problem's success criterion (e.g. Chen: |theta_T| < 0.1)
    success: Callable[[Any], Any] | None = None

    def value(self, x):
        """The deterministic objective at x."""
        return self.objective(x) if self.objective is not None else self.loss(x, None)

    @property
    def dim(self) -> int:
        """The length of x; for parameters given as a pytree, their total count."""
        shape = getattr(self.x0, "shape", None)
        if shape is not None:
            return int(shape[-1])
        from optlab._jax import jax

        return int(sum(np.size(v) for v in jax.tree_util.tree_leaves(self.x0)))


@dataclass(frozen=True)
class ProblemEntry:
    """Registry record: a factory and its options (name -> default)."""

    id: str
    make: Callable[..., Problem]
    summary: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    tags: frozenset[str] = frozenset()
