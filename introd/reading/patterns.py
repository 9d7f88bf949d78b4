"""Regular expressions compiled on first use, so that importing a reader compiles none.

The readers hold a few hundred patterns, some of them alternations of hundreds of
words; compiling them all at import was most of what ``introd parse`` spent on one
mail, and most of them are not needed for it (a request needs no answer patterns, a
reply no asking phrases). :class:`LazyPattern` stands where ``re.compile`` stood and
compiles on its first match; after that a call costs what one on the compiled pattern does.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

__all__ = ["LazyPattern"]


_METHODS = ("match", "fullmatch", "search", "finditer", "findall", "sub", "subn", "split")


class LazyPattern:
    """A ``re.Pattern[str]`` that is compiled the first time it is used.

    Once compiled, its methods are the compiled pattern's own bound methods, kept in
    slots: a match through a LazyPattern then costs what one through the pattern does
    (the readers make hundreds of thousands of them per thousand mails). Before that,
    a method slot is empty, and its first look-up compiles (``__getattr__``).
    """

    __slots__ = ("_compiled", "_flags", "_source", *_METHODS)

    def __init__(self, source: str, flags: int = 0) -> None:
        self._source = source
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        """The compiled pattern (compiled now when it was not yet)."""
        compiled = self._compiled
        if compiled is None:
            compiled = re.compile(self._source, self._flags)
            for name in _METHODS:
                setattr(self, name, getattr(compiled, name))
            self._compiled = compiled
        return compiled

    @property
    def pattern(self) -> str:
        """The pattern's source text, without compiling it."""
        return self._source

    @property
    def flags(self) -> int:
        """The flags the pattern is compiled with."""
        return self._flags

    if TYPE_CHECKING:
        # what the slots hold once compiled: ``re.Pattern[str]``'s methods

        def match(
            self, string: str, pos: int = 0, endpos: int = sys.maxsize
        ) -> re.Match[str] | None: ...

        def fullmatch(
            self, string: str, pos: int = 0, endpos: int = sys.maxsize
        ) -> re.Match[str] | None: ...

        def search(
            self, string: str, pos: int = 0, endpos: int = sys.maxsize
        ) -> re.Match[str] | None: ...

        def finditer(
            self, string: str, pos: int = 0, endpos: int = sys.maxsize
        ) -> Iterator[re.Match[str]]: ...

        def findall(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> list[Any]: ...

        def sub(
            self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0
        ) -> str: ...

        def subn(
            self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0
        ) -> tuple[str, int]: ...

        def split(self, string: str, maxsplit: int = 0) -> list[str | Any]: ...

    else:

        def __getattr__(self, name: str) -> Any:
            # only reached for an empty slot: a method's first use, before compiling
            if name in _METHODS:
                return getattr(self.compiled, name)
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"LazyPattern({self._source!r}, {self._flags!r})"
