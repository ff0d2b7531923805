"""The optimizer contract (``optlab check ID``): what every optimizer, built-in or plug-in,
must do to get the whole lab. The project's own contract tests call these same functions.

Rows (each passes or fails on its own; one failure does not hide the others):

descends        finite, and f(x_T) < f(x_0), on a convex quadratic with the defaults
zero_gradient   started at the minimiser (every gradient exactly 0): x and state stay finite
state           state tree, shapes and dtypes identical after steps 1 and 2 (float64, float32)
compiles_once   runs over a grid of learning rates, and one with every numeric hyperparameter
                changed, are traced once (new values, same program)
vmap            vmap over those grid points equals the separate runs (rtol 1e-12)
pytree          a pytree of leaves with different shapes (a vector, a matrix, a scalar)
float32         float32 parameters (and float state) stay float32
optax           the optlab.optax export equals the native step (rtol 1e-12)
inject          optax.inject_hyperparams(<export>)(learning_rate=...) equals the native run
reference       (with a reference) the user's NumPy transcription, to 1e-10 over 200 steps

The reference function's signature: ``reference(x0, grad, steps, hyper) -> array (steps, d)``
with ``x0`` a float64 vector, ``grad(x, t)`` the gradient at step t = 1..steps (NumPy in,
NumPy out), ``hyper`` the default numeric hyperparameters by name; it returns the iterates
x_1..x_steps. The problem is a convex quadratic with a fixed noise table added to the
gradient (so signs change); the optimizer runs with its default structural options.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from optlab._jax import in_float64
from optlab.checks import _rows
from optlab.checks._lab import TREE_X0, Failed, Lab, tree_as
from optlab.errors import UsageError

ROWS = {
    "descends": "finite and decreasing on a convex quadratic (defaults)",
    "zero_gradient": "finite when every gradient is zero (started at x*)",
    "state": "state shapes and dtypes stable over steps",
    "compiles_once": "compiles once for a grid of hyperparameter values",
    "vmap": "vmap over 3 grid points equals 3 separate runs",
    "pytree": "works on a pytree of leaves with different shapes",
    "float32": "float32 parameters stay float32",
    "optax": "optax export equals the native step",
    "inject": "optax.inject_hyperparams works",
    "reference": "equals the NumPy reference to 1e-10 over 200 steps",
}


@dataclass(frozen=True)
class Row:
    key: str
    title: str
    passed: bool
    detail: str

    def to_dict(self) -> dict:
        return {
            "check": self.key,
            "title": self.title,
            "passed": self.passed,
            "detail": self.detail,
        }


def _error_text(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:300]


CHECKS: dict[str, Callable[[Lab], str]] = {
    "descends": _rows.check_descends,
    "zero_gradient": _rows.check_zero_gradient,
    "state": _rows.check_state,
    "compiles_once": _rows.check_compiles_once,
    "vmap": _rows.check_vmap,
    "pytree": _rows.check_pytree,
    "float32": _rows.check_float32,
    "optax": _rows.check_optax,
    "inject": _rows.check_inject,
}


def run_row(lab: Lab, key: str, fn: Callable[[Lab], str]) -> Row:
    try:
        return Row(key, ROWS[key], True, fn(lab))
    except Failed as finding:
        return Row(key, ROWS[key], False, str(finding))
    except Exception as err:  # noqa: BLE001 - the optimizer's own error is the finding
        return Row(key, ROWS[key], False, _error_text(err))


@in_float64  # a library entry point: the caller's JAX settings are left alone
def check_entry(entry, reference: Callable | None = None, only=None) -> list[Row]:
    """Every row of the contract for one ``OptimizerEntry`` (``only``: a subset of keys)."""
    lab = Lab(entry)
    rows = [run_row(lab, k, fn) for k, fn in CHECKS.items() if only is None or k in only]
    if reference is not None:
        rows.append(run_row(lab, "reference", lambda lab: _rows.check_reference(lab, reference)))
    return rows


def load_reference(spec: str) -> Callable:
    """``FILE.py:FUNC`` -> the function (a UsageError naming the file when it is not there)."""
    from optlab.plugins import import_file

    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise UsageError(f"--reference {spec!r}: expected FILE.py:FUNCTION")
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise UsageError(f"--reference {path}: no such file")
    module, _ = import_file(resolved)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise UsageError(f"--reference {resolved}: no function {name!r}")
    return fn


__all__ = [
    "CHECKS",
    "ROWS",
    "TREE_X0",
    "Failed",
    "Lab",
    "Row",
    "check_entry",
    "load_reference",
    "tree_as",
]
