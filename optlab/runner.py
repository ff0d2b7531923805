"""The compiled runner: one program runs a grid of hyperparameters x seeds.

Structure of the program (docs/architecture.md#runner):
- an inner ``lax.scan`` of ``log_every`` steps (sample, gradient, optimizer step,
  projection) inside an outer ``lax.scan`` that records the metrics after each block;
- ``vmap`` over seeds inside ``vmap`` over the hyperparameter grid;
- randomness ``key_t = fold_in(fold_in(root, seed), t)``: batch t is the same for every
  optimizer and every ``log_every`` (common random numbers); a random start uses
  ``fold_in(fold_in(root, seed), 0)`` (no step has t = 0);
- divergence is data: the first step whose iterate is not finite (or whose recorded loss or
  gradient norm is not finite) is kept in ``diverged_step``; metrics from there on are NaN;
- the outer scan is cut into calls of ``blocks_per_call`` blocks so a progress bar can
  advance, and the grid into pieces of about ``CHUNK_ELEMENTS`` numbers per step, sharded
  over the host's XLA devices. Neither cut changes a number: every configuration is
  computed independently, and a call past the last block is an exact no-op.

No I/O, no pandas, no matplotlib.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import numpy as np

from optlab._jax import jax, jnp, x64_enabled
from optlab.metrics import all_finite, flatten, is_pytree, make_metrics
from optlab.types import Optimizer, Trace

lax = jax.lax

CHUNK_ELEMENTS = 100_000  # configurations x dimension per piece of the grid
SCHEDULES = ("constant", "inv_sqrt")
PROGRESS_CALLS = 20  # most calls per piece (progress-bar resolution)
WORK_PER_CALL = 5e7  # coordinate-updates worth a separate call


class Carry(NamedTuple):
    x: object
    state: object
    t: object  # int32: steps taken
    div: object  # int32: first non-finite step, -1 if none
    acc: dict  # running sums: regret (online problems), S1, S2, ... (diagnostics)


class Record(NamedTuple):
    loss: object
    gap: object
    grad_norm: object
    dist: object
    x: object
    extras: dict


def record_steps(steps: int, log_every: int) -> np.ndarray:
    """0, log_every, 2 log_every, ..., and ``steps`` itself."""
    marks = list(range(0, steps + 1, log_every))
    if marks[-1] != steps:
        marks.append(steps)
    return np.asarray(marks, dtype=np.int64)


def safe_inverse(x):
    """1/x with 0 where x == 0 (a method that has not divided by anything yet)."""
    ok = x != 0
    return jnp.where(ok, 1 / jnp.where(ok, x, 1), 0)


class Sweep:
    """A compiled sweep of one optimizer on one problem.

    ``fixed`` maps hyperparameter names to Python numbers baked into the program as
    constants (the integer-exponent fast path); the batched values of those fields are
    ignored.
    """

    def __init__(
        self,
        problem,
        opt: Optimizer,
        *,
        steps: int,
        log_every: int,
        record_x: bool = False,
        fixed: dict | None = None,
        dtype=jnp.float64,
        blocks_per_call: int | None = None,
        devices: list | None = None,
        schedule: str = "constant",
        diagnostics: Callable | None = None,
    ):
        if steps < 0 or log_every < 1:
            raise ValueError("steps must be >= 0 and log_every >= 1")
        self.problem, self.opt = problem, opt
        self.steps, self.log_every, self.record_x = steps, log_every, record_x
        self.fixed = dict(fixed or {})
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        self.schedule = schedule
        # diagnostics(grads, new_state, hyper) -> {"step_size": tree, "denominator": tree}
        self.diagnostics = diagnostics
        self.online = "online" in problem.tags and problem.x_star is not None
        # parameters given as a pytree: per-leaf (per-layer) step-size statistics too
        leaves = jax.tree_util.tree_leaves(problem.x0) if is_pytree(problem.x0) else []
        self.leaf_sizes = [int(np.size(v)) for v in leaves] if len(leaves) > 1 else []
        self.dtype = jnp.dtype(dtype)
        self.n_full, self.rem = divmod(steps, log_every)
        self.n_blocks = self.n_full + (1 if self.rem else 0)
        self.blocks_per_call = blocks_per_call  # None: chosen from the size of the run
        self.devices = devices if devices is not None else jax.devices()
        self._compiled: dict[bool, tuple] = {}  # this sweep's jitted programs, per layout
        self.traces = 0  # times the step program was traced (one per compilation)

    # ---- one run -------------------------------------------------------------------
    def _hyper(self, h):
        return h._replace(**self.fixed) if self.fixed else h

    def _x0(self, skey):
        p = self.problem
        x0 = p.init(jax.random.fold_in(skey, 0)) if p.init is not None else p.x0
        # a pytree of parameters (an MLP's layers) is cast leaf by leaf
        return jax.tree_util.tree_map(lambda v: jnp.asarray(v).astype(self.dtype), x0)

    def _record(self, c: Carry):
        loss, gap, gn, dist = make_metrics(self.problem)(c.x)
        bad = ~(jnp.isfinite(loss) & jnp.isfinite(gn))
        div = jnp.where((c.div < 0) & bad, c.t, c.div)
        dead = div >= 0
        nan = jnp.full((), jnp.nan, loss.dtype)
        extras = {}
        if self.online:
            extras["regret"] = c.acc["regret"]
            extras["avg_regret"] = c.acc["regret"] / jnp.maximum(c.t, 1).astype(loss.dtype)
        if self.diagnostics is not None:
            extras["S1"], extras["S2"] = c.acc["S1"], c.acc["S2"]
            extras["step_size_mean"] = jnp.mean(c.acc["step_size"])
            extras["step_size_std"] = jnp.std(c.acc["step_size"])
            start = 0
            for k, size in enumerate(self.leaf_sizes):  # static slices, one per leaf
                leaf = c.acc["step_size"][start : start + size]
                extras[f"step_size_mean_{k}"], extras[f"step_size_std_{k}"] = (
                    jnp.mean(leaf),
                    jnp.std(leaf),
                )
                start += size
        rec = Record(
            *(jnp.where(dead, nan, v) for v in (loss, gap, gn, dist)),
            x=flatten(c.x) if self.record_x else None,
            extras={k: jnp.where(dead, nan, v) for k, v in extras.items()},
        )
        return c._replace(div=div), rec

    def _init_acc(self, x0):
        x0 = flatten(x0)
        zero = jnp.zeros((), x0.dtype)
        acc = {}
        if self.online:
            acc["regret"] = zero
        if self.diagnostics is not None:
            flat = jnp.zeros(x0.size, x0.dtype)
            acc.update(
                S1=zero, S2=zero, inv_den=flat, step_size=jnp.full(x0.size, jnp.nan, x0.dtype)
            )
        return acc

    def _accumulate(self, acc, x_prev, g, state, h, batch, f_t):
        acc = dict(acc)
        if self.online:
            x_star = jnp.reshape(jnp.asarray(self.problem.x_star, x_prev.dtype), x_prev.shape)
            acc["regret"] = acc["regret"] + f_t - self.problem.loss(x_star, batch)
        if self.diagnostics is not None:
            d = self.diagnostics(g, state, h)
            flat = lambda tree: jnp.concatenate(  # noqa: E731
                [jnp.ravel(v) for v in jax.tree_util.tree_leaves(tree)]
            )
            den = flat(d["denominator"])
            inv = safe_inverse(den)
            gf = flat(g)
            acc["S1"] = acc["S1"] + jnp.sum((gf * inv) ** 2)
            acc["S2"] = acc["S2"] + jnp.sum(jnp.abs(inv - acc["inv_den"]))
            acc["inv_den"] = inv
            acc["step_size"] = flat(d["step_size"])
        return acc

    def _init_one(self, h, skey):
        x0 = self._x0(skey)
        state = self.opt.init(x0, self._hyper(h))
        c = Carry(x0, state, jnp.int32(0), jnp.int32(-1), self._init_acc(x0))
        return self._record(c)

    def _step(self, c: Carry, h, skey) -> Carry:
        p = self.problem
        t = c.t + 1
        batch = p.sample(jax.random.fold_in(skey, t), t) if p.sample is not None else None
        if self.online:  # the loss revealed at t is paid at the decision x_{t-1}
            f_t, g = jax.value_and_grad(p.loss)(c.x, batch)
        else:
            f_t, g = None, jax.grad(p.loss)(c.x, batch)
        if self.schedule == "inv_sqrt":  # alpha_t = alpha / sqrt(t), the same for every method
            h = h._replace(learning_rate=h.learning_rate / jnp.sqrt(t.astype(c.x.dtype)))
        x, state = self.opt.step(c.x, g, c.state, h)
        x = p.project(x)
        div = jnp.where((c.div < 0) & ~all_finite(x), t, c.div)
        acc = self._accumulate(c.acc, c.x, g, state, h, batch, f_t) if c.acc else c.acc
        return Carry(x, state, t, div, acc)

    def _block(self, c: Carry, h, skey, length: int) -> Carry:
        def body(c, _):
            return self._step(c, h, skey), None

        return lax.scan(body, c, None, length=length)[0]

    def _chunk_one(self, c: Carry, h, skey, first_block, per_call: int):
        self.traces += 1
        h = self._hyper(h)
        branches = [lambda c: self._block(c, h, skey, self.log_every)]
        if self.rem:
            branches.append(lambda c: self._block(c, h, skey, self.rem))
        branches.append(lambda c: c)
        idle = len(branches) - 1

        def body(c, i):
            b = first_block + i
            which = jnp.where(b < self.n_full, 0, jnp.where(b < self.n_blocks, 1, idle))
            c = lax.switch(jnp.minimum(which, idle), branches, c)
            return self._record(c)

        return lax.scan(body, c, jnp.arange(per_call, dtype=jnp.int32))

    def _batched(self, fn: Callable, n_args: int):
        """vmap over seeds inside vmap over the grid; trailing args are unbatched."""
        if n_args == 2:  # (hyper[G], skeys[S])
            inner = jax.vmap(fn, in_axes=(None, 0))
            return jax.vmap(inner, in_axes=(0, None))
        inner = jax.vmap(fn, in_axes=(0, None, 0, None))  # (carry[S], h, skey[S], first)
        return jax.vmap(inner, in_axes=(0, 0, None, None))

    def _functions(self, sharded: bool, per_call: int):
        """(init, chunk) jitted; when sharded, the grid axis is split over the devices
        with the same layout in and out, so chunk calls never retrace."""
        key = (sharded, per_call)
        if key not in self._compiled:
            init = self._batched(self._init_one, n_args=2)
            chunk = self._batched(partial(self._chunk_one, per_call=per_call), n_args=3)
            if sharded:
                mesh = jax.sharding.Mesh(np.asarray(self.devices), ("g",))
                grid = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("g"))
                rep = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
                init_fn = jax.jit(init, in_shardings=(grid, rep), out_shardings=grid)
                chunk_fn = jax.jit(chunk, in_shardings=(grid, grid, rep, rep), out_shardings=grid)
            else:
                init_fn, chunk_fn = jax.jit(init), jax.jit(chunk)
            self._compiled[key] = (init_fn, chunk_fn)
        return self._compiled[key]

    # ---- driver --------------------------------------------------------------------
    def piece_size(self, n_grid: int, n_seeds: int) -> int:
        """Grid points per piece: about CHUNK_ELEMENTS numbers per step, a multiple of the
        device count when the grid is sharded, never more than the grid needs."""
        per_config = n_seeds * max(1, self.problem.dim)
        size = min(n_grid, max(1, CHUNK_ELEMENTS // per_config))
        n_dev = len(self.devices)
        if n_dev > 1 and n_grid >= n_dev:
            size = max(n_dev, math.ceil(size / n_dev) * n_dev)
        return size

    def run(self, hyper, seeds, root_seed: int = 0, progress: Callable | None = None) -> Trace:
        """hyper: a Hyper of arrays of shape (G,); seeds: ints (S,). Returns Trace[G, S, R].

        A float64 sweep needs 64-bit JAX: call it inside ``with optlab.float64():`` (build
        the problem there too, so x0 is not rounded to float32 first) or enable
        ``jax_enable_x64``; ``api.run`` does the former itself."""
        if self.dtype == jnp.float64 and not x64_enabled():
            raise RuntimeError(
                "a float64 sweep needs 64-bit JAX: run it (and get_problem) inside "
                "`with optlab.float64():`, or pass dtype=numpy.float32"
            )
        hyper = jax.tree_util.tree_map(lambda v: jnp.asarray(v, self.dtype), hyper)
        n_grid = int(jax.tree_util.tree_leaves(hyper)[0].shape[0])
        seeds = np.asarray(seeds, dtype=np.int64)
        root = jax.random.PRNGKey(root_seed)
        skeys = jax.vmap(lambda s: jax.random.fold_in(root, s))(jnp.asarray(seeds, jnp.uint32))
        size = self.piece_size(n_grid, len(seeds))
        n_pieces = math.ceil(n_grid / size)
        per_call = self.blocks_per_call or self._auto_per_call(size * len(seeds))
        n_calls = math.ceil(self.n_blocks / per_call)
        total = n_pieces * max(1, n_calls)
        done = 0
        pieces = []
        for k in range(n_pieces):
            idx = np.arange(k * size, (k + 1) * size)
            idx = np.minimum(idx, n_grid - 1)  # pad the last piece by repeating a point
            h = jax.tree_util.tree_map(lambda v, idx=idx: v[idx], hyper)
            sharded = len(self.devices) > 1 and size % len(self.devices) == 0
            init_fn, chunk_fn = self._functions(sharded, per_call)
            carry, rec0 = init_fn(h, skeys)
            recs = [jax.tree_util.tree_map(lambda a: a[:, :, None], rec0)]
            for call in range(n_calls):
                first = call * per_call
                carry, rec = chunk_fn(carry, h, skeys, jnp.int32(first))
                keep = min(per_call, self.n_blocks - first)
                recs.append(jax.tree_util.tree_map(lambda a, keep=keep: a[:, :, :keep], rec))
                done += 1
                if progress is not None:
                    progress(done, total)
            valid = n_grid - k * size
            pieces.append((recs, carry.div, valid))
        if n_calls == 0 and progress is not None:
            progress(total, total)
        return self._assemble(pieces)

    def _auto_per_call(self, configs: int) -> int:
        """Blocks per call: one call for small runs (each call costs a dispatch), up to
        PROGRESS_CALLS calls when a piece is large enough for a progress bar to matter."""
        work = configs * max(1, self.problem.dim) * self.steps
        calls = min(PROGRESS_CALLS, max(1, math.ceil(work / WORK_PER_CALL)), max(1, self.n_blocks))
        return max(1, math.ceil(self.n_blocks / calls))

    def _assemble(self, pieces) -> Trace:
        def cat(field):
            parts = []
            for recs, _, valid in pieces:
                arr = np.concatenate([np.asarray(getattr(r, field)) for r in recs], axis=2)
                parts.append(arr[:valid])
            return np.concatenate(parts, axis=0)

        div = np.concatenate([np.asarray(d)[:v] for _, d, v in pieces], axis=0)
        extra_names = list(pieces[0][0][0].extras) if pieces else []
        extras = {}
        for name in extra_names:
            parts = []
            for recs, _, valid in pieces:
                arr = np.concatenate([np.asarray(r.extras[name]) for r in recs], axis=2)
                parts.append(arr[:valid])
            extras[name] = np.concatenate(parts, axis=0)
        return Trace(
            step=record_steps(self.steps, self.log_every),
            loss=cat("loss"),
            gap=cat("gap"),
            grad_norm=cat("grad_norm"),
            dist=cat("dist"),
            diverged_step=div.astype(np.int64),
            x=cat("x") if self.record_x else None,
            extras=extras,
        )


def make_sweep(problem, opt: Optimizer, *, steps: int, log_every: int = 1, **kwargs) -> Sweep:
    """The compiled sweep; ``sweep.run(hyper_batch, seeds)`` -> Trace[G, S, R]."""
    return Sweep(problem, opt, steps=steps, log_every=log_every, **kwargs)


def make_run(problem, opt: Optimizer, hyper=None, *, steps: int, log_every: int = 1, seed=0, **kw):
    """One configuration, one seed: the G = S = 1 case of the same code path."""
    hyper = opt.hyper if hyper is None else hyper
    batch = jax.tree_util.tree_map(lambda v: jnp.asarray([v]), hyper)
    trace = make_sweep(problem, opt, steps=steps, log_every=log_every, **kw).run(batch, [seed])
    return trace
