"""`introd templates copy|diff`: start an override from the built-in files, and see later
how it differs from the built-in of the installed version.

`copy` writes a first line that records what the file was copied from:

    {# copied from introd 0.1.0, built-in fr/optin_target.txt.j2 sha256 3f2a9c1d0e4b5a67 #}

`templates check` compares that hash with the built-in file installed now and warns
(without failing) when the built-in has changed since, so an owner learns after an upgrade
that the wording they started from was improved.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .config import Config
from .exceptions import UsageError
from .render import TEMPLATE_NAMES, builtin_dir, language_folders

LAYOUT = "layout"
_HEADER = re.compile(
    r"^\{# copied from introd (?P<version>\S+), built-in (?P<file>\S+) "
    r"sha256 (?P<sha>[0-9a-f]{16}) #\}\n?"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Pair:
    """One file of an override and the built-in file it corresponds to."""

    override: Path
    builtin: str  # relative to the built-in templates: 'fr/optin_target.txt.j2'


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def header(builtin: str) -> str:
    """The first line `copy` writes: where the file came from, and the built-in's hash."""
    sha = digest((builtin_dir() / builtin).read_bytes())
    return f"{{# copied from introd {__version__}, built-in {builtin} sha256 {sha} #}}\n"


def _files(name: str) -> list[str]:
    if name == LAYOUT:
        return ["layout.html.j2"]
    return [f"{name}.subject.j2", f"{name}.txt.j2"]


def _check_name(name: str, lang: str | None) -> str:
    if name != LAYOUT and name not in TEMPLATE_NAMES:
        raise UsageError(
            f"unknown template {name!r}; see `introd templates list` "
            "(or `layout` for the HTML layout)"
        )
    if lang is None:
        return ""
    folder = lang.strip().lower().replace("_", "-")
    if not language_folders(folder) or language_folders(folder)[0] != folder:
        raise UsageError(f"not a language: {lang!r} (use a code like fr, de or pt-br)")
    return "" if folder == "en" else folder


def _builtin_for(folder: str, filename: str) -> str:
    """The built-in file behind FOLDER/FILENAME: that language's, else the English one (the
    start of a translation into a language introd does not ship)."""
    if folder and (builtin_dir() / folder / filename).is_file():
        return f"{folder}/{filename}"
    return filename


def _templates_dir(cfg: Config) -> Path:
    if cfg.templates_dir is None:
        raise UsageError(
            f"{cfg.path}: no templates_dir is set; add `templates_dir: templates` "
            "(a folder beside the config file) and run this again"
        )
    return Path(cfg.templates_dir)


def copy_template(
    cfg: Config, name: str, lang: str | None = None, *, force: bool = False
) -> list[Path]:
    """Copy NAME's built-in files (for LANG) into templates_dir; the text file (or the layout)
    comes last, as the one to edit. Refuses to overwrite without FORCE."""
    folder = _check_name(name, lang)
    base = _templates_dir(cfg)
    target = base / folder if folder else base
    pairs = [Pair(override=target / f, builtin=_builtin_for(folder, f)) for f in _files(name)]
    existing = [p.override for p in pairs if p.override.exists()]
    if existing and not force:
        raise UsageError(
            f"{existing[0]}: already exists; `introd templates diff {name}"
            f"{' --lang ' + folder if folder else ''}` shows how it differs from "
            "the built-in, --force overwrites it"
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
        for pair in pairs:
            text = (builtin_dir() / pair.builtin).read_text(encoding="utf-8")
            pair.override.write_text(header(pair.builtin) + text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{target}: cannot write there: {exc.strerror or exc}") from None
    return [p.override for p in pairs]


def _pairs(cfg: Config, name: str, lang: str | None) -> list[Pair]:
    """The files of NAME's override in templates_dir for LANG, each with its built-in."""
    folder = _check_name(name, lang)
    base = _templates_dir(cfg)
    target = base / folder if folder else base
    names = _files(name) + ([] if name == LAYOUT else [f"{name}.html.j2"])
    pairs = []
    for filename in names:
        path = target / filename
        if path.is_file():
            found = _HEADER.match(path.read_text(encoding="utf-8"))
            pairs.append(
                Pair(
                    override=path,
                    builtin=found["file"] if found else _builtin_for(folder, filename),
                )
            )
    return pairs


def diff_template(cfg: Config, name: str, lang: str | None = None) -> list[str]:
    """Unified diff lines from the built-in files of the installed version to NAME's override
    (its `copied from` line left out); empty when they say the same."""
    pairs = _pairs(cfg, name, lang)
    if not pairs:
        folder = _check_name(name, lang)
        where = _templates_dir(cfg) / folder if folder else _templates_dir(cfg)
        raise UsageError(
            f"{where}: no override of {name} there; `introd templates copy {name}"
            f"{' --lang ' + folder if folder else ''}` starts one"
        )
    out: list[str] = []
    for pair in pairs:
        mine = pair.override.read_text(encoding="utf-8")
        mine = _HEADER.sub("", mine, count=1)
        source = builtin_dir() / pair.builtin
        theirs = source.read_text(encoding="utf-8") if source.is_file() else ""
        out += difflib.unified_diff(
            theirs.splitlines(keepends=True),
            mine.splitlines(keepends=True),
            fromfile=f"built-in {pair.builtin} (introd {__version__})",
            tofile=str(pair.override),
        )
    return [
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in out
    ]


def outdated(cfg: Config) -> Iterator[str]:
    """A warning for every file in templates_dir copied from a built-in that has changed
    since (or is gone): one line each, with the file, what changed and the fix."""
    base = cfg.templates_dir
    if base is None or not Path(base).is_dir():
        return
    for path in sorted(Path(base).rglob("*.j2")):
        try:
            found = _HEADER.match(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue  # reported by the check itself
        if not found:
            continue
        name, lang = _name_and_lang(path.relative_to(base).as_posix())
        again = f"introd templates diff {name}{' --lang ' + lang if lang else ''}"
        source = builtin_dir() / found["file"]
        if not source.is_file():
            yield (
                f"{path}:1: warning: copied from built-in {found['file']} of introd "
                f"{found['version']}, which introd {__version__} no longer has; the file "
                "still works, delete its first line to stop this warning"
            )
            continue
        if digest(source.read_bytes()) != found["sha"]:
            yield (
                f"{path}:1: warning: the built-in {found['file']} has changed since this "
                f"file was copied from introd {found['version']}; `{again}` shows the "
                "differences; take over what you like, then make line 1 "
                f"{header(found['file']).strip()}"
            )


def _name_and_lang(rel: str) -> tuple[str, str]:
    folder, _, filename = rel.rpartition("/")
    return filename.split(".")[0], folder
