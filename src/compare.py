"""Compare every model between two revisions, image by image: test accuracy in A and B, the
difference in points, the images right in A only and in B only, the exact McNemar p-value,
that p-value adjusted by Holm's method for the family of models compared, the smallest
difference the test would detect with 80% power at 5% given the model's flips (normal
approximation), and the verdict at 5% after the adjustment. Models in one revision only are
listed as added or removed.

With --pair MODEL_A MODEL_B, two models of one revision REV (default: workspace) are compared
in the same way: `--pair svm cnn` says whether cnn beats svm.

A, B and REV are git revisions, `dvc exp` names or `workspace`; the predictions
(metrics/<model>/predictions/test.csv) are git-tracked, so any clone will do.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys

from mnist_pipeline.results import (
    WORKSPACE,
    ResultsError,
    open_revision,
    read_predictions,
    scored_models,
)

LEVEL, POWER = 0.05, 0.8
HEADER = ("model", "A acc", "B acc", "B - A (points)", "right in A only", "right in B only")
HEADER += ("McNemar p", "Holm p", "detectable (points)", f"at {LEVEL:.0%} (Holm p)")
USAGE = """\
compare [-h] [--models MODEL [MODEL ...]] A B
       compare [-h] --pair MODEL_A MODEL_B [REV]"""


def paired(name: str, a: list[tuple[str, str]], b: list[tuple[str, str]]) -> dict:
    """One model's counts and exact McNemar p; ResultsError unless A and B have the same
    test labels in the same order."""
    from statsmodels.stats.contingency_tables import mcnemar

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
    """The |B - A| in points that the test finds with ``POWER`` given ``flips``: Cohen's h of
    the flips' split, by statsmodels' power of a one-sample test; None when even all flips
    on one side would not be significant."""
    from statsmodels.stats.contingency_tables import mcnemar
    from statsmodels.stats.power import NormalIndPower

    if mcnemar([[0, flips], [0, 0]], exact=True).pvalue >= LEVEL:
        return None
    h = NormalIndPower().solve_power(nobs1=flips, alpha=LEVEL, power=POWER, ratio=0)
    share = math.sin(math.pi / 4 + min(h, math.pi / 2) / 2) ** 2
    return 100 * flips * (2 * share - 1) / total


def report(rows: list[dict]) -> list[str]:
    """The rows, Holm-adjusted as one family, as an aligned table and a note on it."""
    from statsmodels.stats.multitest import multipletests

    reject, holm, *_ = multipletests([row["p"] for row in rows], alpha=LEVEL, method="holm")
    cells, verdict = [HEADER], {True: "significant", False: "not significant"}
    for row, significant, adjusted in zip(rows, reject, holm, strict=True):
        n, found = row["total"], detectable(sum(row["only"]), row["total"])
        acc_a, acc_b = 100 * row["a"] / n, 100 * row["b"] / n
        cells.append(
            (
                row["name"],
                f"{acc_a:.2f}%",
                f"{acc_b:.2f}%",
                f"{acc_b - acc_a:+.2f}",
                *map(str, row["only"]),
                *(f"{p:.3f}" if p >= 0.001 else f"{p:.1e}" for p in (row["p"], adjusted)),
                "none" if found is None else f"{found:.2f}",
                verdict[significant],
            )
        )
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADER))]
    lines = []
    for line in cells:
        middle = (c.rjust(w) for c, w in zip(line[1:-1], widths[1:-1], strict=True))
        lines.append("  ".join([line[0].ljust(widths[0]), *middle, line[-1]]))
    totals = "/".join(sorted({str(row["total"]) for row in rows}))
    return [
        "",
        *lines,
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
    parser = argparse.ArgumentParser(
        prog="compare",
        usage=USAGE,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
            rev = args.revisions[0] if args.revisions else WORKSPACE
            model_a, model_b = args.pair
            if model_a == model_b:
                raise ResultsError(f"{model_a}: give two different models to compare")
            fs = open_revision(rev)
            a, b = read_predictions(fs, model_a), read_predictions(fs, model_b)
            rows = [paired(f"{model_a} vs {model_b}", a, b)]
            lines = [f"A: {model_a} at {rev}", f"B: {model_b} at {rev}", *report(rows)]
        else:
            (name_a, fs_a), (name_b, fs_b) = ((n, open_revision(n)) for n in args.revisions)
            in_a, in_b = scored_models(fs_a), scored_models(fs_b)
            unknown = [m for m in args.models or () if m not in in_a + in_b]
            if unknown:
                raise ResultsError(f"{unknown[0]}: no such model at {name_a} or {name_b}")
            keep = set(args.models or in_a + in_b)
            in_a, in_b = [m for m in in_a if m in keep], [m for m in in_b if m in keep]
            rows = [
                paired(m, read_predictions(fs_a, m), read_predictions(fs_b, m))
                for m in in_a
                if m in in_b
            ]
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
