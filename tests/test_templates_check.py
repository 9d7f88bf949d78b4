"""`introd templates check|list|preview`, and the language fall-back of overrides."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from introd import engine as engine_module
from introd.cli import main
from introd.config import Config, load_config
from introd.reading.people import ContactBook
from introd.engine import Engine
from introd.exceptions import TemplateError
from introd.model import Person
from introd.render import TEMPLATE_NAMES, Templates, builtin_dir
from introd.state import Store
from introd import templates_check
from introd.templates_check import (
    REMEMBERED,
    SampleCandidate,
    SamplePending,
    check_templates,
    check_templates_cached,
    situations,
)
from helpers import OKAFOR, config_folder, insert_awaiting_intro

CONFIG = {
    **OKAFOR,
    "secret_file": "secret",
    "state_path": "introd.db",
    "templates_dir": "templates",
}


@pytest.fixture
def tdir(tmp_path: Path) -> Path:
    """An empty templates_dir beside a valid config."""
    ingrid = {"name": "Ingrid Sørensen", "email": "ingrid@nordpolymer.example", "language": "fr"}
    config_folder(tmp_path, CONFIG, [ingrid])
    (tmp_path / "templates").mkdir()
    return tmp_path / "templates"


def config_of(tdir: Path) -> str:
    return str(tdir.parent / "config.yaml")


def load(tdir: Path) -> Config:
    return load_config(Path(config_of(tdir)), need_servers=False)


def write(tdir: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = tdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


# (label, files put in templates_dir, the file the error names with its line, words it says)
BROKEN = [
    (
        "misspelt attribute",
        {"expired.txt.j2": "Hi {{ requester.frist_name }},\n"},
        "expired.txt.j2:1:",
        ["frist_name", "did you mean 'first_name'"],
    ),
    (
        "undefined variable",
        {"decline_policy.txt.j2": "Hi,\n\nSorry, {{ requestor.name }}.\n"},
        "decline_policy.txt.j2:3:",
        ["undefined variable 'requestor'", "did you mean 'requester'"],
    ),
    (
        "variable not given to this template",
        {"optin_target.txt.j2": "Hi,\nsent {{ first_sent|date }}\n", "optin_target.html.j2": ""},
        "optin_target.txt.j2:2:",
        ["undefined variable 'first_sent'"],
    ),
    (
        "syntax error",
        {"withdrawn.txt.j2": "Hi {{ target.first_name }},\n\n{{ requester.name }\n"},
        "withdrawn.txt.j2:3:",
        ["unexpected '}'"],
    ),
    (
        "unclosed block",
        {"thanks_target.txt.j2": "Hi,\n{% if intro.reason %}\nWhy: x\n"},
        "thanks_target.txt.j2:",
        ["endif"],
    ),
    (
        "CR/LF in a subject",
        {"thanks_target.subject.j2": 'Thanks{{ "\\r\\n" }}Bcc: everyone@elsewhere.example'},
        "thanks_target.subject.j2",
        ["line break"],
    ),
    (
        "two-line subject file",
        {"expired.subject.j2": "Closed\nBcc: everyone@elsewhere.example\n"},
        "expired.subject.j2",
        ["line break"],
    ),
    (
        "escape by __class__.__mro__",
        {"decline_policy.txt.j2": "{{ ''.__class__.__mro__ }}\n"},
        "decline_policy.txt.j2:1:",
        ["'__class__' is not allowed"],
    ),
    (
        "escape by cycler globals",
        {"decline_no_reason.txt.j2": "Hi\n{{ cycler.__init__.__globals__ }}"},
        "decline_no_reason.txt.j2:2:",
        ["'__init__' is not allowed"],
    ),
    (
        "escape by attr filter",
        {"reask.txt.j2": "{{ owner|attr('__class__') }}"},
        "reask.txt.j2:1:",
        ["'__class__' is not allowed"],
    ),
    (
        "escape by subscript",
        {"reminder.txt.j2": "x\n\n{{ intro['_secret'] }}"},
        "reminder.txt.j2:3:",
        ["'_secret' is not allowed"],
    ),
    (
        "private attribute",
        {"digest.txt.j2": "{{ counts._data }}"},
        "digest.txt.j2:1:",
        ["'_data' is not allowed"],
    ),
    (
        "escape built at run time",
        {"expired.txt.j2": "Hi\n{{ owner[('__cla' ~ 'ss__')] }}\n"},
        "expired.txt.j2:2:",
        ["not allowed in a template", "__class__"],
    ),
    (
        "empty body",
        {"declined_by_target.txt.j2": "\n\n   \n"},
        "declined_by_target.txt.j2",
        ["the body is empty"],
    ),
    (
        "empty subject",
        {"declined_by_target.subject.j2": "{% if false %}x{% endif %}"},
        "declined_by_target.subject.j2",
        ["the subject is empty"],
    ),
    (
        "HTML part without a text part",
        {"introduction.txt.j2": "{# nothing #}\n", "introduction.html.j2": "<p>Hi</p>\n"},
        "introduction.txt.j2",
        ["the body is empty"],
    ),
    (
        "layout does not compile",
        {"layout.html.j2": "<p>{{ body(style) }</p>\n"},
        "layout.html.j2:1:",
        ["unexpected '}'"],
    ),
    (
        "layout uses a variable nobody gives",
        {"layout.html.j2": "<p>\n{{ footer_text }}</p>\n"},
        "layout.html.j2:2:",
        ["undefined variable 'footer_text'"],
    ),
    (
        "layout loads a remote font",
        {
            "layout.html.j2": '<div style="font-family:x; background:url(//cdn.example/f.png)">'
            "{{ body() }}</div>\n"
        },
        "layout.html.j2",
        ["loads something from the network", "cdn.example"],
    ),
    (
        "layout in a language folder escapes the sandbox",
        {"de/layout.html.j2": "{{ body.__globals__ }}\n"},
        "de/layout.html.j2:1:",
        ["'__globals__' is not allowed"],
    ),
    (
        "tracking pixel",
        {
            "introduction.txt.j2": "Hi both.\n",
            "introduction.html.j2": '<p>Hi both.</p><img src="https://px.tracker.example/o.gif">\n',
        },
        "introduction.html.j2",
        ["loads something from the network", "px.tracker.example"],
    ),
    (
        "misspelt file name",
        {"optin_taget.txt.j2": "Hi\n"},
        "optin_taget.txt.j2",
        ["introd never reads this file"],
    ),
    (
        "not a language folder",
        {"French/expired.txt.j2": "Bonjour\n"},
        "French/expired.txt.j2",
        ["'French' is not a language folder"],
    ),
    (
        "broken owner template in a language folder",
        {"fr/review.txt.j2": "{{ candidats }}"},
        "fr/review.txt.j2:1:",
        ["undefined variable 'candidats'", "did you mean 'candidates'"],
    ),
]


class TestBrokenOverrides:
    @pytest.mark.parametrize(
        ("files", "where", "words"), [pytest.param(f, w, s, id=label) for label, f, w, s in BROKEN]
    )
    def test_templates_check_gives_one_clear_line_and_exit_2(
        self,
        tdir: Path,
        files: dict[str, str],
        where: str,
        words: list[str],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """`templates check` exits 2 with one line naming the file (and line) and the fault."""
        write(tdir, files)
        assert main(["templates", "check", "--config", config_of(tdir)]) == 2
        lines = capsys.readouterr().out.strip().splitlines()
        assert len(lines) == 1, lines
        assert f"{tdir}/{where}" in lines[0]
        for word in words:
            assert word in lines[0]
        assert "Traceback" not in lines[0]

    @pytest.mark.parametrize(
        ("files", "where", "words"), [pytest.param(f, w, s, id=label) for label, f, w, s in BROKEN]
    )
    def test_check_config_refuses_the_same(
        self,
        tdir: Path,
        files: dict[str, str],
        where: str,
        words: list[str],
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """`check-config --offline` fails with exit 2 and the same one-line message."""
        write(tdir, files)
        assert main(["check-config", "--offline", "--config", config_of(tdir)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{tdir}/{where}" in err[0], err
        assert all(word in err[0] for word in words)

    def test_every_fault_at_once_is_one_line_each(
        self, tdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Several broken files are all reported, one line each, not just the first."""
        for _, files, _, _ in BROKEN[:6]:
            write(tdir, files)
        assert main(["templates", "check", "--config", config_of(tdir)]) == 2
        lines = capsys.readouterr().out.strip().splitlines()
        assert len(lines) == 6
        assert all(line.startswith(str(tdir)) for line in lines)

    @pytest.mark.parametrize(
        "source",
        [
            "{{ cycler.__init__.__globals__.os.system('touch ' ~ marker) }}",
            "{{ (cycler|attr('__in' ~ 'it__')).__globals__.os.system('touch ' ~ marker) }}",
            "{% set g = cycler|attr('__in' ~ 'it__') %}{{ g|attr('__glo' ~ 'bals__') }}",
            "{{ ''|attr('__cla' ~ 'ss__') }}",
            "{{ lipsum['__glo' ~ 'bals__']['os'].system('touch ' ~ marker) }}",
        ],
    )
    def test_sandbox_escapes_never_run(self, tdir: Path, source: str) -> None:
        """Escape attempts raise TemplateError when rendered, and nothing of them runs."""
        marker = tdir.parent / "escaped"
        write(tdir, {"decline_policy.txt.j2": source})
        cfg = load(tdir)
        context = {**situations(cfg, "decline_policy")[0].context, "marker": str(marker)}
        with pytest.raises(TemplateError, match="not allowed"):
            Templates(tdir).render("decline_policy", context)
        assert check_templates(cfg) and not marker.exists()

    def test_good_overrides_pass(self, tdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Correct overrides, a partial they include, and a language folder all pass."""
        write(
            tdir,
            {
                "_signature.txt.j2": "{{ owner.name }}\nOkafor Advisory\n",
                "expired.txt.j2": "Hi {{ requester.first_name }},\n\nI closed it.\n\n"
                "{% include '_signature.txt.j2' %}",
                "fr/expired.txt.j2": "Bonjour {{ requester.first_name }},\n\nC'est clos.\n",
                "de/expired.subject.j2": "Ihre Anfrage [intro {{ intro.id }}]",
                "de/expired.txt.j2": "Hallo {{ requester.first_name }},\n\nerledigt.\n",
                "pt-br/expired.txt.j2": "Olá {{ requester.first_name }},\n\nencerrado.\n",
            },
        )
        assert main(["templates", "check", "--config", config_of(tdir)]) == 0
        assert capsys.readouterr().out.strip() == "all templates render"

    def test_a_text_override_alone_passes(
        self, tdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A copied text part, edited, with no HTML beside it: the check passes (the HTML part
        follows the text) and `check-config` too."""
        built_in = (builtin_dir() / "optin_target.txt.j2").read_text(encoding="utf-8")
        write(
            tdir,
            {
                "optin_target.txt.j2": built_in.replace(
                    "A no is perfectly fine.", "Saying no is fine."
                )
            },
        )
        assert main(["templates", "check", "--config", config_of(tdir)]) == 0
        assert main(["check-config", "--offline", "--config", config_of(tdir)]) == 0
        context = situations(load(tdir), "optin_target")[0].context
        mail = Templates(tdir).render("optin_target", context)
        assert mail.html is not None and "Saying no is fine." in mail.html
        assert "Saying no is fine." in mail.text


class TestRememberedCheck:
    """`introd run` skips a check that passed on the very same templates and settings."""

    @pytest.fixture
    def counted(self, monkeypatch: pytest.MonkeyPatch) -> list[int]:
        calls: list[int] = []
        real = templates_check.check_templates

        def counting(cfg: Config, templates: Templates | None = None) -> list[str]:
            calls.append(1)
            return real(cfg, templates)

        monkeypatch.setattr(templates_check, "check_templates", counting)
        return calls

    @pytest.fixture(autouse=True)
    def cache(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        """A cache folder of the test's own: the session's remembers other tests' passes."""
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        return tmp_path / "cache" / "introd"

    def test_a_pass_is_remembered_privately(
        self, tdir: Path, counted: list[int], cache: Path
    ) -> None:
        write(tdir, {"expired.txt.j2": "Hi {{ requester.first_name }},\n\nclosed.\n"})
        cfg = load(tdir)
        assert check_templates_cached(cfg) == [] and len(counted) == 1
        assert check_templates_cached(cfg) == [] and len(counted) == 1
        remembered = cache / "templates-checked"
        assert remembered.stat().st_mode & 0o777 == 0o600
        assert not list(remembered.parent.glob("*.tmp"))

    def test_a_fresh_state_with_the_same_templates_is_not_checked_again(
        self, tdir: Path, counted: list[int]
    ) -> None:
        """The instance's own files are not part of what was checked: a new state path
        (a fresh start, another instance with the same settings) needs no check."""
        cfg = load(tdir)
        assert check_templates_cached(cfg) == [] and len(counted) == 1
        elsewhere = dataclasses.replace(
            cfg, state_path=tdir.parent / "other" / "introd.db", secret_file=tdir / "s"
        )
        assert check_templates_cached(elsewhere) == [] and len(counted) == 1
        renamed = dataclasses.replace(
            cfg, owner=dataclasses.replace(cfg.owner, name="Someone Else")
        )
        assert check_templates_cached(renamed) == [] and len(counted) == 2

    def test_the_newest_passes_are_kept_and_an_older_one_is_checked_again(
        self, tdir: Path, counted: list[int], cache: Path
    ) -> None:
        cfg = load(tdir)
        owners = [dataclasses.replace(cfg.owner, name=f"Owner {i}") for i in range(40)]
        for owner in owners:
            assert check_templates_cached(dataclasses.replace(cfg, owner=owner)) == []
        assert len(counted) == 40
        assert len((cache / "templates-checked").read_text().split()) == REMEMBERED
        assert check_templates_cached(dataclasses.replace(cfg, owner=owners[-1])) == []
        assert len(counted) == 40
        assert check_templates_cached(dataclasses.replace(cfg, owner=owners[0])) == []
        assert len(counted) == 41

    def test_without_a_safe_cache_folder_the_pass_is_kept_beside_the_state(
        self, tdir: Path, counted: list[int], cache: Path
    ) -> None:
        cache.mkdir(parents=True)
        cache.chmod(0o777)
        cfg = load(tdir)
        assert check_templates_cached(cfg) == [] and len(counted) == 1
        assert not (cache / "templates-checked").exists()
        assert cfg.state_path.with_name("introd.db.templates-checked").is_file()
        assert check_templates_cached(cfg) == [] and len(counted) == 1

    def test_an_edited_template_is_checked_and_its_error_reported(
        self, tdir: Path, counted: list[int]
    ) -> None:
        write(tdir, {"expired.txt.j2": "Hi {{ requester.first_name }},\n\nclosed.\n"})
        assert check_templates_cached(load(tdir)) == []
        write(tdir, {"expired.txt.j2": "Hi {{ requester.frist_name }},\n"})
        problems = check_templates_cached(load(tdir))
        assert len(counted) == 2
        assert len(problems) == 1 and f"{tdir}/expired.txt.j2:1:" in problems[0], problems
        # a failed check is not remembered: the next start checks (and fails) again
        assert check_templates_cached(load(tdir)) == problems and len(counted) == 3

    def test_a_new_partial_or_a_changed_setting_is_checked(
        self, tdir: Path, counted: list[int]
    ) -> None:
        assert check_templates_cached(load(tdir)) == []
        write(tdir, {"_signature.txt.j2": "{{ owner.name }}\n"})
        assert check_templates_cached(load(tdir)) == [] and len(counted) == 2
        config = Path(config_of(tdir))
        config.write_text(config.read_text() + "optin:\n  order: target_first\n")
        assert check_templates_cached(load(tdir)) == [] and len(counted) == 3
        assert check_templates_cached(load(tdir)) == [] and len(counted) == 3

    def test_a_link_where_the_pass_is_kept_is_not_followed(
        self, tdir: Path, counted: list[int], cache: Path
    ) -> None:
        cfg = load(tdir)
        elsewhere = tdir.parent / "elsewhere"
        elsewhere.write_text("untouched\n")
        cache.mkdir(parents=True)
        remembered = cache / "templates-checked"
        remembered.symlink_to(elsewhere)
        assert check_templates_cached(cfg) == [] and len(counted) == 1
        assert elsewhere.read_text() == "untouched\n"
        assert not remembered.is_symlink()  # replaced by a file of introd's own
        assert check_templates_cached(cfg) == [] and len(counted) == 1


class TestSituations:
    def labels(self, tdir: Path, name: str) -> list[str]:
        return [s.label for s in situations(load(tdir), name)]

    def test_every_template_has_situations(self, tdir: Path) -> None:
        """Each template is rendered in at least one situation by the check."""
        cfg = load(tdir)
        for name in TEMPLATE_NAMES:
            assert situations(cfg, name), name

    def test_review_situations(self, tdir: Path) -> None:
        """review: candidates for ambiguous_target, no address for unknown_target, unclear."""
        by_label = {s.label: s.context for s in situations(load(tdir), "review")}
        ambiguous = by_label["ambiguous_target with candidates"]
        assert len(ambiguous["candidates"]) == 2 and ambiguous["target"].email is None
        unknown = by_label["unknown_target without an address"]
        assert unknown["candidates"] == [] and unknown["target"].email is None
        assert by_label["unclear_answer"]["rule"] == "unclear_answer"

    def test_optin_orders_and_note(self, tdir: Path) -> None:
        """optin_target is rendered in every order; requester_first carries the note."""
        by_label = {s.label: s.context for s in situations(load(tdir), "optin_target")}
        assert {"parallel", "requester_first", "target_first"} <= set(by_label)
        assert by_label["requester_first"]["requester_note"]
        assert by_label["parallel"]["requester_note"] is None

    @pytest.mark.parametrize("name", ["reminder", "reask"])
    def test_reminder_and_reask_for_each_role(self, tdir: Path, name: str) -> None:
        """reminder and reask go to requester and target alike."""
        assert {s.role for s in situations(load(tdir), name)} == {"requester", "target"}

    def test_digest_with_and_without_data(self, tdir: Path) -> None:
        """The digest is rendered for a busy period and an empty one."""
        contexts = [s.context for s in situations(load(tdir), "digest")]
        assert any(c["awaiting"] and c["ledger"] for c in contexts)
        assert any(not c["awaiting"] and not c["ledger"] for c in contexts)

    def test_bounce_notice_with_and_without_intro(self, tdir: Path) -> None:
        """bounce_notice is rendered for an intro's party and for an address alone."""
        contexts = [s.context for s in situations(load(tdir), "bounce_notice")]
        assert {c["intro"] is None for c in contexts} == {True, False}

    def test_extras_only_where_the_daemon_gives_them(self, tdir: Path) -> None:
        """Template-specific variables appear only in their own template's situations."""
        cfg = load(tdir)
        assert all("first_sent" in s.context for s in situations(cfg, "reminder"))
        assert not any("first_sent" in s.context for s in situations(cfg, "optin_target"))
        assert not any("failed_address" in s.context for s in situations(cfg, "review"))

    def test_sample_shapes_are_the_engines(self, tdir: Path) -> None:
        """The sample data has the same variables and item fields as the engine's context."""

        def names(cls: type) -> list[str]:
            return [f.name for f in dataclasses.fields(cls)]

        assert SampleCandidate is engine_module.NumberedCandidate
        assert SamplePending is engine_module.DigestLine
        cfg = load(tdir)
        store = Store(tdir.parent / "introd.db")
        try:
            engine = Engine(
                cfg,
                store=store,
                templates=Templates(tdir),
                contacts=ContactBook([]),
                secret=b"k" * 32,
            )
            real = engine.render_context(None, "owner")
        finally:
            store.close()
        sample = situations(cfg, "decline_policy")[0].context
        assert set(sample) == set(real)


class TestLanguages:
    def test_language_file_overrides_file_by_file(self, tdir: Path) -> None:
        """templates_dir/fr/NAME.txt.j2 is used for French; its subject stays the built-in
        French one; English readers keep the English built-ins."""
        write(tdir, {"fr/thanks_target.txt.j2": "Merci {{ target.first_name }}, c'est noté.\n"})
        context = situations(load(tdir), "thanks_target")[0].context
        templates = Templates(tdir)
        french = templates.render("thanks_target", context, language="fr")
        assert french.text == "Merci Bob, c'est noté.\n"
        assert french.subject.startswith("Merci") and "[intro K7F3Q2]" in french.subject
        english = templates.render("thanks_target", context, language="en")
        assert english.text.startswith("Hi Bob,") and english.subject.startswith("Thanks")

    def test_new_language_falls_back_to_default_per_file(self, tdir: Path) -> None:
        """A language with only a text file takes the other parts from the default language."""
        write(tdir, {"it/expired.txt.j2": "Ciao {{ requester.first_name }}, troppo tardi.\n"})
        context = situations(load(tdir), "expired")[0].context
        mail = Templates(tdir).render("expired", context, language="it")
        assert mail.text.startswith("Ciao Tim") and mail.subject.startswith("Your introduction")
        assert mail.html is not None and '<html lang="it">' in mail.html

    @pytest.mark.parametrize(
        ("language", "greeting"),
        [
            ("fr", "Bonjour"),
            ("FR", "Bonjour"),
            ("fr-CA", "Bonjour"),
            ("fr_BE", "Bonjour"),
            ("pt-BR", "Olá"),
            ("pt", "Hi"),
            ("en", "Hi"),
            (None, "Hi"),
            ("", "Hi"),
            ("xx", "Hi"),
            ("../fr", "Hi"),
            ("fr/../..", "Hi"),
        ],
    )
    def test_language_codes(self, tdir: Path, language: str | None, greeting: str) -> None:
        """Regional codes use their own folder, else their base language; unknown or malformed
        codes use the default."""
        write(tdir, {"pt-br/expired.txt.j2": "Olá {{ requester.first_name }}.\n"})
        context = situations(load(tdir), "expired")[0].context
        mail = Templates(tdir).render("expired", context, language=language)
        assert mail.text.startswith(greeting)

    def test_owner_templates_in_a_language_folder(self, tdir: Path) -> None:
        """An owner template the owner put in fr/ is used for French (owner.language)."""
        write(tdir, {"fr/digest.txt.j2": "Bonjour {{ owner.first_name }}, rien de neuf.\n"})
        context = situations(load(tdir), "digest")[1].context
        mail = Templates(tdir).render("digest", context, language="fr")
        assert mail.text == "Bonjour Marguerite, rien de neuf.\n"


class TestSendTime:
    def test_line_break_from_data_is_folded(self, tdir: Path) -> None:
        """A name read from mail with a line break cannot stop a mail: the header is cleaned."""
        context = {
            **situations(load(tdir), "optin_target")[0].context,
            "requester": Person(name="Tim\r\nBcc: everyone", email="tim.walker@example.org"),
        }
        mail = Templates(tdir).render("optin_target", context)
        assert "\n" not in mail.subject and "\r" not in mail.subject
        assert "Tim Bcc: everyone" in mail.subject

    def test_check_mode_refuses_a_template_line_break(self, tdir: Path) -> None:
        """With strict (as `templates check` renders) a subject line break is an error."""
        write(tdir, {"expired.subject.j2": 'a{{ "\\n" }}b'})
        context = situations(load(tdir), "expired")[0].context
        with pytest.raises(TemplateError, match="line break"):
            Templates(tdir).render("expired", context, strict=True)

    def test_unknown_template(self, tdir: Path) -> None:
        """A name that is no template is a TemplateError."""
        with pytest.raises(TemplateError, match="unknown template"):
            Templates(tdir).render("welcome", {})


class TestList:
    def test_lists_every_template_with_origin_and_when(
        self, tdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`templates list`: one line per template, origin per language, when it is sent."""
        write(
            tdir,
            {
                "optin_target.subject.j2": "Would you meet {{ requester.name }}?",
                "fr/expired.txt.j2": "Bonjour,\n\nC'est clos.\n",
                "it/expired.txt.j2": "Ciao,\n\nchiuso.\n",
                "expired.html.j2": "<p>Closed.</p>\n",
                "digest.html.j2": "",
            },
        )
        assert main(["templates", "list", "--config", config_of(tdir)]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split()[:7] == ["template", "parts", "en", "de", "es", "fr", "it"]
        rows = {line.split()[0]: line.split() for line in lines[1:] if line.strip()}
        assert set(TEMPLATE_NAMES) <= set(rows)
        assert rows["optin_target"][1:7] == [
            "text+layout",
            "mixed",
            "built-in",
            "built-in",
            "built-in",
            "-",
        ]
        assert rows["expired"][1:7] == [
            "text+html",
            "mixed",
            "built-in",
            "built-in",
            "mixed",
            "mixed+en",
        ]
        assert rows["digest"][1:3] == ["text", "mixed"]
        assert rows["review"][2:7] == ["built-in", "built-in", "built-in", "built-in", "-"]
        assert "to the owner when a request needs a decision" in " ".join(rows["review"])


class TestPreview:
    def test_preview_prints_headers_text_and_writes_html(
        self, tdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """preview: the headers as sent, the text part, and the HTML part in a file."""
        out = tmp_path / "optin.html"
        assert (
            main(
                [
                    "templates",
                    "preview",
                    "optin_target",
                    "--config",
                    config_of(tdir),
                    "--html",
                    str(out),
                ]
            )
            == 0
        )
        text = capsys.readouterr().out
        head, _, body = text.partition("\n\n")
        assert "To: Bob Jones <bob.jones@bigchem.example>" in head
        assert "From: Marguerite Okafor <marguerite@okafor.example>" in head
        assert "[intro K7F3Q2]" in head and "Reply-To: intros+" in head
        assert "Auto-Submitted: auto-generated" in head
        assert body.startswith("Hi Bob,")
        assert out.read_text(encoding="utf-8").lstrip().startswith("<!DOCTYPE html>")

    def test_introduction_goes_to_both_without_auto_submitted(
        self, tdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The introduction is addressed to both and not marked automatic."""
        assert main(["templates", "preview", "introduction", "--config", config_of(tdir)]) == 0
        head = capsys.readouterr().out.partition("\n\n")[0]
        assert "Tim Walker <tim.walker@example.org>" in head and "Bob Jones" in head
        assert "Auto-Submitted" not in head and "Reply-To" not in head

    def test_preview_a_language(self, tdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """LANG/NAME previews that language's version."""
        assert (
            main(["templates", "preview", "fr/optin_requester", "--config", config_of(tdir)]) == 0
        )
        out = capsys.readouterr().out
        assert "\n\nBonjour Tim," in out and "Subject: Votre demande" in out

    @pytest.mark.parametrize("name", ["welcome", "xx-yy-zz/expired"])
    def test_unknown_name_is_usage_error(
        self, tdir: Path, name: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An unknown template name exits 2 with one line."""
        assert main(["templates", "preview", name, "--config", config_of(tdir)]) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1

    def test_broken_template_is_one_line(
        self, tdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Previewing a broken template gives its one-line error, exit 2."""
        write(tdir, {"expired.txt.j2": "{{ nope }}"})
        assert main(["templates", "preview", "expired", "--config", config_of(tdir)]) == 2
        err = capsys.readouterr().err
        assert "expired.txt.j2:1: undefined variable 'nope'" in err

    def test_preview_a_real_intro(self, tdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """--intro renders with the intro's data, in the recipient's language."""
        store = Store(tdir.parent / "introd.db")
        try:
            insert_awaiting_intro(
                store,
                "W4X8N2",
                target=("Ingrid Sørensen", "ingrid@nordpolymer.example"),
                reason="would like to hear how the pilot line runs",
                blurb="Hello,\nCould I meet Ingrid?\nDaniel",
            )
        finally:
            store.close()
        assert (
            main(
                [
                    "templates",
                    "preview",
                    "optin_target",
                    "--intro",
                    "W4X8N2",
                    "--config",
                    config_of(tdir),
                ]
            )
            == 0
        )
        out = capsys.readouterr().out
        assert "To: Ingrid Sørensen <ingrid@nordpolymer.example>" in out
        assert "[intro W4X8N2]" in out and "\n\nBonjour Ingrid," in out
        assert "Daniel Whitcombe" in out


class TestDocumentedExamples:
    DOC = Path(__file__).resolve().parent.parent / "docs" / "templates.md"

    def test_worked_examples_pass_the_check(self, tdir: Path) -> None:
        """The tone examples of docs/templates.md, dropped in as it says, pass the check."""
        text = self.DOC.read_text(encoding="utf-8")
        examples = text[text.index("## Worked examples") :]
        found = re.findall(r"`templates_dir/([\w/.]+)`:\n\n```jinja\n(.*?)```", examples, re.S)
        assert len(found) >= 5
        write(tdir, dict(found))  # text and subjects only: the HTML parts follow
        assert check_templates(load(tdir)) == []

    def test_screenshots_referenced_exist(self) -> None:
        """Every picture docs/templates.md shows is in docs/templates/."""
        text = self.DOC.read_text(encoding="utf-8")
        shots = re.findall(r"\((templates/[\w.]+\.png)\)", text)
        assert len(set(shots)) == 24  # three mails, four languages, two widths
        for shot in shots:
            assert (self.DOC.parent / shot).is_file(), shot
