"""``optlab check ID``: the optimizer contract, on a built-in or a plug-in optimizer."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from optlab.cli._console import err, guarded, out, print_json, with_progress
from optlab.cli._options import Json
from optlab.cli._plugins import PluginFiles, plugin_paths
from optlab.errors import UsageError

HELP = """Check that optimizers keep the contract every optlab optimizer keeps; exit 0 when all
rows pass, 1 otherwise. Rows: descends (finite and decreasing on a convex quadratic with the
defaults), zero_gradient (finite when g = 0), state (shapes and dtypes stable over steps),
compiles_once (one trace for a grid of hyperparameter values), vmap (equals separate runs), pytree
(leaves of different shapes), float32 (stays float32), optax (the export equals the native
step), inject (optax.inject_hyperparams works) and, with --reference, reference (the user's
NumPy transcription reference(x0, grad, steps, hyper) -> (steps, d) iterates, to 1e-10 over
200 steps).

Examples:

  optlab check adam

  optlab check lion --plugin examples/lion.py --reference examples/lion.py:reference

  optlab check --all --json
"""


def _check_all(entries, reference, progress=None) -> dict:
    from optlab import checks

    results = {}
    for i, entry in enumerate(entries):
        results[entry.id] = checks.check_entry(entry, reference)
        if progress is not None:
            progress((i + 1) / len(entries))
    return results


def _table(results: dict) -> Table:
    several = len(results) > 1
    table = Table(box=box.SIMPLE_HEAD, title="optimizer contract")
    if several:
        table.add_column("optimizer")
    for col in ("check", "result", "detail"):
        table.add_column(col, overflow="fold")
    for oid, rows in results.items():
        for row in rows:
            verdict = "[green]pass[/]" if row.passed else "[bold red]FAIL[/]"
            cells = [row.key, verdict, escape(row.detail)]
            table.add_row(*([oid] if several else []), *cells)
    return table


@guarded
def check(
    ids: Annotated[list[str] | None, typer.Argument(help="Optimizer ids.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every registered optimizer.")] = False,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            metavar="FILE.py:FUNC",
            help="A NumPy transcription reference(x0, grad, steps, hyper) -> (steps, d) "
            "iterates to compare with (one optimizer).",
        ),
    ] = None,
    plugin: PluginFiles = None,
    json_out: Json = False,
) -> None:
    from optlab import checks, registry

    if all_ == bool(ids):
        raise UsageError("name optimizer ids, or pass --all (not both)")
    with registry.with_plugins(plugin_paths(plugin)):
        entries = [registry.optimizer_entry(n) for n in (registry.optimizer_ids() if all_ else ids)]
        if reference is not None and len(entries) != 1:
            raise UsageError("--reference goes with exactly one optimizer")
        ref = checks.load_reference(reference) if reference is not None else None
        call = partial(_check_all, entries, ref)
        results = with_progress(call, "checking", err.is_terminal and not json_out)
    passed = all(row.passed for rows in results.values() for row in rows)
    if json_out:
        print_json(
            {
                "passed": passed,
                "optimizers": [
                    {
                        "id": oid,
                        "passed": all(r.passed for r in rows),
                        "rows": [r.to_dict() for r in rows],
                    }
                    for oid, rows in results.items()
                ],
            }
        )
    else:
        out.print(_table(results))
        failed = [oid for oid, rows in results.items() if not all(r.passed for r in rows)]
        summary = f"failed: {', '.join(failed)}" if failed else "all checks passed"
        out.print(escape(summary), highlight=False)
    raise typer.Exit(0 if passed else 1)
