"""``optlab info``: versions, backend, devices, float64."""

from __future__ import annotations

from rich.table import Table

from optlab.cli._console import guarded, out, print_json
from optlab.cli._options import Json

HELP = "Versions, JAX backend and devices, float64 and the compilation cache."


@guarded
def info(json_out: Json = False) -> None:
    from optlab._jax import environment  # JAX is imported here, not at `optlab --help`

    env = environment()
    if json_out:
        print_json(env)
        return
    table = Table(title="optlab environment", show_header=False)
    table.add_column("what")
    table.add_column("value")
    for name, version in env["versions"].items():
        table.add_row(name, str(version))
    for key in ("backend", "devices", "x64", "compilation_cache", "git"):
        value = env[key]
        table.add_row(key, ", ".join(value) if isinstance(value, list) else str(value))
    out.print(table)
