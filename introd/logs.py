"""Structured logging: console on a tty, JSON lines otherwise; stable event names.

Under systemd, stderr is a stream to the journal (``$JOURNAL_STREAM`` names it); each
line then starts with the syslog priority of its level (``<6>`` for info, ``<4>`` for a
warning, ``<3>`` for an error), which journald strips and stores as ``PRIORITY``."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, cast

import structlog
from structlog.types import EventDict, Processor

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
# never let one of these reach a log line, whatever a caller binds
_SECRET_KEYS = {"password", "token", "secret", "body", "raw", "reply_to"}


# syslog priorities by structlog method name
_PRIORITIES = {
    "debug": 7,
    "info": 6,
    "msg": 6,
    "warning": 4,
    "warn": 4,
    "error": 3,
    "exception": 3,
    "critical": 2,
    "fatal": 2,
}


def journal_stream(fd: int) -> bool:
    """Whether ``fd`` is the journal stream systemd connected (``$JOURNAL_STREAM`` holds its
    device and inode, so a stderr redirected elsewhere is not mistaken for it)."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    dev, _, ino = expected.partition(":")
    if not dev.isdigit() or not ino.isdigit():
        return False
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


def _priority_prefix(_: Any, method: str, line: str) -> str:
    """``<N>`` before every line of a rendered event, N its level's syslog priority."""
    prefix = f"<{_PRIORITIES.get(method, 6)}>"
    return "\n".join(prefix + part for part in line.split("\n"))


def _redact(_: Any, __: str, event: EventDict) -> EventDict:
    for key in list(event):
        if key in _SECRET_KEYS:
            event[key] = "***"
    return event


class _Stderr:
    """Whatever sys.stderr is at the time of writing (it may be replaced after setup)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()

    def fileno(self) -> int:
        return sys.stderr.fileno()


def setup_logging(
    fmt: str = "auto", level: str = "info", stream: Any = None, journal: bool | None = None
) -> None:
    """Log to ``stream`` (stderr by default). ``journal``: prefix each line with its syslog
    priority; by default when stderr is systemd's journal stream."""
    stream = stream or _Stderr()
    if journal is None:
        try:
            journal = journal_stream(stream.fileno())
        except (AttributeError, OSError, ValueError):
            journal = False
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            renderer,
            # after the renderer a processor gets the rendered line, which structlog's
            # Processor type (event dicts only) cannot say
            *([cast(Processor, _priority_prefix)] if journal else []),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        # one write per line (print writes the line and its newline apart): a line never
        # interleaves with another process's on the same stream, and costs one syscall
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # imapclient logs protocol traffic at DEBUG
    logging.getLogger("imapclient").setLevel(logging.WARNING)
    # the OAuth 2.0 client logs token requests and answers, tokens included, at DEBUG
    for name in ("requests_oauthlib", "oauthlib", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
