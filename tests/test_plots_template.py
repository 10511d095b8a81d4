"""The offline `dvc plots show` page (src/plots_template.py): no network, a colour per model."""

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from conftest import copy_repo, run_main, run_script, run_tool

import plots_template

LIBRARIES = ["vega", "vega-lite", "vega-embed"]


def test_the_template_inlines_the_three_libraries_and_no_cdn_tags(tmp_path):
    """In a fresh Python, as DVC runs it."""
    result = run_script("plots_template", "--out", "page.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "page.html").read_text()
    assert html == plots_template.page(*plots_template.library_sources())
    assert "{plot_divs}" in html and "{scripts}" not in html  # where DVC puts its CDN tags
    assert re.findall(r'<script data-library="([\w-]+)">', html) == LIBRARIES


def test_a_library_that_would_end_its_script_early_is_refused():
    with pytest.raises(ValueError) as refused:
        plots_template.page("1", {"vega": "x = '</script>';"})
    assert str(refused.value) == "vega: holds '</script' or '<!--', which cannot be inlined"


class PageScan(HTMLParser):
    """Every element's tag and attributes, and the text of each script and style."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.texts: list[tuple[dict, str]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        if self.elements and self.elements[-1][0] in ("script", "style"):
            self.texts.append((self.elements[-1][1], data))


URL = re.compile(r"(?:https?:)?//[\w.-]+", re.IGNORECASE)
SCHEMA = re.compile(r'"\$schema":\s*"https://vega\.github\.io/schema/[^"]+"')


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory) -> Path:
    """A fresh clone of the working tree with the offline template generated in it."""
    repo = copy_repo(tmp_path_factory.mktemp("plots-clone"))
    result = run_main("plots_template", "--out", "stages/plots_template/index.html", cwd=repo)
    assert result.returncode == 0, result.stderr
    return repo


@pytest.fixture(scope="module")
def shown(repo_copy, tmp_path_factory) -> Path:
    """`dvc plots show` in the clone, with .dvc/config's template: the page's index.html."""
    out = tmp_path_factory.mktemp("shown")
    run_tool("dvc", "plots", "show", "-o", out, cwd=repo_copy)
    return out / "index.html"


@pytest.mark.slow
def test_dvc_plots_show_renders_every_plot_offline(repo_copy, shown):
    from dvc_render.base import Renderer

    scan = PageScan()
    scan.feed(shown.read_text(encoding="utf-8"))
    links = [a.get(k) or "" for _, a in scan.elements for k in ("src", "href") if k in a]
    assert [link for link in links if URL.match(link.strip())] == []
    assert [a["data-library"] for t, a in scan.elements if "data-library" in a] == LIBRARIES
    assert not any(t == "script" and "src" in a for t, a in scan.elements)
    for attributes, text in scan.texts:  # DVC's specs may name their schema, nothing else
        assert "data-library" in attributes or not URL.search(SCHEMA.sub("", text)), text[:300]
    ids = {a["id"] for _, a in scan.elements if "id" in a}
    for plot in ("metrics/overlays/per_class.csv", "metrics/overlays/pr_curve.csv"):
        assert Renderer.remove_special_chars(plot) in ids, plot
    images = [a["src"] for t, a in scan.elements if t == "img"]
    assert len(images) == len(list((repo_copy / "plots").rglob("*.png")))
    assert all((shown.parent / src).is_file() for src in images)


CHROMIUM_FLAGS = (
    *("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"),
    *("--disable-background-networking", "--disable-component-update", "--disable-sync"),
    "--proxy-server=http://127.0.0.1:9",  # a closed port: any network request fails
    *("--virtual-time-budget=30000", "--dump-dom"),
)


def rendered_dom(page: Path, profile: Path) -> str:
    """The page's DOM after its scripts ran in headless Chromium, with no network."""
    chromium = shutil.which("chromium")
    if chromium is None:
        message = "chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


LINE = re.compile(
    r'<path aria-label="[^"]*\bmodel: ([^;"]+)[^"]*" role="graphics-symbol" '
    r'aria-roledescription="line mark"[^>]*? stroke="([^"]+)"'
)
LEGEND_ENTRY = re.compile(
    r'role-legend-symbol"[^>]*><path [^>]*?stroke="([^"]+)"[^>]*></path></g>'
    r'<g class="mark-text role-legend-label"[^>]*><text [^>]*>([^<]+)</text>'
)


@pytest.mark.slow
def test_chromium_draws_every_model_of_an_overlay_in_its_own_colour_named_in_the_legend(
    repo_copy, shown, tmp_path
):
    from dvc_render.base import Renderer

    dom = rendered_dom(shown, tmp_path / "profile")
    models = yaml.safe_load((repo_copy / "params.yaml").read_text())["models"]
    for chart, detectors in (("per_class", False), ("pr_curve", True)):
        names = [name for name, model in models.items() if ("target" in model) == detectors]
        chart_id = Renderer.remove_special_chars(f"metrics/overlays/{chart}.csv")
        start = dom.index(f'<div id="{chart_id}"')
        svg = dom[start : dom.find("<div id=", start + 1)]
        lines = LINE.findall(svg)
        colours = dict(lines)
        assert sorted(colours) == sorted(names) and len(lines) == len(names), chart
        assert len(set(colours.values())) == len(names), f"{chart}: {colours}"
        legend = rf"legend titled 'model' for [\w ]+ with {len(names)} values: {', '.join(names)}\""
        assert re.search(legend, svg), chart
        entries = [(label, colour) for colour, label in LEGEND_ENTRY.findall(svg)]
        assert [e for e in entries if e[0] in names] == [(n, colours[n]) for n in names], chart
