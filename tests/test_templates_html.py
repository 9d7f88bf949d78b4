"""The HTML parts read well: plain accessible markup, the same words as the text part, and
no layout overflow at phone and desktop widths, checked in headless Chromium.

Run this file as a script to regenerate the screenshots in docs/templates/:
`python tests/test_templates_html.py`.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from introd.config import Config, load_config
from introd.model import Person
from introd.render import TEMPLATE_NAMES, Rendered, Templates
from introd.templates_check import situations

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "docs" / "templates"
HTML_NAMES = ("optin_requester", "optin_target", "introduction")  # in the screenshots
LANGUAGES = ("en", "fr", "de", "es")
WIDTHS = (375, 1024)  # a phone, a desktop window
INSTALL = (
    "headless Chromium is needed for this test: as root, "
    "`apt-get install -y --no-install-recommends chromium chromium-driver`"
)
LONG_URL = (
    "https://www.fieldnote.example/research/polymer-recycling/pilot-lines/"
    "2026-03-overview-of-the-nordic-installations-and-their-throughput.pdf"
)
SITUATION = {
    "optin_requester": "requester_first",
    "optin_target": "requester_first",
    "introduction": "with the requester's note",
}


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(INSTALL, pytrace=False)


def config(tmp: Path) -> Config:
    (tmp / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "owner": {"name": "Marguerite Okafor", "addresses": ["marguerite@okafor.example"]},
                "auth": {"trusted_authserv_ids": ["mx.okafor.example"]},
                "contacts": [],
                "reply_address": "intros@okafor.example",
            }
        )
    )
    return load_config(tmp / "config.yaml", need_servers=False)


def render(cfg: Config, lang: str, name: str, *, hostile: bool = False) -> Rendered:
    """NAME in LANG for its richest situation; `hostile` adds long names and an unbroken URL."""
    found = situations(cfg, name)
    context: dict[str, Any] = next(
        (s.context for s in found if s.label == SITUATION.get(name)), found[0].context
    )
    if hostile:
        intro = context["intro"]
        context = {
            **context,
            "requester": Person(
                name="Maximiliane Aurelia von Hohenzollern-Sigmaringen",
                email="maximiliane.aurelia.von.hohenzollern-sigmaringen@"
                "research-department.fieldnote.example",
            ),
            "intro": replace(
                intro,
                blurb=f"{intro.blurb}\n\nSee {LONG_URL}",
                reason=f"{intro.reason} ({LONG_URL})",
            )
            if intro
            else None,
            "requester_note": f"{NOTE_WORDS}\n{LONG_URL}",
        }
    return Templates().render(name, context, language=lang)


NOTE_WORDS = "Thank you for reading this; the details are in the report below."


# -- static checks ---------------------------------------------------------------------
class _Text(HTMLParser):
    """The visible text of an HTML part, and the tags and attributes it uses."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []
        self.tags: Counter[str] = Counter()
        self.attrs: list[tuple[str, str, str]] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        if tag in ("title", "style", "script", "head"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("title", "style", "script", "head"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.words += words(data)


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def cases(names: tuple[str, ...] = HTML_NAMES) -> list[Any]:
    return [pytest.param(lang, name, id=f"{lang}-{name}") for lang in LANGUAGES for name in names]


class TestMarkup:
    @pytest.mark.parametrize(("lang", "name"), cases(TEMPLATE_NAMES))
    def test_simple_accessible_markup(self, tmp_path: Path, lang: str, name: str) -> None:
        """A language, a title, a viewport; inline styles only; nothing loaded from outside."""
        part = render(config(tmp_path), lang, name).html
        assert part is not None
        parsed = _Text()
        parsed.feed(part)
        assert f'<html lang="{lang}">' in part
        assert parsed.tags["title"] == 1 and parsed.tags["meta"] == 2
        assert not {"img", "script", "style", "link", "iframe", "table", "font"} & set(parsed.tags)
        assert not [a for a in parsed.attrs if a[1] in ("class", "id", "src", "width")]
        links = [v for tag, k, v in parsed.attrs if k == "href"]
        assert all(v.startswith(("mailto:", "https://")) for v in links), links

    @pytest.mark.parametrize(("lang", "name"), cases(TEMPLATE_NAMES))
    @pytest.mark.parametrize("hostile", [False, True], ids=["sample", "long-words"])
    def test_text_part_is_a_faithful_equivalent(
        self, tmp_path: Path, lang: str, name: str, hostile: bool
    ) -> None:
        """The text part holds exactly the words the HTML part shows, in the same order."""
        mail = render(config(tmp_path), lang, name, hostile=hostile)
        assert mail.html is not None
        parsed = _Text()
        parsed.feed(mail.html)
        assert parsed.words == words(mail.text)


# -- Chromium --------------------------------------------------------------------------
PROBE = """<!DOCTYPE html><html><body style="margin:0">{frames}
<script>
window.addEventListener("load", function () {{
  var out = [];
  document.querySelectorAll("iframe").forEach(function (f) {{
    var d = f.contentDocument.documentElement;
    out.push(f.dataset.label + ":" + d.scrollWidth + ":" + d.clientWidth + ":" + d.scrollHeight);
  }});
  document.body.setAttribute("data-result", out.join(" "));
}});
</script></body></html>"""
FRAME = (
    '<iframe data-label="{label}" style="display:block;width:{width}px;height:600px;'
    'border:0" srcdoc="{doc}"></iframe>'
)


def browse(page: Path, width: int, height: int, *extra: str) -> str:
    """Run headless Chromium once on PAGE; its stdout."""
    with tempfile.TemporaryDirectory(prefix="introd-chromium-") as profile:
        done = subprocess.run(
            [
                chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                *extra,
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if done.returncode != 0:
        pytest.fail(f"chromium failed ({done.returncode}): {done.stderr[-500:]}", pytrace=False)
    return done.stdout


def measure(page_html: dict[str, str], tmp: Path) -> dict[str, tuple[int, int, int]]:
    """scrollWidth, clientWidth and scrollHeight of each page labelled `NAME@WIDTH`, laid out
    in a frame of that width (headless Chromium's window has a minimum width; a frame does
    not)."""
    frames = "".join(
        FRAME.format(label=label, width=label.split("@")[1], doc=html.escape(doc, quote=True))
        for label, doc in page_html.items()
    )
    probe = tmp / "probe.html"
    probe.write_text(PROBE.format(frames=frames), encoding="utf-8")
    dom = browse(probe, max(WIDTHS) + 100, 800, "--dump-dom")
    found = re.search(r'data-result="([^"]*)"', dom)
    assert found, "the probe page did not report its measures"
    out = {}
    for item in found[1].split():
        label, scroll, client, height = item.rsplit(":", 3)
        out[label] = (int(scroll), int(client), int(height))
    return out


class TestLayout:
    @pytest.mark.parametrize(("lang", "name"), cases())
    def test_no_overflow_at_phone_and_desktop_width(
        self, tmp_path: Path, lang: str, name: str
    ) -> None:
        """No horizontal scrolling at 375 px or 1024 px, even with long names and a long URL."""
        cfg = config(tmp_path)
        pages = {}
        for hostile in (False, True):
            part = render(cfg, lang, name, hostile=hostile).html
            assert part is not None
            for width in WIDTHS:
                pages[f"{'long' if hostile else 'sample'}@{width}"] = part
        measured = measure(pages, tmp_path)
        assert set(measured) == set(pages)
        wide = {label: m[:2] for label, m in measured.items() if m[0] > m[1]}
        assert not wide, f"scrollWidth > viewport width (label: (scroll, viewport)): {wide}"

    def test_no_overflow_in_any_mail(self, tmp_path: Path) -> None:
        """Every other mail, in every language, with long names and a long URL, fits a phone
        and a desktop window too (one browser run for all of them)."""
        cfg = config(tmp_path)
        pages = {}
        for lang in LANGUAGES:
            for name in TEMPLATE_NAMES:
                if name in HTML_NAMES:
                    continue
                part = render(cfg, lang, name, hostile=True).html
                assert part is not None
                for width in WIDTHS:
                    pages[f"{lang}-{name}@{width}"] = part
        measured = measure(pages, tmp_path)
        assert set(measured) == set(pages)
        wide = {label: m[:2] for label, m in measured.items() if m[0] > m[1]}
        assert not wide, f"scrollWidth > viewport width (label: (scroll, viewport)): {wide}"


def screenshots(out: Path = SHOTS) -> list[Path]:
    """PNGs of every HTML part at phone and desktop width, for docs/templates.md."""
    out.mkdir(parents=True, exist_ok=True)
    made = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cfg = config(tmp)
        for lang in LANGUAGES:
            for name in HTML_NAMES:
                part = render(cfg, lang, name).html
                assert part is not None
                page = tmp / f"{lang}-{name}.html"
                page.write_text(part, encoding="utf-8")
                heights = measure({f"{w}@{w}": part for w in WIDTHS}, tmp)
                for width in WIDTHS:
                    height = heights[f"{width}@{width}"][2]
                    shot = out / f"{name}.{lang}.{width}.png"
                    browse(page, width, height, f"--screenshot={shot}")
                    made.append(shot)
    return made


if __name__ == "__main__":
    for path in screenshots():
        print(path.relative_to(ROOT))
    sys.exit(0)
