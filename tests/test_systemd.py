"""introd under a real systemd: the shipped units, booted in private namespaces.

One systemd (tests/booted.py) runs for the module with `systemd/introd.service` and
`systemd/introd@.service` installed unchanged in its /run/systemd/system, plus a drop-in
each that points ExecStart at the introd this suite installed and adds
DefaultDependencies=no (the boot target has no sysinit.target) and RestartSec=1s (the
shipped 10 s would only slow the restarts down). The config, the contacts and the
credentials are in the namespace's /etc/introd, where the units look for them; the
state is where StateDirectory= puts it. journald runs in the namespace, so the logs
are read back with their priority. introd talks to this suite's Dovecot and SMTP server
on the host's loopback (the network namespace is shared).

The tests run in file order and share that one systemd: each leaves introd.service as
the next one expects it, stopped or running, and counts only the mail it caused.
"""

from __future__ import annotations

import email
import importlib.metadata
import importlib.resources
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from collections import Counter
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
import yaml

import introd

from booted import BootedSystemd, BootError, HostSnapshot, NamespacesUnavailable
from conftest import INTRO_PASSWORD, INTRO_USER, SMTP_PASSWORD, SMTP_USER
from oauth_server import TokenServer
from servers import PARTY_PASSWORD, Dovecot, SmtpServer
from helpers import backlog_request, requester_of, target_of
from world import OWNER, TRUSTED

pytestmark = pytest.mark.servers

REPO = Path(__file__).resolve().parent.parent
INTROD = "/run/ns/stage/venv/bin/introd"  # the suite's introd, installed by _install_introd
UNIT = "introd.service"
BATCH = 5  # imap.batch_size: the backlog is read and sent in several batches
BACKLOG = 12  # requests in the backlog: three batches
CONTACTS = 40
INSTANCES = {  # instance: (mailbox, IMAP password, SMTP password)
    "a": ("intros-a@example.test", "imap-a-secret", "smtp-a-secret"),
    "b": ("intros-b@example.test", "imap-b-secret", "smtp-b-secret"),
}
# instance b signs in with OAuth 2.0 (client_credentials at the suite's token server)
OAUTH_CLIENT, OAUTH_SECRET = "introd-b", "b-client-secret"
TOKEN_FILE = "/var/lib/private/introd/b/oauth2-token.json"
PRIORITY = {"debug": "7", "info": "6", "warning": "4", "error": "3", "critical": "2"}
# hidden from the service by ProtectHome=/PrivateTmp=, or covered in the namespace
HIDDEN = ("/home", "/root", "/run/user", "/tmp", "/var/tmp")


def _drop_in(config: str) -> str:
    return (
        "[Unit]\nDefaultDependencies=no\n\n[Service]\nExecStart=\n"
        f"ExecStart={INTROD} run --config {config}\nRestartSec=1s\n"
    )


def _config(mailbox: str, dovecot: Dovecot, smtp: SmtpServer, state: str, **changes: Any) -> str:
    data: dict[str, Any] = {
        "owner": {"name": "Lisa Balbes", "addresses": [OWNER]},
        "imap": {
            "host": "127.0.0.1",
            "port": dovecot.imap_port,
            "security": "none",
            "username": mailbox,
            "password_file": "imap",
            "folder": "INBOX",
            "processed_folder": "introd/done",
            "quarantine_folder": "introd/quarantine",
            "idle": True,
            "poll_interval": "60s",
            "timeout": "10s",
            "batch_size": BATCH,
        },
        "smtp": {
            "host": "127.0.0.1",
            "port": smtp.port,
            "security": "none",
            "username": smtp.user,
            "password_file": "smtp",
            "timeout": "10s",
        },
        "from": f"Lisa Balbes <{OWNER}>",
        "reply_address": mailbox,
        "state_path": f"{state}/introd.db",
        "secret_file": f"{state}/secret",
        "contacts": ["/etc/introd/contacts.yaml"],
        "auth": {"require": True, "trusted_authserv_ids": [TRUSTED]},
        "digest": {"every": "off"},
        "limits": {"max_outgoing_per_hour": 0},
        "log": {"format": "auto", "level": "info"},
    }
    data.update(changes)
    return yaml.safe_dump(data)


class Machine:
    """The booted systemd with introd installed in it, and the mail servers it uses."""

    def __init__(
        self,
        booted: BootedSystemd,
        dovecot: Dovecot,
        smtp: SmtpServer,
        instance_smtp: dict[str, SmtpServer],
        instance_dovecot: dict[str, Dovecot],
        token_server: TokenServer,
    ) -> None:
        self.sd = booted
        self.dovecot = dovecot
        self.smtp = smtp
        self.instance_smtp = instance_smtp
        self.instance_dovecot = instance_dovecot
        self.token_server = token_server

    def write_config(self, **changes: Any) -> None:
        path = self.sd.etc / "config.yaml"
        path.write_text(_config(INTRO_USER, self.dovecot, self.smtp, "/var/lib/introd", **changes))
        path.chmod(0o644)

    def main_pid(self, unit: str = UNIT) -> int:
        return int(self.sd.show(unit, "MainPID")["MainPID"])

    def events(
        self, name: str | None = None, unit: str = UNIT, since_pid: int | None = None
    ) -> list[dict[str, Any]]:
        """introd's own log events in the unit's journal (optionally of one process)."""
        found = []
        for entry in self.sd.journal(unit):
            if entry.get("_SYSTEMD_UNIT") != unit or entry.get("_PID") == "1":
                continue
            if since_pid is not None and entry.get("_PID") != str(since_pid):
                continue
            try:
                event = json.loads(entry["MESSAGE"])
            except (TypeError, ValueError):
                continue
            if name is None or event.get("event") == name:
                found.append(event)
        return found

    def introd(self, *args: str, config: str = "/etc/introd/config.yaml") -> tuple[int, str]:
        """An introd command run by hand in the namespace (as root, like an operator)."""
        r = self.sd.run(str(INTROD), *args, check=False, env={"INTROD_CONFIG": config})
        return r.returncode, r.stdout + r.stderr

    def intros(self, config: str = "/etc/introd/config.yaml") -> list[dict[str, Any]]:
        code, out = self.introd("list", "--json", config=config)
        assert code == 0, out
        return list(json.loads(out))

    def received_since(self, mark: int, smtp: SmtpServer | None = None) -> list[EmailMessage]:
        server = smtp or self.smtp
        return [
            email.message_from_bytes(m.data, policy=policy.default)  # type: ignore[misc]
            for m in server.received[mark:]
        ]

    def wait_sent(
        self, mark: int, count: int, smtp: SmtpServer | None = None, timeout: float = 30.0
    ) -> list[EmailMessage]:
        server = smtp or self.smtp
        self.sd.wait_for(
            f"{count} mails sent", lambda: len(server.received) - mark >= count, timeout=timeout
        )
        return self.received_since(mark, smtp)

    def wait_active(self, unit: str = UNIT, *, not_pid: int = 0, timeout: float = 30.0) -> int:
        """Wait until the unit runs (with another main PID than `not_pid`); its PID."""

        def running() -> int:
            props = self.sd.show(unit, "ActiveState", "SubState", "MainPID")
            pid = int(props["MainPID"])
            ok = props["ActiveState"] == "active" and props["SubState"] == "running"
            return pid if ok and pid and pid != not_pid else 0

        return int(self.sd.wait_for(f"{unit} running again", running, timeout=timeout))

    def quiet(self, mark: int, smtp: SmtpServer | None = None, settle: float = 1.0) -> None:
        """Wait until no mail arrived for `settle` seconds (a duplicate would have by then)."""
        server = smtp or self.smtp
        last, since = len(server.received), time.monotonic()
        while time.monotonic() - since < settle:
            time.sleep(0.1)
            if len(server.received) != last:
                last, since = len(server.received), time.monotonic()

    def reply(
        self,
        optin: EmailMessage,
        sender: str,
        text: str,
        to: str | None = None,
        dovecot: Dovecot | None = None,
    ) -> None:
        """`sender` answers an opt-in like a mail client: to its Reply-To, quoting it."""
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = to or str(optin["Reply-To"])
        msg["Subject"] = "Re: " + str(optin["Subject"])
        msg["Message-ID"] = make_msgid(domain="example.test")
        msg["In-Reply-To"] = msg["References"] = str(optin["Message-ID"])
        msg.set_content(f"{text}\n\nOn Tue, Lisa Balbes wrote:\n> ...\n")
        (dovecot or self.dovecot).deliver(str(msg["To"]), msg.as_bytes(), sender)


def _to(msg: EmailMessage) -> str:
    match = re.search(r"[\w.+-]+@[\w.-]+", str(msg["To"]))
    assert match is not None
    return match.group(0)


def _hidden_from_the_service(path: Path) -> bool:
    return any(str(path).startswith(prefix + "/") for prefix in HIDDEN)


def _visible_python() -> str:
    """A Python of this suite's version that the service can run: its own base
    interpreter, unless that lives where ProtectHome= hides it (pyenv under /root)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [
        getattr(sys, "_base_executable", sys.executable),
        sys.executable,
        f"/usr/bin/{version}",
        f"/usr/local/bin/{version}",
    ]
    for candidate in candidates:
        path = Path(candidate).resolve()
        if path.is_file() and not _hidden_from_the_service(path) and path.name.startswith(version):
            return str(path)
    pytest.fail(f"no {version} outside {', '.join(HIDDEN)} for the service to run", pytrace=False)


def _requirements(name: str, seen: set[str]) -> set[str]:
    """The installed distributions `name` needs, recursively."""
    for req in importlib.metadata.requires(name) or []:
        if "extra ==" in req:
            continue
        dep = re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0]
        try:
            importlib.metadata.distribution(dep)
        except importlib.metadata.PackageNotFoundError:
            continue  # a dependency for another Python version
        if dep.lower() not in seen:
            seen.add(dep.lower())
            _requirements(dep, seen)
    return seen


def _install_introd(stage: Path) -> None:
    """Install the suite's introd as docs/operations.md does, into a virtualenv the
    service can read: the stage's venv/ (/run/ns/stage/venv in the namespace), with this
    checkout's package and the installed copies of its dependencies."""
    venv = stage / "venv"
    subprocess.run(
        [_visible_python(), "-m", "venv", "--without-pip", str(venv)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    for dist_name in _requirements("introd", set()):
        dist = importlib.metadata.distribution(dist_name)
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file)))
            if source.is_file() and ".." not in file.parts:
                (site / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, site / file)
    package = Path(introd.__file__ or "").parent
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(package, site / "introd", ignore=ignore)
    templates = Path(str(importlib.resources.files("introd.templates")))
    shutil.copytree(templates, site / "introd" / "templates", ignore=ignore, dirs_exist_ok=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "compileall", "-q", str(site / "introd")],
        check=True,
        capture_output=True,
        timeout=120,
    )  # the service cannot write
    script = venv / "bin" / "introd"
    script.write_text(
        "#!/run/ns/stage/venv/bin/python\nimport sys\n"
        "from introd.cli import main\nsys.exit(main())\n"
    )
    script.chmod(0o755)
    for path in [venv, *venv.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)


@pytest.fixture(scope="module")
def host() -> Iterator[HostSnapshot]:
    snapshot = HostSnapshot.take()
    yield snapshot
    snapshot.discard()


@pytest.fixture(scope="module")
def machine(
    host: HostSnapshot,
    dovecot_server: Dovecot,
    oauth_dovecot_server: Dovecot,
    token_server_session: TokenServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Machine]:
    """systemd booted in namespaces with both units installed; introd not started yet."""
    stage = tmp_path_factory.mktemp("systemd")
    try:
        booted = BootedSystemd(stage)
    except NamespacesUnavailable as exc:
        pytest.skip(f"no private namespaces for a real systemd here: {exc}")
    except BootError as exc:
        pytest.fail(str(exc), pytrace=False)
    dovecot_server.start()
    dovecot_server.add_user(OWNER, "owner-pw")
    servers: list[SmtpServer] = []
    try:
        smtp = SmtpServer(user=SMTP_USER, password=SMTP_PASSWORD, dovecot=dovecot_server)
        servers.append(smtp)
        instance_smtp = {}
        instance_dovecot = {"a": dovecot_server, "b": oauth_dovecot_server}
        oauth_dovecot_server.start()
        token_server_session.add_client(OAUTH_CLIENT, OAUTH_SECRET, app_mailbox=INSTANCES["b"][0])
        for name, (mailbox, imap_pw, smtp_pw) in INSTANCES.items():
            instance_dovecot[name].add_user(mailbox, imap_pw)
            introspection = token_server_session.introspection_url if name == "b" else None
            instance_smtp[name] = SmtpServer(
                user=mailbox,
                password=smtp_pw,
                dovecot=instance_dovecot[name],
                oauth2_introspection_url=introspection,
            )
            servers.append(instance_smtp[name])
        for server in servers:
            server.start()
        m = Machine(
            booted, dovecot_server, smtp, instance_smtp, instance_dovecot, token_server_session
        )
        _install_introd(stage)
        _install(m)
        booted.boot(["systemd-journald.service"])
        yield m
    except BootError as exc:
        pytest.fail(str(exc), pytrace=False)
    finally:
        booted.close()
        for server in servers:
            server.stop()
        dovecot_server.clear()
        oauth_dovecot_server.clear()


def _install(m: Machine) -> None:
    """What docs/operations.md says, into the namespace: units, drop-ins, config,
    contacts, credentials (root only)."""
    units, etc = m.sd.units, m.sd.etc
    for name in ("introd.service", "introd@.service"):
        (units / name).write_bytes((REPO / "systemd" / name).read_bytes())
    for unit, config in (
        (UNIT, "/etc/introd/config.yaml"),
        ("introd@.service", "/etc/introd/%i.yaml"),
    ):
        (units / f"{unit}.d").mkdir()
        (units / f"{unit}.d" / "test.conf").write_text(_drop_in(config))
    # journald without the /dev/log and audit sockets (they would touch the host's /dev)
    for name in ("systemd-journald-dev-log.socket", "systemd-journald-audit.socket"):
        (units / name).symlink_to("/dev/null")
    contacts = [
        {"name": n, "email": a, "company": c} for n, a, c in (target_of(i) for i in range(CONTACTS))
    ]
    (etc / "contacts.yaml").write_text(yaml.safe_dump(contacts))
    m.write_config()
    creds = etc / "credentials"
    secrets = {creds / "imap": INTRO_PASSWORD, creds / "smtp": SMTP_PASSWORD}
    for name, (mailbox, imap_pw, smtp_pw) in INSTANCES.items():
        path = etc / f"{name}.yaml"
        path.write_text(
            _config(
                mailbox, m.instance_dovecot[name], m.instance_smtp[name], f"/var/lib/introd/{name}"
            )
        )
        secrets[creds / name / "imap"] = imap_pw
        secrets[creds / name / "smtp"] = smtp_pw
    # b: OAuth, as docs/operations.md says: the client secret as one more credential (a
    # drop-in), the imap and smtp credentials empty, the token file beside the state
    data = yaml.safe_load((etc / "b.yaml").read_text())
    for section in ("imap", "smtp"):
        del data[section]["password_file"]
        data[section]["auth"] = "oauth2"
    data["oauth2"] = {
        "provider": "custom",
        "client_id": OAUTH_CLIENT,
        "flow": "client_credentials",
        "token_url": m.token_server.token_url,
        "client_secret_file": "oauth2",
        "timeout": "5s",
    }
    (etc / "b.yaml").write_text(yaml.safe_dump(data))
    secrets.update(
        {creds / "b" / "imap": "", creds / "b" / "smtp": "", creds / "b" / "oauth2": OAUTH_SECRET}
    )
    (units / "introd@b.service.d").mkdir()
    (units / "introd@b.service.d" / "oauth2.conf").write_text(
        "[Service]\nLoadCredential=oauth2:/etc/introd/credentials/b/oauth2\n"
    )
    for path, value in secrets.items():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_text(value)
        path.chmod(0o600)
    for path in etc.rglob("*.yaml"):
        path.chmod(0o644)


def _append(
    m: Machine, indexes: range, mailbox: str = INTRO_USER, dovecot: Dovecot | None = None
) -> None:
    with (dovecot or m.dovecot).session(mailbox) as imap:
        for i in indexes:
            imap.append("INBOX", backlog_request(i))


def _parties(indexes: range) -> list[str]:
    return sorted([requester_of(i)[1] for i in indexes] + [target_of(i)[1] for i in indexes])


def _optin_to(mails: list[EmailMessage], address: str) -> EmailMessage:
    (found,) = [msg for msg in mails if _to(msg) == address]
    return found


class TestUnderSystemd:
    def test_start_returns_once_ready_and_status_shows_the_status_line(
        self, machine: Machine
    ) -> None:
        """`systemctl start` returns after READY=1, which introd sends once it handled
        what was waiting: the opt-ins are out by then; `status` shows introd's STATUS=."""
        m = machine
        _append(m, range(0, 2))
        mark = len(m.smtp.received)
        m.sd.systemctl("start", UNIT, timeout=60)
        sent = m.received_since(mark)
        assert sorted(_to(msg) for msg in sent) == _parties(range(0, 2)), (
            "start returned before the first pass was done"
        )
        props = m.sd.show(
            UNIT, "ActiveState", "SubState", "StatusText", "Type", "NotifyAccess", "Result"
        )
        assert props["ActiveState"] == "active" and props["SubState"] == "running"
        assert props["Type"] == "notify" and props["NotifyAccess"] == "main"
        assert re.fullmatch(r"idle; 2 awaiting, 0 in outbox", props["StatusText"]), props
        status = m.sd.systemctl("status", UNIT).stdout
        assert 'Status: "idle; 2 awaiting, 0 in outbox"' in status
        assert m.events("daemon_ready")

    def test_passwords_arrive_as_credentials(self, machine: Machine) -> None:
        """The config names no password: introd logged in with what LoadCredential= put in
        its private $CREDENTIALS_DIRECTORY, from files only root can read."""
        m = machine
        config = (m.sd.etc / "config.yaml").read_text()
        assert INTRO_PASSWORD not in config and SMTP_PASSWORD not in config
        assert "password:" not in config
        for name in ("imap", "smtp"):
            assert (m.sd.etc / "credentials" / name).stat().st_mode & 0o777 == 0o600
        pid = m.main_pid()
        env = m.sd.read(f"/proc/{pid}/environ").split("\0")
        assert "CREDENTIALS_DIRECTORY=/run/credentials/introd.service" in env
        assert m.sd.read("/run/credentials/introd.service/imap") == INTRO_PASSWORD
        assert m.sd.read("/run/credentials/introd.service/smtp") == SMTP_PASSWORD
        # the proof that both arrived: the first test's opt-ins went out through IMAP+SMTP

    def test_state_and_secret_belong_to_the_dynamic_user_and_survive_a_restart(
        self, machine: Machine
    ) -> None:
        """DynamicUser + StateDirectory: the state and the secret (0600) are the service
        user's, and a restart keeps both: an opt-in sent before it is answered after it."""
        m = machine
        uid = int(m.sd.read(f"/proc/{m.main_pid()}/status").split("Uid:")[1].split()[0])
        assert uid != 0
        assert m.sd.run("readlink", "/var/lib/introd").stdout.strip() == "private/introd"
        assert m.sd.stat("/var/lib/private/introd")[0] == uid
        assert m.sd.stat("/var/lib/private/introd")[2] == "700"
        for name in ("introd.db", "secret"):
            owner, _gid, mode = m.sd.stat(f"/var/lib/private/introd/{name}")
            assert owner == uid and mode == "600", (name, owner, mode)
        secret = m.sd.read("/var/lib/introd/secret")
        before = m.intros()
        pid = m.main_pid()
        m.sd.systemctl("restart", UNIT, timeout=60)
        assert m.main_pid() != pid
        assert m.sd.read("/var/lib/introd/secret") == secret
        assert m.intros() == before and len(before) == 2
        new_uid = int(m.sd.read(f"/proc/{m.main_pid()}/status").split("Uid:")[1].split()[0])
        assert m.sd.stat("/var/lib/private/introd/introd.db")[0] == new_uid
        # CacheDirectory: the compiled templates kept for the next start, the user's, 0700,
        # beside the passed check and the readers' compiled patterns
        cached = m.sd.run("ls", "/var/cache/private/introd").stdout.split()
        (kept,) = [n for n in cached if n.startswith("templates-") and n != "templates-checked"]
        assert "templates-checked" in cached
        assert any(n.startswith("patterns-") and n.endswith(".marshal") for n in cached)
        assert m.sd.stat(f"/var/cache/private/introd/{kept}")[0::2] == (new_uid, "700")
        assert len(m.sd.run("ls", f"/var/cache/private/introd/{kept}").stdout.split()) > 100
        # both parties of intro 0 answer the opt-ins sent before the restart
        optins = m.received_since(0)
        requester, target = requester_of(0)[1], target_of(0)[1]
        mark = len(m.smtp.received)
        m.reply(_optin_to(optins, target), target, "Yes, happy to talk.")
        m.reply(_optin_to(optins, requester), requester, "Yes please, thank you!")
        (intro,) = m.wait_sent(mark, 1)
        assert (
            "Auto-Submitted" not in intro
            and requester in str(intro["To"])
            and target in str(intro["To"])
        )
        assert sorted(i["state"] for i in m.intros()) == ["awaiting", "introduced"]

    def test_a_backlog_goes_out_under_the_filter(self, machine: Machine) -> None:
        """More mail than one FETCH batch: sent batch by batch by the daemon itself under
        the unit's SystemCallFilter and hardening, every opt-in once, no restart."""
        m = machine
        m.sd.systemctl("stop", UNIT)
        backlog = range(2, 2 + BACKLOG)
        _append(m, backlog)
        mark = len(m.smtp.received)
        m.sd.systemctl("start", UNIT, timeout=90)
        pid = m.main_pid()
        sent = m.wait_sent(mark, 2 * BACKLOG)
        m.quiet(mark)
        sent = m.received_since(mark)
        assert sorted(_to(msg) for msg in sent) == _parties(backlog)
        assert len({str(msg["Message-ID"]) for msg in sent}) == len(sent)
        assert len(m.events("mail_sent", since_pid=pid)) == 2 * BACKLOG
        assert m.sd.show(UNIT, "NRestarts")["NRestarts"] == "0"

    def test_reload_applies_a_good_config_and_refuses_a_bad_one(self, machine: Machine) -> None:
        """`systemctl reload` with a changed config: applied without a restart; with a
        broken one: refused, logged at error priority, and the service runs on as before."""
        m = machine
        pid = m.main_pid()
        m.write_config(**{"from": f"Lisa B. Balbes <{OWNER}>"})
        m.sd.systemctl("reload", UNIT)
        m.sd.wait_for("config_reloaded", lambda: m.events("config_reloaded", since_pid=pid))
        mark = len(m.smtp.received)
        _append(m, range(14, 15))
        sent = m.wait_sent(mark, 2)
        assert all("Lisa B. Balbes" in str(msg["From"]) for msg in sent)

        (m.sd.etc / "config.yaml").write_text("imap: [this is not\n")
        m.sd.systemctl("reload", UNIT)
        m.sd.wait_for("reload_refused", lambda: m.events("reload_refused", since_pid=pid))
        props = m.sd.show(UNIT, "ActiveState", "SubState", "MainPID")
        assert (props["ActiveState"], props["SubState"]) == ("active", "running")
        assert int(props["MainPID"]) == pid
        mark = len(m.smtp.received)
        _append(m, range(15, 16))
        sent = m.wait_sent(mark, 2)
        assert all("Lisa B. Balbes" in str(msg["From"]) for msg in sent), (
            "the last good config still applies"
        )
        refused = [e for e in m.sd.journal(UNIT) if "reload_refused" in e.get("MESSAGE", "")]
        assert refused and all(e["PRIORITY"] == PRIORITY["error"] for e in refused)
        m.write_config()
        m.sd.systemctl("reload", UNIT)
        m.sd.wait_for(
            "the good config back", lambda: len(m.events("config_reloaded", since_pid=pid)) >= 2
        )

    def test_a_crash_is_restarted(self, machine: Machine) -> None:
        """introd killed outright (SIGKILL): Restart=on-failure starts it again, and it
        handles the mail that came in meanwhile."""
        m = machine
        pid = m.main_pid()
        restarts = int(m.sd.show(UNIT, "NRestarts")["NRestarts"])
        # for the next test: the restarted introd gets a 3 s watchdog (the shipped 120 s
        # would make it wait two minutes); systemd reads the drop-in when it restarts
        (m.sd.units / f"{UNIT}.d" / "watchdog.conf").write_text("[Service]\nWatchdogSec=3s\n")
        m.sd.daemon_reload()
        m.sd.run("kill", "-KILL", str(pid))
        mark = len(m.smtp.received)
        _append(m, range(18, 19))
        m.wait_active(not_pid=pid)
        assert int(m.sd.show(UNIT, "NRestarts")["NRestarts"]) == restarts + 1
        m.wait_sent(mark, 2)
        m.quiet(mark)
        assert sorted(_to(msg) for msg in m.received_since(mark)) == _parties(range(18, 19))

    def test_the_watchdog_kills_a_hung_daemon_and_nothing_is_lost(self, machine: Machine) -> None:
        """A SIGSTOPped introd stops pinging: systemd kills it after WatchdogSec and
        restarts it, and the mail that arrived meanwhile is handled, once."""
        m = machine
        dropin = m.sd.units / f"{UNIT}.d" / "watchdog.conf"
        try:
            pid = m.main_pid()
            env = m.sd.read(f"/proc/{pid}/environ").split("\0")
            assert "WATCHDOG_USEC=3000000" in env, "the previous test's drop-in applies"
            restarts = int(m.sd.show(UNIT, "NRestarts")["NRestarts"])
            m.sd.run("kill", "-STOP", str(pid))
            mark = len(m.smtp.received)
            _append(m, range(16, 18))
            new_pid = m.wait_active(not_pid=pid, timeout=40)
            assert int(m.sd.show(UNIT, "NRestarts")["NRestarts"]) == restarts + 1
            console = m.sd.console(200)  # systemd's own messages
            assert f"{UNIT}: Watchdog timeout (limit 3s)!" in console, console
            m.wait_sent(mark, 4)
            m.quiet(mark)
            sent = m.received_since(mark)
            assert sorted(_to(msg) for msg in sent) == _parties(range(16, 18))
            assert new_pid != pid
        finally:
            dropin.unlink(missing_ok=True)
            m.sd.daemon_reload()

    def test_stop_exits_0_within_seconds_finishing_the_mail_in_hand(self, machine: Machine) -> None:
        """`systemctl stop` while introd sends (a slow SMTP server): it finishes the mail in
        hand, exits 0 within seconds, and after a start nothing is sent twice or lost."""
        m = machine
        pid = m.main_pid()
        batch = range(19, 23)
        mark = len(m.smtp.received)
        m.smtp.data_delay = 0.3
        try:
            _append(m, batch)
            m.wait_sent(mark, 2, timeout=60)
            started = time.monotonic()
            m.sd.systemctl("stop", UNIT)
            took = time.monotonic() - started
        finally:
            m.smtp.data_delay = 0.0
        props = m.sd.show(UNIT, "ActiveState", "Result")
        assert props["ActiveState"] == "inactive" and props["Result"] == "success", props
        assert took < 5.0, f"stop took {took:.1f}s"
        assert m.events("daemon_stopped", since_pid=pid)
        assert len(m.smtp.received) - mark < 2 * len(batch), "stopped before the end"
        m.sd.systemctl("start", UNIT, timeout=60)
        m.wait_sent(mark, 2 * len(batch))
        m.quiet(mark)
        sent = m.received_since(mark)
        assert sorted(_to(msg) for msg in sent) == _parties(batch)

    def test_backup_and_restore_as_documented(self, machine: Machine) -> None:
        """docs/operations.md's backup (SQLite's online backup while introd runs) and
        restore (files copied back as root, then chown to the service's uid): the service
        starts on the restored state, owns it, and writes it."""
        m = machine
        python = str(Path(INTROD).with_name("python"))
        m.sd.run("install", "-d", "-m", "0700", "/var/backups/introd")
        m.sd.run(
            python,
            "-c",
            "import sqlite3, sys; "
            "sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))",
            "/var/lib/introd/introd.db",
            "/var/backups/introd/introd.db",
        )
        m.sd.run("cp", "/var/lib/introd/secret", "/var/backups/introd/secret")
        before, secret = m.intros(), m.sd.read("/var/lib/introd/secret")
        m.sd.systemctl("stop", UNIT)
        m.sd.run("sh", "-c", "rm -f /var/lib/introd/*")  # the state is lost
        m.sd.run("cp", "/var/backups/introd/introd.db", "/var/lib/introd/introd.db")
        m.sd.run("cp", "/var/backups/introd/secret", "/var/lib/introd/secret")
        m.sd.run("chown", "-R", "--reference=/var/lib/private/introd", "/var/lib/private/introd")
        mark = len(m.smtp.received)
        _append(m, range(23, 24))
        m.sd.systemctl("start", UNIT, timeout=60)
        assert sorted(_to(msg) for msg in m.received_since(mark)) == _parties(range(23, 24))
        assert m.sd.read("/var/lib/introd/secret") == secret
        after = m.intros()
        assert all(intro in after for intro in before) and len(after) == len(before) + 1
        uid = int(m.sd.read(f"/proc/{m.main_pid()}/status").split("Uid:")[1].split()[0])
        for name in ("introd.db", "secret"):
            assert m.sd.stat(f"/var/lib/private/introd/{name}")[0] == uid

    def test_logs_reach_the_journal_with_their_priority_one_event_per_line(
        self, machine: Machine
    ) -> None:
        """Every line introd wrote is one JSON event whose level is the journal entry's
        PRIORITY; no password, secret or reply token appears anywhere in the journal."""
        m = machine
        entries = [
            e for e in m.sd.journal(UNIT) if e.get("_SYSTEMD_UNIT") == UNIT and e.get("_PID") != "1"
        ]
        assert len(entries) > 50
        levels = Counter()
        for entry in entries:
            event = json.loads(entry["MESSAGE"])
            assert isinstance(event, dict) and re.fullmatch(r"[a-z0-9_]+", event["event"])
            assert entry["PRIORITY"] == PRIORITY[event["level"]], entry
            levels[event["level"]] += 1
        assert levels["info"] and levels["error"], levels
        everything = m.sd.run("journalctl", "--no-pager", "-o", "json").stdout
        secret = m.sd.read("/var/lib/introd/secret").strip()
        tokens = {
            re.search(r"\+([^@]+)@", str(msg["Reply-To"])).group(1)  # type: ignore
            for msg in m.received_since(0)
            if msg["Reply-To"]
        }
        assert tokens
        for value in (INTRO_PASSWORD, SMTP_PASSWORD, PARTY_PASSWORD, secret, *tokens):
            assert value not in everything
        code, out = m.introd("status")
        assert code == 0 and out.startswith("daemon:   running"), out

    def test_commands_run_as_the_service_user(self, machine: Machine) -> None:
        """docs/operations.md's `introctl`: systemd-run with User=introd and DynamicUser
        runs a command as the running service's uid, on its state, with its credentials."""
        m = machine
        m.sd.systemctl("start", "--job-mode=ignore-dependencies", "dbus.socket", "dbus.service")
        # DefaultDependencies=no only because this systemd never ran sysinit.target
        result = m.sd.run(
            "systemd-run",
            "--quiet",
            "--pipe",
            "--wait",
            "--collect",
            "-p",
            "DefaultDependencies=no",
            "-p",
            "User=introd",
            "-p",
            "DynamicUser=yes",
            "-p",
            "StateDirectory=introd",
            "-p",
            "LoadCredential=imap:/etc/introd/credentials/imap",
            "-p",
            "LoadCredential=smtp:/etc/introd/credentials/smtp",
            "-E",
            "INTROD_CONFIG=/etc/introd/config.yaml",
            INTROD,
            "status",
            timeout=60,
        )
        assert result.stdout.startswith("daemon:   running"), result.stdout
        uid = int(m.sd.read(f"/proc/{m.main_pid()}/status").split("Uid:")[1].split()[0])
        out = m.sd.run("find", "/var/lib/private/introd", "!", "-uid", str(uid)).stdout
        assert out == "", f"files not the service's: {out}"

    def test_two_instances_on_two_mailboxes_do_not_cross(self, machine: Machine) -> None:
        """introd@a and introd@b run at once, each on its mailbox with its own config,
        credentials, dynamic user, state and secret; an answer to one's token sent to
        the other's mailbox changes nothing there."""
        m = machine
        # instances keep their state in /var/lib/introd/NAME: the single service's
        # /var/lib/introd goes first (docs/operations.md, moving to instances)
        m.sd.systemctl("disable", "--now", UNIT)
        m.sd.run("mv", "/var/lib/private/introd", "/var/lib/private/introd.single")
        m.sd.run("rm", "/var/lib/introd")
        marks = {name: len(smtp.received) for name, smtp in m.instance_smtp.items()}
        _append(m, range(30, 31), INSTANCES["a"][0])
        _append(m, range(31, 32), INSTANCES["b"][0], m.instance_dovecot["b"])
        m.sd.systemctl("start", "introd@a.service", "introd@b.service", timeout=60)
        sent = {name: m.received_since(marks[name], m.instance_smtp[name]) for name in INSTANCES}
        assert sorted(_to(msg) for msg in sent["a"]) == _parties(range(30, 31))
        assert sorted(_to(msg) for msg in sent["b"]) == _parties(range(31, 32))
        for name, (mailbox, _imap, _smtp) in INSTANCES.items():
            local = mailbox.split("@")[0]
            assert all(str(msg["Reply-To"]).startswith(f"{local}+") for msg in sent[name])
        uids, secrets = {}, {}
        for name in INSTANCES:
            unit = f"introd@{name}.service"
            pid = m.main_pid(unit)
            uids[name] = int(m.sd.read(f"/proc/{pid}/status").split("Uid:")[1].split()[0])
            owner, _gid, mode = m.sd.stat(f"/var/lib/private/introd/{name}/secret")
            assert owner == uids[name] and mode == "600"
            assert m.sd.stat(f"/var/lib/private/introd/{name}")[2] == "700"
            secrets[name] = m.sd.read(f"/var/lib/introd/{name}/secret")
            env = m.sd.read(f"/proc/{pid}/environ").split("\0")
            assert f"CREDENTIALS_DIRECTORY=/run/credentials/{unit}" in env
            if name == "a":
                assert m.sd.read(f"/run/credentials/{unit}/imap") == INSTANCES[name][1]
            intros = m.intros(f"/etc/introd/{name}.yaml")
            assert [i["requester"] for i in intros] == [requester_of(30 if name == "a" else 31)[1]]
        assert uids["a"] != uids["b"] and secrets["a"] != secrets["b"]
        # a's target answers, but to b's mailbox: b cannot read a's token
        target_a = target_of(30)[1]
        optin = _optin_to(sent["a"], target_a)
        token = str(optin["Reply-To"]).split("+")[1]
        m.reply(
            optin,
            target_a,
            "Yes, happy to.",
            to=f"intros-b+{token}",
            dovecot=m.instance_dovecot["b"],
        )
        m.sd.wait_for(
            "b sets the answer aside",
            lambda: [
                e
                for e in m.events("mail_handled", unit="introd@b.service")
                if e.get("action") == "ignore"
            ],
        )
        assert [i["state"] for i in m.intros("/etc/introd/b.yaml")] == ["awaiting"]
        # the right mailbox takes it
        m.reply(optin, target_a, "Yes, happy to.")
        m.sd.wait_for(
            "a records the yes",
            lambda: [
                e
                for e in m.events("mail_handled", unit="introd@a.service")
                if e.get("action") == "accept" and e.get("kind") == "reply"
            ],
        )
        for name in INSTANCES:
            assert len(m.instance_smtp[name].received) == marks[name] + 2
        # b signed in with a token; its token file is the dynamic user's, 0600, and a
        # restart signs in with it again instead of asking for a new one
        assert m.instance_smtp["b"].oauth_logins and not m.instance_smtp["a"].oauth_logins
        owner, _gid, mode = m.sd.stat(TOKEN_FILE)
        assert owner == uids["b"] and mode == "600"
        token, grants = m.sd.read(TOKEN_FILE), len(m.token_server.stats.grants)
        m.sd.systemctl("restart", "introd@b.service", timeout=60)
        assert m.sd.show("introd@b.service", "StatusText")["StatusText"].startswith("idle")
        assert m.sd.read(TOKEN_FILE) == token and len(m.token_server.stats.grants) == grants
        assert m.sd.stat(TOKEN_FILE)[0] == m.sd.stat("/var/lib/private/introd/b")[0]
        started = time.monotonic()
        m.sd.systemctl("stop", "introd@a.service", "introd@b.service")
        assert time.monotonic() - started < 5.0
        for name in INSTANCES:
            assert m.sd.show(f"introd@{name}.service", "Result")["Result"] == "success"

    def test_nothing_is_left_on_the_host(self, machine: Machine, host: HostSnapshot) -> None:
        """Once the namespace is gone: the host's /tmp still has its files, and no cgroup,
        state, journal or /etc entry of the booted systemd remains; nor any process."""
        pid = machine.sd.pid
        machine.sd.close()
        assert not Path(f"/proc/{pid}").exists()
        assert host.changes() == []
        mounts = Path("/proc/self/mountinfo").read_text()
        assert str(machine.sd.stage) not in mounts
