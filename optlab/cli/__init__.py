"""The ``optlab`` command line (Typer). Commands are thin: flags -> config -> one api call.

JAX, pandas and matplotlib are imported inside the commands so ``optlab --help`` is instant.
"""

from __future__ import annotations

import typer

from optlab.cli import check as _check
from optlab.cli import info as _info
from optlab.cli import list_ as _list
from optlab.cli import merge as _merge
from optlab.cli import profile as _profile
from optlab.cli import reproduce as _reproduce
from optlab.cli import rerun as _rerun
from optlab.cli import run as _run
from optlab.cli import stability as _stability
from optlab.cli import trajectory as _trajectory
from optlab.cli import tune as _tune
from optlab.cli._console import literal_help
from optlab.cli._process import configure_process, environment_notes

app = typer.Typer(
    name="optlab",
    help="A lab for adaptive optimizers on toy problems, compiled with JAX.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


@app.callback()
def _process_settings() -> None:
    """Runs before every command: the command line owns its process (float64, devices,
    compilation cache); importing optlab as a library never does this."""
    from optlab.cli._console import err

    for note in environment_notes():
        err.print(note, markup=False, highlight=False, soft_wrap=True)
    configure_process()


app.command("run", help=_run.HELP, rich_help_panel="Run")(_run.run)
app.command("trajectory", help=_trajectory.HELP, rich_help_panel="Run")(_trajectory.trajectory)
app.command("merge", help=_merge.HELP, rich_help_panel="Run")(_merge.merge)
app.command("rerun", help=_rerun.HELP, rich_help_panel="Run")(_rerun.rerun)
app.command("tune", help=_tune.HELP, rich_help_panel="Compare")(_tune.tune)
app.command("profile", help=_profile.HELP, rich_help_panel="Compare")(_profile.profile)
app.command("list", help=_list.HELP, rich_help_panel="Inspect")(_list.list_)
app.command("info", help=_info.HELP, rich_help_panel="Inspect")(_info.info)
app.command("stability", help=_stability.HELP, rich_help_panel="Analyse")(_stability.stability)
app.command("reproduce", help=_reproduce.HELP, rich_help_panel="Analyse")(_reproduce.reproduce)
app.command("check", help=_check.HELP, rich_help_panel="Analyse")(_check.check)
literal_help(app)


def main() -> None:
    app()
