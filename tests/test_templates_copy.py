"""`templates copy`, `diff` and the check's warning about overrides of a changed built-in;
`preview --lang` and the engine functions preview and check share with the daemon."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from introd import engine as engine_module
from introd import templates_check
from introd.cli import main
from introd.config import load_config
from introd.render import builtin_dir
from introd.state import Store
from helpers import OKAFOR, config_folder, insert_awaiting_intro

CONFIG = {**OKAFOR, "templates_dir": "templates/mine"}


@pytest.fixture
def conf(tmp_path: Path) -> str:
    """A valid config whose templates_dir does not exist yet."""
    juergen = {"name": "Jürgen Bauer", "email": "juergen@bauer.example", "language": "de"}
    return str(config_folder(tmp_path, CONFIG, [juergen]))


def tdir(conf: str) -> Path:
    return Path(conf).parent / "templates" / "mine"


class TestCopy:
    def test_copy_creates_the_folder_and_prints_the_file_to_edit(
        self, conf: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The subject and text are copied, with a first line saying where from; the path
        printed is the text file; the copy passes the check as it is."""
        assert main(["templates", "copy", "optin_target", "--config", conf]) == 0
        out = capsys.readouterr().out.strip()
        assert out == str(tdir(conf) / "optin_target.txt.j2")
        text = Path(out).read_text(encoding="utf-8")
        first, rest = text.split("\n", 1)
        assert re.fullmatch(
            r"\{# copied from introd \S+, built-in optin_target\.txt\.j2 "
            r"sha256 [0-9a-f]{16} #\}",
            first,
        )
        assert rest == (builtin_dir() / "optin_target.txt.j2").read_text(encoding="utf-8")
        assert (tdir(conf) / "optin_target.subject.j2").is_file()
        assert main(["templates", "check", "--config", conf]) == 0
        assert capsys.readouterr().out.strip() == "all templates render"

    def test_refuses_to_overwrite_without_force(
        self, conf: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A second copy is refused in one line naming the file and the way out; --force
        overwrites."""
        assert main(["templates", "copy", "expired", "--config", conf]) == 0
        mine = tdir(conf) / "expired.txt.j2"
        mine.write_text("Mine\n", encoding="utf-8")
        capsys.readouterr()
        assert main(["templates", "copy", "expired", "--config", conf]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "already exists" in err and "--force" in err
        assert mine.read_text(encoding="utf-8") == "Mine\n"
        assert main(["templates", "copy", "expired", "--force", "--config", conf]) == 0
        assert mine.read_text(encoding="utf-8") != "Mine\n"

    @pytest.mark.parametrize(
        ("lang", "folder", "builtin"),
        [
            ("de", "de", "de/reminder.txt.j2"),
            ("ES", "es", "es/reminder.txt.j2"),
            ("en", "", "reminder.txt.j2"),
            ("it", "it", "reminder.txt.j2"),
        ],
    )
    def test_a_language(
        self, conf: str, lang: str, folder: str, builtin: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--lang copies that language's built-in into its folder; a language introd does not
        ship starts from the English files, to be translated."""
        assert main(["templates", "copy", "reminder", "--lang", lang, "--config", conf]) == 0
        path = Path(capsys.readouterr().out.strip())
        assert path == (
            tdir(conf) / folder / "reminder.txt.j2" if folder else tdir(conf) / "reminder.txt.j2"
        )
        assert f"built-in {builtin} sha256" in path.read_text(encoding="utf-8")

    def test_the_layout(self, conf: str, capsys: pytest.CaptureFixture[str]) -> None:
        """`copy layout` copies the HTML layout, the one file for the look of all mails."""
        assert main(["templates", "copy", "layout", "--config", conf]) == 0
        assert capsys.readouterr().out.strip() == str(tdir(conf) / "layout.html.j2")
        assert main(["templates", "check", "--config", conf]) == 0

    @pytest.mark.parametrize(
        ("argv", "words"),
        [
            (["optin_taget"], "unknown template 'optin_taget'"),
            (["expired", "--lang", "../x"], "not a language"),
            (["expired", "--lang", "French"], "not a language"),
        ],
    )
    def test_bad_arguments_are_one_line(
        self, conf: str, argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A misspelt name or a language that is no code: one line, exit 2, nothing written."""
        assert main(["templates", "copy", *argv, "--config", conf]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err
        assert not list(tdir(conf).rglob("*.j2"))

    def test_without_templates_dir(self, conf: str, capsys: pytest.CaptureFixture[str]) -> None:
        """No templates_dir in the config: the error says what to add."""
        data = {k: v for k, v in CONFIG.items() if k != "templates_dir"}
        Path(conf).write_text(yaml.safe_dump(data))
        assert main(["templates", "copy", "expired", "--config", conf]) == 2
        assert "add `templates_dir: templates`" in capsys.readouterr().err


class TestDiff:
    def test_no_difference_right_after_a_copy(
        self, conf: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A fresh copy says the same as the built-in: nothing printed, exit 0 (the `copied
        from` line is left out)."""
        main(["templates", "copy", "optin_requester", "--lang", "es", "--config", conf])
        capsys.readouterr()
        assert main(["templates", "diff", "optin_requester", "--lang", "es", "--config", conf]) == 0
        assert capsys.readouterr().out == ""

    def test_shows_the_owners_changes_against_the_installed_built_in(
        self, conf: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A changed sentence shows as a unified diff, exit 1; an own HTML part is compared
        with nothing."""
        main(["templates", "copy", "optin_target", "--config", conf])
        text = tdir(conf) / "optin_target.txt.j2"
        text.write_text(
            text.read_text(encoding="utf-8").replace(
                "A no is perfectly fine.", "Saying no is fine."
            ),
            encoding="utf-8",
        )
        (tdir(conf) / "optin_target.html.j2").write_text("<p>Mine</p>\n", encoding="utf-8")
        capsys.readouterr()
        assert main(["templates", "diff", "optin_target", "--config", conf]) == 1
        out = capsys.readouterr().out
        assert "--- built-in optin_target.txt.j2 (introd " in out
        assert "\n-A no is perfectly fine." in out and "\n+Saying no is fine." in out
        assert "copied from" not in out and "\n+<p>Mine</p>" in out

    def test_nothing_to_compare(self, conf: str, capsys: pytest.CaptureFixture[str]) -> None:
        """No override of that template: one line saying how to start one."""
        tdir(conf).mkdir(parents=True)
        assert main(["templates", "diff", "expired", "--config", conf]) == 2
        assert "`introd templates copy expired` starts one" in capsys.readouterr().err


class TestOutdated:
    def copy_from_older(self, conf: str, name: str = "expired", lang: str = "fr") -> Path:
        """A copy whose first line records a built-in that differs from today's."""
        main(["templates", "copy", name, "--lang", lang, "--config", conf])
        path = tdir(conf) / lang / f"{name}.txt.j2"
        text = path.read_text(encoding="utf-8")
        path.write_text(
            re.sub(
                r"introd \S+, (.*) sha256 [0-9a-f]{16}",
                r"introd 0.0.9, \1 sha256 0123456789abcdef",
                text,
                count=1,
            ),
            encoding="utf-8",
        )
        return path

    def test_check_warns_but_passes(self, conf: str, capsys: pytest.CaptureFixture[str]) -> None:
        """An override copied from an older built-in that has changed: one warning line with
        the file, the command that shows the changes and the line that silences it; exit 0."""
        path = self.copy_from_older(conf)
        capsys.readouterr()
        assert main(["templates", "check", "--config", conf]) == 0
        lines = capsys.readouterr().out.strip().splitlines()
        assert lines[-1] == "all templates render"
        (warning,) = lines[:-1]
        assert warning.startswith(
            f"{path}:1: warning: the built-in fr/expired.txt.j2 has "
            "changed since this file was copied from introd 0.0.9"
        )
        assert "`introd templates diff expired --lang fr`" in warning
        fix = re.search(r"make line 1 (\{#.*#\})$", warning)
        assert fix
        text = path.read_text(encoding="utf-8").split("\n", 1)[1]
        path.write_text(fix[1] + "\n" + text, encoding="utf-8")
        assert main(["templates", "check", "--config", conf]) == 0
        assert capsys.readouterr().out.strip() == "all templates render"

    def test_check_config_shows_the_warning_and_passes(
        self, conf: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """check-config prints the same warning and still says ok."""
        self.copy_from_older(conf, "review", "de")
        capsys.readouterr()
        assert main(["check-config", "--offline", "--config", conf]) == 0
        captured = capsys.readouterr()
        assert (
            "de/review.txt.j2:1: warning: the built-in de/review.txt.j2 has changed" in captured.err
        )
        assert ": ok (" in captured.out

    def test_a_built_in_that_is_gone(self, conf: str, capsys: pytest.CaptureFixture[str]) -> None:
        """A first line naming a built-in file that no longer exists: a warning, not a fail."""
        tdir(conf).mkdir(parents=True)
        (tdir(conf) / "expired.txt.j2").write_text(
            "{# copied from introd 0.0.1, built-in old/expired.txt.j2 sha256 0123456789abcdef "
            "#}\nHi {{ requester.first_name }},\n\nclosed.\n",
            encoding="utf-8",
        )
        assert main(["templates", "check", "--config", conf]) == 0
        assert "no longer has" in capsys.readouterr().out


def insert_intro(conf: str, intro_id: str = "W4X8N2") -> None:
    cfg = load_config(Path(conf), need_servers=False, make_templates_dir=True)
    store = Store(cfg.state_path)
    try:
        insert_awaiting_intro(
            store,
            intro_id,
            target=("Jürgen Bauer", "juergen@bauer.example"),
            reason="would like to hear about the plant",
            blurb="Hello,\nCould I meet Jürgen?\nDaniel",
        )
        store.set_meta("language:d.whitcombe@fieldnote.example", "es")
    finally:
        store.close()


class TestPreviewIsTheEngines:
    def test_lang_option(self, conf: str, capsys: pytest.CaptureFixture[str]) -> None:
        """--lang picks the language; `de/NAME` still works; --html writes the derived HTML."""
        tdir(conf).mkdir(parents=True)
        html = Path(conf).parent / "p.html"
        assert (
            main(
                [
                    "templates",
                    "preview",
                    "optin_target",
                    "--lang",
                    "de",
                    "--html",
                    str(html),
                    "--config",
                    conf,
                ]
            )
            == 0
        )
        out = capsys.readouterr().out
        assert "\n\nHallo Bob," in out and "[language de: " in out
        assert '<html lang="de">' in html.read_text(encoding="utf-8")
        assert main(["templates", "preview", "es/optin_target", "--config", conf]) == 0
        assert "\n\nHola, Bob:" in capsys.readouterr().out

    @pytest.mark.parametrize(
        ("name", "greeting"),
        [
            ("optin_target", "Hallo Jürgen,"),  # the contact's language
            ("optin_requester", "Hola, Daniel:"),  # the language the requester wrote in
            ("introduction", "Hola, Jürgen y Daniel:"),  # the requester's, for both
        ],
    )
    def test_real_intro_in_the_language_the_engine_picks(
        self, conf: str, name: str, greeting: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--intro: the language comes from the engine's own choice (contact entry, else the
        language the person last wrote in)."""
        insert_intro(conf)
        assert main(["templates", "preview", name, "--intro", "W4X8N2", "--config", conf]) == 0
        assert f"\n\n{greeting}\n" in capsys.readouterr().out

    @pytest.mark.parametrize("name", ["digest", "decline_policy", "withdrawn"])
    def test_reply_to_follows_the_engines_list(
        self,
        conf: str,
        name: str,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Whether a preview shows a Reply-To comes from the engine's list of templates that
        expect an answer, not from a copy of it."""
        tdir(conf).mkdir(parents=True)
        assert main(["templates", "preview", name, "--config", conf]) == 0
        assert "Reply-To:" not in capsys.readouterr().out
        monkeypatch.setattr(engine_module, "EXPECTS_ANSWER", (*engine_module.EXPECTS_ANSWER, name))
        assert main(["templates", "preview", name, "--config", conf]) == 0
        assert "Reply-To: intros" in capsys.readouterr().out

    def test_check_and_preview_call_the_engines_functions(self) -> None:
        """The context, language, recipients and composing that check and preview use are
        the engine's own functions, not copies of them."""
        for name in ("render_context", "mail_language", "recipients", "write_mail"):
            assert getattr(templates_check, name) is getattr(engine_module, name), name
