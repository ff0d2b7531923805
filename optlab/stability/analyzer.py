"""One compiled analysis program per (problem, optimizer, integer exponents): fixed point,
Jacobian, one-sided quotients and probes for every grid point (vmap)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optlab._jax import jax, jnp
from optlab.stability._common import (
    BIAS_FREE_COUNT,
    BUCKET,
    CONVERGED,
    FLOOR,
    FROZEN_STEPS,
    GROWS,
    NO_DATA,
    NOT_CONVERGED,
    RTOL,
    lax,
)
from optlab.stability.stepmap import Layout, LocalModel, StepMap, Translated, infer_roles

LINEAR_RTOL = 1e-3  # a column's linear regime: its quotients within 1e-3 of their limit
NOISE_ULPS = 64  # a quotient below 64 ulp of its row's largest term is zero within rounding


# ---- one grid point ------------------------------------------------------------------------
def _last_before(q, valid, limit):
    """Per column of q (L, n): the index of the last valid level below ``limit`` (-1: none)
    and the value there."""
    ar = jnp.arange(q.shape[0])[:, None]
    k = jnp.max(jnp.where(valid & (ar < limit), ar, -1), axis=0)
    return k, jnp.sum(jnp.where(ar == k, q, 0.0), axis=0)


def _tail(q, valid, noise):
    """Limits of quotient sequences q (L, n) (levels ordered by decreasing h, one sequence
    per output row) from the last three valid levels of each: (value, error, code), (n,).

    ``noise`` (n,): the rounding level of each row's quotients. A sequence whose last three
    values all lie below it has reached the rounding floor: the entry is 0 (an exact zero
    or a cancellation, e.g. 1 - lr (1 - b1) gamma / eps at lr = eps) within that error."""
    k1, q1 = _last_before(q, valid, q.shape[0])
    k2, q2 = _last_before(q, valid, k1)
    k3, q3 = _last_before(q, valid, k2)
    d1, d2 = jnp.abs(q1 - q2), jnp.abs(q2 - q3)
    a1, a2, a3 = jnp.abs(q1), jnp.abs(q2), jnp.abs(q3)
    plateau = d1 <= RTOL * a1
    geometric = (d1 <= 0.5 * d2) | (d1 == 0)
    floor = (a1 <= noise) & (a2 <= noise) & (a3 <= noise)
    # growth only counts as a singularity when the ladder was not cut short (by the
    # rounding floor or non-finite values): a cut ladder may end before the linear regime
    full = k1 == q.shape[0] - 1
    grows = (a1 >= 2 * a2) & (a2 >= 2 * a3) & (a1 > 0) & full & ~floor
    converged = plateau | (geometric & ~grows) | floor
    code = jnp.where(
        k3 < 0, NO_DATA, jnp.where(converged, CONVERGED, jnp.where(grows, GROWS, NOT_CONVERGED))
    )
    # converging to 0 within its own error, or at the rounding floor: call it 0
    zero = floor | ((code == CONVERGED) & ~plateau & (a1 <= 2 * d1))
    value = jnp.where(zero, 0.0, q1)
    err = jnp.where(floor, jnp.maximum(noise, d1), d1)
    return value, err, code


def _linear_from(q, valid, value, err, code):
    """The first level (largest h) from which every converged row of q (L, n) stays within
    LINEAR_RTOL of its limit down to the last level: where the linear regime of this
    column starts (0 when no row converged, L when the last level is not in it)."""
    scale = jnp.max(jnp.where(code == CONVERGED, jnp.abs(value), 0.0))
    close = jnp.abs(q - value[None, :]) <= LINEAR_RTOL * scale + 2 * err[None, :]
    ok = jnp.all(~valid | (code != CONVERGED)[None, :] | close, axis=1)  # (L,)
    trailing = jnp.sum(jnp.cumprod(ok[::-1].astype(jnp.int32)))
    return q.shape[0] - trailing


def _quotients(H, z, f0, h, direction, forward_only, floor, noise):
    """Forward and backward quotient limits along ``direction`` (n,) with steps ``h`` (L,);
    floor (n,): per output row, the smallest usable step; noise (n,): per output row, the
    rounding level of a quotient. Returns (fwd, bwd), each (value, err, code) of shape
    (n,), and the level where the linear regime starts (see :func:`_linear_from`)."""
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
    fwd, bwd = _tail(qf, vf, noise), _tail(qb, vb, noise)
    onset = jnp.maximum(_linear_from(qf, vf, *fwd), _linear_from(qb, vb, *bwd))
    return fwd, bwd, onset


def _noise(jac, scale):
    """(n columns, n rows): the rounding level of the quotient for entry (i, j): NOISE_ULPS
    ulp of the larger of the entry itself and an identity-sized term s_i / s_j (s =
    max(|z*|, 1)), the terms that cancel in 1 - lr gamma (1 - b1)/eps. A quotient below it
    is zero within rounding. It never grows with the rest of J."""
    A = jnp.where(jnp.isfinite(jac), jnp.abs(jac), 0.0)
    unit = scale[:, None] / scale[None, :]  # (rows, columns)
    return (NOISE_ULPS * jnp.finfo(jac.dtype).eps * jnp.maximum(A, unit)).T


def relative_residual(hz, z):
    """max_j |H(z)_j - z_j| / (|z_j| + |H(z)_j|) (0 where both are 0): each coordinate on
    its own scale, so a second moment of 1e-9 is solved as accurately as an x of 1."""
    num = jnp.abs(hz - z)
    den = jnp.abs(z) + jnp.abs(hz)
    return jnp.max(jnp.where(num == 0, 0.0, num / jnp.where(den > 0, den, 1.0)))


class Program:
    """The compiled programs of one analysis: ``start`` (the candidate fixed point),
    ``newton`` (compiled and run only when some point of a piece is not already a fixed
    point: weight decay with x* != 0, eps inside an EMA, ...) and ``analyse`` (the main
    program; ``traces`` counts how often it was traced, which tests use to check that a
    whole grid runs through one compilation)."""

    def __init__(self, analyzer: Analyzer):
        self.traces = 0

        def analyse(hyper, z0, r0, z, res):
            self.traces += 1
            return jax.vmap(analyzer._one)(hyper, z0, r0, z, res)

        self.start = jax.jit(jax.vmap(analyzer._start))
        self.newton = jax.jit(jax.vmap(analyzer._newton))
        self.analyse = jax.jit(analyse)


class ProgramCache:
    """The most recent ``size`` programs by cache key (a bounded cache: an interactive
    session that analyses many configurations keeps at most ``size`` compilations alive)."""

    def __init__(self, size: int):
        self.size = size
        self._items: dict = {}

    def get(self, key):
        return self._items.get(key)

    def put(self, key, program) -> None:
        if len(self._items) >= self.size:
            self._items.pop(next(iter(self._items)))
        self._items[key] = program

    def clear(self) -> None:
        self._items.clear()


PROGRAMS = ProgramCache(32)


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
    # the optimizer's state roles as (field, role) pairs (OptimizerEntry.state_roles); None
    # for a bare Optimizer: inferred from what its step does (stepmap.infer_roles)
    state_roles: tuple | None = None

    def __post_init__(self):
        if self.state_roles is None:
            problem, x_star = self._view()
            hyper = self._hyper(self.opt.hyper)
            roles, _ = infer_roles(problem, self.opt, x_star, hyper, {})
            object.__setattr__(self, "state_roles", roles)

    def _hyper(self, h):
        return h._replace(**self.fixed) if self.fixed else h

    def _view(self):
        if self.translate:
            return LocalModel(self.problem, self.x_star), np.zeros_like(self.x_star)
        return self.problem, self.x_star

    def step_map(self, h, count: int = BIAS_FREE_COUNT) -> StepMap:
        problem, x_star = self._view()
        overrides = dict(self.state_overrides)
        return StepMap(
            problem, self.opt, self._hyper(h), x_star, overrides, count, self.state_roles
        )

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
        """Everything the verdicts need at one grid point (a dict of arrays, see run)."""
        H = self.step_map(h)
        f0 = H(z)
        jac = jax.jacfwd(H)(z)  # 2. autodiff
        coords, onset = self._coordinate_quotients(H, z, f0, jac)  # 3. quotients
        dirs, along = self._direction_quotients(H, z, f0, jac, onset)
        out = {
            "z0": z0,
            "z": z,
            "f0": f0,
            "residual0": r0,
            "residual": residual,
            "residual_abs": jnp.max(jnp.abs(f0 - z)),
            # the remaining Newton correction: how far the true fixed point still is
            "correction": -jnp.linalg.solve(jac - jnp.eye(z.shape[0], dtype=z.dtype), f0 - z),
            "jac_ad": jac,
            **coords,
            "dirs": dirs,
            **along,
            **self._probes(H, h, z),  # 4. probes
        }
        if self.translate:  # report z in the problem's own coordinates
            d = H.layout.sizes[0]
            shift = jnp.zeros(z.shape[0], z.dtype).at[:d].set(jnp.ravel(jnp.asarray(self.x_star)))
            for key in ("z0", "z", "f0", "z_start", "h_start", "z_frozen", "h_frozen"):
                out[key] = out[key] + shift
        return out

    def _coordinate_quotients(self, H, z, f0, jac):
        """One-sided quotients for every coordinate on the ladder h = s_j 10^-k (s_j =
        max(|z*_j|, 1)), second-moment coordinates forward only. Returns the six (n, n)
        arrays (column j of J in column j) and, per column, the step where its linear
        regime starts."""
        n = z.shape[0]
        scale = jnp.maximum(jnp.abs(z), 1.0)
        ladder = 10.0 ** -jnp.arange(1, self.levels + 1, dtype=z.dtype)
        nonneg = jnp.asarray(H.layout.nonneg_mask())
        steps = scale[:, None] * ladder[None, :]
        floors = FLOOR * jnp.maximum(jnp.abs(f0)[None, :], jnp.abs(z)[:, None])
        noise = _noise(jac, scale)  # (n columns, n rows)

        def column(args):
            u, hs, fwd_only, floor, nz = args
            return _quotients(H, z, f0, hs, u, fwd_only, floor, nz)

        eye = jnp.eye(n, dtype=z.dtype)
        (fv, fe, fc), (bv, be, bc), onset = lax.map(
            column, (eye, steps, nonneg, floors, noise), batch_size=self._batch(n)
        )
        # lax.map stacks columns first: column j of J is row j of its output
        names = ("fwd_value", "fwd_err", "fwd_code", "bwd_value", "bwd_err", "bwd_code")
        coords = dict(zip(names, (a.T for a in (fv, fe, fc, bv, be, bc)), strict=True))
        start = jnp.take_along_axis(steps, jnp.minimum(onset, self.levels - 1)[:, None], axis=1)
        return coords, start[:, 0]

    def _direction_quotients(self, H, z, f0, jac, start):
        """Quotients along ``directions`` random feasible directions (the linearity test that
        catches a max of two moments tied at 0, which no single coordinate shows).

        A direction moves only the coordinates where z*_j = 0, where such ties live: there
        z*_j + h u_j is exact for every h, so the ladder can go as deep as the linear regime
        needs (MAdam's coefficient is pinned at b2_min only while v is below ~1e-16; LaProp's
        g / (sqrt(v) + eps) is linear only for sqrt(v) << eps). A coordinate away from 0
        would have to stop at h ~ 1e-9 |z*_j| (its perturbation is lost to rounding below
        that) and cut the ladder for all; a kink there shows in its own quotients. Component
        j is further scaled to where column j's own quotients are linear (``start``). Levels
        where a row's change falls below FLOOR |H_i(z*)| are dropped (output rounding)."""
        n = z.shape[0]
        nonneg = jnp.asarray(H.layout.nonneg_mask())
        rng = np.random.default_rng(self.seed)  # fixed directions, constants of the program
        mag = rng.uniform(0.5, 1.0, (self.directions, n))
        sign = rng.choice([-1.0, 1.0], (self.directions, n))
        dirs = jnp.where(nonneg[None, :], mag, mag * sign) * start[None, :]
        dirs = jnp.where((z == 0)[None, :], dirs, 0.0)
        ladder = 10.0 ** -jnp.arange(0, self.levels, dtype=z.dtype)
        size = jnp.max(jnp.abs(dirs), axis=1)  # (K,); 0: no zero coordinate, no test
        floors = FLOOR * jnp.abs(f0)[None, :] / jnp.where(size > 0, size, 1.0)[:, None]
        scale = jnp.maximum(jnp.abs(z), 1.0)
        noise = jnp.max(_noise(jac, scale)[None, :, :] * jnp.abs(dirs)[:, :, None], axis=1)

        def direction(args):
            u, floor, nz = args
            fwd, _, _ = _quotients(H, z, f0, ladder, u, jnp.asarray(True), floor, nz)
            return fwd

        value, err, code = lax.map(direction, (dirs, floors, noise), batch_size=self._batch(n))
        return dirs, {"dir_value": value, "dir_err": err, "dir_code": code}

    def _batch(self, n: int) -> int:
        return max(1, min(n + self.directions, 200_000 // max(1, self.levels * n)))

    def _probes(self, H, h, z):
        """The Hessian of f at the fixed point, the coordinate directions along which z* is
        a family of fixed points, H at the simulation start z* + delta and at the state the
        moments settle to there, and the autonomy gap."""
        n, d = z.shape[0], H.layout.sizes[0]
        scale = jnp.maximum(jnp.abs(z), 1.0)
        eye = jnp.eye(n, dtype=z.dtype)

        def family(j):
            ok = jnp.asarray(True)
            for s in (1e-3, 1e-7):
                zs = z + s * scale[j] * eye[j]
                ok = ok & (jnp.max(jnp.abs(H(zs) - zs)) <= 1e-12 * s * scale[j])
            return ok

        x_f = H.params_of(z)
        x_shape = jnp.shape(self.x_star)
        hess = jax.hessian(lambda x: H.problem.value(jnp.reshape(x, x_shape)))(x_f)
        gnorm = jnp.sqrt(jnp.sum(H.grad(jnp.reshape(x_f, x_shape)) ** 2))
        z_start = z.at[:d].add(self.delta)
        # the state the moments settle to while x is still near the start (x held at x* +
        # delta for FROZEN_STEPS steps): the linear regime must hold there too, e.g. r ~ |g|^p
        # against eps for Adam-type methods, not only at the fresh (zero) state
        x_start = z_start[:d]
        z_frozen = lax.fori_loop(0, FROZEN_STEPS, lambda _, zz: H(zz).at[:d].set(x_start), z_start)
        # autonomy: H at t = 2**30 against t = 2**30 + 2**20, at a probe point
        H2 = self.step_map(h, BIAS_FREE_COUNT + 2**20)
        zp = z.at[:d].add(1e-3 * scale[:d])
        move = jnp.max(jnp.abs(H(zp) - zp))
        gap = jnp.max(jnp.abs(H(zp) - H2(zp))) / jnp.where(move > 0, move, 1.0)
        return {
            "family": jax.vmap(family)(jnp.arange(n)),
            "hessian": hess,
            "grad_norm": gnorm,
            "z_start": z_start,
            "h_start": H(z_start),
            "z_frozen": z_frozen,
            "h_frozen": H(z_frozen),
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
            tuple(sorted(dict(self.state_roles).items())),
        )

    def program(self) -> Program:
        """The jitted, grid-vmapped programs, built once per equal :meth:`cache_key` (kept
        in the bounded :data:`PROGRAMS` cache, so a repeated analysis does not recompile)."""
        key = self.cache_key()
        program = PROGRAMS.get(key)
        if program is None:
            program = Program(self)
            PROGRAMS.put(key, program)
        return program

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
        program = self.program()
        start_fn, newton_fn, analyse_fn = program.start, program.newton, program.analyse
        for start in range(0, g, size):
            idx = np.minimum(np.arange(start, start + size), g - 1)
            part = jax.tree_util.tree_map(lambda v, idx=idx: v[idx], hyper_batch)
            z0, r0 = start_fn(part)
            z, res = newton_fn(part, z0, r0) if bool(np.any(np.asarray(r0) > 0)) else (z0, r0)
            out = analyse_fn(part, z0, r0, z, res)
            keep = min(size, g - start)
            pieces.append({k: np.asarray(v)[:keep] for k, v in out.items()})
        return {k: np.concatenate([p[k] for p in pieces], axis=0) for k in pieces[0]}


def equivariance_gaps(
    problem, opt, x_star, hyper_batch, fixed=None, state_overrides=(), state_roles=None
):
    """Per grid point, max |H(z) - (H_y(z - s) + s)| / max(1, |H(z)|) at a probe z near
    (x*, init state), where H_y is the step on the translated problem and s = (x*, 0):
    0 (up to rounding) when the step depends on x only through the gradient (no decay)."""
    x_star = np.asarray(x_star, float)
    roles = None if state_roles is None else tuple(sorted(dict(state_roles).items()))
    base = Analyzer(
        problem, opt, x_star, dict(fixed or {}), tuple(state_overrides), state_roles=roles
    )
    moved = Analyzer(
        Translated(problem, x_star),
        opt,
        np.zeros_like(x_star),
        base.fixed,
        base.state_overrides,
        state_roles=base.state_roles,
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
