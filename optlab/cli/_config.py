"""``--config FILE.toml`` for any command: one decorator, ``@configurable``.

The file's keys are the command's long option names (``steps``, ``log-every`` or
``log_every``, ``lr`` or its alias ``eta``, ``out``) and its arguments (``problem``). Values
keep their TOML types: integers for integer options, numbers for float options, booleans
for flags, strings (or numbers, or lists of them: a comma list) for value options, a list of
strings for repeatable options (``opt = ["adam", "sgd"]``) and, for ``name=value`` options
such as ``--hp``, also a table (``hp = {momentum = [0.5, 0.9]}``).

Precedence: command line > file > the command's defaults. The file is read by an eager
callback that fills Click's ``default_map`` before the other options are parsed, so an
option given on the command line wins and one given nowhere keeps its default. An unknown
key or a value of the wrong type is one line naming the key and the file, exit 2.

:func:`resolved_options` gives, inside the command, every option's final value under its
long name: the command records it in manifest.json, where it can be pasted back into a file.
"""

from __future__ import annotations

import contextvars
import difflib
import functools
import inspect
import types
import typing
from pathlib import Path
from typing import Annotated, Any

import typer

from optlab.cli._console import fail

NOT_CONFIGURABLE = {"config", "help"}
_RESOLVED: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "optlab_resolved_options", default=None
)


def _read_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the backport, a dependency there
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            fail(f"--config {path}: reading TOML needs Python >= 3.11 or `pip install tomli`")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        fail(f"--config {path}: no such file")
    except IsADirectoryError:
        fail(f"--config {path}: is a folder, not a TOML file")
    except tomllib.TOMLDecodeError as err:
        fail(f"--config {path}: not valid TOML ({err})")


def long_names(command) -> dict[str, Any]:
    """Every key a config file may use for ``command`` -> its Click parameter."""
    names = {}
    for param in command.params:
        if param.name in NOT_CONFIGURABLE or param.name.startswith("_"):
            continue
        opts = [o[2:] for o in (*param.opts, *param.secondary_opts) if o.startswith("--")]
        if param.param_type_name == "argument":
            opts = [param.name]
        for name in opts:
            names[name] = param
    return names


def _scalar_text(value, key: str, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        fail(f"{where}: {key} must be a string or a number, got {value!r}")
    return value if isinstance(value, str) else repr(value)


def value_kind(annotation) -> str:
    """ "bool", "int", "float", "list" or "str": what a parameter takes, from its
    annotation (``Annotated[int | None, typer.Option(...)]`` -> "int")."""
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if typing.get_origin(annotation) is list:
        return "list"
    for kind in (bool, int, float):
        if annotation is kind:
            return kind.__name__
    return "str"


def _convert(kind: str, value, key: str, where: str):
    """A TOML value -> what the parameter takes on the command line, or exit 2."""
    if kind == "bool":
        if not isinstance(value, bool):
            fail(f"{where}: {key} must be true or false, got {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            fail(f"{where}: {key} must be an integer, got {value!r}")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(f"{where}: {key} must be a number, got {value!r}")
        return float(value)
    if kind == "list":
        if isinstance(value, dict):  # {name = values} for name=value options such as --hp
            return [f"{k}={_joined(v, f'{key}.{k}', where)}" for k, v in value.items()]
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in items):
            fail(f"{where}: {key} must be a string or a list of strings, got {value!r}")
        return items
    return _joined(value, key, where)


def _joined(value, key: str, where: str) -> str:
    """A string, a number, or a list of them as the comma list the CLI parses."""
    if isinstance(value, list):
        return ",".join(_scalar_text(v, key, where) for v in value)
    return _scalar_text(value, key, where)


def _loader(kinds: dict[str, str]):
    """The eager callback of --config for a command whose parameters take ``kinds``."""

    def load(ctx: typer.Context, value: str | None):
        if value is None:
            return value
        path = Path(value)
        where = f"--config {path}"
        names = long_names(ctx.command)
        defaults: dict[str, Any] = {}
        for raw_key, raw in _read_toml(path).items():
            key = raw_key if raw_key in names else raw_key.replace("_", "-")
            target = names.get(key)
            if target is None:
                close = difflib.get_close_matches(key, list(names), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                fail(f"{where}: unknown key {raw_key!r}{hint}")
            if target.name in defaults:
                fail(f"{where}: {raw_key!r} sets an option that another key sets too")
            defaults[target.name] = _convert(kinds[target.name], raw, raw_key, where)
        ctx.default_map = {**(ctx.default_map or {}), **defaults}
        ctx.meta["optlab.config_file"] = str(path)
        return value

    return load


def config_option(kinds: dict[str, str]):
    """The ``--config`` option's annotation for a command whose parameters take ``kinds``."""
    return Annotated[
        str | None,
        typer.Option(
            "--config",
            is_eager=True,
            callback=_loader(kinds),
            metavar="FILE.toml",
            help="Options from a TOML file (keys: long option names); the command line wins.",
        ),
    ]


def _resolved(ctx) -> dict:
    options = {}
    for name, param in long_names(ctx.command).items():
        value = ctx.params.get(param.name)
        primary = param.name if param.param_type_name == "argument" else None
        if primary is None:
            primary = next(o[2:] for o in param.opts if o.startswith("--"))
        empty = value is None or (isinstance(value, (list, tuple)) and not value)
        if name == primary and not empty:
            options[name] = list(value) if isinstance(value, tuple) else value
    return {"config_file": ctx.meta.get("optlab.config_file"), "options": options}


def resolved_options() -> dict:
    """Inside a ``@configurable`` command: {"config_file": path or None, "options": {long
    name: final value}} (command line > file > defaults; unset options left out)."""
    value = _RESOLVED.get()
    if value is None:
        raise RuntimeError("resolved_options() is only available inside a @configurable command")
    return value


def configurable(command):
    """Give a Typer command ``--config FILE.toml`` (apply it above ``@guarded``)."""
    sig = inspect.signature(command, eval_str=True)  # our __signature__ is used as is
    kinds = {name: value_kind(p.annotation) for name, p in sig.parameters.items()}
    extra = [
        inspect.Parameter(
            "config",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=config_option(kinds),
        ),
        inspect.Parameter("_ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context),
    ]

    @functools.wraps(command)
    def wrapper(*args, _ctx, config=None, **kwargs):
        token = _RESOLVED.set(_resolved(_ctx))
        try:
            return command(*args, **kwargs)
        finally:
            _RESOLVED.reset(token)

    params = list(sig.parameters.values())
    wrapper.__signature__ = sig.replace(parameters=[*params, *extra])
    return wrapper
