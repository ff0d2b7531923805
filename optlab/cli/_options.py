"""Option types shared by the commands, and parsing of shortcut values."""

from __future__ import annotations

from typing import Annotated

import typer

from optlab.errors import UsageError
from optlab.labels import parse_values

# shortcut flag -> hyperparameter name (docs/architecture.md#cli)
SHORTCUTS = {
    "lr": "learning_rate",
    "b1": "b1",
    "b2": "b2",
    "eps": "eps",
    "mu": "mu",
    "p": "p",
    "q": "q",
}

# Each option shared by several commands is declared once here; the defaults live in the
# config dataclasses (optlab.config), e.g. ``steps: Steps = RunConfig.steps``.
Values = Annotated[
    str | None,
    typer.Option(
        help="A value, a comma list a,b,c (a grid axis) or a range start:stop:num[:log|lin|dec] "
        "(dec: num linear steps in every decade, 1e-3:0.2:9:dec = 1e-3, 2e-3, ..., 0.1, 0.2)."
    ),
]
Lr = Annotated[str | None, typer.Option("--lr", "--eta", help="Learning rate(s).")]
Opts = Annotated[
    list[str] | None,
    typer.Option(
        "--opt", "-o", help="Optimizer id, or 'id[key=value,...]' (repeatable; default aida_pq)."
    ),
]
Dim = Annotated[int | None, typer.Option(help="Problem dimension (Andrei suite: default 100).")]
Steps = Annotated[int, typer.Option(help="Optimizer steps.")]
LogEvery = Annotated[
    int | None,
    typer.Option(
        help="Record every N steps (default: about 1000 records per run, fewer for many runs)."
    ),
]
Seeds = Annotated[int, typer.Option(help="Number of seeds 0..N-1 (vmapped).")]
RootSeed = Annotated[int, typer.Option(help="Root of the random keys.")]
RecordX = Annotated[
    bool,
    typer.Option(
        "--record-x",
        help="Write the iterates x_0.. to trace.csv (always for 1-D and 2-D problems).",
    ),
]
Schedule = Annotated[
    str,
    typer.Option(
        help="Learning-rate schedule for every optimizer: constant or inv_sqrt (lr/sqrt(t))."
    ),
]
Diagnostics = Annotated[
    bool,
    typer.Option("--diagnostics", help="Effective step sizes and the S1/S2 sums as trace columns."),
]
Out = Annotated[
    str | None,
    typer.Option("--out", help="Output folder (default runs/<command>-<problem>-<time>)."),
]
Overwrite = Annotated[
    bool, typer.Option("--overwrite", help="Replace the files of a non-empty --out folder.")
]
Dtype = Annotated[str, typer.Option("--dtype", help="float64 (default) or float32.")]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]
HpList = Annotated[
    list[str] | None,
    typer.Option("--hp", help="Any hyperparameter: name=v1,v2,... (repeatable)."),
]


def shortcut_values(lr, b1, b2, eps, mu, p, q) -> dict[str, str | None]:
    """The shortcut flags by name, for :func:`hyper_values`."""
    return {"lr": lr, "b1": b1, "b2": b2, "eps": eps, "mu": mu, "p": p, "q": q}


def hyper_values(shortcuts: dict[str, str | None], hp: list[str] | None) -> dict[str, list[float]]:
    """Shortcut flags and --hp entries -> {hyperparameter: values}."""
    values: dict[str, list[float]] = {}
    for flag, text in shortcuts.items():
        if text is not None:
            values[SHORTCUTS[flag]] = parse_values(text, f"--{flag}")
    for item in hp or []:
        if "=" not in item:
            raise UsageError(f"--hp {item!r}: expected name=value[,value...]")
        name, text = (s.strip() for s in item.split("=", 1))
        if name in values:
            raise UsageError(f"hyperparameter {name!r} is given twice")
        values[name] = parse_values(text, f"--hp {name}")
    return values


Resume = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Continue an interrupted run into the same --out: only the missing cells run.",
    ),
]
Shard = Annotated[
    str | None,
    typer.Option(
        "--shard",
        metavar="I/N",
        help="Run part I of N (0 <= I < N) of the cells; combine the parts with `optlab merge`.",
    ),
]
Yes = Annotated[
    bool, typer.Option("--yes", "-y", help="Start a large run without asking (see the estimate).")
]
