"""Real mail servers for the tests: a private Dovecot (IMAP + LMTP) and an aiosmtpd relay.

`Dovecot` runs its own instance from a config written into a short temp dir, on free
loopback ports, with plain-text passwords and Maildir mail on tmpfs when there is one.
`SmtpServer` accepts authenticated submissions, records every envelope, and hands each
mail for a local domain to Dovecot over LMTP before it answers 250, so a test that has
sent a mail can read it from the recipient's mailbox at once.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import json
import logging
import os
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

DOVECOT_BIN = Path("/usr/sbin/dovecot")
INSTALL_HINT = "run `bash scripts/install-test-deps` (as root) to install Dovecot and openssl"
HOST = "127.0.0.1"
MAIL_UID = 5000
LOGIN_USER = "dovenull"
INTERNAL_USER = "dovecot"
TIMEOUT = 10.0
Security = Literal["none", "starttls", "ssl"]
PARTY_PASSWORD = "party-secret"

# aiosmtpd warns on every connection that AUTH without TLS is unsafe: that is the point here.
logging.getLogger("mail.log").setLevel(logging.ERROR)


class ServerError(RuntimeError):
    """A test server could not be set up or did not behave."""


def find_free_port() -> int:
    """Return a loopback TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, *, timeout: float = TIMEOUT, alive: Any = None) -> None:
    """Block until something accepts TCP connections on `port` (or fail after `timeout`).

    `alive`, when given, is called between attempts and must raise if the server died.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=1.0):
                return
        except OSError:
            if alive is not None:
                alive()
            if time.monotonic() > deadline:
                raise ServerError(f"nothing listens on {HOST}:{port} after {timeout}s") from None
            time.sleep(0.005)


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """Write a throwaway self-signed certificate for localhost/127.0.0.1; return (cert, key)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ServerError(f"openssl is not installed: {INSTALL_HINT}")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=TIMEOUT,
    )
    key.chmod(0o600)
    return cert, key


def client_tls_context(cert: Path) -> ssl.SSLContext:
    """A verifying client context that trusts only the given test certificate."""
    return ssl.create_default_context(cafile=str(cert))


def short_temp_dir(prefix: str) -> Path:
    """A fresh temp dir with a short path (unix sockets need < 108 bytes), on tmpfs if any."""
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path("/tmp")
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    path.chmod(0o755)  # the mail processes (another uid) must reach the mail below it
    return path


DOVECOT_CONF = """\
# Written by tests/servers.py for one test session.
instance_name = {instance}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
debug_log_path = {root}/dovecot.log
protocols = imap lmtp
listen = {host}
shutdown_clients = yes

default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
mail_uid = {mail_uid}
mail_gid = {mail_gid}
first_valid_uid = {first_valid_uid}
first_valid_gid = {first_valid_gid}
mail_home = {root}/mail/%Ld/%Ln
mail_location = maildir:~/Maildir
mail_max_userip_connections = 100
{imap_capability}
disable_plaintext_auth = no
auth_mechanisms = {auth_mechanisms}
# A failed login must not slow the next tests down.
auth_failure_delay = 0
{oauth2_passdb}
# One passwd-file per user: Dovecot stats a file at most once a second, so a user added
# right after a lookup would stay unknown for up to a second in a shared file.
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu {root}/users/%Ld/%Ln
}}
userdb {{
  driver = passwd-file
  args = username_format=%Lu {root}/users/%Ld/%Ln
}}

ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}

recipient_delimiter = +
lmtp_save_to_detail_mailbox = no

namespace inbox {{
  inbox = yes
  separator = /
}}

service imap-login {{
  {chroot}
  inet_listener imap {{
    address = {host}
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {imaps_port}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = {host}
    port = {lmtp_port}
  }}
}}
service anvil {{
  {chroot}
  # Without this socket the auth process keeps no per-IP penalty: a test's failed login
  # must not delay the next tests' logins from 127.0.0.1 by seconds.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0666
  }}
}}
"""

# Tokens are checked by POSTing them to the test's authorization server (RFC 7662), as
# Dovecot does against a real provider's introspection endpoint; nothing is cached, so a
# revoked token is refused at the next login.
OAUTH2_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {args}
}}
"""
OAUTH2_CONF = """\
introspection_mode = post
introspection_url = {introspection_url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
"""


class Dovecot:
    """A private Dovecot: IMAP (plain + STARTTLS), IMAPS and LMTP on free loopback ports.

    Users are full addresses with plain-text passwords in a passwd-file that Dovecot
    re-reads on change. Mail is Maildir under the temp dir. `disable` names IMAP
    capabilities to leave out of the advertised list (e.g. ``("MOVE", "IDLE")``): the
    commands still work, but clients that look at CAPABILITY see them missing.
    """

    def __init__(
        self, *, disable: Iterable[str] = (), oauth2_introspection_url: str | None = None
    ) -> None:
        if not DOVECOT_BIN.exists():
            raise ServerError(f"{DOVECOT_BIN} not found: {INSTALL_HINT}")
        self.disabled = frozenset(cap.upper() for cap in disable)
        # with an introspection URL, XOAUTH2 and OAUTHBEARER logins are checked there
        self.oauth2_introspection_url = oauth2_introspection_url
        self.host = HOST
        self.root = short_temp_dir("dv-")
        atexit.register(self.close)  # never leave a Dovecot or its files behind a crash
        self.imap_port = find_free_port()
        self.imaps_port = find_free_port()
        self.lmtp_port = find_free_port()
        self.users: dict[str, str] = {}
        self._users_lock = threading.Lock()  # the SMTP server's thread adds users too
        self._users_stamp = 0
        self._process: subprocess.Popen[bytes] | None = None
        self.cert, self.key = make_certificate(self.root)
        self.config_path = self.root / "dovecot.conf"
        self._make_dirs()
        self._write_config(capabilities=None)

    # -- life cycle -----------------------------------------------------------------

    def start(self) -> None:
        """Start the server and wait until IMAP, IMAPS and LMTP accept connections."""
        if self.running:
            return
        self._process = subprocess.Popen(
            [str(DOVECOT_BIN), "-F", "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for port in (self.imap_port, self.imaps_port, self.lmtp_port):
            wait_for_port(port, alive=self._check_alive)
        if self.disabled and "imap_capability =" not in self.config_path.read_text():
            self._apply_disabled_capabilities()

    def stop(self, *, graceful: bool = False) -> None:
        """Stop the server and wait until every process of this instance has ended.

        By default the whole process group is killed at once (as a crash or a pulled plug
        would; mail on disk survives it), which takes milliseconds. `graceful=True` sends
        SIGTERM to the master, which can take Dovecot one to several seconds.
        """
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            if graceful:
                process.send_signal(signal.SIGTERM)
            else:
                os.killpg(process.pid, signal.SIGKILL)
            try:
                process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=TIMEOUT)
        # Children outlive a killed master by a moment: wait until their sockets are gone.
        wait_ports_closed((self.imap_port, self.imaps_port, self.lmtp_port))
        if process.stdout is not None:
            process.stdout.close()

    def restart(self, *, graceful: bool = False) -> None:
        """Stop and start again on the same ports, keeping users and mail."""
        self.stop(graceful=graceful)
        self.start()

    def close(self) -> None:
        """Stop the server and remove its temp dir."""
        atexit.unregister(self.close)
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        """The instance's log, for messages in failed tests."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- users ----------------------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        """Create (or change the password of) a user; the running server sees it at once."""
        if not name or any(c in name for c in ":\n\r\t /") or "@" not in name:
            raise ValueError(f"bad user name for the test server: {name!r}")
        if any(c in password for c in ":\n\r"):
            raise ValueError("a test password cannot hold ':' or line breaks")
        with self._users_lock:
            self.users[name.lower()] = password
            self._write_user(name.lower())

    def remove_user(self, name: str) -> None:
        """Forget a user (their mail stays on disk until the session ends)."""
        with self._users_lock:
            if self.users.pop(name.lower(), None) is not None:
                self._write_user(name.lower())

    def password(self, user: str) -> str:
        return self.users[user.lower()]

    # -- mail -----------------------------------------------------------------------

    def connect(
        self,
        user: str,
        *,
        security: Security = "none",
        timeout: float = TIMEOUT,
    ) -> IMAPClient:
        """An IMAPClient logged in as `user` (the caller logs out)."""
        context = client_tls_context(self.cert)
        if security == "ssl":
            client = IMAPClient(
                self.host, port=self.imaps_port, ssl=True, ssl_context=context, timeout=timeout
            )
        else:
            client = IMAPClient(self.host, port=self.imap_port, ssl=False, timeout=timeout)
            if security == "starttls":
                client.starttls(context)
        client.login(user, self.password(user))
        return client

    @contextmanager
    def session(self, user: str, **kwargs: Any) -> Iterator[IMAPClient]:
        """`connect()` as a context manager that always logs out."""
        client = self.connect(user, **kwargs)
        try:
            yield client
        finally:
            try:
                client.logout()
            except Exception:  # noqa: BLE001 - the test already has its answer
                client.shutdown()

    def append(
        self, user: str, raw: bytes, folder: str = "INBOX", flags: Iterable[str] = ()
    ) -> int:
        """Store a message in a user's folder (created if missing); return its UID."""
        with self.session(user) as client:
            if folder.upper() != "INBOX" and not client.folder_exists(folder):
                client.create_folder(folder)
            reply = client.append(folder, raw, flags=tuple(flags))
        return _appenduid(reply)

    def messages(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """The raw bytes of every message in a user's folder, in UID order."""
        with self.session(user) as client:
            client.select_folder(folder, readonly=True)
            uids = sorted(client.search("ALL"))
            if not uids:
                return []
            fetched = client.fetch(uids, ["BODY.PEEK[]"])
        return [fetched[uid][b"BODY[]"] for uid in uids]

    def folders(self, user: str) -> list[str]:
        """The names of a user's folders, sorted."""
        with self.session(user) as client:
            return sorted(name for _flags, _sep, name in client.list_folders())

    def wait_for_messages(
        self, user: str, count: int, folder: str = "INBOX", timeout: float = TIMEOUT
    ) -> list[bytes]:
        """Poll until a user's folder holds at least `count` messages; return them all.

        For mail that another thread or process (the daemon under test) is still moving;
        mail sent through `SmtpServer` is already delivered when the send returns.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                found = self.messages(user, folder)
            except IMAPClientError:  # the folder does not exist yet
                found = []
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise ServerError(f"{user} {folder}: {len(found)} messages, {count} expected")
            time.sleep(0.02)

    def deliver(self, recipient: str, raw: bytes, mail_from: str = "") -> None:
        """Deliver a message to one recipient over LMTP (plus-addresses land in INBOX)."""
        deliver_lmtp(self.lmtp_port, mail_from, recipient, raw)

    def clear(self) -> None:
        """Empty every mailbox of every user and remove every folder but INBOX.

        Users whose Maildir shows no mail, folder or subscription are skipped, so the cost
        is one IMAP session per user that the test touched.
        """
        for user in list(self.users):
            if not self._has_mail(user):
                continue
            with self.session(user) as client:
                listed = client.list_folders()
                names = [
                    name
                    for flags, _sep, name in listed
                    if name.upper() != "INBOX"
                    and b"\\Noselect" not in flags
                    and b"\\NonExistent" not in flags
                ]
                for name in sorted(names, key=lambda n: (-n.count("/"), n)):
                    client.delete_folder(name)
                for _flags, _sep, name in client.list_sub_folders():
                    if name.upper() != "INBOX":
                        client.unsubscribe_folder(name)
                client.select_folder("INBOX")
                uids = client.search("ALL")
                if uids:
                    client.add_flags(uids, [b"\\Deleted"], silent=True)
                    client.uid_expunge(uids)

    # -- internals ------------------------------------------------------------------

    def _maildir(self, user: str) -> Path:
        local, _at, domain = user.lower().rpartition("@")
        return self.root / "mail" / domain / local / "Maildir"

    def _has_mail(self, user: str) -> bool:
        """Whether a user's Maildir holds a message, a folder or a subscription."""
        maildir = self._maildir(user)
        if not maildir.is_dir():
            return False
        if any(entry.name.startswith(".") for entry in os.scandir(maildir)):
            return True  # Maildir++ keeps each folder as a ".name" directory
        for sub in ("new", "cur"):
            path = maildir / sub
            if path.is_dir() and any(os.scandir(path)):
                return True
        subscriptions = maildir / "subscriptions"
        if subscriptions.exists():
            lines = subscriptions.read_text(errors="replace").splitlines()[1:]
            return any(line.strip() and line.strip().upper() != "INBOX" for line in lines)
        return False

    def _make_dirs(self) -> None:
        for name in ("run", "state", "users"):
            (self.root / name).mkdir(exist_ok=True)
        mail = self.root / "mail"
        mail.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            os.chown(mail, MAIL_UID, MAIL_UID)

    def _write_user(self, name: str) -> None:
        """Write (or remove, if gone from `users`) one user's passwd-file."""
        local, _at, domain = name.rpartition("@")
        path = self.root / "users" / domain / local
        password = self.users.get(name)
        if password is None:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o755)
        tmp = path.with_name(f".{local}.tmp")
        tmp.write_text(f"{name}:{{PLAIN}}{password}::::::\n")
        tmp.chmod(0o644)
        # Dovecot re-reads a passwd-file whose mtime or size changed: give each version of
        # the file its own second.
        self._users_stamp = max(int(time.time()), self._users_stamp + 1)
        os.utime(tmp, (self._users_stamp, self._users_stamp))
        tmp.replace(path)

    def _write_config(self, capabilities: list[str] | None) -> None:
        root_user = os.geteuid() == 0
        if root_user:
            ids: dict[str, object] = {
                "login_user": LOGIN_USER,
                "internal_user": INTERNAL_USER,
                "internal_group": INTERNAL_USER,
                "mail_uid": MAIL_UID,
                "mail_gid": MAIL_UID,
                "first_valid_uid": MAIL_UID,
                "first_valid_gid": MAIL_UID,
                "chroot": "",
            }
        else:
            import grp
            import pwd

            me = pwd.getpwuid(os.geteuid()).pw_name
            ids = {
                "login_user": me,
                "internal_user": me,
                "internal_group": grp.getgrgid(os.getegid()).gr_name,
                "mail_uid": os.geteuid(),
                "mail_gid": os.getegid(),
                "first_valid_uid": os.geteuid(),
                "first_valid_gid": os.getegid(),
                "chroot": "chroot =",
            }
        capability = (
            f"imap_capability = {' '.join(capabilities)}" if capabilities is not None else ""
        )
        mechanisms, oauth2_passdb = "plain login", ""
        if self.oauth2_introspection_url is not None:
            mechanisms = "plain login xoauth2 oauthbearer"
            oauth2_conf = self.root / "dovecot-oauth2.conf.ext"
            oauth2_conf.write_text(
                OAUTH2_CONF.format(introspection_url=self.oauth2_introspection_url)
            )
            oauth2_passdb = OAUTH2_PASSDB.format(args=oauth2_conf)
        self.config_path.write_text(
            DOVECOT_CONF.format(
                instance=f"introd-test-{self.root.name}",
                root=self.root,
                host=self.host,
                cert=self.cert,
                key=self.key,
                imap_port=self.imap_port,
                imaps_port=self.imaps_port,
                lmtp_port=self.lmtp_port,
                imap_capability=capability,
                auth_mechanisms=mechanisms,
                oauth2_passdb=oauth2_passdb,
                **ids,
            )
        )

    def _check_alive(self) -> None:
        process = self._process
        if process is not None and process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            self._process = None
            raise ServerError(f"dovecot exited with {process.returncode}: {output}{self.log()}")

    def _apply_disabled_capabilities(self) -> None:
        """Ask the server for its post-login capabilities and restart without the disabled."""
        probe = "capability-probe@example.test"
        self.add_user(probe, "probe")
        with self.session(probe) as client:
            caps = [cap.decode() for cap in client.capabilities()]
        with self._users_lock:
            del self.users[probe]
            self._write_user(probe)
        self._write_config([cap for cap in caps if cap.upper() not in self.disabled])
        self.restart()


def wait_ports_closed(ports: Iterable[int], *, timeout: float = TIMEOUT) -> None:
    """Block until nothing accepts connections on any of `ports` any more."""
    deadline = time.monotonic() + timeout
    for port in ports:
        while True:
            try:
                with socket.create_connection((HOST, port), timeout=1.0):
                    pass
            except OSError:
                break
            if time.monotonic() > deadline:
                raise ServerError(f"{HOST}:{port} still accepts connections after {timeout}s")
            time.sleep(0.002)


def _appenduid(reply: bytes) -> int:
    """The UID from an `[APPENDUID validity uid]` response, or 0 if the server gave none."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    if "APPENDUID" in text:
        try:
            return int(text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])
        except (IndexError, ValueError):
            return 0
    return 0


def deliver_lmtp(port: int, mail_from: str, recipient: str, raw: bytes) -> None:
    """One LMTP transaction for one recipient; raises smtplib errors on refusal."""
    with smtplib.LMTP(HOST, port, timeout=TIMEOUT) as lmtp:
        lmtp.sendmail(mail_from, [recipient], raw)


# ------------------------------------------------------------------------------------
# SMTP
# ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """One mail the SMTP server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    login: str | None = None
    peer: Any = None  # the client's (address, port): which session brought it


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryFailure:
    """A local recipient that Dovecot refused over LMTP."""

    recipient: str
    error: str


@dataclass(slots=True)
class _Failure:
    count: int
    code: int
    message: str
    stage: str


@dataclass(slots=True)
class _Faults:
    pending: list[_Failure] = field(default_factory=list)
    rcpt: dict[str, tuple[int, str]] = field(default_factory=dict)

    def take(self, stage: str) -> str | None:
        for failure in self.pending:
            if failure.stage == stage and failure.count > 0:
                failure.count -= 1
                if failure.count == 0:
                    self.pending.remove(failure)
                return f"{failure.code} {failure.message}"
        return None


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_EHLO(
        self, smtp: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self.server.ehlos += 1
        if self.server.pipelining:  # RFC 2920, as Postfix, Gmail and Exchange Online offer
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self,
        smtp: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        refusal = self.server._take_fault("MAIL")
        if refusal:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        smtp: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self.server._take_fault("RCPT") or self.server._rcpt_refusal(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self.server._take_fault("DATA")
        if refusal:
            return refusal
        drop = self.server._take_drop()
        if self.server.data_delay:
            await asyncio.sleep(self.server.data_delay)
        data = envelope.original_content or b""
        login = (
            session.auth_data.login.decode()
            if isinstance(session.auth_data, LoginPassword)
            else None
        )
        self.server._accept(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=data,
                login=login,
                peer=session.peer,
            )
        )
        if drop and smtp.transport is not None:  # it has the mail, the client never hears
            smtp.transport.abort()
        if self.server.reply_delay:  # it has the mail, the client hears late (or never)
            await asyncio.sleep(self.server.reply_delay)
        return "250 OK: queued"


def _introspect(url: str, token: str) -> dict[str, Any]:
    """Ask the authorization server about a token (RFC 7662), as Dovecot does."""
    import json
    import urllib.request
    from urllib.parse import urlencode

    request = urllib.request.Request(url, data=urlencode({"token": token}).encode())
    with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310 - loopback
        data = json.loads(answer.read())
    return data if isinstance(data, dict) else {}


class _OAuthHandler(_Handler):
    """Also AUTH XOAUTH2 and OAUTHBEARER (RFC 7628), each token checked by introspection
    at the authorization server; a refusal is the 334 error challenge, then 535."""

    def __init__(self, server: SmtpServer, introspection_url: str) -> None:
        super().__init__(server)
        self.introspection_url = introspection_url

    async def _initial(self, smtp: SMTP, args: list[str]) -> bytes | None:
        if len(args) > 1:
            try:
                return base64.b64decode(args[1], validate=True)
            except ValueError:
                return None
        response = await smtp.challenge_auth("")
        return response if isinstance(response, bytes) else None

    def _check(self, user: str, token: str) -> bool:
        answer = _introspect(self.introspection_url, token)
        return answer.get("active") is True and answer.get("username") == user

    async def _finish(self, smtp: SMTP, user: str, token: str, error: dict[str, str]) -> AuthResult:
        if user and token and self._check(user, token):
            self.server.oauth_logins.append(user)
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        await smtp.challenge_auth(json.dumps(error))
        return AuthResult(success=False, handled=False)

    async def auth_XOAUTH2(self, smtp: SMTP, args: list[str]) -> AuthResult:
        raw = await self._initial(smtp, args)
        fields = dict(
            part.split("=", 1)
            for part in (raw or b"").decode(errors="replace").split("\x01")
            if "=" in part
        )
        token = fields.get("auth", "")
        token = token[7:] if token.startswith("Bearer ") else ""
        return await self._finish(
            smtp,
            fields.get("user", ""),
            token,
            {"status": "401", "schemes": "bearer", "scope": "mail"},
        )

    async def auth_OAUTHBEARER(self, smtp: SMTP, args: list[str]) -> AuthResult:
        raw = (await self._initial(smtp, args) or b"").decode(errors="replace")
        gs2, _sep, rest = raw.partition("\x01")
        user = ""
        for part in gs2.split(","):
            if part.startswith("a="):
                user = part[2:].replace("=2C", ",").replace("=3D", "=")
        fields = dict(part.split("=", 1) for part in rest.split("\x01") if "=" in part)
        token = fields.get("auth", "")
        token = token[7:] if token.startswith("Bearer ") else ""
        return await self._finish(smtp, user, token, {"status": "invalid_token", "scope": "mail"})


class SmtpServer:
    """An aiosmtpd submission server on a free loopback port that feeds Dovecot.

    AUTH PLAIN/LOGIN with `user`/`password` (required unless `require_auth=False`), also
    on a plain connection. `security` is ``"none"``, ``"starttls"`` (offered, not required)
    or ``"ssl"`` (implicit TLS), with `cert`/`key` (the Dovecot's ones fit). Every accepted
    mail is in `received`; the ones to `local_domains` are delivered to `dovecot` over LMTP
    before the 250 reply, refusals recorded in `delivery_failures`. With `create_users`, a
    local recipient Dovecot does not know yet gets a mailbox (password `PARTY_PASSWORD`)
    first, so a test can read what any party was sent.
    """

    def __init__(
        self,
        *,
        user: str = "intros@example.test",
        password: str = "smtp-secret",
        local_domains: Iterable[str] = ("example.test",),
        dovecot: Dovecot | None = None,
        create_users: bool = True,
        require_auth: bool = True,
        security: Security = "none",
        cert: Path | None = None,
        key: Path | None = None,
        oauth2_introspection_url: str | None = None,
        idle_timeout: float = 300.0,
    ) -> None:
        """`idle_timeout`: seconds a session may stay silent before the server answers
        421 and closes it (aiosmtpd's `timeout`; RFC 5321 asks for at least 5 minutes)."""
        self.host = HOST
        self.port = find_free_port()
        self.user = user
        self.password = password
        self.local_domains = {d.lower() for d in local_domains}
        self.dovecot = dovecot
        self.create_users = create_users
        self.security = security
        self.received: list[Received] = []
        self.delivery_failures: list[DeliveryFailure] = []
        self.data_delay = 0.0  # seconds before each mail's final reply (a slow server)
        self.pipelining = True  # whether EHLO offers PIPELINING
        self.oauth_logins: list[str] = []  # users who signed in with a token
        self.reply_delay = 0.0  # seconds between taking a mail and answering 250
        self.drops_left = 0  # mails taken whole, then the connection dropped before the 250
        self.ehlos = 0  # EHLO commands: one per session (two with STARTTLS)
        self._faults = _Faults()
        self._lock = threading.Condition()
        kwargs: dict[str, Any] = {}
        if security != "none":
            if cert is None or key is None:
                raise ServerError("a TLS SMTP server needs cert and key")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(cert), str(key))
            kwargs["ssl_context" if security == "ssl" else "tls_context"] = context
        handler = (
            _OAuthHandler(self, oauth2_introspection_url)
            if oauth2_introspection_url is not None
            else _Handler(self)
        )
        self._controller = Controller(
            handler,
            hostname=self.host,
            port=self.port,
            server_hostname="localhost",
            ready_timeout=TIMEOUT,
            authenticator=self._authenticate,
            auth_required=require_auth,
            auth_require_tls=False,
            timeout=idle_timeout,
            **kwargs,
        )
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._start_controller()
            self._started = True

    def stop(self) -> None:
        if self._started:
            self._controller.stop()
            self._started = False

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def clear(self) -> None:
        """Forget received mail, delivery failures and injected faults."""
        with self._lock:
            self.received.clear()
            self.delivery_failures.clear()
            self._faults = _Faults()
            self.drops_left = 0
            self.ehlos = 0
            self.pipelining = True

    # -- fault injection ------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        *,
        code: int = 451,
        message: str = "4.3.0 Temporary failure, try again later",
        stage: Literal["MAIL", "RCPT", "DATA"] = "MAIL",
    ) -> None:
        """Answer `code` to the next `count` MAIL (or RCPT, or DATA) commands."""
        with self._lock:
            self._faults.pending.append(_Failure(count, code, message, stage))

    def drop_after_data(self, count: int = 1) -> None:
        """Take the next `count` mails whole (they count as received and are delivered),
        then drop the connection instead of answering 250: the client cannot know."""
        with self._lock:
            self.drops_left = count

    def reject_rcpt(
        self, address: str, code: int = 550, message: str = "5.1.1 No such user here"
    ) -> None:
        """Answer `code` to every RCPT TO this address until `clear()`/`accept_rcpt()`."""
        with self._lock:
            self._faults.rcpt[address.lower()] = (code, message)

    def accept_rcpt(self, address: str) -> None:
        with self._lock:
            self._faults.rcpt.pop(address.lower(), None)

    # -- waiting --------------------------------------------------------------------

    def submit(self, mail_from: str, recipients: list[str], raw: bytes) -> dict[str, Any]:
        """Send a mail through this server as its authorised user (a party's reply, say).

        Returns smtplib's refused-recipients dict; raises smtplib errors like a client sees.
        """
        context = None
        if self.security != "none":
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # a test's own client, on loopback
        client: smtplib.SMTP
        if self.security == "ssl":
            client = smtplib.SMTP_SSL(self.host, self.port, context=context, timeout=TIMEOUT)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT)
        with client:
            if self.security == "starttls":
                client.starttls(context=context)
            client.login(self.user, self.password)
            return client.sendmail(mail_from, recipients, raw)

    def sent_to(self, address: str) -> list[Received]:
        """The received mails with `address` among their envelope recipients."""
        with self._lock:
            return [m for m in self.received if address.lower() in map(str.lower, m.rcpt_tos)]

    def wait_for(self, count: int, timeout: float = TIMEOUT) -> list[Received]:
        """Block until at least `count` mails were received; return them all."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.received) >= count, timeout):
                raise ServerError(f"{len(self.received)} mails received, {count} expected")
            return list(self.received)

    # -- internals ------------------------------------------------------------------

    def _start_controller(self) -> None:
        self._controller.start()
        wait_for_port(self.port)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.user
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def _take_drop(self) -> bool:
        with self._lock:
            if self.drops_left > 0:
                self.drops_left -= 1
                return True
            return False

    def _take_fault(self, stage: str) -> str | None:
        with self._lock:
            return self._faults.take(stage)

    def _rcpt_refusal(self, address: str) -> str | None:
        with self._lock:
            refusal = self._faults.rcpt.get(address.lower())
        return f"{refusal[0]} {refusal[1]}" if refusal else None

    def _accept(self, mail: Received) -> None:
        failures = []
        if self.dovecot is not None:
            for rcpt in mail.rcpt_tos:
                local, _at, domain = rcpt.lower().rpartition("@")
                if domain not in self.local_domains:
                    continue
                mailbox = f"{local.split('+', 1)[0]}@{domain}"
                if self.create_users and mailbox not in self.dovecot.users:
                    self.dovecot.add_user(mailbox, PARTY_PASSWORD)
                try:
                    self.dovecot.deliver(rcpt, mail.data, mail.mail_from)
                except (smtplib.SMTPException, OSError) as exc:
                    failures.append(DeliveryFailure(recipient=rcpt, error=str(exc)))
        with self._lock:
            self.received.append(mail)
            self.delivery_failures.extend(failures)
            self._lock.notify_all()
