"""Compare every model between revisions A and B (git, `dvc exp` or `workspace`) image by image:
accuracies, McNemar's exact p with Holm's adjustment, the difference detectable at 80% power, the
verdict. --pair MODEL_A MODEL_B [REV]: two models of one revision (default: workspace)."""

import argparse
import logging
import math
import sys

from dvc.api import DVCFileSystem

from mnist_pipeline import results
from mnist_pipeline.results import ResultsError, open_revision

LEVEL, POWER = 0.05, 0.8
HEADER = ("model", "A acc", "B acc", "B - A (points)", "right in A only", "right in B only")
HEADER += ("McNemar p", "Holm p", "detectable (points)", f"at {LEVEL:.0%} (Holm p)")


def paired(name: str, fs_a: DVCFileSystem, a: str, fs_b: DVCFileSystem, b: str) -> dict:
    """Model ``a`` at ``fs_a`` against ``b`` at ``fs_b``: counts and exact McNemar p;
    ResultsError unless both have the same test labels in the same order."""
    from statsmodels.stats.contingency_tables import mcnemar

    a, b = results.read_predictions(fs_a, a), results.read_predictions(fs_b, b)
    if [row[0] for row in a] != [row[0] for row in b] or not a:
        raise ResultsError(
            f"{name}: the actual columns of the two predictions/test.csv differ ({len(a)} and "
            f"{len(b)} rows): not the same test images, so they cannot be paired"
        )
    right_a = [actual == predicted for actual, predicted in a]
    right_b = [actual == predicted for actual, predicted in b]
    only_a = sum(x and not y for x, y in zip(right_a, right_b, strict=True))
    only_b = sum(y and not x for x, y in zip(right_a, right_b, strict=True))
    p = mcnemar([[0, only_a], [only_b, 0]], exact=True).pvalue
    return dict(name=name, total=len(a), a=sum(right_a), b=sum(right_b), only=(only_a, only_b), p=p)


def detectable(flips: int, total: int) -> float | None:
    """The |B - A| in points found with ``POWER`` given ``flips`` (Cohen's h of their split, by
    statsmodels' one-sample power); None when even all flips one way are not significant."""
    from statsmodels.stats.contingency_tables import mcnemar
    from statsmodels.stats.power import NormalIndPower

    if mcnemar([[0, flips], [0, 0]], exact=True).pvalue >= LEVEL:
        return None
    h = NormalIndPower().solve_power(nobs1=flips, alpha=LEVEL, power=POWER, ratio=0)
    return 100 * flips * math.sin(min(h, math.pi / 2)) / total  # B's share p: 2p - 1 = sin(h)


def report(rows: list[dict]) -> list[str]:
    """The rows, Holm-adjusted as one family, as an aligned table and a note on it."""
    from statsmodels.stats.multitest import multipletests

    reject, holm, *_ = multipletests([row["p"] for row in rows], alpha=LEVEL, method="holm")
    cells, verdict = [list(HEADER)], {True: "significant", False: "not significant"}
    for row, significant, adjusted in zip(rows, reject, holm, strict=True):
        n, found = row["total"], detectable(sum(row["only"]), row["total"])
        acc_a, acc_b = 100 * row["a"] / n, 100 * row["b"] / n
        ps = [f"{p:.3f}" if p >= 0.001 else f"{p:.1e}" for p in (row["p"], adjusted)]
        found = "none" if found is None else f"{found:.2f}"
        cells.append([row["name"], f"{acc_a:.2f}%", f"{acc_b:.2f}%", f"{acc_b - acc_a:+.2f}"])
        cells[-1] += [*map(str, row["only"]), *ps, found, verdict[significant]]
    totals = "/".join(sorted({str(row["total"]) for row in rows}))
    return [
        "",
        *results.aligned(cells, {0, len(HEADER) - 1}).splitlines(),
        "",
        f"Paired on {totals} test images; exact two-sided McNemar test of the images right in "
        "one side only.",
        f"Holm p: McNemar p adjusted for the family of {len(rows)} comparison(s); significant "
        f"if Holm p < {LEVEL:g}.",
        f"Detectable: the smallest |B - A| found with {POWER:.0%} power at {LEVEL:.0%} given the "
        "model's flips (none: too few flips).",
    ]


def main(argv: list[str] | None = None) -> int:
    """Compare, print the table; 1 after a one-line error."""
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="compare", description=__doc__)
    parser.add_argument("revisions", nargs="*", metavar="A B | REV")
    parser.add_argument("--models", nargs="+", metavar="MODEL", help="only these (the family)")
    parser.add_argument("--pair", nargs=2, metavar=("MODEL_A", "MODEL_B"))
    args = parser.parse_args(argv)
    if args.pair is None and len(args.revisions) != 2:
        parser.error("expected two revisions A B (or --pair MODEL_A MODEL_B [REV])")
    if args.pair is not None and (len(args.revisions) > 1 or args.models):
        parser.error("--pair takes one revision at most, and no --models")
    try:
        if args.pair is not None:
            rev, (model_a, model_b) = (args.revisions or [results.WORKSPACE])[0], args.pair
            if model_a == model_b:
                raise ResultsError(f"{model_a}: give two different models to compare")
            fs = open_revision(rev)
            rows = [paired(f"{model_a} vs {model_b}", fs, model_a, fs, model_b)]
            lines = [f"A: {model_a} at {rev}", f"B: {model_b} at {rev}", *report(rows)]
        else:
            (name_a, name_b), (fs_a, fs_b) = args.revisions, map(open_revision, args.revisions)
            in_a, in_b = results.scored_models(fs_a), results.scored_models(fs_b)
            if unknown := [m for m in args.models or () if m not in in_a + in_b]:
                raise ResultsError(f"{unknown[0]}: no such model at {name_a} or {name_b}")
            keep = set(args.models or in_a + in_b)
            in_a, in_b = [m for m in in_a if m in keep], [m for m in in_b if m in keep]
            rows = [paired(m, fs_a, m, fs_b, m) for m in in_a if m in in_b]
            lines = [f"A: {name_a}", f"B: {name_b}"]
            lines += report(rows) if rows else ["no model present in both"]
            added, removed = [m for m in in_b if m not in in_a], [m for m in in_a if m not in in_b]
            lines += [f"added (only in B): {', '.join(added)}"] * bool(added)
            lines += [f"removed (only in A): {', '.join(removed)}"] * bool(removed)
    except ResultsError as err:
        print(f"compare: error: {err}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
