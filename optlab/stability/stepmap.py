"""The step map H as a function of a flat vector z = (params, float state leaves)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optlab._jax import jax, jnp
from optlab.stability._common import BIAS_FREE_COUNT, CONSTANT_LEAVES, NONNEGATIVE_LEAVES


# ---- the step map as a function of a flat vector ------------------------------------------
@dataclass(frozen=True)
class Layout:
    """Where each float leaf of (params, state) sits in z."""

    names: tuple[str, ...]  # leaf names: "x" for params, state field paths ("m", "r", ...)
    sizes: tuple[int, ...]
    nonneg: tuple[bool, ...]

    @property
    def n(self) -> int:
        return int(sum(self.sizes))

    def coordinate_names(self) -> list[str]:
        out = []
        for name, size in zip(self.names, self.sizes, strict=True):
            out += [name] if size == 1 else [f"{name}[{i}]" for i in range(size)]
        return out

    def leaf_of(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.names)), self.sizes)

    def nonneg_mask(self) -> np.ndarray:
        return np.repeat(np.asarray(self.nonneg, bool), self.sizes)


def _path_name(path) -> str:
    parts = []
    for key in path[1:]:  # path[0] is 0 (params) or 1 (state)
        if hasattr(key, "name"):
            parts.append(str(key.name))
        elif hasattr(key, "key"):
            parts.append(str(key.key))
        elif hasattr(key, "idx"):
            parts.append(str(key.idx))
        else:
            parts.append(str(key))
    return ".".join(parts)


def _is_float(leaf) -> bool:
    return jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.floating)


class Translated:
    """A problem seen from its minimiser: value(y) = f(x* + y), so that x* becomes 0 and
    difference quotients do not lose digits to x* + h (used only when the step is
    translation-equivariant, which :func:`equivariance_gaps` checks)."""

    def __init__(self, problem, x_star):
        self.problem = problem
        self.x_star = jnp.asarray(x_star)
        self.name = getattr(problem, "name", "")

    def value(self, y):
        return self.problem.value(y + self.x_star)

    def project(self, y):
        return self.problem.project(y + self.x_star) - self.x_star


class LocalModel:
    """The problem's second-order model around x* in local coordinates y = x - x*:
    value(y) = g*.y + y.H y / 2 with g* = grad f(x*), H = hess f(x*). The Jacobian of the step
    map at z* depends on f only through g* and H, so this model gives the same Jacobian,
    while its difference quotients reach h far below the float64 spacing of x* (x* + h = x*
    for h < 1e-16 |x*|). Used only for translation-equivariant steps (equivariance_gaps)."""

    def __init__(self, problem, x_star):
        x_star = jnp.asarray(x_star)
        shape = x_star.shape
        flat = jnp.ravel(x_star)
        fun = lambda x: problem.value(jnp.reshape(x, shape))  # noqa: E731
        self.g = jax.grad(fun)(flat)
        self.H = jax.hessian(fun)(flat)
        self.shape = shape
        self.name = getattr(problem, "name", "")

    def value(self, y):
        v = jnp.ravel(y)
        return jnp.dot(self.g, v) + 0.5 * jnp.dot(v, self.H @ v)

    def project(self, y):
        return y


class StepMap:
    """H(z) for one hyperparameter point: the optimizer's step on the flat float leaves."""

    def __init__(self, problem, opt, h, x_star, state_overrides, count: int):
        self.problem, self.opt, self.h = problem, opt, h
        params = jnp.asarray(x_star)
        state = opt.init(params, h)
        with_path, self.treedef = jax.tree_util.tree_flatten_with_path((params, state))
        names, sizes, nonneg, floats, consts = [], [], [], [], []
        constant = CONSTANT_LEAVES.get(opt.name, ())
        self.float_positions = []
        for k, (path, leaf) in enumerate(with_path):
            leaf = jnp.asarray(leaf)
            name = "x" if path[0].idx == 0 else _path_name(path)
            if _is_float(leaf) and name not in constant:
                self.float_positions.append(k)
                if name in state_overrides:
                    leaf = jnp.full_like(leaf, state_overrides[name])
                names.append(name)
                sizes.append(int(leaf.size))
                nonneg.append(name.split(".")[-1] in NONNEGATIVE_LEAVES)
                floats.append(leaf)
                consts.append(None)
            else:
                value = count - 1 if name.split(".")[-1] == "count" else leaf
                consts.append(jnp.asarray(value, leaf.dtype))
        self.consts = consts
        self.shapes = [f.shape for f in floats]
        self.layout = Layout(tuple(names), tuple(sizes), tuple(nonneg))
        self.z0 = jnp.concatenate([jnp.ravel(f) for f in floats]) if floats else jnp.zeros(0)
        self.grad = jax.grad(problem.value)

    def unflatten(self, z):
        leaves, k, i = [], 0, 0
        for const in self.consts:
            if const is None:
                shape = self.shapes[i]
                size = self.layout.sizes[i]
                leaves.append(jnp.reshape(z[k : k + size], shape))
                k += size
                i += 1
            else:
                leaves.append(const)
        return jax.tree_util.tree_unflatten(self.treedef, leaves)

    def flatten(self, tree):
        leaves = jax.tree_util.tree_leaves(tree)
        return jnp.concatenate([jnp.ravel(leaves[k]) for k in self.float_positions])

    def __call__(self, z):
        params, state = self.unflatten(z)
        g = self.grad(params)
        new_params, new_state = self.opt.step(params, g, state, self.h)
        new_params = self.problem.project(new_params)
        return self.flatten((new_params, new_state))

    def params_of(self, z):
        return z[: self.layout.sizes[0]]


def layout_of(problem, opt, x_star, hyper=None, state_overrides=None) -> Layout:
    """The coordinate layout (names, sizes) of an optimizer's z on a problem."""
    h = opt.hyper if hyper is None else hyper
    return StepMap(problem, opt, h, x_star, dict(state_overrides or {}), BIAS_FREE_COUNT).layout
