"""Errors a user can cause. The CLI prints them as one line and exits with code 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UsageError(ValueError):
    """Bad input: an unknown name, a value out of range, a refused output folder."""


def unknown(kind: str, name: str, known: Iterable[str]) -> UsageError:
    """An 'unknown NAME' error that names the close matches."""
    known = sorted(set(known))
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return UsageError(f"unknown {kind} {name!r}{hint} (see `optlab list {kind}s`)")
