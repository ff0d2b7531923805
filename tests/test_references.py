"""The repository explains itself: every reference to a Markdown file resolves.

Code, docstrings, messages, README, CONTRIBUTING, CHANGELOG and docs/ may point to a
``*.md`` file (optionally with ``#anchor``, or several: ``#a, #b``); each must exist in the
repository (relative to its root, or to the referring file's folder for links inside
Markdown), and each anchor must be a heading of that file. Papers are named by authors and
arXiv id, never by the numbers of the project's input files: no "seed 000"-style text in
``optlab/`` and ``problems/``, nor in what ``optlab list`` prints.

sweep-refs: skip (this file spells out the patterns the citation sweep rewrites)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optlab.cli import app

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".git", ".venv", "runs", "build", "dist", "__pycache__", ".ruff_cache"}
SUFFIXES = {".py", ".md", ".toml"}
# a path ending in .md, not part of a URL or of a longer path, with optional anchors
MD_REF = re.compile(r"(?<![\w./:-])((?:[\w.-]+/)*[\w.-]+\.md)\b((?:#[\w-]+)(?:,\s*#[\w-]+)*)?")
SAME_FILE_LINK = re.compile(r"\]\(#([\w-]+)\)")
SEED_NUMBER = re.compile(r"\bseeds?[\s-]*0\d\d", re.IGNORECASE)
SPEC_NAMES = ("design", "optimizers", "problems", "stability", "ecosystem")


def repository_files():
    for path in sorted(ROOT.rglob("*")):
        rel = path.relative_to(ROOT)
        if any(p in SKIP_DIRS or p.endswith(".egg-info") for p in rel.parts):
            continue
        if path.is_file() and path.suffix in SUFFIXES and path != Path(__file__).resolve():
            yield path


def slugify(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces -> hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(md: Path) -> set[str]:
    slugs, fenced = set(), False
    for line in md.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            slugs.add(slugify(line.lstrip("#")))
    return slugs


def references():
    """(referring file, line number, target path text, [anchors]) for every .md reference."""
    for path in repository_files():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in MD_REF.finditer(line):
                tags = re.findall(r"#([\w-]+)", m.group(2) or "")
                yield path, n, m.group(1), tags
            if path.suffix == ".md":
                for tag in SAME_FILE_LINK.findall(line):
                    yield path, n, path.name, [tag]


def resolve(path: Path, target: str) -> Path | None:
    bases = [ROOT, path.parent] if path.suffix == ".md" else [ROOT]
    for base in bases:
        candidate = (base / target).resolve()
        if candidate.is_file() and ROOT in candidate.parents:
            return candidate
    return None


def test_every_markdown_reference_resolves_to_a_file_and_heading():
    bad = []
    count = 0
    for path, n, target, tags in references():
        count += 1
        where = f"{path.relative_to(ROOT)}:{n}"
        found = resolve(path, target)
        if found is None:
            bad.append(f"{where}: {target} is not a file in the repository")
            continue
        missing = [t for t in tags if t not in anchors(found)]
        bad += [f"{where}: {target}#{t} is not a heading of {target}" for t in missing]
    assert count > 50, "the scan found almost no references: the pattern is broken"
    assert not bad, "\n".join(bad)


def test_the_scan_sees_what_it_must_refuse(tmp_path):
    """The checks can fail: a specification name, a missing anchor and a seed number are
    caught in a file shaped like the repository's."""
    bad = tmp_path / "x.py"
    spec = SPEC_NAMES[1] + ".md"
    bad.write_text(f'"""As {spec} section 2.1 says; docs/stability.md#nowhere; seed {0:03d}."""\n')
    refs = [(m.group(1), m.group(2)) for m in MD_REF.finditer(bad.read_text())]
    assert refs == [(spec, None), ("docs/stability.md", "#nowhere")]
    assert resolve(ROOT / "optlab" / "x.py", spec) is None
    assert "nowhere" not in anchors(ROOT / "docs" / "stability.md")
    assert SEED_NUMBER.search(bad.read_text())
    assert not MD_REF.search("see https://github.com/google-deepmind/optax/blob/main/README.md")


def test_docs_exist_and_have_their_sections():
    for name in ("README", "architecture", "optimizers", "problems", "stability"):
        assert (ROOT / "docs" / f"{name}.md").is_file()
    assert {"epsilon-placements", "identities", "aida_pq", "aida_k"} <= anchors(
        ROOT / "docs" / "optimizers.md"
    )
    assert {"findings", "statuses", "closed-forms"} <= anchors(ROOT / "docs" / "stability.md")


def test_every_registered_optimizer_and_problem_is_documented():
    """docs/optimizers.md has a section per optimizer id; docs/problems.md names every problem."""
    from optlab import registry

    sections = anchors(ROOT / "docs" / "optimizers.md")
    missing = [oid for oid in registry.optimizer_ids() if oid not in sections]
    text = (ROOT / "docs" / "problems.md").read_text(encoding="utf-8")
    missing += [pid for pid in registry.problem_ids() if f"`{pid}`" not in text]
    assert not missing, f"not in docs/: {missing}"


def test_no_seed_numbers_in_the_packages():
    bad = []
    for folder in ("optlab", "problems"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if SEED_NUMBER.search(line):
                    bad.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "args",
    [
        ["list", "optimizers"],
        ["list", "problems"],
        ["list", "optimizers", "--cite"],
        ["list", "optimizers", "--json"],
        ["list", "problems", "--json"],
        ["run", "fun5", "--opt", "aida", "--steps", "1"],
    ],
)
def test_what_optlab_prints_names_no_seed_numbers_and_no_missing_documents(args):
    """The tables may fold a cell over two lines (the console width is fixed when the console
    is created), so documents are resolved in the unfolded outputs (JSON, BibTeX, messages);
    the JSON listings carry every field the tables show."""
    res = CliRunner().invoke(app, args, env={"COLUMNS": "400"})
    text = res.output
    if args[0] == "list":
        assert res.exit_code == 0, text
        if "--json" in args:
            json.loads(res.stdout)  # whole, so nothing was folded
    else:
        assert res.exit_code == 2 and "aida_pq" in text and "aida_k" in text, text
    assert not SEED_NUMBER.search(text), SEED_NUMBER.search(text).group(0)
    if "--json" in args or "--cite" in args or args[0] == "run":
        for m in MD_REF.finditer(text):
            assert resolve(ROOT / "optlab" / "cli.py", m.group(1)) is not None, m.group(0)
