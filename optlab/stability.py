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
Closed forms (Theorem 2 and 3 of seed 000, gradient descent, heavy ball, Adam's special case
of Theorem 2) are in :func:`theory`; :func:`classify_simulation` turns simulated distances
into ``decays`` / ``fluctuates`` / ``stalls`` / ``diverges``.

No pandas, no matplotlib.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from optlab._jax import jax, jnp

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

# What is known about a method's fixed point beyond what the numbers show (stability.md 7.3).
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

# entry kinds (stability.md section 7.1)
SMOOTH, AD_WRONG, KINK, SINGULAR, UNRESOLVED = 0, 1, 2, 3, 4
KIND_NAMES = ("smooth", "ad-wrong", "kink", "singular", "unresolved")
# convergence codes of one quotient sequence
CONVERGED, GROWS, NOT_CONVERGED, NO_DATA = 0, 1, 2, 3

BUCKET = 128  # grid points per call of an analysis program (padded): one shape, one compile
RTOL = 1e-6  # relative agreement of quotients with each other and with autodiff
FLOOR = 1e-9  # drop h below FLOOR * max(|z*_i|, |z*_j|)
FROZEN_STEPS = 2000  # steps with x held at the simulation start (start_nonlinearity)
FIXED_POINT_TOL = 1e-10  # a fixed point: max|H(z*) - z*| <= FIXED_POINT_TOL * max(1, |z*|)


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


# ---- one grid point ------------------------------------------------------------------------
def _tail(q, valid):
    """Limits of quotient sequences q (L, n) (levels ordered by decreasing h, one sequence
    per output row) from the last three valid levels of each: (value, error, code), (n,)."""
    ar = jnp.arange(q.shape[0])[:, None]

    def last_before(limit):
        k = jnp.max(jnp.where(valid & (ar < limit), ar, -1), axis=0)
        return k, jnp.sum(jnp.where(ar == k, q, 0.0), axis=0)

    k1, q1 = last_before(q.shape[0])
    k2, q2 = last_before(k1)
    k3, q3 = last_before(k2)
    d1, d2 = jnp.abs(q1 - q2), jnp.abs(q2 - q3)
    a1, a2, a3 = jnp.abs(q1), jnp.abs(q2), jnp.abs(q3)
    plateau = d1 <= RTOL * a1
    geometric = (d1 <= 0.5 * d2) | (d1 == 0)
    # growth only counts as a singularity when the ladder was not cut short (by the
    # rounding floor or non-finite values): a cut ladder may end before the linear regime
    full = k1 == q.shape[0] - 1
    grows = (a1 >= 2 * a2) & (a2 >= 2 * a3) & (a1 > 0) & full
    code = jnp.where(
        k3 < 0,
        NO_DATA,
        jnp.where(
            plateau | (geometric & ~grows), CONVERGED, jnp.where(grows, GROWS, NOT_CONVERGED)
        ),
    )
    # converging to 0 within its own error: call it 0
    value = jnp.where((code == CONVERGED) & ~plateau & (a1 <= 2 * d1), 0.0, q1)
    return value, d1, code


def _quotients(H, z, f0, h, direction, forward_only, floor):
    """Forward and backward quotient limits along ``direction`` (n,) with steps ``h`` (L,);
    floor (n,): per output row, the smallest usable step. Returns (fwd, bwd), each
    (value, err, code) of shape (n,)."""
    zf = z[None, :] + h[:, None] * direction[None, :]
    zb = z[None, :] - h[:, None] * direction[None, :]
    # the step actually taken (exact in binary), from the largest-magnitude component
    big = jnp.abs(direction) == jnp.max(jnp.abs(direction))
    first = jnp.cumsum(big) == 1
    pick = big & first
    u_k = jnp.sum(jnp.where(pick, direction, 0.0))
    z_k = jnp.sum(jnp.where(pick, z, 0.0))
    hf = (jnp.sum(jnp.where(pick[None, :], zf, 0.0), axis=1) - z_k) / u_k
    hb = (z_k - jnp.sum(jnp.where(pick[None, :], zb, 0.0), axis=1)) / u_k
    ff = jax.vmap(H)(zf)
    fb = jax.vmap(H)(jnp.where(forward_only, zf, zb))  # no backward step when one-sided
    qf = (ff - f0[None, :]) / hf[:, None]
    qb = (f0[None, :] - fb) / hb[:, None]
    usable = (h[:, None] >= floor[None, :]) & (hf[:, None] > 0)
    vf = usable & jnp.isfinite(qf)
    vb = usable & jnp.isfinite(qb) & ~forward_only
    return _tail(qf, vf), _tail(qb, vb)


def relative_residual(hz, z):
    """max_j |H(z)_j - z_j| / (|z_j| + |H(z)_j|) (0 where both are 0): each coordinate on
    its own scale, so a second moment of 1e-9 is solved as accurately as an x of 1."""
    num = jnp.abs(hz - z)
    den = jnp.abs(z) + jnp.abs(hz)
    return jnp.max(jnp.where(num == 0, 0.0, num / jnp.where(den > 0, den, 1.0)))


@dataclass(frozen=True)
class Analyzer:
    """The compiled analysis of one optimizer on one problem (static: ``fixed`` integer
    hyperparameters, state overrides, ladder sizes). ``run(hyper_batch)`` -> dict of NumPy
    arrays with a leading grid axis."""

    problem: object
    opt: object
    x_star: np.ndarray
    fixed: dict = field(default_factory=dict)
    state_overrides: tuple = ()
    delta: float = 1e-10
    levels: int = 75
    directions: int = 3
    newton_steps: int = 30
    seed: int = 0
    translate: bool = False  # analyse in y = x - x* (only for translation-equivariant steps)

    def _hyper(self, h):
        return h._replace(**self.fixed) if self.fixed else h

    def _view(self):
        if self.translate:
            return LocalModel(self.problem, self.x_star), np.zeros_like(self.x_star)
        return self.problem, self.x_star

    def step_map(self, h, count: int = BIAS_FREE_COUNT) -> StepMap:
        problem, x_star = self._view()
        return StepMap(problem, self.opt, self._hyper(h), x_star, dict(self.state_overrides), count)

    def layout(self) -> Layout:
        return self.step_map(self.opt.hyper).layout

    def _start(self, h):
        """(z0, its relative residual): the candidate fixed point (x*, init state)."""
        H = self.step_map(h)
        return H.z0, relative_residual(H(H.z0), H.z0)

    def _newton(self, h, z0, r0):
        """Solve H(z) = z from z0 by Newton steps (LU, and damped least squares for a
        singular J - I), each with a line search over 2^-k, k = 0..50. A plain Newton step
        fails here: with q > 1 the step's x-derivative vanishes at z0, so the first step
        would jump by x*; the line search picks its right fraction. Stage 1 minimises the
        absolute residual max|H(z) - z| (coordinates that start at 0 have no scale yet),
        stage 2 the relative one (:func:`relative_residual`), so every coordinate, however
        small (a second moment of 1e-9), ends accurate to its own scale."""
        H = self.step_map(h)
        n = z0.shape[0]
        eye = jnp.eye(n, dtype=z0.dtype)
        fractions = 2.0 ** -jnp.arange(0, 51, dtype=z0.dtype)

        def measures(z):
            hz = H(z)
            pair = jnp.stack([jnp.max(jnp.abs(hz - z)), relative_residual(hz, z)])
            return jnp.where(jnp.isfinite(pair), pair, jnp.inf)

        def body(carry, second):
            z, r = carry
            f = H(z) - z
            J = jax.jacfwd(H)(z)
            # non-finite entries (sqrt at 0 in the init state) carry no step information
            A = jnp.where(jnp.isfinite(J), J, 0.0) - eye
            tik = 1e-13 * jnp.max(jnp.abs(A)) ** 2 + 1e-300
            s_lu = -jnp.linalg.solve(A, f)
            s_ls = -jnp.linalg.solve(A.T @ A + tik * eye, A.T @ f)
            steps = jnp.stack([s_lu, s_ls])
            steps = jnp.where(jnp.isfinite(steps), steps, 0.0)
            cands = z[None, None, :] + fractions[None, :, None] * steps[:, None, :]
            cands = jnp.reshape(cands, (-1, n))
            rs = jax.vmap(measures)(cands)[:, second.astype(jnp.int32)]
            r = measures(z)[second.astype(jnp.int32)]  # the stage's own measure at z
            k = jnp.argmin(rs)
            better = rs[k] < r
            return (jnp.where(better, cands[k], z), r), None

        stages = jnp.concatenate(
            [jnp.zeros(self.newton_steps, bool), jnp.ones(self.newton_steps // 2, bool)]
        )
        (z, _), _ = lax.scan(body, (z0, r0), stages)
        r = relative_residual(H(z), z)
        return jnp.where(r0 == 0, z0, z), jnp.where(r0 == 0, r0, r)

    def _one(self, h, z0, r0, z, residual):
        H = self.step_map(h)
        lay = H.layout
        n = lay.n
        eye = jnp.eye(n, dtype=z0.dtype)
        f0 = H(z)

        # 2. autodiff
        jac = jax.jacfwd(H)(z)

        # 3. one-sided quotients: every coordinate, then random feasible directions
        scale = jnp.maximum(jnp.abs(z), 1.0)
        ladder = 10.0 ** -jnp.arange(1, self.levels + 1, dtype=z.dtype)
        nonneg = jnp.asarray(lay.nonneg_mask())
        rng = np.random.default_rng(self.seed)  # fixed directions, constants of the program
        mag = rng.uniform(0.5, 1.0, (self.directions, n))
        sign = rng.choice([-1.0, 1.0], (self.directions, n))
        dirs = jnp.where(nonneg[None, :], mag, mag * sign) * scale[None, :]
        units = jnp.concatenate([eye, dirs], axis=0)  # (n + K, n)
        steps = jnp.concatenate(
            [scale[:, None] * ladder[None, :], jnp.tile(ladder, (self.directions, 1))], axis=0
        )
        one_sided = jnp.concatenate([nonneg, jnp.ones(self.directions, bool)])
        top = jnp.concatenate([jnp.abs(z), jnp.full(self.directions, jnp.max(jnp.abs(z)))])
        floors = FLOOR * jnp.maximum(jnp.abs(f0)[None, :], top[:, None])

        def one_direction(args):
            u, hs, fwd_only, floor = args
            return _quotients(H, z, f0, hs, u, fwd_only, floor)

        batch = max(1, min(n + self.directions, 200_000 // max(1, self.levels * n)))
        (av, ae, ac), (bv, be, bc) = lax.map(
            one_direction, (units, steps, one_sided, floors), batch_size=batch
        )
        # lax.map stacks directions first: column j of J is row j of its output
        fv, fe, fc = (a[:n].T for a in (av, ae, ac))
        bv, be, bc = (a[:n].T for a in (bv, be, bc))
        dir_v, dir_e, dir_c = av[n:], ae[n:], ac[n:]

        # 4. probes
        # coordinate directions along which z* is a family of fixed points
        def family(j):
            ok = jnp.asarray(True)
            for s in (1e-3, 1e-7):
                zs = z + s * scale[j] * eye[j]
                ok = ok & (jnp.max(jnp.abs(H(zs) - zs)) <= 1e-12 * s * scale[j])
            return ok

        fam = jax.vmap(family)(jnp.arange(n))
        x_f = H.params_of(z)
        x_shape = jnp.shape(self.x_star)
        view = H.problem
        hess = jax.hessian(lambda x: view.value(jnp.reshape(x, x_shape)))(x_f)
        gnorm = jnp.sqrt(jnp.sum(H.grad(jnp.reshape(x_f, x_shape)) ** 2))
        # simulation start z* + delta in x (the state part of z*)
        d = lay.sizes[0]
        z_start = z.at[:d].add(self.delta)
        h_start = H(z_start)
        # the state the moments settle to while x is still near the start (x held at x* +
        # delta for FROZEN_STEPS steps): the linear regime must hold there too, e.g. r ~ |g|^p
        # against eps for Adam-type methods, not only at the fresh (zero) state
        x_start = z_start[:d]
        z_frozen = lax.fori_loop(0, FROZEN_STEPS, lambda _, zz: H(zz).at[:d].set(x_start), z_start)
        h_frozen = H(z_frozen)
        # autonomy: H at t = 2**30 against t = 2**30 + 2**20, at a probe point
        H2 = self.step_map(h, BIAS_FREE_COUNT + 2**20)
        zp = z.at[:d].add(1e-3 * scale[:d])
        move = jnp.max(jnp.abs(H(zp) - zp))
        gap = jnp.max(jnp.abs(H(zp) - H2(zp))) / jnp.where(move > 0, move, 1.0)
        if self.translate:  # report z in the problem's own coordinates
            shift = jnp.zeros(n, z.dtype).at[:d].set(jnp.ravel(jnp.asarray(self.x_star)))
            z0, z, f0, z_start, h_start, z_frozen, h_frozen = (
                a + shift for a in (z0, z, f0, z_start, h_start, z_frozen, h_frozen)
            )
        return {
            "z0": z0,
            "z": z,
            "f0": f0,
            "residual0": r0,
            "residual": residual,
            "residual_abs": jnp.max(jnp.abs(f0 - z)),
            # the remaining Newton correction: how far the true fixed point still is
            "correction": -jnp.linalg.solve(jac - eye, f0 - z),
            "jac_ad": jac,
            "fwd_value": fv,
            "fwd_err": fe,
            "fwd_code": fc,
            "bwd_value": bv,
            "bwd_err": be,
            "bwd_code": bc,
            "dirs": dirs,
            "dir_value": dir_v,
            "dir_err": dir_e,
            "dir_code": dir_c,
            "family": fam,
            "hessian": hess,
            "grad_norm": gnorm,
            "z_start": z_start,
            "h_start": h_start,
            "z_frozen": z_frozen,
            "h_frozen": h_frozen,
            "autonomy_gap": gap,
        }

    def cache_key(self) -> tuple:
        """Equal keys give the same program: a registry problem is determined by its name and
        options, a registry optimizer by its id and static options."""
        p = self.problem

        def frozen(v):
            if isinstance(v, dict):
                return tuple(sorted((k, frozen(x)) for k, x in v.items()))
            if isinstance(v, list | tuple):
                return tuple(frozen(x) for x in v)
            return v if isinstance(v, int | float | str | bool | type(None)) else repr(v)

        return (
            getattr(p, "name", ""),
            frozen(dict(getattr(p, "options", {}) or {})),
            getattr(p, "reference", ""),
            np.asarray(getattr(p, "x0", np.zeros(0)), float).tobytes(),
            np.asarray(self.x_star, float).tobytes(),
            self.opt.name,
            frozen(dict(self.opt.static)),
            frozen(dict(self.fixed)),
            frozen(self.state_overrides),
            self.delta,
            self.levels,
            self.directions,
            self.newton_steps,
            self.seed,
            self.translate,
        )

    def program(self):
        """(start, newton, analyse): the jitted, grid-vmapped programs, built once per equal
        :meth:`cache_key`. ``newton`` is compiled and run only when some point of a piece is
        not already a fixed point (weight decay with x* != 0, eps inside an EMA, ...);
        ``analyse`` is the main program (``TRACES`` counts its traces)."""
        key = self.cache_key()
        cached = _PROGRAMS.get(key)
        if cached is None:

            def analyse(hyper, z0, r0, z, res):
                TRACES[self.opt.name] += 1
                return jax.vmap(self._one)(hyper, z0, r0, z, res)

            cached = (
                jax.jit(jax.vmap(self._start)),
                jax.jit(jax.vmap(self._newton)),
                jax.jit(analyse),
            )
            if len(_PROGRAMS) >= 32:  # keep the most recent programs only
                _PROGRAMS.pop(next(iter(_PROGRAMS)))
            _PROGRAMS[key] = cached
        return cached

    def piece(self) -> int:
        """Grid points per call: BUCKET, fewer when the quotient arrays would be large."""
        n = self.layout().n
        return max(1, min(BUCKET, 4_000_000 // max(1, n * n * self.levels)))

    def run(self, hyper_batch, chunk: int | None = None) -> dict:
        """hyper_batch: a Hyper of (G,) arrays. The grid is cut into pieces of ``chunk``
        points (default :meth:`piece`), every piece padded to that size by repeating a point,
        so any grid (one point or thousands) runs through one compiled program."""
        hyper_batch = jax.tree_util.tree_map(lambda v: jnp.asarray(v, jnp.float64), hyper_batch)
        g = int(jax.tree_util.tree_leaves(hyper_batch)[0].shape[0])
        size = chunk or self.piece()
        pieces = []
        start_fn, newton_fn, analyse_fn = self.program()
        for start in range(0, g, size):
            idx = np.minimum(np.arange(start, start + size), g - 1)
            part = jax.tree_util.tree_map(lambda v, idx=idx: v[idx], hyper_batch)
            z0, r0 = start_fn(part)
            z, res = newton_fn(part, z0, r0) if bool(np.any(np.asarray(r0) > 0)) else (z0, r0)
            out = analyse_fn(part, z0, r0, z, res)
            keep = min(size, g - start)
            pieces.append({k: np.asarray(v)[:keep] for k, v in out.items()})
        return {k: np.concatenate([p[k] for p in pieces], axis=0) for k in pieces[0]}


def equivariance_gaps(problem, opt, x_star, hyper_batch, fixed=None, state_overrides=()):
    """Per grid point, max |H(z) - (H_y(z - s) + s)| / max(1, |H(z)|) at a probe z near
    (x*, init state), where H_y is the step on the translated problem and s = (x*, 0):
    0 (up to rounding) when the step depends on x only through the gradient (no decay)."""
    x_star = np.asarray(x_star, float)
    base = Analyzer(problem, opt, x_star, dict(fixed or {}), tuple(state_overrides))
    moved = Analyzer(
        Translated(problem, x_star), opt, np.zeros_like(x_star), base.fixed, base.state_overrides
    )

    def one(h):
        H, Hy = base.step_map(h), moved.step_map(h)
        n, d = H.layout.n, H.layout.sizes[0]
        rng = np.random.default_rng(1)
        pert = rng.uniform(0.5, 1.0, n) * 1e-3 * jnp.maximum(1.0, jnp.abs(H.z0))
        zp = H.z0 + pert
        shift = jnp.zeros(n).at[:d].set(jnp.ravel(jnp.asarray(x_star)))
        a, b = H(zp), Hy(zp - shift) + shift
        return jnp.max(jnp.abs(a - b)) / jnp.maximum(1.0, jnp.max(jnp.abs(a)))

    hyper_batch = jax.tree_util.tree_map(lambda v: jnp.asarray(v, jnp.float64), hyper_batch)
    return np.asarray(jax.jit(jax.vmap(one))(hyper_batch))


# ---- verdicts (NumPy) ----------------------------------------------------------------------
@dataclass
class Verdict:
    """One grid point's result."""

    status: str
    reason: str
    spectral_radius: float
    eigenvalues: np.ndarray  # complex; empty when there is no linear verdict
    jacobian: np.ndarray  # assembled (NaN where unknown)
    jacobian_source: str
    nonsmooth_entries: str
    fixed_point: str
    fixed_point_residual: float  # max |H(z*) - z*| (absolute) at the point used
    block_radii: str
    reduced_verdict: str = ""
    transverse_radius: float = float("nan")
    ad_quotient_max_rel_diff: float = float("nan")


def balance(M: np.ndarray, sweeps: int = 30) -> np.ndarray:
    """Osborne balancing: d with D^-1 |M| D having equal off-diagonal row and column sums
    (eigenvalues are invariant under this similarity). NaN entries count as 0."""
    A = np.nan_to_num(np.abs(np.asarray(M, float)), nan=0.0, posinf=0.0)
    np.fill_diagonal(A, 0.0)
    n = A.shape[0]
    d = np.ones(n)
    for _ in range(sweeps):
        for i in range(n):
            row = np.sum(A[i, :] * d) / d[i]
            col = np.sum(A[:, i] / d) * d[i]
            if row > 0 and col > 0 and np.isfinite(row) and np.isfinite(col):
                d[i] *= math.sqrt(row / col)
    return d


def _agree(a, b, err, frame, tol=RTOL):
    """|a - b| within twice the quotient error plus tol relative to the values and to the
    size of the balanced matrix (``frame`` = (d_j / d_i, size)), so that entries that are
    small only by cancellation (e.g. 1 - mu - phi (1 - b1)) compare on the matrix's scale."""
    ratio, size = frame
    gap = np.abs(a - b)
    return gap <= 2 * err + tol * np.maximum(np.abs(a), np.abs(b)) + tol * size / ratio + 1e-300


def classify_entries(res: dict, i: int):
    """Per-entry kinds, the assembled Jacobian and the per-entry error of point ``i``."""
    A = res["jac_ad"][i]
    fv, fe, fc = res["fwd_value"][i], res["fwd_err"][i], res["fwd_code"][i]
    bv, be, bc = res["bwd_value"][i], res["bwd_err"][i], res["bwd_code"][i]
    f_ok, b_ok = fc == CONVERGED, bc == CONVERGED
    one_sided = bc == NO_DATA  # backward not evaluable (domain) or not asked (>= 0 coordinate)
    M = np.where(np.isfinite(A), np.abs(A), 0.0)
    M = np.maximum(M, np.where(f_ok, np.abs(fv), 0.0))
    d = balance(M)
    ratio = d[None, :] / d[:, None]
    size = max(1.0, float(np.max(M * ratio)) if M.size else 1.0)
    frame = (ratio, size)
    sides_agree = f_ok & b_ok & _agree(fv, bv, fe + be, frame)
    kink = f_ok & b_ok & ~sides_agree
    singular = (fc == GROWS) | (bc == GROWS)
    both = np.where(one_sided, f_ok, sides_agree)
    q = np.where(one_sided | ~b_ok, fv, 0.5 * (fv + bv))
    q_err = np.where(one_sided | ~b_ok, fe, np.maximum(fe, be))
    ad_finite = np.isfinite(A)
    ad_ok = ad_finite & _agree(A, q, q_err, frame)
    kind = np.full(A.shape, UNRESOLVED, int)
    kind[both & ad_ok] = SMOOTH
    kind[both & ~ad_ok] = AD_WRONG
    kind[kink] = KINK
    kind[singular] = SINGULAR
    J = np.where(kind == SMOOTH, A, np.nan)
    J = np.where(kind == AD_WRONG, q, J)
    J = np.where((kind == UNRESOLVED) & ad_finite, A, J)
    err = np.where(kind == SMOOTH, 0.0, np.where(kind == AD_WRONG, q_err, 0.0))
    detail = {"fwd": fv, "bwd": bv, "ad": A, "one_sided": one_sided, "d": d, "size": size}
    return kind, J, err, detail


def _sccs(adj: np.ndarray) -> list[list[int]]:
    """Strongly connected components (Tarjan, iterative) of adj[i, j] = edge j -> i,
    returned in a topological order of the condensation."""
    n = adj.shape[0]
    succ = [list(np.nonzero(adj[:, j])[0]) for j in range(n)]
    index, low, on, stack, comps = {}, {}, set(), [], []
    counter = 0
    for root in range(n):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, k = work.pop()
            if k == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on.add(v)
            recurse = False
            for w_i in range(k, len(succ[v])):
                w = succ[v][w_i]
                if w not in index:
                    work.append((v, w_i + 1))
                    work.append((w, 0))
                    recurse = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if recurse:
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                comps.append(sorted(comp))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return comps[::-1]


def _radius(eigs) -> float:
    return float(np.max(np.abs(eigs))) if len(eigs) else 0.0


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _entry_text(names, i, j) -> str:
    return f"{names[i]}<-{names[j]}"


def _block_radii(J, names, leaf_of, leaf_names) -> str:
    """Radii of the diagonal blocks of the block-triangular form, blocks named by leaves."""
    adj = (J != 0) | np.isnan(J)
    parts = []
    for comp in _sccs(adj):
        sub = J[np.ix_(comp, comp)]
        leaves = dict.fromkeys(leaf_names[leaf_of[c]] for c in comp)
        label = (
            "+".join(leaves) if len(comp) > 1 or len(names) > len(leaf_names) else names[comp[0]]
        )
        rad = _radius(np.linalg.eigvals(sub)) if np.all(np.isfinite(sub)) else float("nan")
        parts.append((label, rad))
    merged: dict[str, float] = {}
    for label, rad in parts:
        merged[label] = max(merged.get(label, 0.0), rad) if np.isfinite(rad) else float("nan")
    return "; ".join(f"{k}={_fmt(v)}" for k, v in merged.items())


def _classify_rho(rho: float, tol: float) -> str:
    if not np.isfinite(rho):
        return "non_differentiable"
    if rho > 1 + tol:
        return "unstable"
    if rho < 1 - tol:
        return "stable"
    return "undetermined"


def verdicts(res: dict, layout: Layout, tol: float = 1e-8, notes: str = "") -> list[Verdict]:
    """Status and reason for every grid point of an analysis ``res`` (see module doc)."""
    names = layout.coordinate_names()
    leaf_of = layout.leaf_of()
    out = []
    g = res["z"].shape[0]
    for i in range(g):
        out.append(_verdict(res, i, layout, names, leaf_of, tol, notes))
    return out


def _verdict(res, i, layout, names, leaf_of, tol, notes) -> Verdict:
    kind, J, err, detail = classify_entries(res, i)
    n = J.shape[0]
    r0, r = float(res["residual0"][i]), float(res["residual"][i])
    r_abs = float(res["residual_abs"][i])
    d = layout.sizes[0]
    x_f = np.abs(res["z"][i][:d])
    dx = np.abs(res["correction"][i][:d])
    # rounding-limited: the remaining Newton correction of x is a few ulp of x
    at_resolution = bool(np.all(np.isfinite(dx)) and np.all(dx <= 64 * np.spacing(x_f)))
    found = r <= FIXED_POINT_TOL or at_resolution
    if r0 == 0:
        fixed_point = "z0 = (x*, init state) is exact"
    elif found:
        moved = res["z"][i] - res["z0"][i]
        k = int(np.argmax(np.abs(moved[: layout.sizes[0]])))
        fixed_point = (
            f"shifted: solved H(z) = z by Newton (x moved {moved[k]:.3g} from x*; "
            f"relative residual {r:.2g}"
            + (", limited by the float64 resolution of x)" if r > FIXED_POINT_TOL else ")")
        )
    else:
        fixed_point = (
            f"no fixed point found near (x*, init state): relative residual {r:.3g} after "
            "Newton with line search"
        )
    A = res["jac_ad"][i]
    both = np.isfinite(A) & np.isfinite(J)
    rel = np.abs(A - J)[both] / np.maximum(np.maximum(np.abs(A), np.abs(J))[both], 1e-300)
    max_rel = float(np.max(rel)) if rel.size else float("nan")

    bad = [(a, b) for a, b in zip(*np.nonzero(kind != SMOOTH), strict=True)]
    listing = []
    for a, b in bad:
        k = KIND_NAMES[kind[a, b]]
        if kind[a, b] == KINK:
            extra = f"(fwd {_fmt(detail['fwd'][a, b])}, bwd {_fmt(detail['bwd'][a, b])})"
        elif kind[a, b] == AD_WRONG:
            extra = f"(AD {_fmt(detail['ad'][a, b])} -> {_fmt(J[a, b])})"
        else:
            extra = ""
        listing.append(f"{_entry_text(names, a, b)}:{k}{extra}")
    nonsmooth = "; ".join(listing)
    n_wrong = int(np.sum(kind == AD_WRONG))
    n_unres = int(np.sum(kind == UNRESOLVED))
    ad_nonfinite = int(np.sum(~np.isfinite(A)))
    source = "autodiff" if n_wrong == 0 else "autodiff+quotients"
    if n_wrong and n_wrong == int(np.sum(A != J)) and n_wrong >= n * n // 2:
        source = "quotients"
    notes_list = [notes] if notes else []

    def no_verdict(reason: str) -> Verdict:
        nan, none = float("nan"), np.zeros(0, complex)
        text = "; ".join([reason, *notes_list])
        return Verdict(
            "non_differentiable", text, nan, none, J, source, nonsmooth, fixed_point, r_abs, ""
        )

    if not found:
        return no_verdict(f"no fixed point: {fixed_point}")

    if n_wrong:
        why = (
            f"AD non-finite at {ad_nonfinite} entries"
            if ad_nonfinite
            else f"AD differs from the quotients at {n_wrong} entries"
        )
        notes_list.append(f"{why}; the one-sided quotients agree there and replace them")
    if n_unres:
        notes_list.append(
            f"{n_unres} entries not confirmed by quotients (no converged limit within float64 "
            "resolution); AD value kept"
        )

    hard = (kind == KINK) | (kind == SINGULAR) | ((kind == UNRESOLVED) & ~np.isfinite(J))
    leaf_names = list(layout.names)
    if hard.any():
        adj = (J != 0) | ~np.isfinite(J) | hard
        comps = _sccs(adj)
        inside = np.zeros_like(hard)
        for comp in comps:
            inside[np.ix_(comp, comp)] = True
        what = "; ".join(
            f"{KIND_NAMES[kind[a, b]]} in {_entry_text(names, a, b)}"
            for a, b in zip(*np.nonzero(hard), strict=True)
        )
        if not (hard & inside).any():
            eigs = np.concatenate([np.linalg.eigvals(J[np.ix_(c, c)]) for c in comps])
            rho = _radius(eigs)
            red = _classify_rho(rho, tol)
            reason = (
                f"not differentiable at z*: {what}; these entries lie outside the diagonal "
                f"blocks of the block-triangular form, so every one-sided Jacobian has the same "
                f"eigenvalues: reduced-block verdict {red} (rho = {rho:.10g}, "
                f"1 - rho = {1 - rho:.3g})"
            )
            return Verdict(
                "non_differentiable",
                "; ".join([reason, *notes_list]),
                rho,
                eigs,
                J,
                source,
                nonsmooth,
                fixed_point,
                r_abs,
                _block_radii(np.where(hard, 0.0, J), names, leaf_of, leaf_names),
                reduced_verdict=red,
            )
        reason = f"no linear verdict: not differentiable at z* ({what})"
        return no_verdict(reason)

    # directional derivatives must be linear (catches max(a, b) at a tie)
    nonlinear = []
    for k in range(res["dirs"].shape[1]):
        u = res["dirs"][i, k]
        dv, de, dc = res["dir_value"][i, k], res["dir_err"][i, k], res["dir_code"][i, k]
        pred = J @ u
        slack = np.abs(J) @ np.abs(u)
        # the matrix's own scale in balanced coordinates (see classify_entries)
        frame = detail["size"] * detail["d"] * np.max(np.abs(u) / detail["d"])
        ok = (dc != CONVERGED) | (
            np.abs(dv - pred)
            <= 2 * de + 2 * (err @ np.abs(u)) + RTOL * (np.abs(dv) + slack + frame)
        )
        # a direction whose quotients do not converge says nothing; one that converges to a
        # different value than J u shows a non-linear directional derivative
        bad_rows = np.nonzero(~ok)[0]
        if bad_rows.size:
            nonlinear.append(names[int(bad_rows[0])])
    if nonlinear:
        reason = (
            "no linear verdict: the directional derivative along a random feasible direction "
            f"is not J u (row {nonlinear[0]}): not differentiable at z* (e.g. a max at a tie)"
        )
        return no_verdict(reason)

    if ad_nonfinite and n_wrong:
        notes_list.append(
            "differentiable at z* (the quotients converge and are linear) but not C1 where AD "
            "is non-finite: Lemma 2 does not apply, the linearisation theorem does"
        )
    eigs, vecs = np.linalg.eig(J)
    rho = _radius(eigs)
    status = _classify_rho(rho, tol)
    blocks = _block_radii(J, names, leaf_of, leaf_names)
    transverse = float("nan")
    if status == "undetermined":
        near = np.nonzero(np.abs(np.abs(eigs) - 1) <= tol)[0]
        along = []
        for k in near:
            v = np.abs(vecs[:, k])
            along += [names[c] for c in np.nonzero(v >= 0.1 * np.max(v))[0]]
        fam = np.asarray(res["family"][i], bool)
        text = (
            f"|lambda| = 1 within tol {tol:g} (rho = {rho:.12g}, 1 - rho = {1 - rho:.3g}) along "
            f"{', '.join(dict.fromkeys(along))}: Theorem 1 gives no verdict"
        )
        if fam.any():
            keep = np.nonzero(~fam)[0]
            sub = J[np.ix_(keep, keep)]
            transverse = _radius(np.linalg.eigvals(sub)) if keep.size else 0.0
            fam_names = ", ".join(names[k] for k in np.nonzero(fam)[0])
            text += (
                f"; z* lies on a family of fixed points along {fam_names} (eigenvalue exactly 1 "
                f"along it); transverse radius {transverse:.10g}"
            )
        return Verdict(
            status,
            "; ".join([text, *notes_list]),
            rho,
            eigs,
            J,
            source,
            nonsmooth,
            fixed_point,
            r_abs,
            blocks,
            transverse_radius=transverse,
            ad_quotient_max_rel_diff=max_rel,
        )
    text = f"rho = {rho:.10g} {'<' if status == 'stable' else '>'} 1 (1 - rho = {1 - rho:.3g})"
    return Verdict(
        status,
        "; ".join([text, *notes_list]),
        rho,
        eigs,
        J,
        source,
        nonsmooth,
        fixed_point,
        r_abs,
        blocks,
        ad_quotient_max_rel_diff=max_rel,
    )


# ---- closed forms ----------------------------------------------------------------------------
def theorem2_eigenvalues(phi, b1, b2, mu) -> np.ndarray:
    """Theorem 2 (seed 000, eqs. (22)-(24)): beta2 and the two roots of
    lambda^2 - T lambda + D = 0, T = 1 - mu + b1 - phi (1 - b1), D = b1 (1 - mu), for each
    phi_i = eta gamma_i / delta."""
    phi = np.atleast_1d(np.asarray(phi, float))
    T = 1 - mu + b1 - phi * (1 - b1)
    D = b1 * (1 - mu) * np.ones_like(phi)
    return np.concatenate([np.full(phi.size, b2, complex), quadratic_roots(T, D)])


def quadratic_roots(T, D) -> np.ndarray:
    """Both roots of lambda^2 - T lambda + D = 0 (first the larger-modulus ones), without
    cancellation: for real roots the large one is (T + sgn(T) sqrt(T^2 - 4D))/2 and the
    small one D / large (the plain formula loses the small root when |T| >> 1)."""
    T = np.atleast_1d(np.asarray(T, float))
    D = np.atleast_1d(np.asarray(D, float)) * np.ones_like(T)
    disc = T * T - 4 * D
    real = disc >= 0
    sq = np.sqrt(np.abs(disc))
    big = (T + np.where(T >= 0, 1.0, -1.0) * sq) / 2
    safe = np.where(big != 0, big, 1.0)
    small = np.where(big != 0, D / safe, 0.0)
    r1 = np.where(real, big, T / 2 + 0.5j * sq)
    r2 = np.where(real, small, T / 2 - 0.5j * sq)
    return np.concatenate([r1.astype(complex), r2.astype(complex)])


def phi_c_exact(b1: float, mu: float) -> float:
    """The exact q = 1 boundary from 1 + T + D > 0: phi < (1 + b1)(2 - mu)/(1 - b1)."""
    return (1 + b1) * (2 - mu) / (1 - b1)


def phi_c_paper(b1: float, mu: float) -> float:
    """The paper's sufficient condition (25): phi (1 - b1) < 2 b1 + 2 (1 - mu)."""
    return (2 * b1 + 2 * (1 - mu)) / (1 - b1)


def complex_interval(b1: float, mu: float) -> tuple[float, float]:
    """phi where the Theorem-2 pair is complex (modulus sqrt(b1 (1 - mu)))."""
    a, b = math.sqrt(1 - mu), math.sqrt(b1)
    return (a - b) ** 2 / (1 - b1), (a + b) ** 2 / (1 - b1)


@dataclass
class Theory:
    name: str
    eigenvalues: np.ndarray | None
    note: str = ""
    delta: float = float("nan")  # the phi denominator (Theorem 2 family)
    phi: float = float("nan")  # eta gamma_max / delta
    eta_c: float = float("nan")  # exact learning-rate boundary
    eta_c_paper: float = float("nan")  # from the paper's (25)

    @property
    def spectral_radius(self) -> float:
        if self.eigenvalues is None or not len(self.eigenvalues):
            return float("nan")
        return float(np.max(np.abs(self.eigenvalues)))


def theory(opt_id: str, static: dict, hp: dict, gammas, at_lemma1: bool) -> Theory | None:
    """The closed-form eigenvalues of the Jacobian at z*, where the paper (or textbook)
    gives one, for optimizer ``opt_id`` with hyperparameters ``hp`` and Hessian eigenvalues
    ``gammas`` at the fixed point. ``at_lemma1``: z* = (x*, zero state) is the fixed point
    (the closed forms of Theorems 2-3 assume it). None when there is no closed form."""
    gam = np.asarray(gammas, float)
    gmax = float(np.max(gam)) if gam.size else float("nan")
    lr = hp.get("learning_rate", float("nan"))
    if opt_id == "sgd":
        lam = gam + hp.get("l2", 0.0)
        eta_c = 2 / float(np.max(lam)) if np.max(lam) > 0 else float("inf")
        return Theory(
            "gradient descent: 1 - lr (gamma_i + l2)", (1 - lr * lam).astype(complex), eta_c=eta_c
        )
    if opt_id == "heavy_ball":
        b = hp["momentum"]
        lam = gam + hp.get("l2", 0.0)
        if static.get("dampening"):
            lam = (1 - b) * lam
        if static.get("nesterov"):
            T, D = 1 + b - lr * lam * (1 + b), b * (1 - lr * lam)
            name = "Nesterov: lambda^2 - (1 + b - lr g (1 + b)) lambda + b (1 - lr g) = 0"
            eta_c = 2 * (1 + b) / ((1 + 2 * b) * float(np.max(lam)))
        else:
            T, D = 1 + b - lr * lam, b * np.ones_like(lam)
            name = "heavy ball: companion matrix [[b, g], [-lr b, 1 - lr g]] per gamma"
            eta_c = 2 * (1 + b) / float(np.max(lam))
        return Theory(name, quadratic_roots(T, D), eta_c=eta_c)
    if not at_lemma1:
        return None
    if opt_id == "aida_pq":
        p, q, eps, mu = hp["p"], hp["q"], hp["eps"], hp["mu"]
        b1, b2 = hp["b1"], hp["b2"]
        n = gam.size
        if q > 1:
            eigs = np.concatenate([np.full(n, b1), np.full(n, b2), np.full(n, 1 - mu)])
            return Theory("Theorem 3: {b1, b2, 1 - mu}", eigs.astype(complex))
        if eps <= 0:
            return None
        form = static.get("form", "a")
        delta = eps ** (1 / p) if form == "a" else eps
        note = "p = 1: reduced (m, x) block and r self-term" if p == 1 else ""
        return _theorem2(lr, gam, gmax, delta, b1, b2, mu, "Theorem 2 (q = 1)", note)
    if opt_id in ("adam", "adamw"):
        mode = static.get("eps_mode", "E1")
        eps = hp["eps"]
        if mode == "E5" or eps <= 0:
            return None
        delta = eps if mode in ("E1", "E4") else math.sqrt(eps)
        mu = lr * hp.get("weight_decay", 0.0) if opt_id == "adamw" else 0.0
        lam = gam + hp.get("l2", 0.0)
        return _theorem2(
            lr,
            lam,
            float(np.max(lam)),
            delta,
            hp["b1"],
            hp["b2"],
            mu,
            f"Theorem 2 with mu = {'lr*weight_decay' if opt_id == 'adamw' else '0'} "
            f"({mode}: delta = {'eps' if mode in ('E1', 'E4') else 'sqrt(eps)'})",
            "",
        )
    return None


def _theorem2(lr, gam, gmax, delta, b1, b2, mu, name, note) -> Theory:
    phi = lr * gam / delta
    eigs = theorem2_eigenvalues(phi, b1, b2, mu)
    return Theory(
        name,
        eigs,
        note,
        delta=delta,
        phi=lr * gmax / delta,
        eta_c=phi_c_exact(b1, mu) * delta / gmax,
        eta_c_paper=phi_c_paper(b1, mu) * delta / gmax,
    )


# ---- simulation classes ----------------------------------------------------------------------
SIM_CLASSES = ("decays", "fluctuates", "stalls", "diverges")
UNDERFLOW = 1e-280
SIM_RULE = (
    "d_t = |x_t - x_f| (max over coordinates) on the recorded steps, d0 = d at the start, "
    "W = the last quarter of the run, T the last step; diverges: a non-finite iterate, or "
    "d_T > 1e3 d0 and d_T > 10 max_{t < 3T/4} d_t (still growing at the end); fluctuates: "
    "max_W d > d0 (pushed away from the fixed point and kept away); decays: d_T < 1e-280, or "
    "d_T <= 1e-3 d0 and d_T <= 1e-3 d_{T/2} (still contracting geometrically in the second "
    "half: an algebraic creep ~1/t is not a decay); stalls: everything else (bounded, not "
    "contracting geometrically within T steps; sim_power k in d ~ t^k over the second half "
    "tells an algebraic creep, k ~ -1, from a stall, k ~ 0). A decays verdict whose d went "
    "below 1e-280 is flagged 'underflow' (stability.md 5: confirm in extended precision)"
)


def late_power(d: np.ndarray, steps: np.ndarray) -> float:
    """k in d_t ~ t^k over the second half of the run (least squares on log-log; NaN when d
    is not positive and finite there): about -1 for the algebraic creep
    eps^(q/p)/(eta gamma^2 t) of q > 1 (stability.md 5), about 0 for a stall, large and
    negative for a geometric decay."""
    d = np.asarray(d, float)
    steps = np.asarray(steps, float)
    second = steps >= steps[-1] / 2
    x, y = steps[second], d[second]
    ok = (x > 0) & np.isfinite(y) & (y > 0)
    if ok.sum() < 3 or not ok.all():
        return float("nan")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def classify_simulation(dist: np.ndarray, steps: np.ndarray, diverged_step: np.ndarray):
    """dist [G, R] (NaN after divergence), steps (R,), diverged_step (G,) ->
    (classes, flags) lists of strings (see SIM_RULE)."""
    dist = np.asarray(dist, float)
    steps = np.asarray(steps)
    T = steps[-1]
    late = steps >= 0.75 * T
    half = int(np.searchsorted(steps, T / 2))
    classes, flags = [], []
    for g in range(dist.shape[0]):
        d = dist[g]
        d0 = d[0]
        if diverged_step[g] >= 0 or not np.all(np.isfinite(d)):
            classes.append("diverges")
            flags.append("non-finite iterate")
            continue
        dT = d[-1]
        before = np.max(d[~late]) if (~late).any() else d0
        if dT > 1e3 * d0 and dT > 10 * before:
            cls = "diverges"
        elif np.max(d[late]) > d0:
            cls = "fluctuates"
        elif dT < UNDERFLOW or (dT <= 1e-3 * d0 and dT <= 1e-3 * d[half]):
            cls = "decays"
        else:
            cls = "stalls"
        underflow = np.min(d) < UNDERFLOW
        flag = "underflow" if underflow and cls == "decays" else ""
        if underflow and cls != "decays":
            flag = "passed below 1e-280"
        classes.append(cls)
        flags.append(flag)
    return classes, flags
