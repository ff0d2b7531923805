"""``optlab reproduce``: the toy-scale claims of the papers behind optlab, each as data (a
:class:`Claim`: the sentence, ordinary run / stability configurations, the criterion) with a
verdict. The library computes and returns (:func:`reproduce`); the CLI saves.

One module per paper: :mod:`.reddi` (Reddi, Kale, Kumar), :mod:`.aida` (Zhang, Niwa, Kleijn,
arXiv:2112.06125), :mod:`.maxva` (Zhu et al., arXiv:2006.11918), :mod:`.adamal`,
:mod:`.adamomentum`, :mod:`.layerwise` (Zhang, Niwa, Kleijn, arXiv:2203.13273).
"""

from __future__ import annotations

from collections.abc import Callable

from optlab.errors import UsageError
from optlab.reproduce import adamal, adamomentum, aida, layerwise, maxva, reddi
from optlab.reproduce._claim import PARTLY, REFUTED, REPRODUCED, VERDICTS, Claim, Paper, Row
from optlab.reproduce._run import ClaimResult, run_claim, with_configs

MODULES = (reddi, aida, maxva, adamal, adamomentum, layerwise)
CLAIMS: dict[str, Claim] = {c.id: c for m in MODULES for c in m.CLAIMS}
VERDICT_COLUMNS = ["claim", "quantity", "measured", "expected", "tolerance", "verdict", "note"]


def select(ids: list[str]) -> list[Claim]:
    """Claims by id (``all``: every claim, in registry order); a UsageError for an unknown id."""
    if not ids:
        raise UsageError("name at least one claim id, or `all` (see `optlab reproduce list`)")
    if "all" in ids:
        return list(CLAIMS.values())
    unknown = [i for i in ids if i not in CLAIMS]
    if unknown:
        raise UsageError(f"unknown claim {unknown[0]!r} (claims: {', '.join(CLAIMS)}; or `all`)")
    return [CLAIMS[i] for i in dict.fromkeys(ids)]


def reproduce(
    claims: list[Claim],
    quick: bool = False,
    progress: Callable[[float], None] | None = None,
    draw: bool = True,
) -> list[ClaimResult]:
    """Run and judge each claim; nothing is written."""
    out = []
    total = sum(c.protocol(quick).seconds for c in claims) or 1.0
    done = 0.0
    for claim in claims:
        weight = claim.protocol(quick).seconds

        def tick(frac, base=done, weight=weight):
            if progress is not None:
                progress(min(1.0, (base + weight * frac) / total))

        out.append(run_claim(claim, quick, tick, draw=draw))
        done += weight
    return out


def verdict_frame(results: list[ClaimResult]):
    """verdicts.csv: one row per measured quantity, plus one ``verdict`` row per claim."""
    import pandas as pd

    rows = []
    for res in results:
        for r in res.rows:
            rows.append(
                [res.claim.id, r.quantity, r.measured, r.expected, r.tolerance, r.verdict, r.note]
            )
        bad = [r.quantity for r in res.rows if not r.ok]
        note = f"rows not reproduced: {'; '.join(bad)}" if res.verdict == PARTLY else ""
        rows.append([res.claim.id, "claim", float("nan"), REPRODUCED, "-", res.verdict, note])
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)


def listing() -> list[dict]:
    return [
        {
            "id": c.id,
            "paper": f"{c.paper.cite()}, {c.where}",
            "claim": c.statement,
            "full_s": c.full.seconds,
            "quick_s": c.quick.seconds,
        }
        for c in CLAIMS.values()
    ]


__all__ = [
    "CLAIMS",
    "PARTLY",
    "REFUTED",
    "REPRODUCED",
    "VERDICTS",
    "Claim",
    "ClaimResult",
    "Paper",
    "Row",
    "listing",
    "reproduce",
    "run_claim",
    "select",
    "verdict_frame",
    "with_configs",
]
