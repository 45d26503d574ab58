"""The HTML report: well-formed, self-contained, a faithful view of the JSON, readable in a real browser.

The golden cases' reports are rendered and parsed (HTML, and each chart as XML); where Chromium is installed
the pinned reports are loaded headless at desktop and phone sizes: screenshots, chart sizes, console errors,
requests made, and a printed PDF.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from llmhw.cli import main
from llmhw.report import advice_html, check_html, svg
from llmhw.units import usd

from . import chromium
from .test_golden import CASES, GOLDEN, HTML_CASES

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
DEMO = next(c for c in CASES if c["name"] == "demo-r1-70b-team-20-users")


class Structure(HTMLParser):
    """Checks that every element is closed in order, and collects what the page would load or link to."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.loads: list[str] = []  # attributes that make a browser fetch something
        self.links: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "srcset", "poster", "data", "action", "xlink:href") or (name == "href" and tag != "a"):
                self.loads.append(f"<{tag} {name}={value}>")
            elif name == "href":
                self.links.append(value or "")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in ("script", "link", "img", "iframe"):
            self.loads.append(f"<{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}> at line {self.getpos()[0]}")
            return
        self.stack.pop()


def validate(page: str) -> Structure:
    """Parse a report and assert what every report must be: balanced, self-contained, charts as valid SVG."""
    s = Structure()
    s.feed(page)
    s.close()
    assert s.problems == [] and s.stack == [], (s.problems, s.stack)
    assert page.startswith("<!DOCTYPE html>") and '<meta name="viewport"' in page
    assert s.loads == [], s.loads
    assert not {"script", "iframe", "object", "img", "link"} & set(s.tags)
    assert not re.search(r"url\((?!#)|@import|@font-face", page), "only in-page references: nothing to load"
    assert all(link.startswith(("#", "https://", "http://")) for link in s.links), s.links
    for chart in re.findall(r"<svg\b.*?</svg>", page, re.S):
        ET.fromstring(chart.replace("&nbsp;", " "))  # each chart is well-formed XML on its own
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "ids must be unique within a page"
    for anchor in re.findall(r'href="#([^"]+)"', page):
        assert anchor in ids, f"#{anchor} points nowhere"
    return s


def render(runner: Any, args: list[str], fmt: str = "html") -> str:
    result = runner.invoke(main, [*args, "--format", fmt])
    assert result.exit_code == 0, result.output
    return str(result.stdout)


# -- the charts ---------------------------------------------------------------------------------------------


def test_ticks_are_round_and_cover_the_range() -> None:
    assert svg.linear_ticks(146.9) == [0, 50, 100, 150]
    assert svg.linear_ticks(409.3) == [0, 100, 200, 300, 400, 500]
    assert svg.log_ticks(1400, 140_000) == [2000, 5000, 10_000, 20_000, 50_000, 100_000]
    assert svg.log_ticks(25, 126) == [30, 40, 50, 60, 70, 80, 90, 100]  # a short span gets every 1-9
    assert svg.log_ticks(1, 1e6) == [1, 10, 100, 1000, 10_000, 100_000, 1_000_000]
    with pytest.raises(ValueError, match="positive bounds"):
        svg.log_ticks(0, 10)
    assert [svg.short_usd(x) for x in (500, 2000, 1_500_000)] == ["500", "2k", "1.5M"]


def test_the_front_keeps_the_cheapest_for_their_speed() -> None:
    points = [svg.Point(1000, 5, "reference", "a"), svg.Point(2000, 4, "reference", "b"), svg.Point(3000, 9, "reference", "c"),
              svg.Point(3000, 8, "reference", "d"), svg.Point(None, 50, "reference", "unpriced")]
    assert [p.label for p in svg.front(points)] == ["a", "c"]


def test_quality_classes_best_first_and_new_ones_still_coloured() -> None:
    colours = svg.quality_colours(["small-loss", "brand-new-class", "reference", "small-loss"])
    assert list(colours) == ["reference", "small-loss", "brand-new-class"]
    assert len(set(colours.values())) == 3


def test_memory_bars_show_free_space_and_overflow() -> None:
    gb = 10**9
    rows = [svg.MemoryRow("fits", {"weights": 40 * gb, "kv_cache": 20 * gb}, 80 * gb),
            svg.MemoryRow("too big", {"weights": 409 * gb, "overhead": gb}, 22_800_000_000)]
    chart = svg.memory_bars(rows)
    ET.fromstring(chart)
    assert "usable 80.0 GB, 20.0 GB free" in chart
    assert "usable 22.8 GB: over by 387 GB" in chart
    assert ">weights: 40.0 GB</title>" in chart and ">KV cache: 20.0 GB</title>" in chart
    assert "optimizer" not in chart  # parts nobody has are not in the legend


def test_scatter_marks_tiers_budget_and_unpriced_options() -> None:
    points = [svg.Point(7000, 6.3, "small-loss", "min", (1,)), svg.Point(17130, 23.1, "near-lossless", "rec", (2, 3)),
              svg.Point(None, 40, "reference", "no price <b>")]
    chart = svg.cost_speed(points, 40000, "decode tokens/s per user", "purchase USD")
    root = ET.fromstring(chart)
    texts = ["".join(t.itertext()) for t in root.iter("text")]
    assert "1" in texts and "2,3" in texts
    assert "budget 40k USD" in texts and "no price" in texts
    assert "no price &lt;b&gt;" in chart  # labels are escaped
    assert len([c for c in root.iter("circle") if c.get("r") == "5"]) == 3


# -- reports of real consultations ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_every_golden_consultation_renders_a_valid_self_contained_report(case: dict[str, Any], runner) -> None:
    page = render(runner, case["args"])
    validate(page)
    data = json.loads((GOLDEN / f"{case['name']}.json").read_text())
    recs = data.get("recommendations", [data] if case["args"][0] == "check" and data.get("memory") else [])
    for rec in recs:  # the page shows the JSON's own figures
        assert usd(rec["cost"]["budget_usd"]) in page
        assert rec["precision"] in page and rec["runtime"] in page
    for item in data["warnings"] + data["tips"]:
        assert f"<code>{item['id']}</code>" in page
    assert page.count('<section id="memory">') == (1 if recs else 0)


def test_the_demo_report_shows_tiers_charts_derivations_and_the_command(runner) -> None:
    """Read against the demo's own JSON answer, so the test holds whatever the planner recommends."""
    page = render(runner, DEMO["args"])
    data = json.loads(render(runner, DEMO["args"], "json"))
    s = validate(page)
    recs, items = data["recommendations"], data["warnings"] + data["tips"]
    assert s.tags.count("svg") == 2 and s.tags.count("article") == len(recs) == 3
    assert page.count('<details class="how">') == len(recs) + len(items) + len(data["notes"])  # each expands to its derivation
    given = "--model deepseek-r1-distill-llama-70b --context 8192 --concurrency 20 --budget 40000"
    assert f"<code>llmhw recommend {given} --format html</code>" in page
    for rec in recs:
        assert f"<code>llmhw check {given} --hardware {rec['hardware']} --count {rec['count']} --precision {rec['precision']}</code>" in page
    for item in items:
        if "at_stake_usd" in item:
            assert f'<span class="stake">{usd(item["at_stake_usd"])} at stake</span>' in page
    assert f"The {data['candidates']} configurations the engine kept" in page
    assert 'id="ref-1"' in page and 'href="https://' in page  # rule sources numbered, knowledge sources linked


def test_configurations_without_a_speed_are_counted_not_drawn(runner) -> None:
    """Devices without a dense 16-bit rate in the catalog (an MI355X has only its FP8 rate) have no training speed
    figure: the chart says how many rather than placing them anywhere."""
    page = render(runner, next(c for c in CASES if c["name"] == "qwen-7b-lora-batch-32")["args"])
    kept = json.loads((GOLDEN / "qwen-7b-lora-batch-32.json").read_text())["candidates"]  # grows with the catalog
    assert f"The {kept} configurations the engine kept" in page and "1 of them has no speed figure and is not drawn." in page
    assert ">training tokens/s (log scale)</text>" in page and ">20k</text>" in page


def test_each_tier_reproduces_as_a_check_of_its_configuration(runner) -> None:
    """The user's own --precision gives way to the tier's, named once; what was defaulted is left out."""
    page = render(runner, ["recommend", "--model", "llama-3.1-8b", "--precision", "q4_k_m", "--context", "4096"])
    commands = re.findall(r"Reproduce: <code>(llmhw check [^<]*)</code>", page)
    assert commands and all(c.count("--precision") == 1 and "--ecosystem" not in c for c in commands), commands
    assert commands[0].startswith("llmhw check --model llama-3.1-8b --context 4096 --hardware ")


def test_explain_as_html_shows_every_conclusion_with_its_chain(runner, tmp_path: Path) -> None:
    trace_file = tmp_path / "run.json"
    render(runner, [*DEMO["args"], "--trace", str(trace_file)], "json")
    page = render(runner, ["explain", str(trace_file)])
    validate(page)
    doc = json.loads(trace_file.read_text())
    assert page.count('<section class="conclusion">') == len(doc["conclusions"])
    for c in doc["conclusions"]:  # each under its own heading: kind, then key
        assert f'<h2>{c["kind"].capitalize()} {c["key"].split("#")[0]}' in page
    one = render(runner, ["explain", str(trace_file), "--conclusion", "recommended"])
    assert one.count('<section class="conclusion">') == 1 and "<code>REC-recommended</code>" in one


def test_the_report_of_the_same_question_is_byte_identical(runner) -> None:
    assert render(runner, DEMO["args"]) == render(runner, DEMO["args"])


def test_a_result_without_optional_fields_still_renders(runner) -> None:
    """Older or newer results: no runtime, quality, prices or candidates; the page shows what is there."""
    data = json.loads(render(runner, DEMO["args"], "json"))
    for rec in data["recommendations"]:
        for key in ("runtime", "quality_class", "price_known", "prefill_tokens_per_s", "micro_batch", "utilization"):
            rec.pop(key)
        rec["cost"] = {"budget_usd": None}
    del data["candidates"], data["memory_need"]
    page = advice_html(data)
    validate(page)
    assert page.count("price unknown") == 3 and 'id="compare"' not in page


def test_fields_the_planner_adds_are_shown(runner) -> None:
    data = json.loads(render(runner, DEMO["args"], "json"))
    rec = data["recommendations"][1]
    rec["layout"] = {**rec["layout"], "tensor_parallel": 2, "pipeline_parallel": 2, "data_parallel": 1, "nodes": 1}
    rec["count"] = 4
    rec["price_known"] = False
    page = advice_html(data, [copy.deepcopy(rec)])
    validate(page)
    assert "<dt>layout</dt><dd>TP 2 x PP 2</dd>" in page
    assert page.count("price unknown: fits, but no price in the catalog") == 1
    assert '<span class="tag">lossless</span>' in page


def test_check_report_says_the_verdict_first(runner) -> None:
    case = next(c for c in CASES if c["name"] == "check-r1-671b-4090-q4-gpu-only")
    page = render(runner, case["args"])
    validate(page)
    assert '<span class="verdict no">DOES NOT FIT</span>' in page
    data = json.loads((GOLDEN / "check-r1-671b-4090-q4-gpu-only.json").read_text())
    assert f"usable {data['available'] / 1e9:.1f} GB: over by " in page
    assert check_html(data, "NVIDIA GeForce RTX 4090 24GB").count("<details") == len(data["warnings"] + data["tips"] + data["notes"])


# -- in a real browser ---------------------------------------------------------------------------------------

BROWSER = chromium.find()
needs_browser = pytest.mark.skipif(BROWSER is None, reason="no Chromium on PATH (`apt-get install chromium`; .ci/run installs it)")
CHART_SIZES = "[...document.querySelectorAll('svg.chart')].map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; })"


@pytest.fixture(scope="module")
def browser():
    assert BROWSER is not None
    with chromium.Chromium(BROWSER) as b:
        yield b


@needs_browser
@pytest.mark.parametrize("case", HTML_CASES, ids=[c["name"] for c in HTML_CASES])
def test_report_in_headless_chromium(case: dict[str, Any], browser, tmp_path: Path) -> None:
    path = GOLDEN / f"{case['name']}.html"
    url = path.resolve().as_uri()
    seen = len(browser.events)
    for width, mobile in ((1200, False), (390, True)):
        browser.resize(width, 900, mobile)
        browser.load(url)
        sizes = browser.evaluate(CHART_SIZES)
        assert sizes, "no chart on the page"
        for w, h in sizes:  # visible: at least 360 px wide (a phone scrolls the box sideways), 80 px high
            assert w >= 360 and h >= 80, sizes
        assert browser.evaluate("document.documentElement.scrollWidth") <= width + 1, "the page itself must not scroll sideways"
        png = browser.screenshot(tmp_path / f"{case['name']}-{width}.png")
        assert png.startswith(b"\x89PNG") and len(png) > 20_000
    events = browser.events[seen:]
    urls = {e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"}
    assert urls == {url}, urls
    errors = [e for e in events if e.get("method") in ("Runtime.exceptionThrown", "Log.entryAdded", "Runtime.consoleAPICalled")]
    assert errors == []
    first_item = "document.querySelector('details.item').getBoundingClientRect().height"
    closed = browser.evaluate(first_item)
    browser.send("Emulation.setEmulatedMedia", {"media": "print"}, session=True)
    try:  # on paper every derivation is printed open
        assert browser.evaluate(first_item) > closed + 50
        pdf = base64.b64decode(browser.send("Page.printToPDF", {"printBackground": True}, session=True)["data"])
    finally:
        browser.send("Emulation.setEmulatedMedia", {"media": ""}, session=True)
    assert pdf.startswith(b"%PDF")
