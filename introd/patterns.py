"""Regular expressions compiled on first use, so that importing a reader compiles none.

The readers hold a few hundred patterns, some of them alternations of hundreds of
words; compiling them all at import was most of what ``introd parse`` spent on one
mail, and most of them are not needed for it (a request needs no answer patterns, a
reply no asking phrases). :class:`LazyPattern` stands where ``re.compile`` stood and
compiles on its first match; after that a call costs what one on the compiled pattern does.

What compiling a pattern produces (its ``_sre`` code) can be kept from one start to the
next (the CLI keeps it in its cache folder), as Python keeps ``__pycache__``: a
start then builds the patterns it needs from that code instead of parsing them again,
most of what reading a first mail cost. See :class:`_KeptCode`.

The one e-mail address pattern every reader uses (:data:`ADDRESS`) lives here too, with
:func:`holds_address`: the name cleaner (``introd.names``) and the address routine
(``introd.reading.addresses``) both need it, and this module imports nothing of introd.
"""

from __future__ import annotations

import atexit
import hashlib
import marshal
import re
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import _sre  # type: ignore[import-not-found]

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
            compiled = KEPT.compile(self._source, self._flags)
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


class _KeptCode:
    """The ``_sre`` code of compiled patterns, kept between starts.

    Compiling a pattern is two steps: ``re._parser`` and ``re._compiler``, in Python,
    turn its text into code for the matching engine, and ``_sre.compile`` makes the
    pattern object of that code. The first step is what costs (the asking phrases are
    alternations of hundreds of words); its output is what is kept, in one file per
    Python build (:meth:`file_name`), keyed by a digest of each pattern's text and flags.
    A pattern found there is made by ``_sre.compile`` alone (which validates the code it
    is given).

    Code is kept only when the pattern made of it equals the one ``re.compile`` made
    (pattern objects compare their code), so a change in how CPython compiles cannot
    make a kept pattern differ from a fresh one; a file that cannot be read, or an entry
    ``_sre`` refuses, only costs compiling. Where the file lives is the caller's: the
    CLI hands :meth:`keep` the reading and writing of a file in its cache folder
    (``files.cache_file``); without that nothing is kept. The file is read at the first
    compile, and written when the process ends if it compiled a pattern the file lacked.
    """

    LIMIT = 1024  # entries past which those this process did not use are dropped

    def __init__(self) -> None:
        # digest of text and flags -> the marshalled arguments of _sre.compile (kept as
        # bytes, unpacked when used: a few hundred kB, not megabytes of int objects)
        self._kept: dict[bytes, bytes] | None = None
        self._used: set[bytes] = set()
        self._changed = False
        self._read: Callable[[], bytes | None] = lambda: None
        self._write: Callable[[bytes], None] | None = None
        self.compiled_here = 0  # patterns this process compiled from their text

    @staticmethod
    def file_name() -> str:
        """The kept code's file name for this Python build."""
        build = hashlib.sha256(f"3 {sys.version} {_sre.MAGIC} {_sre.CODESIZE}".encode())
        return f"patterns-{build.hexdigest()[:16]}.marshal"

    def keep(self, read: Callable[[], bytes | None], write: Callable[[bytes], None]) -> None:
        """Keep code with READ (the file's bytes, None when there is none) and WRITE."""
        self._read, self._write = read, write
        if not self._changed:  # read again, from there (what this process added stays)
            self._kept = None

    def compile(self, source: str, flags: int) -> re.Pattern[str]:
        key = hashlib.blake2b(
            f"{int(flags)}\0{source}".encode("utf-8", "surrogatepass"), digest_size=16
        ).digest()
        kept = self._load()
        self._used.add(key)
        blob = kept.get(key)
        if blob is not None:
            try:
                pattern: re.Pattern[str] = _sre.compile(source, *marshal.loads(blob))
                return pattern
            except Exception:  # not code this Python's engine takes
                kept.pop(key, None)
        self.compiled_here += 1
        compiled = re.compile(source, flags)
        if self._write is not None:
            args = _code(source, flags)
            if args is not None and _same(compiled, source, args):
                kept[key] = marshal.dumps(args)
                if not self._changed:
                    self._changed = True
                    atexit.register(self.save)
        return compiled

    def _load(self) -> dict[bytes, bytes]:
        if self._kept is None:
            self._kept = {}
            try:
                data = self._read()
                loaded = marshal.loads(data) if data else None
            except (OSError, EOFError, ValueError, TypeError):
                loaded = None
            if isinstance(loaded, dict):
                self._kept = {
                    k: v for k, v in loaded.items() if isinstance(k, bytes) and isinstance(v, bytes)
                }
        return self._kept

    def save(self) -> None:
        """Write the kept code, if this process compiled some; a failure costs nothing."""
        if not self._changed or self._kept is None or self._write is None:
            return
        kept = self._kept
        if len(kept) > self.LIMIT:
            kept = {k: v for k, v in kept.items() if k in self._used}
        try:
            self._write(marshal.dumps(kept))
        except (OSError, ValueError):
            pass
        self._changed = False


def _code(source: str, flags: int) -> tuple[Any, ...] | None:
    """What ``re._compiler.compile`` hands ``_sre.compile`` after the pattern's text:
    flags, code, group count, group index and its inverse (CPython 3.11 to 3.13)."""
    try:
        from re import _compiler, _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(source, flags)
        code = [int(op) for op in _compiler._code(parsed, flags)]  # named constants: ints
        groupindex = dict(parsed.state.groupdict)
        indexgroup: list[str | None] = [None] * parsed.state.groups
        for name, i in groupindex.items():
            indexgroup[i] = name
        return (
            int(flags | parsed.state.flags),
            code,
            int(parsed.state.groups - 1),
            groupindex,
            tuple(indexgroup),
        )
    except Exception:  # another Python's internals: the pattern is simply not kept
        return None


def _same(compiled: re.Pattern[str], source: str, args: tuple[Any, ...]) -> bool:
    try:
        return bool(_sre.compile(source, *args) == compiled)
    except Exception:
        return False


KEPT = _KeptCode()


_MIN_LITERAL = 3


def leading_literals(pattern: LazyPattern) -> frozenset[str] | None:
    """Lower-case ASCII strings one of which starts every match of ``pattern`` (after its
    zero-width assertions), or None when the pattern has no such set (a branch opening with
    a character class, a repeat, a non-ASCII letter, or fewer than three letters).

    For ASCII text, then, a pattern can match only if one of the strings is in
    ``text.lower()``: a cheap test that rules most patterns out before they scan the text.
    """
    from re import _parser  # type: ignore[attr-defined]

    found, _ = _literal_starts(list(_parser.parse(pattern.pattern, pattern.flags)))
    if not found or any(len(s) < _MIN_LITERAL or not s.isascii() for s in found):
        return None
    return frozenset(found)


def _literal_starts(items: list[Any]) -> tuple[set[str], bool]:
    """The literal starts of a parsed sequence, and whether they are the whole of it."""
    from re import _constants as c  # type: ignore[attr-defined]

    starts = {""}
    for op, arg in items:
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue  # zero-width: \b, ^, look-ahead and look-behind
        if op is c.LITERAL:
            starts = {s + chr(arg).lower() for s in starts}
            continue
        if op is c.SUBPATTERN:
            inner, whole = _literal_starts(list(arg[-1]))
        elif op is c.BRANCH:
            inner, whole = set(), True
            for branch in arg[1]:
                more, all_of = _literal_starts(list(branch))
                inner |= more
                whole = whole and all_of
        else:
            return starts, False
        starts = {s + t for s in starts for t in inner}
        if not whole:
            return starts, False
    return starts, True


# -- the one address pattern ---------------------------------------------------------

# the characters of a local part: atext, with the Unicode letters RFC 6532 allows
_ATEXT = r"[\w.!#$%&'*+/=?^`{|}~-]"
# The one address pattern, for every reader: a local part, "@", a domain of two labels or
# more (Unicode letters allowed in both). It starts only where a run of address
# characters starts and never backtracks into it, so a search costs linear time on long
# lines without an address.
ADDRESS = LazyPattern(rf"(?<!{_ATEXT}){_ATEXT}++@[\w-]++(?:\.[\w-]++)+")
# the same between angle brackets, where a one-label domain (user@localhost) is accepted
BRACKETED_ADDRESS = LazyPattern(rf"(?<!{_ATEXT}){_ATEXT}++@[\w-]++(?:\.[\w-]++)*")


def holds_address(text: str) -> bool:
    """Whether a text (a display name, a line) holds an e-mail address."""
    return "@" in text and ADDRESS.search(text) is not None
