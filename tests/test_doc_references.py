"""No file in the repository refers to a document the repository does not have: every `*.md` named in
code, tests, docs and the README is in the repository (git's index), relative to its root or to the file
naming it."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIPPED_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "build", "dist", ".pytest_cache",
                ".hypothesis", ".mypy_cache", ".ruff_cache"}
TEXT_SUFFIXES = {".py", ".md", ".toml", ".graphql", ".txt", ".html", ".js", ".css", ".json", ".cfg", ".ini",
                 ".yml", ".yaml", ".sh", ".mako", ".ics", ""}
REFERENCE = re.compile(r"(?<![\w/.-])((?:\.{1,2}/)?(?:[\w.-]+/)*[\w.-]+\.md)(?:#[\w-]*)?\b")


def _git_files(*options: str) -> list[str] | None:
    """Paths git lists, relative to the root; None without git (e.g. an unpacked release)."""
    try:
        listed = subprocess.run(["git", "ls-files", *options, "-z"], cwd=ROOT, capture_output=True,
                                check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        return None
    return [name for name in listed if name]


def repository_files():
    """The repository's files: what git tracks or would track (ignored build output, such as fetched
    front-end assets, is not the project's), else every file outside the usual tool folders."""
    listed = _git_files("--cached", "--others", "--exclude-standard")
    candidates = list(ROOT.rglob("*")) if listed is None else [ROOT / name for name in listed]
    for path in sorted(candidates):
        parts = path.relative_to(ROOT).parts
        if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in parts[:-1]):
            continue
        if path.is_file() and path.suffix in TEXT_SUFFIXES and path.stat().st_size < 2_000_000:
            yield path


def references(text: str):
    """`*.md` names, leaving out web addresses (https://…/README.md names another site's file)."""
    for line in text.splitlines():
        for match in REFERENCE.finditer(line):
            word_start = max(line.rfind(" ", 0, match.start()), line.rfind("(", 0, match.start())) + 1
            if "://" in line[word_start:match.end()] or "*" in line[word_start:match.start()]:
                continue
            yield match.group(1)


def in_repository():
    """Whether a path is one of the repository's: in git's index (a file only on this disk is not in
    the repository others get), else on disk."""
    indexed = _git_files("--cached")
    if indexed is None:
        return Path.exists
    known = {Path(name).as_posix() for name in indexed}

    def holds(path: Path) -> bool:
        try:
            return path.resolve().relative_to(ROOT).as_posix() in known
        except ValueError:
            return False

    return holds


def dangling() -> list[str]:
    holds = in_repository()
    found = []
    for path in repository_files():
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        for name in references(text):
            if not (holds(ROOT / name) or holds(path.parent / name)):
                found.append(f"{path.relative_to(ROOT)}: {name}")
    return found


def test_every_document_referred_to_exists():
    missing = dangling()
    assert not missing, ("files refer to documents the repository does not have (point them at docs/api.md, "
                         "docs/design.md, docs/plugins.md or docs/operations.md, or write the document and git add it):\n  "
                         + "\n  ".join(missing))


LINK = re.compile(r"\]\(([^)\s]+?\.md)?#([\w-]+)\)")


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {slug(m) for m in re.findall(r"^#+ (.+)$", text, flags=re.M)}


def test_every_link_to_a_section_finds_it():
    broken = []
    for path in repository_files():
        if path.suffix != ".md":
            continue
        for target, anchor in LINK.findall(path.read_text()):
            document = (path.parent / target) if target else path
            if document.exists() and anchor not in anchors(document):
                broken.append(f"{path.relative_to(ROOT)}: {target}#{anchor}")
    assert not broken, "links to sections that do not exist (a heading was renamed?):\n  " + "\n  ".join(broken)


def test_the_check_finds_references():
    """Guards the check above against a pattern that matches nothing."""
    md = ".md"  # spelled apart so this file names no document itself
    assert list(references(f"see docs/api{md}#errors and (design{md}) but not https://x.example/README{md}")) == \
        [f"docs/api{md}", f"design{md}"]
    assert any(name == "docs/api.md" for path in repository_files() if path.name == "README.md"
               for name in references(path.read_text()))
