"""`introd parse` on one request loads only what reading it needs.

Start-up time is most of what `introd parse` costs on one mail; these checks keep the
costly imports out of it without measuring any time: logging (structlog, and asyncio
with it), the HTML converter for a plain-text mail, vobject for plain vCard files,
sqlite3 without a state file, subprocess without a password command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CORPUS = Path(__file__).parent / "data" / "corpus"
HEAVY = ("structlog", "asyncio", "html2text", "vobject", "sqlite3", "subprocess", "jinja2")

_PROBE = """
import contextlib, io, json, sys
from introd.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(["parse", "--config", sys.argv[1], sys.argv[2]])
heavy = sorted(m for m in sys.argv[3].split(",") if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy, "kind": json.loads(out.getvalue())["kind"]}))
"""


def _parse_in_a_fresh_interpreter(mail: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(CORPUS / "config.yaml"), str(mail), ",".join(HEAVY)],
        capture_output=True,
        text=True,
        check=True,
        cwd=CORPUS,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


class TestParseStartup:
    def test_a_plain_text_request_loads_none_of_the_costly_modules(self) -> None:
        """A plain-text request with plain vCards and no state: none of them is imported."""
        mail = CORPUS / "r04_thunderbird_en_note_bare_address.eml"
        assert b"text/html" not in mail.read_bytes()
        result = _parse_in_a_fresh_interpreter(mail)
        assert result["code"] == 0 and result["kind"] == "request"
        assert result["heavy"] == []

    def test_the_probe_sees_an_import(self) -> None:
        """An HTML-only mail does load the HTML converter (the check above can fail)."""
        result = _parse_in_a_fresh_interpreter(CORPUS / "h01_tb_html_only_forward.eml")
        assert result["heavy"] == ["html2text"]
