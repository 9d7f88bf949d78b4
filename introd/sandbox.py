"""The jinja2 side of rendering: the sandboxed environment templates compile and render
in, tightened, and the one-line description of a template's failure.

Kept apart from ``render`` so that jinja2 is imported when a template is first compiled,
not when introd starts: a daemon sitting in IDLE with no mail yet holds none of it.
"""

from __future__ import annotations

import difflib
import hashlib
import sys
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from jinja2.sandbox import SandboxedEnvironment

from . import files
from .model import Person

# every variable some template is given; used to suggest a fix for a misspelt one
VARIABLES = (
    "owner",
    "requester",
    "target",
    "intro",
    "reply_address",
    "recipient",
    "role",
    "order",
    "requester_note",
    "candidates",
    "rule",
    "detail",
    "review_reason",
    "first_sent",
    "previous_answer_excerpt",
    "failed_address",
    "failure",
    "period_start",
    "period_end",
    "counts",
    "awaiting",
    "ledger",
    "headline",
    "lines",
    "again",
    "introduced_at",
    "thanks",
    "question",
    "introduction",
    "introduction_subject",
    "owner_text",
    "snoozed_at",
    "suggestion",
    "suggestion_excerpt",
    "suggested_by",
)


def _date(value: Any, fmt: str = "%-d %B %Y") -> str:
    if isinstance(value, datetime | date):
        return value.strftime(fmt)
    return "" if value is None else str(value)


def _indent_quote(value: Any, prefix: str = "> ") -> str:
    return "\n".join(prefix + line if line else prefix.rstrip() for line in str(value).splitlines())


# -- the sandbox, tightened ---------------------------------------------------------
class _NoPrivateNames(Extension):
    """Refuse `x._y`, `x['_y']` and `x|attr('_y')` when a template is compiled.

    The sandbox would refuse them when rendering too; refusing them at compile
    time makes them an error with a line number, found by `templates check`
    even on a branch the sample data does not reach.
    """

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        previous: list[Token] = []
        for token in stream:
            name = _private_name(previous, token)
            if name is not None:
                raise jinja2.TemplateSyntaxError(
                    f"'{name}' is not allowed in a template: names starting with '_' are "
                    "off limits (the sandbox refuses them)",
                    token.lineno,
                    stream.name,
                    stream.filename,
                )
            previous = [*previous[-2:], token]
            yield token


def _private_name(previous: list[Token], token: Token) -> str | None:
    if (
        token.type == "name"
        and str(token.value).startswith("_")
        and previous
        and previous[-1].type == "dot"
    ):
        return str(token.value)
    if token.type == "string" and str(token.value).startswith("_") and previous:
        if previous[-1].type == "lbracket":
            return str(token.value)
        if (
            previous[-1].type == "lparen"
            and len(previous) >= 2
            and previous[-2].type == "name"
            and previous[-2].value == "attr"
        ):
            return str(token.value)
    return None


class _Sandbox(SandboxedEnvironment):
    """jinja2's sandbox, remembering its answer on an attribute per type and name.

    The sandbox's answer (``is_safe_attribute``) depends on nothing but the name and what
    kind of object it is asked on (a function, a method, a type, a frame...), which
    ``isinstance`` tells from the object's class. So it is asked once for each class and
    name, and then remembered: every ``{{ person.name }}`` of every mail asked it anew.
    A class that could say it is another (it defines ``__class__``) is always asked."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._safe_attributes: dict[tuple[type, str], bool] = {}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        key = (type(obj), attr)
        safe = self._safe_attributes.get(key)
        if safe is None:
            safe = super().is_safe_attribute(obj, attr, value)
            if _honest_class(type(obj)):
                self._safe_attributes[key] = safe
        return safe


_HONEST: dict[type, bool] = {}


def _honest_class(cls: type) -> bool:
    """Whether isinstance tells an instance of CLS from CLS alone: no class it inherits
    from, ``object`` aside, defines ``__class__``."""
    honest = _HONEST.get(cls)
    if honest is None:
        honest = _HONEST[cls] = all(
            "__class__" not in vars(k) for k in cls.__mro__ if k is not object
        )
    return honest


class _Undefined(jinja2.StrictUndefined):
    """StrictUndefined whose message says what exists, or what was probably meant."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        name = self._undefined_name
        obj = self._undefined_obj
        if self._undefined_hint:
            return self._undefined_hint
        if obj is jinja2.utils.missing:
            hint = difflib.get_close_matches(str(name), VARIABLES, n=1)
            meant = f"; did you mean '{hint[0]}'?" if hint else ""
            return f"undefined variable '{name}'{meant}"
        have = _attributes(obj)
        if have:
            hint = difflib.get_close_matches(str(name), have, n=1)
            meant = f"did you mean '{hint[0]}'? " if hint else ""
            return f"{_kind(obj)} has no attribute '{name}' ({meant}it has: {', '.join(have)})"
        return f"{_kind(obj)} has no attribute or key '{name}'"


def _attributes(obj: Any) -> list[str]:
    if isinstance(obj, Person):
        return ["name", "first_name", "email"]
    if is_dataclass(obj):
        return [f.name for f in fields(obj) if not f.name.startswith("_")]
    if isinstance(obj, Mapping):
        return sorted(str(k) for k in obj)
    return []


def _kind(obj: Any) -> str:
    if obj is None:
        return "an empty value (None)"
    if isinstance(obj, Person):
        return "a person"
    if isinstance(obj, str):
        return "a text"
    return f"a {type(obj).__name__}"


def _template_line(exc: BaseException) -> tuple[str, int] | None:
    """The template file and line a rendering error was raised at (jinja rewrites the frames)."""
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(".j2") and frame.lineno:
            found = (frame.filename, frame.lineno)
    return found


def describe_error(exc: BaseException, filename: str) -> str:
    """One line, `FILE:LINE: what is wrong`, for a template that does not compile or render."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"{exc.filename or filename}:{exc.lineno}: {exc.message}"
    where = _template_line(exc)
    place = f"{where[0]}:{where[1]}" if where else filename
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return f"{place}: not allowed in a template: {exc}"
    if isinstance(exc, jinja2.UndefinedError):
        return f"{place}: {exc.message}"
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"{place}: template not found: {exc.name}"
    return f"{place}: {type(exc).__name__}: {exc}"


def cache_folder() -> Path | None:
    """Where compiled templates are kept from one start to the next, as Python keeps its
    ``__pycache__``: in ``files.cache_root``, in a folder named after what the compiled code
    depends on besides the template's own text (which jinja2 checks): this module, which
    sets the environment up, jinja2 and Python. None when there is no such folder or it is
    not safe (jinja2 runs the code it finds there)."""
    base = files.cache_root()
    if base is None:
        return None
    key = hashlib.sha256(Path(__file__).read_bytes())
    key.update(f"{jinja2.__version__} {sys.version}".encode())
    folder = base / f"templates-{key.hexdigest()[:16]}"
    return folder if files.private_folder(folder) else None


def environment(templates_dir: Path | None, builtin: Path) -> SandboxedEnvironment:
    """The environment of a template set: TEMPLATES_DIR's files over the BUILTIN ones."""
    folder = cache_folder()
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
    loaders.append(jinja2.FileSystemLoader(str(builtin)))
    env = _Sandbox(
        loader=jinja2.ChoiceLoader(loaders),
        # templates change only on reload (SIGHUP builds a new Templates)
        auto_reload=False,
        undefined=_Undefined,
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2",), default_for_string=False, default=False
        ),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=[_NoPrivateNames],
        # the optimizer folds constant expressions at compile time; introd's templates have
        # none (their compiled code is the same without it), and the time it takes looking
        # is a fifth of generating the code, paid for every template the start-up check
        # compiles
        optimized=False,
        # the compiled code of each template, kept for the next start: the start-up check
        # compiles every template, 169 built-in ones, and two thirds of its time went on
        # parsing and generating code for templates that had not changed
        bytecode_cache=None if folder is None else jinja2.FileSystemBytecodeCache(str(folder)),
    )
    env.filters["date"] = _date
    env.filters["quote"] = _indent_quote
    return env
