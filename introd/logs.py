"""Structured logging: console on a tty, JSON lines otherwise; stable event names."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}
# never let one of these reach a log line, whatever a caller binds
_SECRET_KEYS = {"password", "token", "secret", "body", "raw", "reply_to"}


def _redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
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


def setup_logging(fmt: str = "auto", level: str = "info", stream: Any = None) -> None:
    stream = stream or _Stderr()
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Any = (structlog.processors.JSONRenderer() if use_json
                     else structlog.dev.ConsoleRenderer(colors=stream.isatty()))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # imapclient logs protocol traffic at DEBUG
    logging.getLogger("imapclient").setLevel(logging.WARNING)
    # the OAuth 2.0 client logs token requests and answers, tokens included, at DEBUG
    for name in ("requests_oauthlib", "oauthlib", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
