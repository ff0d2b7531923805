"""The ``name[key=value,...]`` syntax shared by ``--opt``, problem names and the CSV
``label`` column (benchopt style), and value lists ``a,b,c`` / ranges
``start:stop:num[:log|lin|dec]``.

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


SPACINGS = ("log", "lin", "dec")


def parse_values(text: str, what: str) -> list[float]:
    """Comma-separated values and ranges:

    * ``'1e-3,1e-2'``: two values;
    * ``'1e-8:1e-2:61'``: 61 values, log-spaced when both ends are positive, else evenly;
    * ``'START:STOP:NUM:log'`` / ``':lin'``: the same with the spacing named;
    * ``'START:STOP:NUM:dec'``: NUM evenly spaced values in every decade (m x 10^e with
      m = 1 + 9 i / NUM), kept where START <= value <= STOP. MaxVA's 20 learning rates
      (Zhu et al., arXiv:2006.11918, NQM: 1e-3, 2e-3, ..., 9e-2, 0.1, 0.2) are
      ``1e-3:0.2:9:dec``.
    """
    out: list[float] = []
    for part in text.split(","):
        part = part.strip()
        fields = part.split(":")
        if len(fields) == 1:
            out.append(parse_number(part, what))
            continue
        if len(fields) not in (3, 4):
            raise UsageError(f"{what}: {part!r}: a range is START:STOP:NUM[:log|lin|dec]")
        lo, hi = parse_number(fields[0], what), parse_number(fields[1], what)
        try:
            num = int(fields[2])
        except ValueError:
            raise UsageError(f"{what}: {part!r}: the count NUM must be an int") from None
        if num < 1:
            raise UsageError(f"{what}: {part!r}: the count must be >= 1")
        spacing = fields[3].strip() if len(fields) == 4 else "auto"
        if spacing not in SPACINGS + ("auto",):
            raise UsageError(f"{what}: {part!r}: the spacing must be one of {', '.join(SPACINGS)}")
        out.extend(_range(lo, hi, num, spacing, f"{what}: {part!r}"))
    return out


def _range(lo: float, hi: float, num: int, spacing: str, where: str) -> list[float]:
    if spacing in ("log", "dec") and not (lo > 0 and hi > 0):
        raise UsageError(f"{where}: {spacing} spacing needs positive ends")
    if spacing == "dec":
        if hi < lo:
            raise UsageError(f"{where}: dec spacing needs START <= STOP")
        return _per_decade(lo, hi, num)
    if spacing == "lin":
        return _spaced(lo, hi, num, log=False)
    return _spaced(lo, hi, num, log=lo > 0 and hi > 0)


def _per_decade(lo: float, hi: float, num: int) -> list[float]:
    """m x 10^e, m = 1 + 9 i / num (i < num), inside [lo, hi] up to rounding; each value is
    written through its decimal text (``3e-3``, not 0.0030000000000000005)."""
    out = []
    for e in range(math.floor(math.log10(lo)) - 1, math.floor(math.log10(hi)) + 1):
        for i in range(num):
            v = float(f"{1 + 9 * i / num:.12g}e{e}")
            if lo * (1 - 1e-12) <= v <= hi * (1 + 1e-12):
                out.append(v)
    return out


def _spaced(lo: float, hi: float, num: int, log: bool) -> list[float]:
    if num == 1:
        return [lo]
    if log:
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


def command_labels(runs: list[tuple[str, dict, set]]) -> list[str]:
    """One label per run of a command. ``runs`` holds (name, settings, shown): every setting of
    the run in display order, and the keys it must show (given on the command line or away
    from their default). A name's label carries every key shown by any of its runs and every
    key whose value differs among its runs, defaults included, so ``aida_pq[p=1,q=2]`` stands
    beside ``aida_pq[p=2,q=2]`` (never ``aida_pq`` beside ``aida_pq[p=2]``); each label reads
    back through ``--opt`` to the same run."""
    keys: dict[str, set] = {}
    seen: dict[str, dict] = {}
    for name, settings, shown in runs:
        keys.setdefault(name, set()).update(shown)
        first = seen.setdefault(name, settings)
        keys[name].update(k for k, v in settings.items() if first.get(k) != v)
    return [
        format_label(name, {k: v for k, v in settings.items() if k in keys[name]})
        for name, settings, _ in runs
    ]
