"""``optlab list optimizers|problems``: what the lab has."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from optlab.cli._console import guarded, out, print_json
from optlab.cli._options import Json
from optlab.cli._plugins import PluginFiles, plugin_paths
from optlab.errors import UsageError

HELP = """List optimizers, problems or suites.

Optimizers: reference, defaults, eps placement, decay. Problems: n, x0, f*. Suites: the named
sets of problems that tune and profile take.

Examples:

  optlab list optimizers

  optlab list optimizers aida_pq adam --cite

  optlab list problems --json

  optlab list suites
"""


@guarded
def list_(
    what: Annotated[str, typer.Argument(help="optimizers, problems or suites")],
    names: Annotated[list[str] | None, typer.Argument(help="Only these ids.")] = None,
    cite: Annotated[
        bool, typer.Option("--cite", help="Print BibTeX for the listed optimizers.")
    ] = False,
    json_out: Json = False,
    plugin: PluginFiles = None,
) -> None:
    from optlab import registry

    with registry.with_plugins(plugin_paths(plugin)):
        _list(what, names, cite, json_out)


def _id_cell(row: dict) -> str:
    """The id, marked when it comes from a plug-in (JSON: the "plugin" field says which)."""
    return f"{row['id']} (plug-in)" if row.get("plugin") else row["id"]


def _list(what: str, names: list[str] | None, cite: bool, json_out: bool) -> None:
    from optlab import api

    if what in ("optimizers", "optimizer", "opt"):
        rows = api.list_optimizers(names)
        if cite:
            out.print("\n\n".join(r["bibtex"] for r in rows if r["bibtex"]), highlight=False)
            return
        if json_out:
            print_json(rows)
            return
        table = Table(title="optimizers")
        for col in ("id", "reference", "defaults", "eps placement", "decay", "options"):
            table.add_column(col, overflow="fold")
        for r in rows:
            defaults = ", ".join(f"{k}={v:g}" for k, v in r["defaults"].items())
            options = ", ".join(f"{k}={v}" for k, v in r["static"].items())
            table.add_row(_id_cell(r), r["paper"], defaults, r["eps"], r["decay"], options)
        out.print(table)
    elif what in ("problems", "problem"):
        rows = api.list_problems(names)
        if json_out:
            print_json(rows)
            return
        table = Table(title="problems")
        for col in ("id", "aliases", "n", "x0", "f*", "kind", "tags", "summary"):
            table.add_column(col, overflow="fold")
        for r in rows:
            fs = "-" if r["f_star"] is None else f"{r['f_star']:.10g}"
            table.add_row(
                _id_cell(r),
                ", ".join(r["aliases"]),
                str(r["dim"]),
                r["x0"],
                fs,
                r["f_star_kind"],
                ", ".join(r["tags"]),
                r["summary"],
            )
        out.print(table)
    elif what in ("suites", "suite"):
        _list_suites(names, json_out)
    else:
        raise UsageError(f"cannot list {what!r}: choose 'optimizers', 'problems' or 'suites'")


def _list_suites(names: list[str] | None, json_out: bool) -> None:
    from optlab import suites

    rows = [suites.get_suite(n) for n in names] if names else suites.list_suites()
    if json_out:
        print_json([{"name": s.name, "summary": s.summary, "problems": s.problems} for s in rows])
        return
    table = Table(title="suites (or give a comma list of problems)")
    for col in ("suite", "problems", "summary"):
        table.add_column(col, overflow="fold")
    for s in rows:
        table.add_row(s.name, ", ".join(s.problems), s.summary)
    out.print(table)
