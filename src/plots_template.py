"""Stage `plots_template`: the page `dvc plots show` fills (.dvc/config plots.html_template),
vega, vega-lite and vega-embed inlined from a pinned PyPI package instead of DVC's CDN tags, so
that its charts render with no network."""

import argparse
import logging
import re
import sys
from importlib import metadata
from pathlib import Path

from mnist_pipeline.plumbing.files import write_text

PACKAGE = "django-js-lib-vega-embed"
STATIC = "js_lib_vega_embed/static/js_lib_vega_embed"
# Load order matters: vega-lite needs the global `vega`, vega-embed both.
LIBRARIES = (("vega", "vega5.js"), ("vega-lite", "vega-lite5.js"), ("vega-embed", "vega-embed6.js"))
PLACEHOLDERS = ("{plot_divs}", "{scripts}", "{refresh_tag}")
log = logging.getLogger("plots_template")

PAGE = Path(__file__).with_suffix(".html")  # DVC fills {plot_divs}; we fill @LIBRARIES@


def library_sources() -> tuple[str, dict[str, str]]:
    """The package's version and the text of each library it carries."""
    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        raise ValueError(
            f"the package {PACKAGE} is not installed; it is in pyproject.toml's dependencies: "
            "pip install -e ."
        ) from None
    files = {name: Path(dist.locate_file(f"{STATIC}/{file}")) for name, file in LIBRARIES}
    return dist.version, {name: path.read_text(encoding="utf-8") for name, path in files.items()}


def page(version: str, sources: dict[str, str]) -> str:
    """The template, each library in a <script> of its own; refuses code that would end it early
    or that DVC would rewrite."""
    for name, source in sources.items():
        if re.search(r"</script|<!--", source, re.IGNORECASE):
            raise ValueError(f"{name}: holds '</script' or '<!--', which cannot be inlined")
        for placeholder in PLACEHOLDERS:
            if placeholder in source:
                raise ValueError(f"{name}: holds DVC's placeholder {placeholder}")
    scripts = "\n".join(
        f'<script data-library="{name}">\n{source.rstrip()}\n</script>'
        for name, source in sources.items()
    )
    text = PAGE.read_text(encoding="utf-8").replace("@PACKAGE@", PACKAGE)
    return text.replace("@VERSION@", version).replace("@LIBRARIES@", scripts)


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; 0, or 1 after one line for a bad input."""
    parser = argparse.ArgumentParser(prog="plots_template", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        version, sources = library_sources()
        write_text(args.out, page(version, sources))
    except (ValueError, OSError) as err:  # the package missing or altered, an unwritable out
        print(f"plots_template: error: {err}", file=sys.stderr)
        return 1
    log.info("%s: %s from %s %s", args.out, ", ".join(sources), PACKAGE, version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
