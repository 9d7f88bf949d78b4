"""The sandbox remembers its answer on an attribute per class and name: it must give the
same answers as jinja2's own, the first time and every time after."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import jinja2
import pytest
from jinja2.sandbox import SandboxedEnvironment

from introd.exceptions import TemplateError
from introd.model import Person
from introd.render import Templates
from introd.sandbox import _Sandbox


def _function() -> None:
    pass


class _Liar:
    """An object that says it is a function."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return types.FunctionType

    name = "liar"


OBJECTS: list[Any] = [
    Person(name="Tim Walker", email="tim@example.test"),
    "text",
    {"a": 1},
    str,
    type,
    _function,
    Person.as_json,
    Person(name="x").as_json,
    (x for x in ()),
    _function.__code__,
    _Liar(),
]
NAMES = ["name", "email", "first_name", "mro", "upper", "gi_frame", "gi_code", "co_code", "_x"]


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: type(o).__name__)
def test_same_answers_as_jinja2_every_time(obj: Any) -> None:
    ours, theirs = _Sandbox(), SandboxedEnvironment()
    for _ in range(3):
        for name in NAMES:
            value = getattr(obj, name, None)
            assert ours.is_safe_attribute(obj, name, value) == theirs.is_safe_attribute(
                obj, name, value
            ), (obj, name)


def test_a_liar_is_never_remembered() -> None:
    env = _Sandbox()
    env.is_safe_attribute(_Liar(), "name", "liar")
    assert not any(cls is _Liar for cls, _ in env._safe_attributes)


def test_a_refused_attribute_stays_refused(tmp_path: Path) -> None:
    (tmp_path / "decline_policy.subject.j2").write_text("Sorry")
    (tmp_path / "decline_policy.txt.j2").write_text("{{ kind.mro }}\n")
    templates = Templates(tmp_path)
    for _ in range(2):
        with pytest.raises(TemplateError, match="not allowed"):
            templates.render("decline_policy", {"kind": str})


def test_a_person_renders_the_same_through_the_remembered_answers() -> None:
    env = _Sandbox(undefined=jinja2.StrictUndefined)
    template = env.from_string("{{ p.first_name }} {{ p.name }} <{{ p.email }}>")
    people = [Person(name="Dr Tim Walker", email="tim@example.test"), Person(email="a@b.example")]
    for _ in range(2):
        assert [template.render(p=p) for p in people] == [
            "Tim Dr Tim Walker <tim@example.test>",
            "a None <a@b.example>",
        ]
