"""The ``name[key=value,...]`` syntax shared by ``--opt``, problem names and the CSV
``label`` column (benchopt style), and value lists ``a,b,c`` / ranges ``start:stop:num``.

Pure Python: the CLI parses with it before JAX is imported.
"""

from __future__ import annotations

import math

from optlab.errors import UsageError


def _split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside square brackets."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise UsageError(f"unbalanced ']' in {text!r}")
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth:
        raise UsageError(f"unbalanced '[' in {text!r}")
    parts.append("".join(cur))
    return parts


def parse_spec(text: str) -> tuple[str, dict[str, list[str]]]:
    """``'adam[learning_rate=[0.1,0.2],b1=0]'`` -> ``('adam', {'learning_rate': ['0.1', '0.2'],
    'b1': ['0']})``. Values stay strings: whether a key is numeric or structural is the
    optimizer's (or problem's) business."""
    text = text.strip()
    if "[" not in text:
        if "]" in text or not text:
            raise UsageError(f"cannot read {text!r} as NAME or NAME[key=value,...]")
        return text, {}
    if not text.endswith("]"):
        raise UsageError(f"cannot read {text!r}: settings go in one trailing [...]")
    name, inner = text[: text.index("[")], text[text.index("[") + 1 : -1]
    if not name:
        raise UsageError(f"cannot read {text!r}: no name before '['")
    settings: dict[str, list[str]] = {}
    for item in _split_top(inner) if inner.strip() else []:
        if "=" not in item:
            raise UsageError(f"cannot read {item!r} in {text!r}: expected key=value")
        key, value = (s.strip() for s in item.split("=", 1))
        if key in settings:
            raise UsageError(f"{key!r} is given twice in {text!r}")
        if value.startswith("[") and value.endswith("]"):
            values = [v.strip() for v in _split_top(value[1:-1])]
        else:
            values = [value]
        if not key or any(v == "" for v in values):
            raise UsageError(f"empty key or value in {text!r}")
        settings[key] = values
    return name.strip(), settings


def parse_number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not a number") from None
    if math.isnan(value):
        raise UsageError(f"{what}: NaN is not a value")
    return value


def parse_values(text: str, what: str) -> list[float]:
    """``'1e-3,1e-2'`` -> two values; ``'1e-8:1e-2:61'`` -> 61 values, log-spaced when both
    ends are positive, else evenly spaced."""
    out: list[float] = []
    for part in text.split(","):
        part = part.strip()
        if part.count(":") == 2:
            a, b, n = part.split(":")
            lo, hi = parse_number(a, what), parse_number(b, what)
            try:
                num = int(n)
            except ValueError:
                raise UsageError(
                    f"{what}: {part!r}: the count after the last ':' must be an int"
                ) from None
            if num < 1:
                raise UsageError(f"{what}: {part!r}: the count must be >= 1")
            out.extend(_spaced(lo, hi, num))
        else:
            out.append(parse_number(part, what))
    return out


def _spaced(lo: float, hi: float, num: int) -> list[float]:
    if num == 1:
        return [lo]
    if lo > 0 and hi > 0:
        a, b = math.log10(lo), math.log10(hi)
        values = [10 ** (a + (b - a) * i / (num - 1)) for i in range(num)]
    else:
        values = [lo + (hi - lo) * i / (num - 1) for i in range(num)]
    return _short(values, lo, hi)


def _short(values: list[float], lo: float, hi: float) -> list[float]:
    """Round interior points to 6 significant digits (more only if that would merge two of
    them), so that labels stay short *and* read back exactly; the ends are kept as given."""
    for digits in (6, 9, 12):
        rounded = [float(f"{v:.{digits}g}") for v in values]
        if len(set(rounded)) == len(set(values)):
            return [lo, *rounded[1:-1], hi]
    return [lo, *values[1:-1], hi]


def format_value(value) -> str:
    """Shortest text that reads back to the same value (``1.0`` -> ``1``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        v = float(value)
        if v.is_integer() and abs(v) < 1e16:
            return str(int(v))
        return repr(v)
    return str(value)


def format_label(name: str, settings: dict) -> str:
    """``adam`` + ``{'b1': 0.0}`` -> ``adam[b1=0]`` (settings in the given order)."""
    if not settings:
        return name
    inner = ",".join(f"{k}={format_value(v)}" for k, v in settings.items())
    return f"{name}[{inner}]"
