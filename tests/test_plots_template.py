"""The offline `dvc plots show` page (mnist_pipeline/stages/plots_template.py, the plots_template
stage): the template inlines the three Vega libraries, the pages `dvc plots show` and
`dvc plots diff` render with it in a copy of the repository load nothing from the network, and
in headless Chromium the overlay charts draw each model in a colour of its own, named in the
legend (slow: they run dvc)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from conftest import copy_repo, run_main, run_script, run_tool

from mnist_pipeline.stages.plots_template import PACKAGE, library_sources, page


def test_plots_template_script_has_help():
    result = run_main("plots_template", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: plots_template")
    assert "--out" in result.stdout


def test_plots_template_inlines_the_three_libraries(tmp_path):
    """In a fresh Python, as DVC runs it."""
    result = run_script("plots_template", "--out", "page.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "page.html").read_text()
    assert "{plot_divs}" in html and "{scripts}" not in html  # DVC's CDN tags never go in
    version, sources = library_sources()
    assert html == page(version, sources)
    assert [
        lib
        for lib in ("vega", "vega-lite", "vega-embed")
        if f'<script data-library="{lib}">' in html
    ] == ["vega", "vega-lite", "vega-embed"]
    assert f"{PACKAGE} {version}" in html


# --- `dvc plots show` and `dvc plots diff`, offline -----------------------------------------


class PageScan(HTMLParser):
    """Every id, every src/href value, every script (its attributes and its text)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[tuple[str, str, str]] = []
        self.scripts: list[tuple[dict, str]] = []
        self.styles: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.add(attributes["id"])
        for name in ("src", "href"):
            if name in attributes:
                self.links.append((tag, name, attributes[name] or ""))
        if tag == "script":
            self.scripts.append((attributes, ""))
        self._open = tag if tag in ("script", "style") else None

    def handle_data(self, data):
        if self._open == "script":
            attributes, text = self.scripts[-1]
            self.scripts[-1] = (attributes, text + data)
        elif self._open == "style":
            self.styles.append(data)

    def handle_endtag(self, tag):
        self._open = None


URL = re.compile(r"(?:https?:)?//[\w.-]+", re.IGNORECASE)
SCHEMA = re.compile(r'"\$schema":\s*"https://vega\.github\.io/schema/[^"]+"')


def declared_plots(repo: Path) -> list[str]:
    """Every plot dvc.yaml declares: top-level plot ids and each stage's plot outputs, with
    foreach expanded over params.yaml and a folder standing for the files in it."""
    dvc_yaml = yaml.safe_load((repo / "dvc.yaml").read_text())
    params = yaml.safe_load((repo / "params.yaml").read_text())
    names = [next(iter(p)) if isinstance(p, dict) else p for p in dvc_yaml.get("plots", [])]
    for stage in dvc_yaml["stages"].values():
        if "foreach" in stage:
            collection = params[re.fullmatch(r"\$\{(\w+)\}", stage["foreach"]).group(1)]
            expanded = [(key, item, stage["do"]) for key, item in collection.items()]
        else:
            expanded = [(None, None, stage)]
        for key, item, body in expanded:
            for entry in body.get("plots", []):
                path = next(iter(entry)) if isinstance(entry, dict) else entry
                path = re.sub(r"\$\{key\}", str(key), path)
                path = re.sub(r"\$\{item\.(\w+)\}", lambda m, i=item: str(i[m.group(1)]), path)
                if (repo / path).is_dir():
                    names += sorted(
                        str(p.relative_to(repo)) for p in (repo / path).rglob("*") if p.is_file()
                    )
                else:
                    names.append(path)
    return names


def check_offline(html_path: Path, expected: list[str]) -> PageScan:
    from dvc_render.base import Renderer

    html = html_path.read_text(encoding="utf-8")
    scan = PageScan()
    scan.feed(html)
    external = [link for link in scan.links if URL.match(link[2].strip())]
    assert external == [], f"the page loads from the network: {external}"
    assert all("src" not in attributes for attributes, _ in scan.scripts), "a script is loaded"
    libraries = [a["data-library"] for a, _ in scan.scripts if "data-library" in a]
    assert libraries == ["vega", "vega-lite", "vega-embed"]
    for attributes, text in scan.scripts:
        if "data-library" not in attributes:  # DVC's plot specs: only the schema's name
            assert not URL.search(SCHEMA.sub("", text)), text[:300]
    assert not any(URL.search(style) for style in scan.styles)
    assert "cdn.jsdelivr" not in html
    missing = [name for name in expected if Renderer.remove_special_chars(name) not in scan.ids]
    assert missing == [], f"declared plots missing from the page: {missing}"
    for tag, _, src in scan.links:
        if tag == "img" and not src.startswith("data:"):
            assert (html_path.parent / src).is_file(), src
    return scan


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory) -> Path:
    """A fresh clone of the working tree with the offline template generated in it."""
    repo = copy_repo(tmp_path_factory.mktemp("plots-clone"))
    result = run_main("plots_template", "--out", "stages/plots_template/index.html", cwd=repo)
    assert result.returncode == 0, result.stderr
    return repo


@pytest.mark.slow
def test_dvc_plots_show_renders_every_plot_offline(repo_copy, tmp_path):
    expected = declared_plots(repo_copy)
    assert "plots/figures/sgd_5/misclassified.png" in expected
    assert "plots/summary/accuracy.png" in expected
    assert "metrics/label_distribution.csv" in expected
    assert "metrics/overlays/pr_curve.csv" in expected
    # no --html-template: .dvc/config's plots.html_template is the one used
    result = run_tool("dvc", "plots", "show", "-o", tmp_path / "page", cwd=repo_copy)
    assert (tmp_path / "page/index.html").as_uri() in result.stdout
    scan = check_offline(tmp_path / "page/index.html", expected)
    assert len([t for t, _, _ in scan.links if t == "img"]) == len(
        [n for n in expected if n.endswith(".png")]
    )


@pytest.mark.slow
def test_dvc_plots_diff_renders_offline_too(repo_copy, tmp_path):
    result = run_tool("dvc", "plots", "diff", "main", "-o", tmp_path / "diff", cwd=repo_copy)
    assert "index.html" in result.stdout
    check_offline(tmp_path / "diff/index.html", declared_plots(repo_copy))


# --- the page in a real browser ---------------------------------------------------------------

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--proxy-server=http://127.0.0.1:9",  # a closed port: any network request fails
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
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=30000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


class ChartScan(HTMLParser):
    """In the chart whose container has id ``chart``: the colour of each line (the model its
    aria-label names) and each legend's title and (label, symbol colour) entries."""

    def __init__(self, chart: str) -> None:
        super().__init__()
        self.chart = chart
        self.lines: list[tuple[str, str]] = []
        self.legends: list[dict] = []
        self._depth = 0  # open <div>s of the chart, 0 outside it
        self._groups: list[str] = []
        self._symbol: str | None = None
        self._text_in: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "div" and (self._depth or attributes.get("id") == self.chart):
            self._depth += 1
        if not self._depth:
            return
        classes = attributes.get("class") or ""
        if tag == "g":
            self._groups.append(classes)
            if "role-legend" in classes.split():
                self.legends.append({"title": None, "entries": []})
        elif tag == "path" and self._groups:
            if "role-mark" in self._groups[-1] and "mark-line" in self._groups[-1]:
                model = re.search(r"\bmodel: ([^;]+)", attributes.get("aria-label") or "")
                self.lines.append((model.group(1) if model else "", attributes.get("stroke")))
            elif "role-legend-symbol" in self._groups[-1]:
                self._symbol = attributes.get("stroke")
        elif tag == "text" and self._groups:
            self._text_in = self._groups[-1]

    def handle_endtag(self, tag):
        if not self._depth:
            return
        if tag == "div":
            self._depth -= 1
        elif tag == "g" and self._groups:
            self._groups.pop()
        elif tag == "text":
            self._text_in = None

    def handle_data(self, data):
        if not self._depth or self._text_in is None or not self.legends:
            return
        if "role-legend-title" in self._text_in:
            self.legends[-1]["title"] = data
        elif "role-legend-label" in self._text_in:
            self.legends[-1]["entries"].append((data, self._symbol))


def overlay_models(repo: Path) -> dict[str, list[str]]:
    """The page id of each overlay chart and the models params.yaml gives it, in order."""
    from dvc_render.base import Renderer

    models = yaml.safe_load((repo / "params.yaml").read_text())["models"]
    return {
        Renderer.remove_special_chars("metrics/overlays/per_class.csv"): [
            name for name, model in models.items() if "target" not in model
        ],
        Renderer.remove_special_chars("metrics/overlays/pr_curve.csv"): [
            name for name, model in models.items() if "target" in model
        ],
    }


@pytest.mark.slow
def test_chromium_draws_every_model_of_an_overlay_in_its_own_colour_named_in_the_legend(
    repo_copy, tmp_path
):
    run_tool("dvc", "plots", "show", "-o", tmp_path / "page", cwd=repo_copy)
    dom = rendered_dom(tmp_path / "page/index.html", tmp_path / "profile")
    for chart, models in overlay_models(repo_copy).items():
        scan = ChartScan(chart)
        scan.feed(dom)
        colours = dict(scan.lines)
        assert sorted(colours) == sorted(models) and len(scan.lines) == len(models), chart
        assert len(set(colours.values())) == len(models), f"{chart}: {colours}"
        legend = {entry["title"]: entry["entries"] for entry in scan.legends}
        assert legend["model"] == [(name, colours[name]) for name in models], chart
