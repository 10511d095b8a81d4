"""Report a finished `dvc exp` sweep of HEAD (or --rev): each model's val accuracy against the
changed params key (two: a grid), the best point starred, in OUT/sweep.{png,md}; then that point's
test accuracy, read once (no val: chosen on cv). Run after `dvc queue` has finished."""

import argparse
import json
import logging
import sys
from pathlib import Path

import pandas as pd

from mnist_pipeline.plumbing.files import write_text
from mnist_pipeline.results import ResultsError, experiments, shown
from mnist_pipeline.scoring import wilson_interval

WAITING = ("queued", "running")
log = logging.getLogger("sweep")


def _bounds(run: dict, model: str, split: str) -> dict[str, float | str]:
    # test's stored interval, val's Wilson interval over its split (val.json has none), cv's sd
    names, nan = [split, f"{split} lo", f"{split} hi", f"{split} text"], float("nan")
    if (found := run["scores"][model].get(split)) is None:
        return dict(zip(names, [nan, nan, nan, ""], strict=True))
    acc, sd, params = found["acc"], found.get("acc_sd", 0.0), run["params"]
    if split == "test":
        low, high = found["acc_lo"], found["acc_hi"]
    elif split == "cv":
        low, high = acc - sd, acc + sd
    else:
        raw = params.get(f"models.{model}.features") == "raw"
        size = params.get("raw.validation" if raw else "split.validation") or 0
        low, high = wilson_interval(round(acc * size), size) if size > 0 else (acc, acc)
    acc, low, high = 100 * acc, 100 * low, 100 * high
    text = f"{acc:.2f}% [{low:.2f}, {high:.2f}]"
    text = f"{acc:.2f}% ± {high - acc:.2f}" if split == "cv" else text
    return dict(zip(names, [acc, low, high, text], strict=True))


def frame_of(runs: list[dict], keys: list[str]) -> pd.DataFrame:
    """One row per successful experiment and model: swept values, each split's acc/lo/hi."""
    rows = [
        {key: run["params"].get(key) for key in keys}
        | {"experiment": run["name"], "model": model}
        | {k: v for split in ("val", "cv", "test") for k, v in _bounds(run, model, split).items()}
        for run in runs
        for model in run["scores"]
    ]
    return pd.DataFrame(rows).sort_values([*keys, "experiment"], kind="stable")


def curve(frame: pd.DataFrame, keys: list[str], split: str, best: set) -> str:
    """A Markdown table, one row per experiment, each model's ``split`` accuracy (bold: best)."""
    bold = [(m, e) in best for m, e in zip(frame.model, frame.experiment, strict=True)]
    cells = frame[f"{split} text"].mask(bold, "**" + frame[f"{split} text"] + "**")
    table = frame.assign(cell=cells).pivot_table(
        index=[*keys, "experiment"], columns="model", values="cell", aggfunc="first", sort=False
    )
    table = table[list(dict.fromkeys(frame["model"]))].reset_index()
    return table.map(shown).to_markdown(index=False, disable_numparse=True)


def draw(frame: pd.DataFrame, keys: list[str], chosen: dict, test: bool, out: Path) -> None:
    """Each model's val (or cv) accuracy against the first key with its interval, a star on
    its choice; with ``test`` a second panel of test accuracy, titled as a diagnostic."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1 + test, 1, figsize=(6.4, 7.6 if test else 4.2), squeeze=False)
    x = frame[keys[0]]
    numeric = pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x)
    for ax, fixed in zip(axes[:, 0], [None, "test"], strict=False):
        for (model, *group), line in frame.groupby(["model", *keys[1:]], sort=False):
            basis, best = chosen[model]
            if (split := fixed or basis) is None:
                continue
            xs = line[keys[0]] if numeric else line[keys[0]].astype(str)
            error = [line[split] - line[f"{split} lo"], line[f"{split} hi"] - line[split]]
            label = model + "".join(f", {k}={v}" for k, v in zip(keys[1:], group, strict=True))
            drawn = ax.errorbar(xs, line[split], yerr=error, marker="o", capsize=3, label=label)
            if fixed is None and best is not None and best["experiment"] in set(line.experiment):
                star = best[keys[0]] if numeric else str(best[keys[0]])
                ax.plot(star, best[split], "*", ms=13, color=drawn.lines[0].get_color(), mec="k")
        if numeric and x.min() > 0 and x.max() >= 50 * x.min():
            ax.set_xscale("log")
        ax.set(xlabel=keys[0], ylabel=f"{fixed or 'val'} accuracy (%), 95% interval")
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    axes[0, 0].set_title(f"Val accuracy against {keys[0]}: choose here (star: best on val)")
    if test:
        axes[1, 0].set_title("Diagnostic, not for choosing: test accuracy at every point")
    figure.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    figure.savefig(out / "sweep.png", dpi=100, metadata={"Software": None})
    plt.close(figure)


def report(frame: pd.DataFrame, keys: list[str], chosen: dict, test: bool, notes: list) -> str:
    """The Markdown: the val curve, then each model's choice with its test accuracy once."""
    on_val = [m for m, (basis, _) in chosen.items() if basis == "val"]
    best = {(m, row["experiment"]) for m, (_, row) in chosen.items() if row is not None}
    rows = []
    for model, (basis, row) in chosen.items():
        choice = {"model": model, "chosen on": basis or "not chosen: no val split, no cv"}
        choice |= {key: "" if row is None else shown(row[key]) for key in keys}
        choice["val (cv) acc"] = "" if row is None else row[f"{basis} text"]
        choice["test acc, once"] = "" if row is None else row["test text"]
        rows.append(choice)
    parts = [
        "Val accuracy with its 95% Wilson interval, the curve to choose from; in bold, the best "
        "point on val of each model.",
        curve(frame[frame.model.isin(on_val)], keys, "val", best) if on_val else "No val split.",
        "Each model's choice, and the test accuracy of the chosen point: the one honest test "
        "number of this sweep (test was not looked at to choose).",
        pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True),
        "\n".join(notes),
    ]
    if test:
        parts += [
            "Diagnostic, not for choosing: test accuracy with its 95% Wilson interval at every "
            "point. A value picked from this table has no honest test score left.",
            curve(frame, keys, "test", set()),
        ]
    return "\n\n".join(part for part in parts if part) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Report the sweep; 1 after a one-line error."""
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="sweep", description=__doc__)
    parser.add_argument("--param", action="append", default=[], metavar="KEY", help="x (twice)")
    parser.add_argument("--out", type=Path, default=Path("build/sweep"))
    parser.add_argument("--models", nargs="+", default=[], metavar="MODEL")
    parser.add_argument("--show-test-curve", action="store_true", help="a diagnostic")
    parser.add_argument("--rev", metavar="COMMIT", help="experiments of this commit, not HEAD's")
    parser.add_argument("--from-json", type=Path, help="a saved `dvc exp show --json`")
    args = parser.parse_args(argv)
    try:
        runs = experiments(args.from_json, rev=args.rev)
        if waiting := [f"{r['name']} ({r['state']})" for r in runs if r["state"] in WAITING]:
            raise ResultsError(
                f"{len(waiting)} experiment(s) not finished: {', '.join(waiting)}; wait until "
                "`dvc queue status` shows none queued or running"
            )
        failed = [r["name"] for r in runs if r["state"] == "failed"]
        for name in failed:
            log.warning("experiment %s failed and is left out; see `dvc queue logs %s`", name, name)
        runs = [r for r in runs if r["state"] == "success"]
        known = sorted({key for r in runs for key in r["params"]})
        differ = [k for k in known if len({json.dumps(r["params"].get(k)) for r in runs}) > 1]
        keys = args.param or differ
        if not runs or not 1 <= len(keys) <= 2 or not set(keys) <= set(known):
            raise ResultsError(
                f"no sweep to report: {len(runs)} successful experiment(s), parameters that "
                f"differ: {', '.join(keys) or 'none'}; name one or two with --param"
            )
        frame = frame_of(runs, keys)
        if unknown := [m for m in args.models if m not in set(frame.model)]:
            raise ResultsError(f"{unknown[0]}: no model of that name has scores in the sweep")
        frame = frame[frame.model.isin(args.models)] if args.models else frame
        spread = frame.groupby("model", sort=False)[["val", "test"]].nunique().max(axis=1)
        changed = [m for m, n in spread.items() if n > 1] or list(spread.index)
        same = [m for m in spread.index if m not in changed]
        notes = [f"The same at every point: {', '.join(same)}."] * bool(same)
        notes += [f"Failed, not shown: {n} (see `dvc queue logs {n}`)." for n in failed]
        frame = frame[frame.model.isin(changed)]
        chosen = {}  # each model's basis (val, else cv, else none), best row (a tie: the smaller)
        for model, line in frame.groupby("model", sort=False):
            basis = next((s for s in ("val", "cv") if line[s].notna().all()), None)
            chosen[model] = (basis, None if basis is None else line.loc[line[basis].idxmax()])
        markdown = report(frame, keys, chosen, args.show_test_curve, notes)
        draw(frame, keys, chosen, args.show_test_curve, args.out)
        write_text(args.out / "sweep.md", markdown)
    except (ResultsError, OSError, ValueError) as err:
        print(f"sweep: error: {err}", file=sys.stderr)
        return 1
    sys.stdout.write(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
