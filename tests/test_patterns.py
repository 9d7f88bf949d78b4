"""Patterns compiled on first use behave as the compiled pattern does, whether compiled
from their text or built from the code a previous start kept."""

from __future__ import annotations

import json
import marshal
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from introd.patterns import LazyPattern, _KeptCode, leading_literals

from introd.files import cache_file

from helpers import config_folder

# named groups, flags set by argument and inline, a back-reference, look-arounds, Unicode
SOURCES = [
    (r"(?P<user>[\w.+-]+)@(?P<host>[\w-]+(?:\.[\w-]+)+)", re.I),
    (r"(?m)^\s*(?:bonjour|grüß gott|hola)\b(?!,)", 0),
    (r"(['\"])(.*?)\1", re.S),
    (r"(?x) \b (?:could|would) \s+ you \s+ (?:please\s+)? introduce \b", re.I | re.U),
    (r"(?<=\[intro )[A-Z0-9]{6}(?=\])", 0),
]
TEXT = 'Grüß Gott\n"Tim" <TIM.walker@people.example>, COULD you please introduce [intro AB12CD]'


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CACHE_DIRECTORY", raising=False)
    return tmp_path / "cache" / "introd"


def _kept() -> _KeptCode:
    """A store of compiled code kept as the CLI keeps it, in the cache folder."""
    kept = _KeptCode()
    kept.keep(*cache_file(kept.file_name()))
    return kept


def _answers(pattern: re.Pattern[str]) -> list[object]:
    found = [m.groupdict() or m.groups() for m in pattern.finditer(TEXT)]
    return [found, pattern.sub("-", TEXT), pattern.groupindex, pattern.groups, pattern.flags]


class TestLazyPattern:
    def test_not_compiled_until_used(self) -> None:
        """Making one compiles nothing; the first match compiles it once."""
        lazy = LazyPattern(r"(\w+)@(\w+)", re.I)
        assert lazy._compiled is None
        assert lazy.pattern == r"(\w+)@(\w+)" and lazy.flags == re.I
        assert lazy._compiled is None
        first = lazy.compiled
        assert lazy.search("x TIM@HOST y") is not None
        assert lazy.compiled is first

    def test_every_method_answers_as_re_does(self) -> None:
        """match, fullmatch, search, finditer, findall, sub, subn and split agree with re."""
        source, text = r"b(\d)", "ab1 b2 c b3"
        lazy, real = LazyPattern(source), re.compile(source)
        assert lazy.match(text) == real.match(text) is None
        assert lazy.match(text, 1).group(0) == real.match(text, 1).group(0)  # type: ignore[union-attr]
        assert lazy.fullmatch("b7") is not None and lazy.fullmatch(text) is None
        assert lazy.search(text, 3).span() == real.search(text, 3).span()  # type: ignore[union-attr]
        assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in real.finditer(text)]
        assert lazy.findall(text) == real.findall(text) == ["1", "2", "3"]
        assert lazy.sub("-", text) == real.sub("-", text)
        assert lazy.sub(lambda m: m.group(1), text, 1) == "a1 b2 c b3"
        assert lazy.subn("-", text) == real.subn("-", text)
        assert lazy.split(text) == real.split(text)

    def test_bad_pattern_fails_on_first_use(self) -> None:
        """A broken pattern raises re.error where it is first used, as re.compile would."""
        lazy = LazyPattern(r"(unclosed")
        with pytest.raises(re.error):
            lazy.search("x")


_PATTERN_TEXTS = """
import gc, importlib, json, pkgutil
import introd
from introd.patterns import LazyPattern
for found in pkgutil.walk_packages(introd.__path__, "introd."):
    if not found.name.endswith("__main__"):
        importlib.import_module(found.name)
print(json.dumps(sorted(
    {(p.pattern, int(p.flags)) for p in gc.get_objects() if isinstance(p, LazyPattern)}
)))
"""


def test_pattern_texts_are_the_same_in_every_process() -> None:
    """A pattern's text is the key of its kept code: one written from a set (whose order
    changes with each start's hash seed) would be a new entry at every start, and the
    file would grow each time. Every pattern of every module, under two hash seeds."""
    texts = []
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", _PATTERN_TEXTS],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        texts.append(json.loads(out))
    assert len(texts[0]) > 200
    assert texts[0] == texts[1]


class TestKeptCode:
    """What compiling made is kept in the cache folder; the next start builds from it."""

    def test_a_kept_pattern_is_the_pattern_compiling_makes(self, cache: Path) -> None:
        first = _kept()
        compiled = [first.compile(source, flags) for source, flags in SOURCES]
        assert first.compiled_here == len(SOURCES)
        first.save()
        path = cache / first.file_name()
        assert path.stat().st_mode & 0o777 == 0o600
        later = _kept()
        built = [later.compile(source, flags) for source, flags in SOURCES]
        assert later.compiled_here == 0
        for (source, flags), one, other in zip(SOURCES, compiled, built, strict=True):
            fresh = re.compile(source, flags)
            assert other == fresh and one == fresh
            assert _answers(other) == _answers(fresh)

    def test_a_file_that_cannot_be_read_costs_only_compiling(self, cache: Path) -> None:
        cache.mkdir(parents=True)
        kept = _kept()
        path = cache / kept.file_name()
        for junk in (b"", b"\x00garbage", marshal.dumps([1, 2]), marshal.dumps({b"k": (1,)})):
            path.write_bytes(junk)
            reader = _kept()
            source, flags = SOURCES[0]
            assert reader.compile(source, flags) == re.compile(source, flags)
            assert reader.compiled_here == 1
            reader.save()
            assert _kept()._load().keys() == reader._load().keys() != set()

    def test_without_a_place_to_keep_it_nothing_is_kept(self, cache: Path) -> None:
        """The reading core alone (no CLI) touches no file."""
        alone = _KeptCode()
        source, flags = SOURCES[3]
        assert alone.compile(source, flags) == re.compile(source, flags)
        alone.save()
        assert not cache.exists() and alone._load() == {}

    def test_code_the_engine_refuses_is_compiled_again(self, cache: Path) -> None:
        kept = _kept()
        for source, flags in SOURCES:
            kept.compile(source, flags)
        kept.save()
        path = cache / kept.file_name()
        entries = marshal.loads(path.read_bytes())
        tampered = {}
        for key, blob in entries.items():
            flags, _code, *rest = marshal.loads(blob)
            tampered[key] = marshal.dumps((flags, [0, 1, 2], *rest))
        path.write_bytes(marshal.dumps(tampered))
        later = _kept()
        for source, flags in SOURCES:
            assert _answers(later.compile(source, flags)) == _answers(re.compile(source, flags))
        assert later.compiled_here == len(SOURCES)

    def test_nothing_is_kept_in_a_folder_others_may_write(self, cache: Path) -> None:
        cache.mkdir(parents=True)
        cache.chmod(0o777)
        kept = _kept()
        source, flags = SOURCES[1]
        assert kept.compile(source, flags) == re.compile(source, flags)
        kept.save()
        assert list(cache.iterdir()) == []

    def test_a_link_at_the_file_is_neither_read_nor_written_through(
        self, cache: Path, tmp_path: Path
    ) -> None:
        elsewhere = tmp_path / "elsewhere"
        donor = _kept()
        source, flags = SOURCES[2]
        donor.compile(source, flags)
        path = cache / donor.file_name()
        elsewhere.write_bytes(marshal.dumps(donor._load()))
        path.symlink_to(elsewhere)
        kept = _kept()
        kept.compile(source, flags)
        assert kept.compiled_here == 1  # the link was not read
        kept.save()
        assert not path.is_symlink() and elsewhere.read_bytes() == marshal.dumps(donor._load())

    def test_past_the_limit_only_what_this_process_used_is_written(
        self, cache: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(_KeptCode, "LIMIT", 3)
        old = _kept()
        for source, flags in SOURCES:
            old.compile(source, flags)
        old.save()
        kept = _kept()
        kept.compile(*SOURCES[0])
        kept.compile(r"new\d", 0)
        kept.save()
        later = _kept()
        assert len(later._load()) == 2
        later.compile(*SOURCES[0])
        later.compile(r"new\d", 0)
        assert later.compiled_here == 0

    def test_the_readers_read_alike_with_their_patterns_kept(
        self, cache: Path, tmp_path: Path
    ) -> None:
        """Two processes read the same mails: the first compiles the readers' patterns and
        keeps them, the second compiles none, and both read every mail alike."""
        mails = sorted((Path(__file__).parent / "data" / "request").glob("*.eml"))
        config = {
            "owner": {"name": "Mara Lindgren", "addresses": ["mara@lindgren-advisory.example"]},
            "from": "Mara Lindgren <mara@lindgren-advisory.example>",
            "reply_address": "intros@lindgren-advisory.example",
            "secret_file": str(tmp_path / "secret"),
            "state_path": str(tmp_path / "introd.db"),
            "auth": {"require": False},
            "contacts": ["contacts.yaml"],
        }
        path = config_folder(tmp_path, config, [])
        script = (
            "import contextlib, io, json, sys\n"
            "from introd import patterns\n"
            "from introd.cli import main\n"
            "out = []\n"
            "for mail in sys.argv[2:]:\n"
            "    with contextlib.redirect_stdout(io.StringIO()) as f:\n"
            "        code = main(['parse', '--config', sys.argv[1], mail])\n"
            "    if code:\n"
            "        sys.exit(f.getvalue())\n"
            "    out.append(f.getvalue())\n"
            "print(json.dumps({'compiled': patterns.KEPT.compiled_here, 'read': out}))\n"
        )
        runs = [
            json.loads(
                subprocess.run(
                    [sys.executable, "-c", script, str(path), *map(str, mails)],
                    capture_output=True,
                    text=True,
                    timeout=120,
                ).stdout
                or "{}"
            )
            for _ in range(2)
        ]
        assert runs[0]["compiled"] > 50 and runs[1]["compiled"] == 0
        assert runs[0]["read"] == runs[1]["read"]
        assert all('"kind": "request"' in r for r in runs[0]["read"][:1])


class TestLeadingLiterals:
    def test_words_that_open_every_match(self) -> None:
        """Zero-width assertions are skipped, branches and optional tails give each word."""
        lazy = LazyPattern(r"(?<!look )\b(?:refer(?:ring)?|Intro(?:duce)?)\s+to\b", re.I)
        assert leading_literals(lazy) == {"refer", "intro"}
        assert leading_literals(LazyPattern(r"\bget\s+in\b")) == {"get"}

    def test_none_when_a_branch_has_no_such_word(self) -> None:
        """A character class, a short word or a non-ASCII letter leaves nothing to test by."""
        assert leading_literals(LazyPattern(r"\b[êe]tre\b")) is None
        assert leading_literals(LazyPattern(r"\b(?:be|get)\s+introduced\b")) is None
        assert leading_literals(LazyPattern(r"\bmöchte\b")) is None
        assert leading_literals(LazyPattern(r"\w+")) is None

    def test_a_match_in_ascii_text_holds_one_of_them(self) -> None:
        """What the asking phrases are ruled out by: each match opens with one of the words."""
        from introd.reading.asks import _CUES, _WEAK_CUES

        text = (
            "Could you INTRODUCE me to Nina? Or put us in touch with her, or Link Me To "
            "anyone; I'd love to Meet her. Koppla ihop mig med Anna, kennst du Jan?"
        )
        checked = 0
        for cue in [*_CUES, *_WEAK_CUES]:
            starts = leading_literals(cue)
            for m in cue.finditer(text):
                if starts is not None:
                    assert any(text[m.start() :].lower().startswith(s) for s in starts)
                    checked += 1
        assert checked >= 4
