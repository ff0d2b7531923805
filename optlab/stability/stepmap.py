"""The step map H as a function of a flat vector z = (params, float state leaves)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from optlab._jax import jax, jnp
from optlab.stability._common import BIAS_FREE_COUNT

# roles (OptimizerEntry.state_roles) whose leaves must stay >= 0: one-sided quotients only
NONNEGATIVE_ROLES = ("nonnegative", "running_max")
# roles whose leaves are held fixed (not part of z): the step counter and carried constants
HELD_ROLES = ("counter", "constant")


# ---- the step map as a function of a flat vector ------------------------------------------
@dataclass(frozen=True)
class Layout:
    """Where each float leaf of (params, state) sits in z."""

    names: tuple[str, ...]  # leaf names: "x" for params, state field paths ("m", "r", ...)
    sizes: tuple[int, ...]
    nonneg: tuple[bool, ...]
    # what the analysis had to assume about state fields the optimizer declares no role for
    notes: tuple[str, ...] = ()

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


def field_of(path) -> str | None:
    """The top-level State field a flattened (params, state) leaf belongs to: the NamedTuple
    attribute or dict key right below the state (None for params and unnamed containers).
    Roles are declared per field, so every leaf of a pytree-shaped field shares its role."""
    if path[0].idx == 0 or len(path) < 2:
        return None
    key = path[1]
    for attr in ("name", "key"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return None


def _acts_as_counter(opt, params, k: int) -> bool:
    """Whether flattened leaf ``k`` of (params, init state) is a scalar that one step adds 1
    to (checked eagerly at the default hyperparameters with a zero gradient): how a state
    field with no declared role is recognised as the step counter by what it does."""
    try:
        with jax.ensure_compile_time_eval():
            state = opt.init(params, opt.hyper)
            zero = jax.tree_util.tree_map(jnp.zeros_like, params)
            _, new = opt.step(params, zero, state, opt.hyper)
            before = jax.tree_util.tree_leaves((params, state))[k]
            after = jax.tree_util.tree_leaves((params, new))[k]
            return bool(jnp.ndim(before) == 0 and after == before + 1)
    except Exception:  # noqa: BLE001 - a step that cannot run here proves nothing
        return False


def leaf_roles(opt, params, with_path, roles: Mapping[str, str]):
    """Per flattened leaf: its role (declared per State field, "" for ordinary dynamics and
    for params), and notes on what had to be inferred. An integer leaf of an undeclared
    field is a counter when the step adds 1 to it, else held at its init value (noted)."""
    out, notes = [], []
    for k, (path, leaf) in enumerate(with_path):
        field = field_of(path)
        role = roles.get(field, "") if field is not None else ""
        if not role and path[0].idx == 1 and not _is_float(leaf):
            name = _path_name(path)
            if _acts_as_counter(opt, params, k):
                role = "counter"
                notes.append(
                    f"state leaf {name} declares no role; the step adds 1 to it, so it is held "
                    "as the step counter"
                )
            else:
                role = "constant"
                notes.append(
                    f"integer state leaf {name} declares no role and is not a step counter: "
                    "held at its init value"
                )
        out.append(role)
    return out, tuple(notes)


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

    def __init__(self, problem, opt, h, x_star, state_overrides, count: int, state_roles=()):
        """``state_roles``: the optimizer's declared roles (OptimizerEntry.state_roles, a
        mapping or its items): "counter" leaves are held at t - 1 = ``count`` - 1,
        "constant" leaves at their init value, "nonnegative" and "running_max" leaves get
        one-sided quotients; an undeclared field is ordinary dynamics (see leaf_roles)."""
        self.problem, self.opt, self.h = problem, opt, h
        params = jnp.asarray(x_star)
        state = opt.init(params, h)
        with_path, self.treedef = jax.tree_util.tree_flatten_with_path((params, state))
        roles, notes = leaf_roles(opt, params, with_path, dict(state_roles))
        self.inferred = {field_of(path): r for (path, _), r in zip(with_path, roles, strict=True)}
        names, sizes, nonneg, floats, consts = [], [], [], [], []
        self.float_positions = []
        for k, ((path, leaf), role) in enumerate(zip(with_path, roles, strict=True)):
            leaf = jnp.asarray(leaf)
            name = "x" if path[0].idx == 0 else _path_name(path)
            if _is_float(leaf) and role not in HELD_ROLES:
                self.float_positions.append(k)
                if name in state_overrides:
                    leaf = jnp.full_like(leaf, state_overrides[name])
                names.append(name)
                sizes.append(int(leaf.size))
                nonneg.append(role in NONNEGATIVE_ROLES)
                floats.append(leaf)
                consts.append(None)
            else:
                value = count - 1 if role == "counter" else leaf
                consts.append(jnp.asarray(value, leaf.dtype))
        self.consts = consts
        self.shapes = [f.shape for f in floats]
        self.layout = Layout(tuple(names), tuple(sizes), tuple(nonneg), notes)
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


def layout_of(problem, opt, x_star, hyper=None, state_overrides=None, state_roles=None) -> Layout:
    """The coordinate layout (names, sizes) of an optimizer's z on a problem (``state_roles``
    None: inferred from what the step does, see :func:`infer_roles`)."""
    h = opt.hyper if hyper is None else hyper
    if state_roles is None:
        state_roles, _ = infer_roles(problem, opt, x_star, h, {})
    overrides = dict(state_overrides or {})
    return StepMap(problem, opt, h, x_star, overrides, BIAS_FREE_COUNT, state_roles).layout


PROBE_STEPS = 30  # steps of each probe trajectory of infer_roles
PROBE_SCALES = (1e-6, 1e-2, 1.0)  # sizes of the random kicks in x, relative to max(|x*|, 1)


def infer_roles(problem, opt, x_star, hyper, declared) -> tuple[tuple, tuple[str, ...]]:
    """The declared state roles, completed for State fields that declare none by what the
    step does, evaluated once at ``hyper``: from (x*, init state), probe trajectories whose
    x is kicked to a random point near x* before every step (8 per kick size) visit states
    the iteration reaches. A float field that no step changes is a constant carried in the
    state (held fixed, not part of z, as a declared "constant"); one that starts >= 0 and
    stays >= 0 on every finite probe state is a non-negative accumulator: the iteration
    never leaves that half-space, so the analysis uses one-sided quotients and feasible
    directions for it, as for a declared "nonnegative" field. Integer fields as StepMap
    recognises them. Returns (sorted (field, role) pairs, notes on what was inferred)."""
    roles = dict(declared)
    H = StepMap(problem, opt, hyper, x_star, {}, BIAS_FREE_COUNT, roles)
    # integer fields: recognised by StepMap itself (a counter, or held at its init value)
    roles.update({f: r for f, r in H.inferred.items() if f is not None and r and f not in roles})
    notes = list(H.layout.notes)
    fields: dict[str, list[int]] = {}
    start = 0
    for name, size in zip(H.layout.names, H.layout.sizes, strict=True):
        fields.setdefault(name.split(".")[0], []).extend(range(start, start + size))
        start += size
    lowest, moved, finite = _probe(H)
    for field, idx in fields.items():
        if field == "x" or field in roles or not finite:
            continue
        if not np.any(moved[idx]):
            roles[field] = "constant"
            notes.append(
                f"state field {field} declares no role; no step changes it, so it is held "
                "fixed as a constant (not part of z)"
            )
        elif np.min(lowest[idx]) >= 0:
            roles[field] = "nonnegative"
            notes.append(
                f"state field {field} declares no role; the step keeps it >= 0, so it is "
                "treated as non-negative (one-sided quotients)"
            )
    return tuple(sorted(roles.items())), tuple(notes)


def _probe(H) -> tuple[np.ndarray, np.ndarray, bool]:
    """Per coordinate of z on the probe trajectories of :func:`infer_roles` (finite states
    only, z0 included): the smallest value and whether any step changed it; and whether any
    trajectory stayed finite throughout."""
    rng = np.random.default_rng(0)  # fixed probes: the same inference every time
    d = H.layout.sizes[0]
    with jax.ensure_compile_time_eval():
        z0 = H.z0
        x_star = z0[:d]
        scale = jnp.repeat(jnp.asarray(PROBE_SCALES), 8)[:, None] * jnp.maximum(
            jnp.abs(x_star), 1.0
        )
        z = jnp.tile(z0, (scale.shape[0], 1))
        lowest = np.asarray(z0, dtype=float)
        moved = np.zeros(z0.shape[0], bool)
        alive = np.ones(scale.shape[0], bool)
        step = jax.vmap(H)
        for _ in range(PROBE_STEPS):
            kick = rng.uniform(-1, 1, (scale.shape[0], d)) * scale
            kicked = z.at[:, :d].set(x_star + kick)
            z = step(kicked)
            alive &= np.asarray(jnp.all(jnp.isfinite(z), axis=1))
            if alive.any():
                now, before = np.asarray(z)[alive], np.asarray(kicked)[alive]
                lowest = np.minimum(lowest, np.min(now, axis=0))
                moved[d:] |= np.any(now[:, d:] != before[:, d:], axis=0)
    return lowest, moved, bool(alive.any())
