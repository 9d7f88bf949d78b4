"""The command line: JSON of `parse`, one-line errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from introd.cli import main
from helpers import config_folder
from world import BLANKET, INTROS, OWNER, TIM_ASKS, forward

CONFIG = {
    "owner": {"name": "Lisa Balbes", "addresses": [OWNER]},
    "auth": {"trusted_authserv_ids": ["mx.example.test"]},
    "contacts": ["contacts.yaml"],
    "secret_file": "secret",
    "state_path": "introd.db",
}


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    bob = {"name": "Bob Jones", "email": "bob@example.test", "company": "BigChem"}
    return config_folder(tmp_path, CONFIG, [bob])


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "introd", *args], capture_output=True, text=True, timeout=60
    )


class TestParse:
    def test_one_file_prints_one_object(
        self, cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`parse FILE` prints the SPEC's JSON object, without touching any state."""
        eml = tmp_path / "req.eml"
        eml.write_bytes(forward("Tim Walker", "tim@example.test", TIM_ASKS))
        assert main(["parse", "--config", str(cfg), str(eml)]) == 0
        out = json.loads(capsys.readouterr().out)
        assert set(out) == {"file", "kind", "message_id", "request", "reply", "decision"}
        assert out["kind"] == "request"
        assert out["request"]["requester"]["email"] == "tim@example.test"
        assert out["request"]["target"]["email"] == "bob@example.test"
        assert out["decision"]["action"] == "accept"
        assert not (tmp_path / "introd.db").exists() and not (tmp_path / "secret").exists()

    def test_several_files_print_an_array(
        self, cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Several files give a JSON array in the same order."""
        a, b = tmp_path / "a.eml", tmp_path / "b.eml"
        a.write_bytes(forward("Tim Walker", "tim@example.test", TIM_ASKS))
        b.write_bytes(forward("Brad", "brad@example.test", BLANKET))
        assert main(["parse", "--config", str(cfg), str(a), str(b)]) == 0
        out = json.loads(capsys.readouterr().out)
        assert [o["decision"]["rule"] for o in out] == ["default", "no_target"]

    @pytest.mark.parametrize(
        "content",
        [b"", b"\x00\xff\xfe garbage", b"Subject: only\r\n", b"From: =?bogus?Q?x?= <\r\n\r\nbody"],
    )
    def test_bad_mail_is_unknown_not_a_crash(
        self, cfg: Path, tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Empty, binary or header-only files give kind unknown and decision ignore."""
        eml = tmp_path / "bad.eml"
        eml.write_bytes(content)
        assert main(["parse", "--config", str(cfg), str(eml)]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["decision"]["action"] == "ignore"

    def test_missing_file_is_one_line(self, cfg: Path, tmp_path: Path) -> None:
        """A file that does not exist is a one-line error and exit 1."""
        p = _run("parse", "--config", str(cfg), str(tmp_path / "nope.eml"))
        assert p.returncode == 1 and "nope.eml" in p.stderr and "Traceback" not in p.stderr


class TestErrors:
    def test_bad_config_names_the_key(self, tmp_path: Path) -> None:
        """check-config --offline on a bad config: exit 2, one line naming the key."""
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump({**CONFIG, "contacts": [], "optin": {"order": "x"}}))
        p = _run("check-config", "--offline", "--config", str(path))
        assert p.returncode == 2
        assert "optin.order" in p.stderr and "Traceback" not in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1

    def test_bad_now(self, cfg: Path) -> None:
        """A malformed --now is a usage error (exit 2)."""
        p = _run("list", "--config", str(cfg), "--now", "tomorrow")
        assert p.returncode == 2 and "--now" in p.stderr

    def test_unknown_intro(self, cfg: Path) -> None:
        """`show` of an unknown id says so in one line (exit 2)."""
        p = _run("show", "--config", str(cfg), "ZZZZZZ")
        assert p.returncode == 2 and "ZZZZZZ" in p.stderr

    def test_check_config_offline_ok(self, cfg: Path) -> None:
        """A valid config with the built-in templates passes check-config --offline."""
        p = _run("check-config", "--offline", "--config", str(cfg))
        assert p.returncode == 0, p.stderr


class TestDemo:
    def test_demo_tells_the_three_stories(self, tmp_path: Path) -> None:
        """`introd demo` runs the three stories and leaves the mails as .eml files."""
        p = _run("demo", "--out", str(tmp_path / "demo"))
        assert p.returncode == 0, p.stderr
        assert "ends introduced" in p.stdout
        assert "ends declined_by_target" in p.stdout
        assert "decline (rule no_target)" in p.stdout
        emls = sorted((tmp_path / "demo").glob("*.eml"))
        assert any("introduction" in e.name for e in emls)


class TestLedgerAndList:
    def test_ledger_and_list_after_the_demo(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """After the demo, `ledger` shows the favour both ways and `list` filters by state."""
        assert main(["demo", "--out", str(tmp_path / "d")]) == 0
        capsys.readouterr()
        cfg = str(tmp_path / "d" / "config.yaml")
        assert main(["ledger", "--config", cfg]) == 0
        out = capsys.readouterr().out
        assert "Daniel Reyes -> Ingrid Holm" in out
        assert "you helped them" in out and "they helped you" in out
        assert main(["list", "--config", cfg, "--state", "introduced"]) == 0
        out = capsys.readouterr().out
        assert "introduced" in out and "declined" not in out
        assert main(["list", "--config", cfg, "--party", "kevin@growthpath.example"]) == 0
        assert "kevin@growthpath.example" in capsys.readouterr().out

    def test_show_names_who_passed_the_request_on(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`show ID` names the colleagues who only forwarded the request to the owner."""
        from datetime import UTC, datetime

        from introd.config import load_config
        from introd.state import Store

        assert main(["demo", "--out", str(tmp_path / "d")]) == 0
        capsys.readouterr()
        cfg = str(tmp_path / "d" / "config.yaml")
        store = Store(load_config(Path(cfg), need_servers=False).state_path)
        now = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
        with store.transaction():
            store.insert_intro(
                id="FWD234",
                state="awaiting",
                created=now,
                updated=now,
                requester_name="Isaac Mensah",
                requester_email="isaac@grid.example",
                forwarded_by=[
                    {"name": "Henrik Dahl", "email": "henrik@relay.example"},
                    {"name": None, "email": "nora@relay.example"},
                ],
            )
        store.close()
        assert main(["show", "--config", cfg, "FWD234"]) == 0
        out = capsys.readouterr().out
        assert "passed on by Henrik Dahl <henrik@relay.example>, <nora@relay.example>" in out
        assert "requester Isaac Mensah <isaac@grid.example>" in out

    def test_show_prints_the_whole_history(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`show ID` prints the decision, the parties, every event and every mail out."""
        assert main(["demo", "--out", str(tmp_path / "d")]) == 0
        capsys.readouterr()
        cfg = str(tmp_path / "d" / "config.yaml")
        assert main(["list", "--config", cfg, "--state", "introduced", "--json"]) == 0
        (intro,) = json.loads(capsys.readouterr().out)
        assert main(["show", "--config", cfg, intro["id"]]) == 0
        out = capsys.readouterr().out
        for expected in (
            "introduced",
            "rule default",
            "request_received",
            "answer_received",
            "optin_requester",
            "optin_target",
            "introduction",
            "[sent",
        ):
            assert expected in out, expected


class TestRunStart:
    def test_the_templates_check_leaves_nothing_alive(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The start-up templates check compiles every template in jinja2 environments held
        in reference cycles; `run` collects them before the daemon starts, so they do not
        stay in its memory until some later full collection."""
        import gc

        import jinja2

        import introd.daemon

        server = {"host": "127.0.0.1", "port": 1, "security": "none", "username": INTROS}
        data = {
            **CONFIG,
            "from": f"Lisa Balbes <{OWNER}>",
            "imap": {**server, "password": "imap-secret"},
            "smtp": {**server, "password": "smtp-secret"},
        }
        path = config_folder(tmp_path, data, [])
        alive: list[int] = []

        def environments() -> int:
            return sum(isinstance(o, jinja2.Environment) for o in gc.get_objects())

        class Started:
            def __init__(self, *args: object, **kwargs: object) -> None:
                alive.append(environments())

            def run_forever(self) -> int:
                return 0

        monkeypatch.setattr(introd.daemon, "Daemon", Started)
        gc.collect()
        before = environments()  # what earlier tests in this process still hold
        gc.disable()  # no automatic collection may do it instead
        try:
            assert main(["run", "--config", str(path)]) == 0
        finally:
            gc.enable()
        assert alive == [before]

    def _servers_config(self, tmp_path: Path, **extra: object) -> Path:
        server = {"host": "127.0.0.1", "port": 1, "security": "none", "username": INTROS}
        data = {
            **CONFIG,
            "from": f"Lisa Balbes <{OWNER}>",
            "imap": {**server, "password": "imap-secret"},
            "smtp": {**server, "password": "smtp-secret"},
            **extra,
        }
        return config_folder(tmp_path, data, [])

    _APART = (
        "import json, os, sys\n"
        "from pathlib import Path\n"
        "from introd.cli import check_templates_apart\n"
        "from introd.config import load_config\n"
        "parent = os.getpid()\n"
        "if sys.argv[2] == 'child fails':\n"
        "    from introd import templates_check\n"
        "    real = templates_check.check_templates_cached\n"
        "    def failing(cfg):\n"
        "        if os.getpid() != parent:\n"
        "            raise RuntimeError('the child breaks')\n"
        "        return real(cfg)\n"
        "    templates_check.check_templates_cached = failing\n"
        "problems = check_templates_apart(load_config(Path(sys.argv[1])))\n"
        "print(json.dumps({'problems': problems, 'jinja2_here': 'jinja2' in sys.modules}))\n"
    )

    def _apart(self, path: Path, how: str = "") -> dict[str, object]:
        done = subprocess.run(
            [sys.executable, "-c", self._APART, str(path), how],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert isinstance(result, dict)
        return result

    def test_the_check_runs_in_a_child_and_hands_back_its_problems(self, tmp_path: Path) -> None:
        """Alone in its process, `run` checks in a forked child: the problems are those the
        check finds, the pass is remembered, and the process itself never loaded jinja2."""
        from introd.config import load_config
        from introd.files import cache_root
        from introd.templates_check import check_templates

        tdir = tmp_path / "templates"
        tdir.mkdir()
        path = self._servers_config(tmp_path, templates_dir="templates")
        result = self._apart(path)
        assert result == {"problems": [], "jinja2_here": False}
        root = cache_root()
        assert root is not None and (root / "templates-checked").is_file()
        (tdir / "optin_target.txt.j2").write_text("Hi {{ target.frist_name }},\n")
        (tdir / "optin_targte.subject.j2").write_text("Hello\n")
        expected = check_templates(load_config(path))
        assert len(expected) == 2
        assert self._apart(path) == {"problems": expected, "jinja2_here": False}

    def test_a_child_that_fails_leaves_the_check_to_the_process(self, tmp_path: Path) -> None:
        """A child that dies for a reason the check does not report is not taken for a pass:
        the check runs again in the process itself."""
        tdir = tmp_path / "templates"
        tdir.mkdir()
        (tdir / "optin_target.txt.j2").write_text("Hi {{ target.frist_name }},\n")
        result = self._apart(
            self._servers_config(tmp_path, templates_dir="templates"), "child fails"
        )
        problems = result["problems"]
        assert isinstance(problems, list) and len(problems) == 1
        assert "frist_name" in problems[0] and result["jinja2_here"] is True

    def test_with_other_threads_the_check_runs_in_the_process(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A fork would copy no other thread, and no lock one of them held would be freed
        in the child: with threads running, the check stays in the process."""
        import threading

        from introd import templates_check
        from introd.cli import check_templates_apart
        from introd.config import load_config

        calls: list[int] = []
        monkeypatch.setattr(
            templates_check, "check_templates_cached", lambda cfg: calls.append(1) or ["x"]
        )
        stop = threading.Event()
        other = threading.Thread(target=stop.wait)
        other.start()
        try:
            assert check_templates_apart(load_config(self._servers_config(tmp_path))) == ["x"]
        finally:
            stop.set()
            other.join()
        assert calls == [1]

    def test_a_broken_template_stops_run_with_one_line(self, tmp_path: Path) -> None:
        """`introd run` refuses a template that does not render before it connects: the
        file, the line and what is wrong, one line, no traceback."""
        tdir = tmp_path / "templates"
        tdir.mkdir()
        broken = tdir / "optin_target.txt.j2"
        broken.write_text("Hi {{ target.frist_name }},\n")
        path = self._servers_config(tmp_path, templates_dir="templates")
        done = _run("run", "--once", "--config", str(path))
        assert done.returncode == 2, done.stderr
        lines = [line for line in done.stderr.splitlines() if str(broken) in line]
        assert len(lines) == 1 and f"{broken}:1:" in lines[0] and "frist_name" in lines[0]
        assert "Traceback" not in done.stderr

    def test_the_daemon_loads_jinja2_with_the_first_template_it_renders(
        self, tmp_path: Path
    ) -> None:
        """A daemon waiting for its first mail holds no jinja2: building the engine and its
        template set imports none of it; the first rendering does."""
        script = (
            "import sys\n"
            "from pathlib import Path\n"
            "import introd.cli, introd.daemon\n"
            "from introd.config import load_config\n"
            "from introd.state import Store\n"
            "from introd.wiring import build_engine\n"
            "cfg = load_config(Path(sys.argv[1]))\n"
            "engine = build_engine(cfg, Store(cfg.state_path))\n"
            "before = 'jinja2' in sys.modules\n"
            "rendered, problems = engine.templates.try_render('optin_target', {})\n"
            "print(before, 'jinja2' in sys.modules, problems[0])\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, str(self._servers_config(tmp_path))],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split()[:2] == ["False", "True"]
        assert "optin_target.subject.j2:1: undefined variable" in done.stdout


class TestParserOfOneCommand:
    """Each start builds the parser of the command given only; it reads that command's
    arguments as the whole parser does, and COMMANDS names every command."""

    ARGV = [
        ["run", "--once", "--config", "c.yaml", "--now", "2026-01-01T00:00:00"],
        ["check-config", "--offline"],
        ["parse", "a.eml", "b.eml"],
        ["list", "--state", "awaiting", "--outcome", "met", "--json"],
        ["show", "ABC123"],
        ["approve", "ABC123", "--pick", "2"],
        ["decline", "ABC123"],
        ["cancel", "ABC123"],
        ["contacts", "import", "book.vcf"],
        ["templates", "copy", "layout", "--lang", "de", "--force"],
        ["status"],
        ["auth", "login", "--port", "8080", "--config", "c.yaml"],
        ["ledger"],
        ["forget", "x@example.test"],
        ["demo", "--out", "d"],
    ]

    def test_commands_are_all_the_commands(self) -> None:
        from introd.cli import COMMANDS, build_parser

        sub = next(a for a in build_parser()._actions if a.dest == "command")
        assert tuple(sub.choices) == COMMANDS  # type: ignore[union-attr]
        assert [argv[0] for argv in self.ARGV] == list(COMMANDS)

    @pytest.mark.parametrize("argv", ARGV, ids=lambda argv: argv[0])
    def test_read_as_the_whole_parser_reads_it(self, argv: list[str]) -> None:
        from introd.cli import build_parser

        assert vars(build_parser(argv[0]).parse_args(argv)) == vars(build_parser().parse_args(argv))

    @pytest.mark.parametrize("argv", [["run", "--bogus"], ["show"], ["templates", "nope"]])
    def test_a_wrong_argument_is_told_as_the_whole_parser_tells_it(
        self, argv: list[str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        from introd.cli import build_parser

        told = []
        for parser in (build_parser(argv[0]), build_parser()):
            with pytest.raises(SystemExit) as caught:
                parser.parse_args(argv)
            told.append((caught.value.code, capsys.readouterr().err))
        assert told[0] == told[1] and told[0][0] == 2
