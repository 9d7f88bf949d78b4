"""Patterns compiled on first use behave as the compiled pattern does."""

from __future__ import annotations

import re

import pytest

from introd.patterns import LazyPattern, leading_literals


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
