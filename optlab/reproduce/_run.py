"""Run a claim's protocol through the public library calls and judge it. Nothing is
written: ``optlab.api.run`` and ``optlab.api_stability.stability`` compute and return
(their ``result.save()`` would write)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

from optlab.config import RunConfig, StabilityConfig
from optlab.reproduce._claim import Claim, Protocol, Row, verdict_of


@dataclass
class ClaimResult:
    claim: Claim
    quick: bool
    rows: list[Row]
    verdict: str
    results: dict  # config name -> RunResult / StabilityResult
    figure: object | None  # a matplotlib Figure, or None
    seconds: float

    def command(self) -> str:
        return f"optlab reproduce {self.claim.id}" + (" --quick" if self.quick else "")


def run_config(config, progress: Callable[[float], None] | None = None):
    """One configuration through the same library call the CLI makes."""
    if isinstance(config, RunConfig):
        from optlab import api

        return api.run(config, progress)
    if isinstance(config, StabilityConfig):
        from optlab import api_stability

        return api_stability.stability(config, progress)
    raise TypeError(f"a protocol holds RunConfig or StabilityConfig, not {type(config).__name__}")


def run_claim(
    claim: Claim,
    quick: bool = False,
    progress: Callable[[float], None] | None = None,
    protocol: Protocol | None = None,
    draw: bool = True,
) -> ClaimResult:
    """Run ``protocol`` (default: the claim's quick or full one), judge, draw the figure."""
    protocol = protocol or claim.protocol(quick)
    t0 = time.perf_counter()
    results = {}
    n = len(protocol.configs)
    for k, (name, config) in enumerate(protocol.configs):

        def tick(frac, k=k):
            if progress is not None:
                progress((k + frac) / n)

        results[name] = run_config(config, tick)
    rows = claim.judge(results, quick)
    figure = claim.draw(results) if (draw and claim.draw is not None) else None
    return ClaimResult(
        claim, quick, rows, verdict_of(rows), results, figure, time.perf_counter() - t0
    )


def label_of(result, spec: str) -> str:
    """The run label that the --opt text ``spec`` became in a run result (labels depend on
    the whole command, so they are planned again from the result's own configuration)."""
    from optlab.api import plan_optimizer, relabel

    config = result.config
    shared = {k: list(v) for k, v in config.hyper}
    plans = relabel([plan_optimizer(o, shared) for o in config.optimizers])
    return dict(zip(config.optimizers, (p.labels[0] for p in plans), strict=True))[spec]


def with_configs(protocol: Protocol, **changes: object) -> Protocol:
    """The protocol with named configurations replaced (tests feed wrong settings this way)."""
    configs = tuple((name, changes.get(name, cfg)) for name, cfg in protocol.configs)
    unknown = set(changes) - {name for name, _ in protocol.configs}
    if unknown:
        raise KeyError(f"no configurations {sorted(unknown)} in the protocol")
    return dataclasses.replace(protocol, configs=configs)
