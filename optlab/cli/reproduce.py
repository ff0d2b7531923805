"""``optlab reproduce``: the papers' toy-scale claims, each run and judged with a verdict."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from optlab.cli._console import err, fmt, guarded, out, print_json, with_progress
from optlab.cli._options import Json, Out, Overwrite

HELP = """Reproduce the papers' toy-scale claims with a verdict each (reproduced, partly, refuted).

Writes the figures, the CSVs, verdicts.csv and manifest.json.

Exit 0 whatever the verdicts (2 for bad input); --strict: 1 unless all are reproduced.

Examples:

  optlab reproduce list

  optlab reproduce reddi-fig1 --quick

  optlab reproduce all --quick --out runs/claims

  optlab reproduce all --update-gallery  # full protocols; rewrites figures/
"""

STYLE = {"reproduced": "green", "partly": "yellow", "refuted": "red"}


def _list_table(rows) -> Table:
    table = Table(title="claims", box=box.SIMPLE_HEAD)
    for col in ("id", "paper", "claim", "full", "quick"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            escape(r["id"]),
            escape(r["paper"]),
            escape(r["claim"]),
            f"~{r['full_s']:.0f} s",
            f"~{r['quick_s']:.0f} s",
        )
    return table


def _verdict_table(frame) -> Table:
    table = Table(title="verdicts", box=box.SIMPLE_HEAD)
    for col in ("claim", "quantity", "measured", "expected", "tol", "verdict"):
        table.add_column(col, overflow="fold")
    for _, r in frame.iterrows():
        style = STYLE.get(r["verdict"], "")
        is_claim = r["quantity"] == "claim"
        table.add_row(
            escape(r["claim"]) if is_claim else "",
            escape(r["note"] or "claim") if is_claim else escape(r["quantity"]),
            "" if is_claim else fmt(r["measured"]),
            "" if is_claim else escape(str(r["expected"])),
            "" if is_claim else escape(str(r["tolerance"])),
            f"[{style}]{r['verdict']}[/]" if style else r["verdict"],
            end_section=False,
        )
    return table


@guarded
def reproduce(
    ids: Annotated[
        list[str] | None,
        typer.Argument(help="Claim ids, `all`, or `list` (the claims and their runtimes)."),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="The shortened protocols (still able to fail).")
    ] = False,
    out_dir: Out = None,
    overwrite: Overwrite = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when any verdict is not `reproduced`.")
    ] = False,
    update_gallery: Annotated[
        bool,
        typer.Option(
            "--update-gallery",
            help="Also copy the figures into figures/ and regenerate figures/README.md "
            "(tracked files; full protocols only).",
        ),
    ] = False,
    json_out: Json = False,
) -> None:
    from optlab import reproduce as rp
    from optlab.errors import UsageError
    from optlab.io import outputs

    ids = list(ids or [])
    if ids == ["list"]:
        rows = rp.listing()
        print_json(rows) if json_out else out.print(_list_table(rows))
        return
    if "list" in ids:
        raise UsageError("`list` takes no other claim ids")
    claims = rp.select(ids)
    if update_gallery and quick:
        raise UsageError("--update-gallery takes the full protocols only (drop --quick)")
    folder = Path(out_dir) if out_dir else outputs.default_out_dir("reproduce", "claims")
    outputs.check_out_dir(folder, overwrite)
    with outputs.held(folder):  # held until the results are written
        results = with_progress(
            lambda progress=None: rp.reproduce(claims, quick, progress),
            "reproducing",
            err.is_terminal and not json_out,
        )
        from optlab.reproduce.save import save_results
        from optlab.reproduce.save import update_gallery as save_gallery

        command = shlex.join(["optlab", *sys.argv[1:]])
        paths = save_results(results, folder, command)
        if update_gallery:
            paths += save_gallery(results)
    frame = rp.verdict_frame(results)
    if json_out:
        print_json(
            {
                "out_dir": str(folder),
                "paths": [str(p) for p in paths],
                "verdicts": frame.to_dict(orient="records"),
            }
        )
    else:
        out.print(_verdict_table(frame))
        for r in results:
            err.print(f"{r.claim.id}: {r.verdict} in {r.seconds:.1f} s", highlight=False)
        for p in paths:
            out.print(f"wrote {p}", highlight=False, soft_wrap=True)
    if strict and any(r.verdict != rp.REPRODUCED for r in results):
        raise typer.Exit(1)
