"""Templates as a new user meets them, against the real Dovecot and SMTP server: copy a
template, edit only its text, check, preview, `run --once`, and read both parts of the
mail that arrives; a German and a Spanish party through a whole opt-in."""

from __future__ import annotations

import html as html_module
import re
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from introd.cli import main
from world import CONTACTS, TIM_ASKS, World, forward


TIM, BOB = "tim@example.test", "bob@example.test"
JUERGEN, LUCIA = "juergen@example.test", "lucia@example.test"
JUERGEN_ASKS = (
    "Liebe Lisa,\n\nvielen Dank für das nette Gespräch auf der Konferenz. Ich baue gerade "
    "eine kleine Firma für Recycling von Kunststoffen auf.\n\nKönntest du mich bitte Lucía "
    "Gómez bei Polímeros Sur vorstellen? Ich würde gern mit ihr über ihre Pilotanlage "
    "sprechen, weil wir eine ähnliche Anlage in Bremen planen.\n\nVielen Dank und viele "
    "Grüße,\nJürgen Bauer\n"
)

pytestmark = [
    pytest.mark.servers,
    pytest.mark.world(
        contacts=[
            *CONTACTS,
            {"name": "Lucía Gómez", "email": LUCIA, "company": "Polímeros Sur", "language": "es"},
        ],
        folders=["templates"],
        config={"templates_dir": "templates"},
    ),
]


def _count_compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the templates this process compiles from now on (jinja2's compile,
    counted)."""
    from jinja2.sandbox import SandboxedEnvironment

    compiled: list[str] = []
    real = SandboxedEnvironment.compile

    def counting(self: Any, source: Any, name: Any = None, *args: Any, **kw: Any) -> Any:
        compiled.append(str(name))
        return real(self, source, name, *args, **kw)

    monkeypatch.setattr(SandboxedEnvironment, "compile", counting)
    return compiled


def templates(world: World, *args: str) -> int:
    return main(["templates", *args, "--config", str(world.config_path)])


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def parts(msg: EmailMessage) -> tuple[str, str]:
    """The text and the HTML part of a mail introd sent."""
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def visible(html: str) -> str:
    body = re.sub(r"(?s)<head>.*?</head>", "", html)
    return html_module.unescape(re.sub(r"<[^>]+>", " ", body))


def the_mail(world: World, user: str, subject_has: str) -> EmailMessage:
    (msg,) = [m for m in world.inbox(user) if subject_has in str(m["Subject"])]
    return msg


class TestNewUser:
    def test_copy_edit_text_check_preview_run(
        self, world: World, clock: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Edit only the copied text: check and preview pass, and the mail that arrives says
        the new sentence in its text and its HTML part."""
        assert templates(world, "copy", "optin_target") == 0
        path = Path(capsys.readouterr().out.strip())
        path.write_text(
            path.read_text(encoding="utf-8").replace(
                "A no is perfectly fine.", "Saying no is absolutely fine, <truly>."
            ),
            encoding="utf-8",
        )
        assert templates(world, "check") == 0
        assert capsys.readouterr().out.strip() == "all templates render"
        out_html = world.tmp / "preview.html"
        assert templates(world, "preview", "optin_target", "--html", str(out_html)) == 0
        assert "Saying no is absolutely fine, &lt;truly&gt;." in out_html.read_text()
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        assert world.run_once(clock.now()) == 0
        text, html = parts(the_mail(world, BOB, "[intro "))
        assert "Saying no is absolutely fine, <truly>." in text
        assert "Saying no is absolutely fine, &lt;truly&gt;." in html
        assert words(visible(html)) == words(text)
        tim_text, tim_html = parts(the_mail(world, TIM, "[intro "))
        assert "absolutely" not in tim_text + tim_html

    def test_run_once_compiles_each_template_once(
        self, world: World, clock: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`run --once` on a fresh state checks every template, then renders its mail with
        the templates the check compiled: no file is compiled a second time."""
        monkeypatch.setenv("XDG_CACHE_HOME", str(world.tmp / "cold-cache"))

        compiled = _count_compiles(monkeypatch)
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        assert world.run_once(clock.now()) == 0
        assert the_mail(world, BOB, "[intro ") is not None
        assert "optin_target.txt.j2" in compiled and "layout.html.j2" in compiled
        assert sorted(compiled) == sorted(set(compiled))

    def test_compiled_templates_are_kept_for_the_next_start(
        self, world: World, clock: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
    ) -> None:
        """The next start (a fresh state: the whole check again) compiles no template: it
        loads what the first kept; a template edited meanwhile is compiled again, and its
        new text is what goes out."""
        monkeypatch.setenv("XDG_CACHE_HOME", str(world.tmp / "cache"))
        compiled = _count_compiles(monkeypatch)
        assert world.run_once(clock.now()) == 0
        assert len(compiled) > 100
        kept = list((world.tmp / "cache" / "introd").glob("templates-*/*"))
        assert len(kept) == len(compiled)
        assert all(p.parent.stat().st_mode & 0o777 == 0o700 for p in kept)
        # forget the passed check, so that the next start checks again
        (world.tmp / "cache" / "introd" / "templates-checked").unlink()
        compiled.clear()
        assert templates(world, "copy", "optin_target") == 0
        path = Path(capsys.readouterr().out.strip())
        path.write_text("Hello {{ target.first_name }}, kept or not?\n", encoding="utf-8")
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        assert world.run_once(clock.now()) == 0
        copied = {p.name for p in path.parent.iterdir()}  # new files: compiled once each
        assert "optin_target.txt.j2" in compiled and set(compiled) <= copied
        assert sorted(compiled) == sorted(set(compiled)) and len(compiled) <= 3
        text, _html = parts(the_mail(world, BOB, "[intro "))
        assert text.startswith("Hello Bob, kept or not?")

    def test_a_cache_others_may_write_is_not_used(
        self, world: World, clock: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """jinja2 runs the code it loads: a cache folder group- or world-writable, or a
        link, is left alone and every template compiled."""
        from introd.sandbox import cache_folder

        monkeypatch.setenv("XDG_CACHE_HOME", str(world.tmp / "cache"))
        folder = cache_folder()
        assert folder is not None
        folder.chmod(0o777)
        assert cache_folder() is None
        folder.chmod(0o700)
        assert cache_folder() == folder
        folder.rename(folder.with_name("elsewhere"))
        folder.symlink_to(folder.with_name("elsewhere"))
        assert cache_folder() is None
        assert world.run_once(clock.now()) == 0
        assert list(folder.with_name("elsewhere").iterdir()) == []

    def test_run_checks_a_template_edited_after_a_passed_start(
        self, world: World, clock: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A start remembers its passed check; a template edited after it is checked at the
        next start, which refuses with the file and line and sends nothing."""
        from introd.files import cache_root

        assert world.run_once(clock.now()) == 0
        root = cache_root()
        assert root is not None and (root / "templates-checked").is_file()
        assert templates(world, "copy", "optin_target") == 0
        path = Path(capsys.readouterr().out.strip())
        path.write_text("Hi {{ target.frist_name }},\n", encoding="utf-8")
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        capsys.readouterr()
        assert world.run_once(clock.now()) == 2
        err = capsys.readouterr().err
        assert f"{path}:1:" in err and "frist_name" in err and "Traceback" not in err
        assert world.sent() == []


class TestGermanAndSpanish:
    def test_a_full_opt_in_in_each_partys_language(self, world: World, clock: Any) -> None:
        """A German request gets German mail back; the Spanish contact is asked in Spanish;
        the introduction goes out in the requester's language; every mail has both parts,
        saying the same words."""
        world.owner_sends(
            forward("Jürgen Bauer", JUERGEN, JUERGEN_ASKS, subject="Vorstellung Lucía Gómez")
        )
        assert world.run_once(clock.now()) == 0
        to_juergen = the_mail(world, JUERGEN, "[intro ")
        to_lucia = the_mail(world, LUCIA, "[intro ")
        text, html = parts(to_juergen)
        assert text.startswith("Hallo Jürgen,") and "„ja“" in text
        assert '<html lang="de">' in html and words(visible(html)) == words(text)
        text, html = parts(to_lucia)
        assert text.startswith("Hola, Lucía:") and "«sí»" in text
        assert '<html lang="es">' in html and words(visible(html)) == words(text)
        assert "Lucía" not in str(to_juergen["To"]) and "Jürgen Bauer" in text
        world.reply(LUCIA, to_lucia, "Sí, con mucho gusto.", now=clock.now())
        world.reply(
            JUERGEN,
            to_juergen,
            "Ja, gerne!\n\nIch freue mich sehr auf das Gespräch mit Ihnen über die Anlage.",
            now=clock.now(),
        )
        clock.advance(timedelta(hours=1))
        assert world.run_once(clock.now()) == 0
        (intro,) = [m for m in world.sent() if "Auto-Submitted" not in m]
        text, html = parts(intro)
        assert text.startswith("Hallo Lucía, hallo Jürgen,")
        assert "Ich freue mich sehr auf das Gespräch" in text
        assert '<html lang="de">' in html and "<blockquote" in html
        assert words(visible(html)) == words(text)
