"""Claims as data: a paper's sentence, the optlab configurations that test it, and the
numbers that decide it.

A :class:`Claim` holds two protocols (``full``, as close to the paper as the lab gets, and
``quick``, a shortened one that can still fail) made of the same ``RunConfig`` /
``StabilityConfig`` records the CLI builds. ``judge`` turns the results into :class:`Row`
checks; a claim's verdict is ``reproduced`` when every row holds, ``refuted`` when none does
and ``partly`` otherwise (the rows say which).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

REPRODUCED, REFUTED, PARTLY = "reproduced", "refuted", "partly"
VERDICTS = (REPRODUCED, PARTLY, REFUTED)


@dataclass(frozen=True)
class Paper:
    authors: str
    title: str
    arxiv: str  # arXiv id, or "" with the venue given instead
    venue: str = ""

    def cite(self) -> str:
        where = f"arXiv:{self.arxiv}" if self.arxiv else self.venue
        return f"{self.authors}, {where}"


@dataclass(frozen=True)
class Protocol:
    """Named configurations run in order; ``seconds``: the wall time measured on the lab
    machine (2 cores, light load, cold compilation cache), an estimate for ``optlab
    reproduce list`` (a machine loaded by other jobs took 3-5 times longer)."""

    configs: tuple[tuple[str, object], ...]
    seconds: float
    note: str = ""


@dataclass(frozen=True)
class Row:
    """One measured quantity against the paper's (or the stated criterion's) expectation."""

    quantity: str
    measured: float
    expected: str
    tolerance: str
    ok: bool
    note: str = ""

    @property
    def verdict(self) -> str:
        return REPRODUCED if self.ok else REFUTED


@dataclass(frozen=True)
class Claim:
    id: str
    paper: Paper
    where: str  # "Fig. 1", "App. E", ...
    statement: str  # the claim as the paper states it
    criterion: (
        str  # the acceptance criterion, with its numbers (ours when the paper is qualitative)
    )
    quantities: tuple[str, ...]
    full: Protocol
    quick: Protocol
    judge: Callable[[Mapping[str, object], bool], list[Row]]
    draw: Callable[[Mapping[str, object]], object] | None = None  # results -> Figure
    notes: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    def protocol(self, quick: bool) -> Protocol:
        return self.quick if quick else self.full


def verdict_of(rows: list[Row]) -> str:
    if rows and all(r.ok for r in rows):
        return REPRODUCED
    if not any(r.ok for r in rows):
        return REFUTED
    return PARTLY


# ---- row builders: the comparison and its tolerance written once ------------------------
def at_most(quantity: str, measured: float, bound: float, note: str = "") -> Row:
    return Row(quantity, float(measured), f"<= {bound:g}", "-", bool(measured <= bound), note)


def at_least(quantity: str, measured: float, bound: float, note: str = "") -> Row:
    return Row(quantity, float(measured), f">= {bound:g}", "-", bool(measured >= bound), note)


def near(quantity: str, measured: float, target: float, tol: float, note: str = "") -> Row:
    ok = bool(abs(measured - target) <= tol)
    return Row(quantity, float(measured), f"{target:g}", f"{tol:g}", ok, note)


def below(quantity: str, measured: float, other: float, other_name: str, note: str = "") -> Row:
    """``measured < other``: a comparison between two methods."""
    return Row(
        quantity,
        float(measured),
        f"< {other_name} ({other:.4g})",
        "-",
        bool(measured < other),
        note,
    )
