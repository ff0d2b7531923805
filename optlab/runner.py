"""The compiled runner: one program runs a grid of hyperparameters x seeds.

Structure of the program (docs/architecture.md#runner):
- an inner loop of ``log_every`` steps (sample, gradient, optimizer step, projection; the
  last block may be shorter) inside an outer loop that records the metrics after each
  block; ``steps`` and ``log_every`` are traced, so one program serves every horizon;
- ``vmap`` over seeds inside ``vmap`` over the hyperparameter grid, applied to the step and
  the record (the loops run over the batched state);
- randomness ``key_t = fold_in(fold_in(root, seed), t)``: batch t is the same for every
  optimizer and every ``log_every`` (common random numbers); a random start uses
  ``fold_in(fold_in(root, seed), 0)`` (no step has t = 0);
- divergence is data: the first step whose iterate is not finite (or whose recorded loss or
  gradient norm is not finite) is kept in ``diverged_step``; metrics from there on are NaN
  (each coordinate keeps its own first non-finite step, the records take the earliest);
- the outer loop is cut into calls of about ``CALL_SECONDS`` each (the block count is a
  traced argument: one program for every size), so progress advances and Ctrl-C lands
  within about a call; the grid into pieces of about ``CHUNK_ELEMENTS`` numbers per step,
  sharded over the host's XLA devices. Neither cut changes a number: every configuration
  is computed independently (``blocks_per_call`` fixes the calls' size instead).

No I/O, no pandas, no matplotlib.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import numpy as np

from optlab._jax import jax, jnp, x64_enabled
from optlab.metrics import flatten, is_pytree, make_metrics
from optlab.types import Optimizer, Trace

lax = jax.lax

# configurations x dimension per piece of the grid: a piece's state (x and two moments per
# coordinate) stays in the 1-4 MB per-core cache; 1e5 (the state in memory) ran ~20% slower
CHUNK_ELEMENTS = 10_000
SCHEDULES = ("constant", "inv_sqrt")
CALL_SECONDS = 0.5  # a compiled call's target length: progress and Ctrl-C between calls
RATE_GUESS = 2e8  # coordinate-updates per second, until a call of this sweep is timed
GROWTH = 16  # a call may grow to GROWTH x its first guess when the machine is faster
SHARED_NUMBERS, MAX_SHARED_ROWS = 32_768, 1024  # see buffer_rows


class Carry(NamedTuple):
    x: object
    state: object
    t: object  # int32: steps taken
    div: object  # int32: first non-finite step, -1 if none (as of the last record)
    div_x: object  # int32 per coordinate, like x: the first step it was not finite, or -1
    acc: dict  # running sums: regret (online problems), S1, S2, ... (diagnostics)


def _batched(fn: Callable, seed_axes: tuple, grid_axes: tuple):
    """``fn`` over [grid, seed, ...]: vmap over seeds inside vmap over the grid; the axes
    say per argument whether it has that axis (0) or not (None)."""
    return jax.vmap(jax.vmap(fn, in_axes=seed_axes), in_axes=grid_axes)


def _earliest(div, div_x):
    """The first non-finite step of a run: the earlier of ``div`` and every coordinate's
    first non-finite step (-1 where none)."""
    never = jnp.iinfo(jnp.int32).max
    first = jnp.asarray(jnp.where(div >= 0, div, never))
    for leaf in jax.tree_util.tree_leaves(div_x):
        first = jnp.minimum(first, jnp.min(jnp.where(leaf >= 0, leaf, never), initial=never))
    return jnp.where(first < never, first, -1).astype(jnp.int32)


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
        self.n_blocks = -(-steps // log_every)  # the last may be shorter
        self.blocks_per_call = blocks_per_call  # None: chosen from the size of the run
        self.devices = devices if devices is not None else jax.devices()
        self._compiled: dict[bool, tuple] = {}  # this sweep's jitted programs, per layout
        self._draw = None  # random starts: x0 per seed key, jitted on first use
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
        div = _earliest(c.div, c.div_x)
        div = jnp.where((div < 0) & bad, c.t, div)
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

    def _init_one(self, h, start):
        """The start of one run and its record. ``start`` is the seed's key, or for a
        problem with random starts the drawn x0 itself (see :meth:`_starts`)."""
        x0 = start if self.problem.init is not None else self._x0(start)
        state = self.opt.init(x0, self._hyper(h))
        never = jax.tree_util.tree_map(lambda v: jnp.full(jnp.shape(v), -1, jnp.int32), x0)
        c = Carry(x0, state, jnp.int32(0), jnp.int32(-1), never, self._init_acc(x0))
        return self._record(c)

    def _starts(self, skeys):
        """What the init program takes per seed: the keys, or for random starts x0 drawn
        by a program of its own, the same for every optimizer on the problem (so the
        compilation cache serves it; drawing a network's weights took longer to compile
        than the rest of an optimizer's start)."""
        if self.problem.init is None:
            return skeys
        if self._draw is None:
            self._draw = jax.jit(jax.vmap(self._x0))
        return self._draw(skeys)

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
        # per coordinate, so the check fuses into the update (a reduction over x every step
        # cost a sixth of a sweep); the records take the earliest, the same step exactly
        div_x = jax.tree_util.tree_map(
            lambda d, v: jnp.where((d < 0) & ~jnp.isfinite(v), t, d), c.div_x, x
        )
        acc = self._accumulate(c.acc, c.x, g, state, h, batch, f_t) if c.acc else c.acc
        return Carry(x, state, t, c.div, div_x, acc)

    def _chunk(self, c: Carry, h, skey, first_block, count, span, per_call: int):
        """Blocks ``first_block`` .. ``first_block + count - 1`` of every run of the piece
        (``count`` <= ``per_call``, a traced number, so calls sized by time share one
        program) and their records in a buffer of ``per_call`` rows per run; rows past
        ``count`` are left NaN and dropped.

        ``span = (steps, log_every)`` is traced too: block b takes
        ``min(log_every, steps - b log_every)`` steps in one loop, so the step is compiled
        once (not once per block length) and one program serves every horizon. The loops
        run over the batched state (vmap is applied to the step and the record, not to the
        loops), which keeps tracing to one pass over each."""
        self.traces += 1
        # carry [G, S], hyperparameters [G], seed keys [S]
        step = _batched(
            lambda c, h, k: self._step(c, self._hyper(h), k), (0, None, 0), (0, 0, None)
        )
        record = _batched(self._record, (0,), (0,))
        steps, log_every = span
        shape = jax.eval_shape(lambda c: record(c)[1], c)
        buf = jax.tree_util.tree_map(
            lambda s: jnp.full((*s.shape[:2], per_call, *s.shape[2:]), jnp.nan, s.dtype), shape
        )

        def body(i, state):
            c, buf = state
            length = jnp.clip(steps - (first_block + i) * log_every, 0, log_every)
            c = lax.fori_loop(0, length, lambda _, c: step(c, h, skey), c)
            c, rec = record(c)
            buf = jax.tree_util.tree_map(lambda b, r: b.at[:, :, i].set(r), buf, rec)
            return c, buf

        return lax.fori_loop(0, count, body, (c, buf))

    def _functions(self, sharded: bool, per_call: int):
        """(init, chunk) jitted; when sharded, the grid axis is split over the devices
        with the same layout in and out, so chunk calls never retrace."""
        key = (sharded, per_call)
        if key not in self._compiled:
            init = _batched(self._init_one, (None, 0), (0, None))  # hyper [G], starts [S]
            chunk = partial(self._chunk, per_call=per_call)
            if sharded:
                mesh = jax.sharding.Mesh(np.asarray(self.devices), ("g",))
                grid = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("g"))
                rep = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
                init_fn = jax.jit(init, in_shardings=(grid, rep), out_shardings=grid)
                chunk_fn = jax.jit(
                    chunk, in_shardings=(grid, grid, rep, rep, rep, rep), out_shardings=grid
                )
            else:
                init_fn, chunk_fn = jax.jit(init), jax.jit(chunk)
            self._compiled[key] = (init_fn, chunk_fn)
        return self._compiled[key]

    # ---- driver --------------------------------------------------------------------
    def piece_size(self, n_grid: int, n_seeds: int) -> int:
        """Grid points per piece: about CHUNK_ELEMENTS numbers per step (a piece's state
        stays in the core's cache), a multiple of the device count when the grid is
        sharded, never more than the grid needs."""
        per_config = n_seeds * max(1, self.problem.dim)
        size = min(n_grid, max(1, CHUNK_ELEMENTS // per_config))
        n_dev = len(self.devices)
        if n_dev > 1 and n_grid >= n_dev:
            size = max(n_dev, math.ceil(size / n_dev) * n_dev)
        return size

    def run(self, hyper, seeds, root_seed: int = 0, progress: Callable | None = None) -> Trace:
        """hyper: a Hyper of arrays of shape (G,); seeds: ints (S,). Returns Trace[G, S, R].

        ``progress(done, total)`` is called after every call, in blocks of ``log_every``
        steps (a call lasts about CALL_SECONDS, so the count advances during long work);
        each call is waited for, so Ctrl-C (KeyboardInterrupt) propagates out of ``run``
        within about one call, and nothing of the interrupted sweep is returned.

        A float64 sweep needs 64-bit JAX: call it inside ``with optlab.float64():`` (build
        the problem there too, so x0 is not rounded to float32 first) or enable
        ``jax_enable_x64``; ``api.run`` does the former itself."""
        if self.dtype == jnp.float64 and not x64_enabled():
            raise RuntimeError(
                "a float64 sweep needs 64-bit JAX: run it (and get_problem) inside "
                "`with optlab.float64():`, or pass dtype=numpy.float32"
            )
        # indexing and slicing happen in NumPy: each eager JAX op would cost a dispatch
        hyper = jax.tree_util.tree_map(lambda v: np.asarray(v, self.dtype), hyper)
        n_grid = int(jax.tree_util.tree_leaves(hyper)[0].shape[0])
        seeds = np.asarray(seeds, dtype=np.int64)
        skeys = _seed_keys(seeds.astype(np.uint32), root_seed)
        starts = self._starts(skeys)
        size = self.piece_size(n_grid, len(seeds))
        n_pieces = math.ceil(n_grid / size)
        calls = _CallSizer(self, size * len(seeds), progress, n_pieces)
        out = _Records(n_grid, self.n_blocks + 1)
        divs, span = [], (np.int32(self.steps), np.int32(self.log_every))
        for k in range(n_pieces):
            idx = np.minimum(np.arange(k * size, (k + 1) * size), n_grid - 1)  # pad: repeat
            h = jax.tree_util.tree_map(lambda v, idx=idx: v[idx], hyper)
            sharded = len(self.devices) > 1 and size % len(self.devices) == 0
            init_fn, chunk_fn = self._functions(sharded, calls.per_call)
            carry, rec0 = init_fn(h, starts)
            rows = (k * size, min(size, n_grid - k * size))
            out.put(rec0, rows, 0, None)
            first = 0
            while first < self.n_blocks:
                count = calls.next_count(self.n_blocks - first)
                carry, rec = chunk_fn(carry, h, skeys, np.int32(first), np.int32(count), span)
                # waits for the call before this one: Ctrl-C is raised here
                calls.dispatched(partial(out.put, rec, rows, first + 1, count), count)
                first += count
            divs.append((carry.div, rows[1]))
        calls.finish()
        return self._trace(out.tree(), np.concatenate([np.asarray(d)[:v] for d, v in divs]))

    def _trace(self, rec: Record, div: np.ndarray) -> Trace:
        return Trace(
            step=record_steps(self.steps, self.log_every),
            loss=rec.loss,
            gap=rec.gap,
            grad_norm=rec.grad_norm,
            dist=rec.dist,
            diverged_step=div.astype(np.int64),
            x=rec.x if self.record_x else None,
            extras=rec.extras,
        )


class _Records:
    """The run's records [G, S, R, ...] in NumPy, filled call by call in place (a run's
    records are held once: no per-call lists, no concatenated copies)."""

    def __init__(self, n_grid: int, n_records: int):
        self.n_grid, self.n_records = n_grid, n_records
        self.leaves = self.treedef = self.extra_names = None

    def put(self, rec, rows: tuple[int, int], first: int, count: int | None) -> None:
        """A call's records (count of them; None: the initial record, no record axis) for
        grid rows ``rows = (start, valid)`` from record ``first``. Waits for the call."""
        leaves, treedef = jax.tree_util.tree_flatten(rec)
        leaves = [np.asarray(a) for a in leaves]
        start, valid = rows
        if self.leaves is None:
            tail = 2 if count is None else 3  # dimensions after [G, S(, records)]
            self.treedef, self.extra_names = treedef, list(rec.extras)  # the order they come in
            self.leaves = [
                np.empty((self.n_grid, a.shape[1], self.n_records, *a.shape[tail:]), a.dtype)
                for a in leaves
            ]
        for buf, a in zip(self.leaves, leaves, strict=True):
            if count is None:
                buf[start : start + valid, :, first] = a[:valid]
            else:
                buf[start : start + valid, :, first : first + count] = a[:valid, :, :count]

    def tree(self) -> Record:
        rec = jax.tree_util.tree_unflatten(self.treedef, self.leaves)  # dict keys sorted
        return rec._replace(extras={k: rec.extras[k] for k in self.extra_names})


@jax.jit
def _fold_seeds(root, seeds):
    return jax.vmap(lambda s: jax.random.fold_in(root, s))(seeds)


def _seed_keys(seeds, root_seed: int):
    """``fold_in(PRNGKey(root_seed), seed)`` per seed, in one compiled call (remembered:
    a sweep's cells and repeated runs use the same few seed lists)."""
    return _seed_keys_cached(tuple(int(s) for s in seeds), root_seed)


@functools.lru_cache(maxsize=64)
def _seed_keys_cached(seeds: tuple, root_seed: int):
    return _fold_seeds(_root_key(root_seed), np.asarray(seeds, dtype=np.uint32))


@functools.lru_cache(maxsize=64)
def _root_key(root_seed: int):
    return jax.random.PRNGKey(root_seed)


def buffer_rows(needed: int, runs: int, record_size: int = 8) -> int:
    """Rows of a call's record buffer (a static size: each size is its own program): a
    power of two >= ``needed``, and at least as many as fill SHARED_NUMBERS numbers over
    the piece's ``runs`` (records of ``record_size`` numbers; at most MAX_SHARED_ROWS), so
    short runs of different lengths share a program (and the compilation cache) for the
    price of a buffer of 256 KB."""
    rows = 1 << (needed - 1).bit_length()
    floor = 1 << max(0, (SHARED_NUMBERS // (runs * record_size)).bit_length() - 1)
    return max(rows, min(floor, MAX_SHARED_ROWS))


class _CallSizer:
    """Blocks per call, sized by time: a first guess from the work per block at RATE_GUESS,
    then rescaled from each timed call towards CALL_SECONDS. The compiled buffer
    (``per_call``) depends on the work alone, so the program, and the number of times it is
    traced, never depend on timing; and no number depends on how blocks are split."""

    def __init__(self, sweep: Sweep, configs: int, progress: Callable | None, n_pieces: int):
        self.sweep, self.progress = sweep, progress
        n_blocks = sweep.n_blocks
        if sweep.blocks_per_call:
            self.count = self.per_call = max(1, min(sweep.blocks_per_call, n_blocks))
        else:
            per_block = configs * max(1, sweep.problem.dim) * min(sweep.log_every, sweep.steps)
            guess = math.ceil(RATE_GUESS * CALL_SECONDS / max(1, per_block))
            self.count = max(1, min(guess, n_blocks))
            record_size = 8 + (max(1, sweep.problem.dim) if sweep.record_x else 0)
            needed = max(1, min(GROWTH * self.count, n_blocks))
            self.per_call = buffer_rows(needed, configs, record_size)
        self.adaptive = not sweep.blocks_per_call
        self.total, self.finished = n_pieces * n_blocks, 0
        self._t, self._traces = time.perf_counter(), sweep.traces
        self._pending = None

    def next_count(self, remaining: int) -> int:
        return min(self.count, remaining)

    def dispatched(self, collect: Callable, count: int) -> None:
        """One call is in flight: collect the one before it (the device stays busy while
        the host waits, copies and reports)."""
        if self._pending is not None:
            self._collect(*self._pending)
        self._pending = (collect, count, self.sweep.traces)

    def _collect(self, collect: Callable, count: int, traces: int) -> None:
        collect()  # waits for the call
        now = time.perf_counter()
        seconds, self._t = now - self._t, now
        # a call that compiled, or a short last one, says nothing about the rate
        if self.adaptive and traces == self._traces and count == self.count and seconds > 0:
            scaled = round(count * CALL_SECONDS / seconds)
            self.count = max(1, count // 4, min(scaled, 4 * count, self.per_call))
        self._traces = traces
        self.finished += count
        if self.progress is not None:
            self.progress(self.finished, self.total)

    def finish(self) -> None:
        if self._pending is not None:
            self._collect(*self._pending)
            self._pending = None
        if self.total == 0 and self.progress is not None:
            self.progress(1, 1)


def make_sweep(problem, opt: Optimizer, *, steps: int, log_every: int = 1, **kwargs) -> Sweep:
    """The compiled sweep; ``sweep.run(hyper_batch, seeds)`` -> Trace[G, S, R]."""
    return Sweep(problem, opt, steps=steps, log_every=log_every, **kwargs)


def make_run(problem, opt: Optimizer, hyper=None, *, steps: int, log_every: int = 1, seed=0, **kw):
    """One configuration, one seed: the G = S = 1 case of the same code path."""
    hyper = opt.hyper if hyper is None else hyper
    batch = jax.tree_util.tree_map(lambda v: jnp.asarray([v]), hyper)
    trace = make_sweep(problem, opt, steps=steps, log_every=log_every, **kw).run(batch, [seed])
    return trace
