"""The IMAP side: find new mail, fetch it, and put handled mail away.

New mail is what has a UID above the last one handled in this folder's
UIDVALIDITY; handled mail is moved to ``processed_folder`` /
``quarantine_folder`` (MOVE, or COPY + \\Deleted + UID EXPUNGE when the
server lacks MOVE) or flagged ``\\Seen``.

Waiting for new mail (IDLE) leans on the server's announcements of the folder's size
(``* N EXISTS``), and Dovecot announces a mail once, at the end of the first command
after it landed: mail that lands just before a UID SEARCH is announced in that search's
reply but not found by it, and mail that lands just before IDLE is announced in the same
packet as IDLE's go-ahead. ``Mailbox`` follows the size from every reply and
``idle_wait`` does not idle while an announced mail has not been searched for.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import imapclient
import structlog
from imapclient.exceptions import IMAPClientError

from . import sasl
from .config import ImapConfig
from .exceptions import AuthError, AuthExpired, MailboxError

log = structlog.get_logger("introd.mailbox")

MAX_FETCH_BYTES = 4_000_000  # of a bigger mail only this much is fetched
MAX_BATCH_BYTES = 16_000_000  # a FETCH asks for about this much at most


class Mailbox:
    def __init__(self, cfg: ImapConfig) -> None:
        self.cfg = cfg
        self.client: imapclient.IMAPClient | None = None
        self.uidvalidity = 0
        self._created: set[str] = set()
        self.exists = 0  # the folder's size, as the server last told it
        self.unsearched = False  # it grew since the start of the last UID SEARCH

    # -- connection -------------------------------------------------------
    def connect(self) -> None:
        cfg = self.cfg
        try:
            # a plain connection needs no context (loading the CA store costs time and memory)
            context = cfg.tls_context() if cfg.security != "none" else None
            client = imapclient.IMAPClient(
                cfg.host,
                port=cfg.port,
                ssl=cfg.security == "ssl",
                ssl_context=context if cfg.security == "ssl" else None,
                timeout=cfg.timeout,
            )
            if cfg.security == "starttls":
                client.starttls(ssl_context=context)
            if cfg.auth == "oauth2":
                sasl.imap_login(client, cfg)
            else:
                client.login(cfg.username or "", cfg.password.reveal())
            info = client.select_folder(cfg.folder)
        except AuthExpired:
            client.shutdown()
            raise
        except AuthError as exc:  # the provider is unreachable, or the server refuses
            client.shutdown()
            raise MailboxError(sasl.described("IMAP", cfg, exc)) from None
        except imapclient.exceptions.LoginError:
            raise MailboxError(
                f"IMAP {cfg.host}:{cfg.port}: login refused for {cfg.username}"
            ) from None
        except (OSError, IMAPClientError, ssl.SSLError) as exc:
            raise MailboxError(
                f"IMAP {cfg.host}:{cfg.port}: {exc.__class__.__name__}: {exc}"
            ) from None
        self.client = client
        self.uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        self.exists = int(info.get(b"EXISTS", 0))
        self.unsearched = False
        self._forget_untagged()

    def close(self) -> None:
        """Log out, or just drop a connection that already broke."""
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - a dead socket fails in many ways; it is gone anyway
            try:
                client.shutdown()
            except Exception:  # noqa: BLE001
                pass

    def _c(self) -> imapclient.IMAPClient:
        if self.client is None:
            self.connect()
        assert self.client is not None
        self._take_untagged()  # what the previous command's reply announced
        return self.client

    def capable(self, name: str) -> bool:
        try:
            return bool(self._c().has_capability(name))
        except (OSError, IMAPClientError):
            return False

    # -- reading ----------------------------------------------------------
    def new_uids(self, after: int) -> list[int]:
        """UIDs above ``after``. The search finds what the server had announced before it
        began; mail announced in its own reply is left for the next search (see
        ``unsearched``)."""
        c = self._c()
        self.unsearched = False
        try:
            uids = c.search(["UID", f"{after + 1}:*"])
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(f"IMAP search failed: {exc}") from None
        finally:
            self._take_untagged()
        return sorted(u for u in uids if u > after)

    def fetch(self, uids: Sequence[int]) -> Iterator[tuple[int, bytes]]:
        """(uid, raw bytes) in batches, without setting \\Seen."""
        for batch in self.fetch_batches(uids):
            yield from batch

    def fetch_batches(self, uids: Sequence[int]) -> Iterator[list[tuple[int, bytes]]]:
        """Lists of (uid, raw bytes), without setting \\Seen: at most ``batch_size`` mails
        and about ``MAX_BATCH_BYTES`` per list (the sizes are asked first), and of a mail
        larger than ``MAX_FETCH_BYTES`` only its first bytes (introd reads less than that
        of any mail: see introd/budget.py), so that a flood of big mails cannot fill the
        memory."""
        size = max(1, self.cfg.batch_size)
        for i in range(0, len(uids), size):
            batch = list(uids[i : i + size])
            try:
                sizes = self._c().fetch(batch, ["RFC822.SIZE"])
            except (OSError, IMAPClientError) as exc:
                raise MailboxError(f"IMAP fetch failed: {exc}") from None
            group: list[int] = []
            total = 0
            for uid in batch:
                if uid not in sizes:
                    continue
                n = min(int(sizes[uid].get(b"RFC822.SIZE") or 0), MAX_FETCH_BYTES)
                if group and total + n > MAX_BATCH_BYTES:
                    yield self._fetch(group, sizes)
                    group, total = [], 0
                group.append(uid)
                total += n
            if group:
                yield self._fetch(group, sizes)

    def _fetch(self, uids: list[int], sizes: dict[int, Any]) -> list[tuple[int, bytes]]:
        big = [u for u in uids if int(sizes[u].get(b"RFC822.SIZE") or 0) > MAX_FETCH_BYTES]
        small = [u for u in uids if u not in big]
        data: dict[int, Any] = {}
        try:
            if small:
                data.update(self._c().fetch(small, ["BODY.PEEK[]"]))
            if big:
                data.update(self._c().fetch(big, [f"BODY.PEEK[]<0.{MAX_FETCH_BYTES}>"]))
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(f"IMAP fetch failed: {exc}") from None
        out = []
        for uid in uids:
            if uid in data:
                item = data[uid]
                raw = item.get(b"BODY[]") or item.get(b"BODY[]<0>") or b""
                out.append((uid, raw))
        return out  # a mail expunged meanwhile is simply not there

    # -- putting away -----------------------------------------------------
    def _ensure_folder(self, folder: str) -> None:
        if folder in self._created:
            return
        c = self._c()
        try:
            if not c.folder_exists(folder):
                c.create_folder(folder)
                try:
                    c.subscribe_folder(folder)
                except IMAPClientError:
                    pass
        except IMAPClientError as exc:
            raise MailboxError(f"IMAP cannot create folder {folder}: {exc}") from None
        self._created.add(folder)

    def place(self, uids: Sequence[int], folder: str | None) -> None:
        """Move ``uids`` to ``folder`` (or flag them \\Seen when None)."""
        if not uids:
            return
        c = self._c()
        try:
            if folder is None:
                c.add_flags(list(uids), [imapclient.SEEN])
                return
            self._ensure_folder(folder)
            if c.has_capability("MOVE"):
                c.move(list(uids), folder)
            else:
                c.copy(list(uids), folder)
                c.add_flags(list(uids), [imapclient.DELETED])
                if c.has_capability("UIDPLUS"):
                    c.uid_expunge(list(uids))
                # without UIDPLUS the \Deleted mail waits for the owner's client to expunge:
                # a plain EXPUNGE would remove other people's deleted mail too
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(f"IMAP cannot put mail away in {folder}: {exc}") from None
        finally:
            self._take_untagged()

    def _stash(self) -> dict[str, list[Any]] | None:
        stash = getattr(getattr(self.client, "_imap", None), "untagged_responses", None)
        return stash if isinstance(stash, dict) else None

    def _forget_untagged(self) -> None:
        """imaplib keeps every untagged response no command asked for (the EXPUNGE of each
        mail moved away, EXISTS, RECENT) for the life of the connection: a daemon that moves
        mail for months would hold one per mail."""
        stash = self._stash()
        if stash is not None:
            for name in ("EXPUNGE", "EXISTS", "RECENT", "FETCH"):
                stash.pop(name, None)

    def _take_untagged(self) -> None:
        """Follow the folder's size from the EXISTS and EXPUNGE that imaplib kept since the
        last look, then forget them (imaplib files them by name, so their order is lost:
        the count is taken low, which at worst costs one more search)."""
        stash = self._stash()
        if stash is None:
            return
        sizes = [int(n) for n in stash.get("EXISTS", ()) if bytes(n).strip().isdigit()]
        gone = len(stash.get("EXPUNGE", ()))
        self._forget_untagged()
        left = max(0, self.exists - gone)
        if sizes and max(sizes) > left:  # as if the EXPUNGEs came first
            self.unsearched = True
        self.exists = max(0, sizes[-1] - gone) if sizes else left  # as if they came last

    def _follow(self, size: int | None, expunged: int = 0) -> None:
        """``expunged`` mails gone, then the server says the folder holds ``size``: more
        than were left means new mail that no search has seen."""
        left = max(0, self.exists - expunged)
        if size is not None and size > left:
            self.unsearched = True
        self.exists = left if size is None else size

    def _follow_idle(self, responses: Sequence[Any]) -> None:
        """The size from IDLE's responses (parsed by imapclient, in order)."""
        for item in responses:
            if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[0], int):
                if item[1] == b"EXPUNGE":
                    self._follow(None, 1)
                elif item[1] == b"EXISTS":
                    self._follow(item[0])

    def append(self, folder: str, raw: bytes, when: datetime | None = None) -> None:
        c = self._c()
        try:
            self._ensure_folder(folder)
            c.append(folder, raw, flags=[imapclient.SEEN], msg_time=when)
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(f"IMAP cannot append to {folder}: {exc}") from None

    # -- waiting ----------------------------------------------------------
    def idle_wait(
        self, timeout: float, interrupted: Callable[[], bool], ping: Callable[[], None]
    ) -> bool:
        """IDLE up to ``timeout`` seconds, waking each second to ping the watchdog and to
        notice a signal; True when the server announced something. Returns True at once,
        without idling, when the server announced mail that no search has seen yet (the
        IDLE would never announce it again)."""
        c = self._c()
        if self.unsearched:
            return True
        responses: list[object] = []
        end = time.monotonic() + timeout
        try:
            c.idle()
            try:
                responses = self._buffered(c)  # came with the go-ahead
                while not responses and not interrupted() and time.monotonic() < end:
                    wait = min(1.0, max(0.05, end - time.monotonic()))
                    started = time.monotonic()
                    responses = c.idle_check(timeout=wait)
                    self._follow_idle(responses)
                    ping()
                    if not responses and time.monotonic() - started < wait * 0.5:
                        # imapclient reports a closed connection as "nothing yet": the
                        # socket woke early with no response, so leave IDLE and prove it
                        break
            finally:
                c.idle_done()  # what came meanwhile is in imaplib's stash
            c.noop()
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(f"IMAP IDLE failed: {exc}") from None
        finally:
            self._take_untagged()
        return bool(responses) or self.unsearched

    def _buffered(self, c: imapclient.IMAPClient) -> list[object]:
        """The whole lines imaplib already read from the socket: the server sends IDLE's
        go-ahead and the EXISTS of mail that landed while the command travelled in one
        packet, imaplib's reader takes both, and a poll of the socket (``idle_check``)
        would never report the second. They go to imaplib's stash, for
        ``_take_untagged``."""
        imap = c._imap
        peek = getattr(getattr(imap, "file", None), "peek", None)
        if peek is None:
            return []
        lines: list[object] = []
        sock: socket.socket = c.socket()
        sock.setblocking(False)  # peek reads the socket when its buffer is empty
        try:
            while b"\n" in peek():
                lines.append(imap._get_response())
        except (OSError, IMAPClientError):  # nothing more to read yet (TLS: want-read)
            pass
        finally:
            sock.setblocking(True)
            c._set_read_timeout()
        self._take_untagged()
        return lines

    def noop(self) -> None:
        try:
            self._c().noop()
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(f"IMAP NOOP failed: {exc}") from None
