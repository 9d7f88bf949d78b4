"""Prometheus metrics: the exposition text, the atomic textfile, the HTTP endpoint, and
the daemon feeding them."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from introd.metrics import Exporter, Metrics, MetricsServer, write_textfile
from servers import find_free_port
from helpers import Running, wait_for
from world import TIM_ASKS, World, forward


def _series(text: str) -> dict[str, float]:
    """`name{labels}` -> value for every sample line of an exposition."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            found[key] = float(value)
    return found


class TestExposition:
    def test_counters_gauges_and_histogram_render(self) -> None:
        """Labelled counters, gauges and the latency histogram come out in the text format,
        with HELP and TYPE lines and cumulative buckets."""
        m = Metrics()
        m.mail_in(kind="request", rule="default", action="accept", seconds=0.02)
        m.mail_in(kind="reply", rule="answer", action="accept", seconds=0.3)
        m.mail_out("optin_target")
        m.mail_out("optin_target")
        m.gauge("introd_outbox_depth", 4)
        text = m.render()
        s = _series(text)
        assert s['introd_mails_in_total{kind="request"}'] == 1
        assert s['introd_mails_out_total{template="optin_target"}'] == 2
        assert s['introd_decisions_total{action="accept",rule="answer"}'] == 1
        assert s["introd_outbox_depth"] == 4
        assert s["introd_imap_reconnects_total"] == 0
        assert s['introd_mail_processing_seconds_bucket{le="0.025"}'] == 1
        assert s['introd_mail_processing_seconds_bucket{le="0.5"}'] == 2
        assert s['introd_mail_processing_seconds_bucket{le="+Inf"}'] == 2
        assert s["introd_mail_processing_seconds_count"] == 2
        assert "# TYPE introd_mail_processing_seconds histogram" in text
        assert re.search(r"^# HELP introd_mails_in_total \S", text, re.M)

    def test_label_values_are_escaped(self) -> None:
        """Quotes, backslashes and newlines in a label value cannot break a line."""
        m = Metrics()
        m.mail_out('odd"name\\\nx')
        assert 'template="odd\\"name\\\\\\nx"' in m.render()


class TestExporters:
    def test_textfile_is_replaced_atomically(self, tmp_path: Path) -> None:
        """The textfile is written through a temp file and a rename: no temp file is left
        and the content is whole."""
        target = tmp_path / "introd.prom"
        write_textfile(target, "a 1\n")
        write_textfile(target, "a 2\n")
        assert target.read_text() == "a 2\n"
        assert [p.name for p in tmp_path.iterdir()] == ["introd.prom"]

    def test_http_endpoint_serves_metrics(self) -> None:
        """GET /metrics on the configured localhost port answers the exposition text."""
        m = Metrics()
        m.mail_out("introduction")
        server = MetricsServer(m, "127.0.0.1", find_free_port())
        try:
            url = f"http://127.0.0.1:{server.port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as reply:
                assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                body = reply.read().decode()
        finally:
            server.close()
        assert 'introd_mails_out_total{template="introduction"} 1' in body

    def test_off_by_default(self) -> None:
        """Without textfile or listen nothing is exported."""
        exporter = Exporter(Metrics())
        assert not exporter.enabled
        exporter.flush()
        exporter.close()


@pytest.mark.servers
class TestDaemonMetrics:
    def test_run_once_writes_the_textfile(self, world: World, clock: Any) -> None:
        """After `run --once` the textfile counts the request, its decision and the two
        opt-ins sent, and shows an empty outbox."""
        prom = world.tmp / "introd.prom"
        world.write_config(metrics={"textfile": str(prom)})
        world.owner_sends(forward("Tim Walker", "tim@example.test", TIM_ASKS))
        assert world.run_once(clock.now()) == 0
        s = _series(prom.read_text())
        assert s['introd_mails_in_total{kind="request"}'] == 1
        assert s['introd_decisions_total{action="accept",rule="default"}'] == 1
        assert s['introd_mails_out_total{template="optin_requester"}'] == 1
        assert s['introd_mails_out_total{template="optin_target"}'] == 1
        assert s["introd_outbox_depth"] == 0
        assert s["introd_intros_awaiting"] == 1
        assert s["introd_mail_processing_seconds_count"] == 1

    def test_running_daemon_serves_http(self, world: World) -> None:
        """`introd run` with metrics.listen serves the live counters on localhost."""
        port = find_free_port()
        world.write_config(imap={"idle": True}, metrics={"listen": f"127.0.0.1:{port}"})
        d = Running(world)
        try:
            d.wait_event("daemon_ready")
            world.owner_sends(forward("Tim Walker", "tim@example.test", TIM_ASKS))
            world.smtp.wait_for(2, timeout=20)

            def scraped() -> dict[str, float]:
                url = f"http://127.0.0.1:{port}/metrics"
                with urllib.request.urlopen(url, timeout=5) as reply:
                    return _series(reply.read().decode())

            wait_for(
                lambda: scraped().get('introd_mails_out_total{template="optin_target"}'),
                what="opt-in counted",
            )
            assert scraped()['introd_mails_in_total{kind="request"}'] == 1
        finally:
            assert d.stop() == 0


def test_a_daemon_without_the_endpoint_imports_no_http_server() -> None:
    """http.server (and what it imports) is loaded only to serve metrics.listen or for
    `auth login`: the daemon's modules and a textfile-only exporter leave it out."""
    code = (
        "import sys\n"
        "import introd.cli, introd.daemon, introd.login, introd.templates_check\n"
        "from introd.metrics import Exporter, Metrics\n"
        "Exporter(Metrics(), textfile=None)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('http.server', 'socketserver'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
