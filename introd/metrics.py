"""Prometheus metrics, off unless configured: a node_exporter textfile (written
atomically) and/or an HTTP endpoint on localhost, both in the text exposition
format. The daemon loop feeds one ``Metrics``; exporters only read it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from .exceptions import ConfigError

if TYPE_CHECKING:  # http.server is imported only by a daemon that serves the metrics
    from http.server import BaseHTTPRequestHandler

log = structlog.get_logger("introd.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_HELP: dict[str, tuple[str, str]] = {
    "introd_mails_in_total": ("counter", "Mails read from the watched folder, by kind."),
    "introd_mails_out_total": ("counter", "Mails the SMTP server accepted, by template."),
    "introd_decisions_total": ("counter", "Decisions on incoming mail, by rule and action."),
    "introd_mail_failures_total": ("counter", "Outgoing mails given up on, by template."),
    "introd_outbox_depth": ("gauge", "Mails waiting in the outbox."),
    "introd_intros_awaiting": ("gauge", "Intros waiting for the parties' answers."),
    "introd_imap_reconnects_total": ("counter", "Reconnections to the IMAP server after a loss."),
    "introd_errors_total": ("counter", "Outages and internal errors, by where they happened."),
    "introd_last_poll_timestamp_seconds": ("gauge", "When the folder was last read (Unix time)."),
    "introd_mail_processing_seconds": (
        "histogram",
        "Time to read, decide on and record one incoming mail.",
    ),
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class Metrics:
    """Counters, gauges and one latency histogram; safe to read from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        self._gauges: dict[str, float] = {}
        self._buckets = [0] * len(LATENCY_BUCKETS)
        self._latency_sum = 0.0
        self._latency_count = 0

    # -- recording ------------------------------------------------------------
    def count(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._counters.setdefault(name, {})
            series[key] = series.get(key, 0.0) + amount

    def gauge(self, name: str, value: float) -> None:
        with self._lock:
            self._gauges[name] = float(value)

    def observe_latency(self, seconds: float) -> None:
        with self._lock:
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    self._buckets[i] += 1
            self._latency_sum += seconds
            self._latency_count += 1

    def mail_in(self, *, kind: str, rule: str, action: str, seconds: float) -> None:
        self.count("introd_mails_in_total", kind=kind)
        self.count("introd_decisions_total", rule=rule, action=action)
        self.observe_latency(seconds)

    def mail_out(self, template: str, count: int = 1) -> None:
        self.count("introd_mails_out_total", count, template=template)

    def mail_failed(self, template: str, count: int = 1) -> None:
        self.count("introd_mail_failures_total", count, template=template)

    # -- reading ------------------------------------------------------------------
    def value(self, name: str, **labels: str) -> float:
        """One series' current value (0 when never recorded)."""
        with self._lock:
            if name in self._gauges:
                return self._gauges[name]
            return self._counters.get(name, {}).get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> str:
        """The Prometheus text exposition format."""
        lines: list[str] = []
        with self._lock:
            for name, (kind, text) in _HELP.items():
                lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
                if kind == "counter":
                    series = self._counters.get(name, {})
                    if not series and not _labelled(name):
                        series = {(): 0.0}
                    for key, value in sorted(series.items()):
                        lines.append(f"{name}{_labels(key)} {_number(value)}")
                elif kind == "gauge":
                    if name in self._gauges:
                        lines.append(f"{name} {_number(self._gauges[name])}")
                else:
                    for bound, hits in zip(LATENCY_BUCKETS, self._buckets, strict=True):
                        lines.append(f'{name}_bucket{{le="{bound}"}} {hits}')
                    lines.append(f'{name}_bucket{{le="+Inf"}} {self._latency_count}')
                    lines.append(f"{name}_sum {_number(self._latency_sum)}")
                    lines.append(f"{name}_count {self._latency_count}")
        return "\n".join(lines) + "\n"


def _labelled(name: str) -> bool:
    return name not in ("introd_imap_reconnects_total",)


# -- exporters ----------------------------------------------------------------
def write_textfile(path: Path, text: str) -> None:
    """Replace ``path`` atomically (a temp file in the same folder, then rename), so
    node_exporter never reads half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        # never through a link; 0644 on purpose: node_exporter reads it as another user,
        # and it holds only counts
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(fd, 0o644)
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        log.warning("metrics_textfile_failed", path=str(path), error=exc.strerror)


def _handler(metrics: Metrics) -> type[BaseHTTPRequestHandler]:
    from http.server import BaseHTTPRequestHandler

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            if self.path.split("?", 1)[0] not in ("/metrics", "/"):
                self.send_error(404)
                return
            body = metrics.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # scrapes every few seconds would drown the log

    return Handler


class MetricsServer:
    """``GET /metrics`` on (host, port), served from a daemon thread."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        from http.server import ThreadingHTTPServer

        try:
            self.httpd = ThreadingHTTPServer((host, port), _handler(metrics))
        except OSError as exc:
            raise ConfigError(
                [("metrics.listen", f"cannot listen on {host}:{port}: {exc.strerror}")]
            ) from None
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, name="introd-metrics", daemon=True
        )
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Exporter:
    """The metrics and where they go (textfile, HTTP, both or neither)."""

    def __init__(
        self,
        metrics: Metrics,
        *,
        textfile: Path | None = None,
        listen: tuple[str, int] | None = None,
    ) -> None:
        self.metrics = metrics
        self.textfile = textfile
        self.server = MetricsServer(metrics, *listen) if listen else None
        if textfile or listen:
            log.info(
                "metrics_enabled",
                textfile=str(textfile) if textfile else None,
                listen=f"{listen[0]}:{self.server.port}" if listen and self.server else None,
            )

    @property
    def enabled(self) -> bool:
        return self.textfile is not None or self.server is not None

    def flush(self) -> None:
        """Write the textfile (the HTTP endpoint always serves the current values)."""
        if self.textfile is not None:
            write_textfile(self.textfile, self.metrics.render())

    def close(self) -> None:
        self.flush()
        if self.server is not None:
            self.server.close()
            self.server = None
