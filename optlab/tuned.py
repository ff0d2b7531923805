"""Reading ``best.csv`` (written by ``optlab tune``): each optimizer's tuned setting per problem,
its horizon, its seeds and the protocol that chose it. Used by ``run``, ``trajectory`` and
``profile`` with ``--tuned``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from optlab.errors import UsageError

NEEDED = {"problem", "optimizer", "spec", "label", "steps", "tune_seeds", "heldout_seeds"}


@dataclass(frozen=True)
class Tuned:
    table: pd.DataFrame
    steps: int
    protocol: str
    path: str


def read_best(path: str) -> Tuned:
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--tuned {path}: no such file (give the best.csv that tune wrote)")
    try:
        table = pd.read_csv(file, keep_default_na=False, dtype={"label": str})
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise UsageError(f"--tuned {path}: cannot read it as CSV ({e})") from None
    missing = NEEDED - set(table.columns)
    if missing:
        raise UsageError(f"--tuned {path}: not a best.csv (no {', '.join(sorted(missing))})")
    steps = sorted(set(int(s) for s in table["steps"]))
    if len(steps) != 1:
        raise UsageError(f"--tuned {path}: rows with different horizons {steps}")
    manifest = file.parent / "manifest.json"
    protocol = "tuned (see best.csv)"
    if manifest.is_file():
        protocol = json.loads(manifest.read_text()).get("protocol", {}).get("text", protocol)
    return Tuned(table, steps[0], protocol, str(file))


def parse_seeds(text: str) -> list[int]:
    """'3-7' -> [3..7], '0,1' -> [0, 1], 'none' -> []."""
    text = str(text).strip()
    if text in ("", "none"):
        return []
    if "-" in text:
        a, b = text.split("-", 1)
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def setting(tuned: Tuned, problem: str, spec: str, options: str | None = None) -> dict:
    """The row of ``spec`` (an --opt as given to tune, or an optimizer id) on ``problem``;
    with ``options`` (JSON, as tune writes them) the problem's options must match too."""
    rows = tuned.table[tuned.table["problem"] == problem]
    if rows.empty:
        raise UsageError(f"--tuned {tuned.path} has no tuned settings for problem {problem}")
    match = rows[rows["spec"] == spec]
    if match.empty:
        match = rows[rows["optimizer"] == spec]
    if len(match) != 1:
        have = ", ".join(rows["spec"])
        raise UsageError(
            f"--tuned {tuned.path}: no single tuned setting of {spec} on {problem} (tuned: {have})"
        )
    row = match.iloc[0].to_dict()
    if options is not None and row.get("problem_options", options) != options:
        raise UsageError(
            f"--tuned {tuned.path}: {problem} was tuned with options {row['problem_options']}, "
            f"not {options}; tune this problem as given"
        )
    return row


def specs_for(tuned: Tuned, problem: str, wanted) -> list[str]:
    """The optimizers to draw: the ones asked for, or every one tuned on ``problem``."""
    if not (tuned.table["problem"] == problem).any():
        have = ", ".join(dict.fromkeys(tuned.table["problem"]))
        raise UsageError(f"--tuned {tuned.path} has no settings for {problem} (it has: {have})")
    if wanted:
        return list(wanted)
    return list(tuned.table[tuned.table["problem"] == problem]["spec"])


def evaluation_seeds(row: dict) -> list[int]:
    """Seeds the choice never read when the problem has them, else the tuning seeds."""
    return parse_seeds(row["heldout_seeds"]) or parse_seeds(row["tune_seeds"])


def horizon(tuned: Tuned, steps: int | None) -> int:
    """The tuned horizon; a different --steps is refused (a setting is tuned for its T)."""
    if steps is not None and steps != tuned.steps:
        raise UsageError(
            f"--steps {steps}: the settings in {tuned.path} were tuned for {tuned.steps} steps; "
            "leave --steps out or tune again for this horizon"
        )
    return tuned.steps


def untuned_protocol(seeds: int) -> str:
    return (
        "Untuned: every optimizer at the hyperparameters given (defaults otherwise); "
        f"{seeds} seed{'s' if seeds != 1 else ''}."
    )


def for_command(path: str, problem: str, optimizers, steps: int | None, seeds: int, extra=()):
    """``--tuned`` for run and trajectory: (optimizer labels, steps, protocol text). Every
    optimizer asked for (or every one tuned on the problem) at the label tune chose, for the
    horizon it was chosen for."""
    from optlab import api, tune

    best = read_best(path)
    resolved = api.resolve_problem(problem, tuple(extra))
    pid, options = resolved.name, tune.options_text(resolved)
    chosen = []
    for spec in specs_for(best, pid, optimizers):
        row = setting(best, pid, spec, options)
        if not row["label"]:
            raise UsageError(
                f"--tuned {path}: every configuration of {spec} diverged on {pid}; leave it out"
            )
        chosen.append(row["label"])
    horizon_steps = horizon(best, steps)
    protocol = (
        f"{best.protocol.rstrip('.')}. Drawn: each optimizer at the setting tune chose for "
        f"{pid} ({path}), {horizon_steps} steps, {seeds} seed{'s' if seeds != 1 else ''}."
    )
    return tuple(chosen), horizon_steps, protocol
