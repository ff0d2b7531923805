"""Frozen configurations: what a command asks the library to do.

The CLI only parses flags into one of these and hands it to :mod:`optlab.api`, so a test
can assert on exactly what the library received.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from optlab.errors import UsageError


def _tuples(value):
    """JSON lists back to the tuples a frozen config holds (nested: hyper, options)."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


class _FromDict:
    """``to_dict`` and its inverse, so a manifest's "config" rebuilds the same config."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, **changes):
        """The config ``to_dict`` (through JSON) produced, with ``changes`` applied; a key
        this version does not know is a UsageError."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise UsageError(f"{cls.__name__} has no field {', '.join(map(repr, unknown))}")
        return cls(**{**{k: _tuples(v) for k, v in data.items()}, **changes})


@dataclass(frozen=True)
class RunConfig(_FromDict):
    """``optlab run``. ``problem`` and each of ``optimizers`` may carry ``[key=value,...]``
    settings (lists inside brackets make a per-optimizer grid). ``hyper`` holds the values
    given for every optimizer (shortcuts such as ``--lr`` and ``--hp``); all value lists form a
    cross product."""

    problem: str = "fun5"
    optimizers: tuple[str, ...] = ("aida_pq",)
    hyper: tuple[tuple[str, tuple[float, ...]], ...] = ()
    problem_options: tuple[tuple[str, str], ...] = ()
    steps: int = 10_000
    log_every: int | None = None  # None: about 1000 records per run (fewer for many runs)
    seeds: int = 1
    root_seed: int = 0
    out: str | None = None  # None: runs/run-<problem>-<timestamp>
    overwrite: bool = False
    dtype: str = "float64"
    record_x: bool = False
    schedule: str = "constant"  # or "inv_sqrt": learning_rate / sqrt(t) for every optimizer
    diagnostics: bool = False  # effective step sizes and the S1/S2 sums as trace columns
    command: str = ""  # the command line, for the manifest
    plugins: tuple[str, ...] = ()  # plug-in files whose optimizers / problems are usable
    protocol: str = ""  # how the hyperparameters were chosen ("" = untuned), on every figure


@dataclass(frozen=True)
class TrajectoryConfig(RunConfig):
    """``optlab trajectory``: a run on a 2-D problem drawn over its loss landscape."""

    problem: str = "rosenbrock"
    steps: int = 500
    gif: bool = False
    resolution: int = 200  # mesh points per axis for the contour plot
    frames: int = 60  # animation frames (GIF)
    loss_panel: bool = False  # f(x_t) - f* (or f) against t beside the paths


@dataclass(frozen=True)
class StabilityConfig(_FromDict):
    """``optlab stability``: the Jacobian of one optimizer's step map at a minimiser of the
    problem, over a grid of its hyperparameters (``hyper``: shortcuts and ``--hp``; value
    lists form a cross product). ``state`` overrides fixed-point state leaves (e.g.
    ``(("v_max", 1e-6),)`` picks a point of AMSGrad's family); ``minimiser`` picks one of
    several known minimisers. With ``simulate`` the full, bias-corrected iteration runs from
    x* + ``delta`` (every coordinate) for ``sim_steps`` steps at every grid point."""

    problem: str = "quadratic"
    optimizer: str = "aida_pq"
    hyper: tuple[tuple[str, tuple[float, ...]], ...] = ()
    problem_options: tuple[tuple[str, str], ...] = ()
    state: tuple[tuple[str, float], ...] = ()
    minimiser: int = 0
    tol: float = 1e-8  # |rho - 1| <= tol: undetermined
    simulate: bool = False
    sim_steps: int = 20_000
    sim_log_every: int | None = None  # None: max(1, sim_steps // 1000)
    delta: float = 1e-10  # simulation start x* + delta (the paper's x0 = 1e-10 on 5x^2)
    refine: bool = True  # bisect the learning-rate boundary (linear and simulated) per row
    out: str | None = None  # None: runs/stability-<problem>-<timestamp>
    overwrite: bool = False
    command: str = ""
    plugins: tuple[str, ...] = ()  # plug-in files whose optimizers / problems are usable
