"""Time and peak memory of leave-one-out retrieval metrics on large galleries.

Random clustered float32 embeddings (``--n`` points, ``--classes`` classes,
``--dim`` dimensions) are written to a temporary ``.npy`` file; every method
then runs in its own subprocess, which loads the file and computes
precision@1, R-precision and MAP@R with the queries as the gallery
(leave-one-out). Each subprocess reports:

* ``time``: wall time of the metric computation alone (after imports and
  loading the embeddings);
* ``peak RSS``: the process's peak resident set size (``ru_maxrss``),
  which includes the interpreter, torch/faiss and the embeddings;
* ``+RSS``: peak RSS minus the RSS just before the computation, i.e. the
  memory the computation itself added.

Methods: ``brute`` and ``faiss`` backends of
:func:`sksiamese.metrics.retrieval_report`, and pytorch-metric-learning's
``AccuracyCalculator`` with ``k="max_bin_count"`` (faiss k-NN; the setting
it recommends for MAP@R), with its default ``k=None`` (all neighbours) and
with its torch ``CustomKNN`` in batches. A method that fails, or runs past
``--timeout`` seconds, is reported as such.

Usage::

    python benchmarks/bench_retrieval.py                # n = 100,000
    python benchmarks/bench_retrieval.py --n 20000 --methods brute pml_faiss
    python benchmarks/bench_retrieval.py --n 20000 --figure retrieval.png

``--figure`` draws the time and the added memory of each method,
``--results`` writes them as JSON.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
from _common import add_output_options, write_outputs

METHODS = ("brute", "faiss", "pml_faiss", "pml_default", "pml_torch")
LABELS = {
    "brute": "sksiamese brute (torch)",
    "faiss": "sksiamese faiss",
    "pml_faiss": "pml AccuracyCalculator k=max_bin_count",
    "pml_default": "pml AccuracyCalculator k=None (default)",
    "pml_torch": "pml AccuracyCalculator CustomKNN batches",
}
REFERENCE = "pml_faiss"
# Address-space cap of each subprocess, so a method that tries to allocate an
# n x n result fails fast instead of exhausting the machine.
MEMORY_CAP_BYTES = 16 * 2**30


def make_embeddings(n, dim, n_classes, seed=0):
    """Clustered float32 embeddings and integer labels."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_classes, dim), dtype=np.float32)
    labels = rng.integers(0, n_classes, size=n)
    X = rng.standard_normal((n, dim), dtype=np.float32)
    X *= 1.5
    X += centers[labels]
    return X, labels


def current_rss_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def run_sksiamese(X, y, backend):
    from sksiamese.metrics import retrieval_report

    report = retrieval_report(X, y, k=1, backend=backend)
    return {
        "precision_at_1": report["precision_at_1"],
        "r_precision": report["r_precision"],
        "map_at_r": report["map_at_r"],
    }


def run_pml(X, y, variant):
    import torch
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from pytorch_metric_learning.utils.inference import CustomKNN

    kwargs = {"k": "max_bin_count"}
    if variant == "pml_default":
        kwargs = {"k": None}
    elif variant == "pml_torch":
        distance = LpDistance(normalize_embeddings=False)
        kwargs["knn_func"] = CustomKNN(distance, batch_size=512)
    calculator = AccuracyCalculator(
        include=("precision_at_1", "r_precision", "mean_average_precision_at_r"),
        device=torch.device("cpu"),
        **kwargs,
    )
    result = calculator.get_accuracy(X, y)
    return {
        "precision_at_1": result["precision_at_1"],
        "r_precision": result["r_precision"],
        "map_at_r": result["mean_average_precision_at_r"],
    }


def worker(method, data_path):
    """Run one method in this process and print a JSON line."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))
    if method.startswith("pml"):
        import pytorch_metric_learning.utils.accuracy_calculator  # noqa: F401
    else:
        import sksiamese.metrics  # noqa: F401
    data = np.load(data_path)
    X, y = data["X"], data["y"]
    before = current_rss_bytes()
    start = time.perf_counter()
    if method.startswith("pml"):
        scores = run_pml(X, y, method)
    else:
        scores = run_sksiamese(X, y, method)
    elapsed = time.perf_counter() - start
    peak = peak_rss_bytes()
    print(json.dumps({"time": elapsed, "peak": peak, "added": peak - before, **scores}))


def run_method(method, data_path, timeout):
    """Run ``method`` in a subprocess; return its record or a failure string."""
    command = [sys.executable, os.path.abspath(__file__), "--worker", method]
    command += ["--data", data_path]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return f"timeout (> {timeout:.0f} s)"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"failed (exit {done.returncode}: {last[:70]})"
    return json.loads(done.stdout.strip().splitlines()[-1])


def format_table(results):
    ref = results.get(REFERENCE)
    ref = ref if isinstance(ref, dict) else None
    header = (
        f"{'method':<42}{'time s':>9}{'peak RSS MB':>13}{'+RSS MB':>10}"
        f"{'time/pml':>10}{'RSS/pml':>9}{'P@1':>8}{'R-prec':>8}{'MAP@R':>8}"
    )
    lines = [header, "-" * len(header)]
    for method, record in results.items():
        name = LABELS[method]
        if not isinstance(record, dict):
            lines.append(f"{name:<42}{record}")
            continue
        time_ratio = rss_ratio = "-"
        if ref is not None:
            time_ratio = f"{record['time'] / ref['time']:.2f}"
            rss_ratio = f"{record['peak'] / ref['peak']:.2f}"
        lines.append(
            f"{name:<42}{record['time']:>9.1f}{record['peak'] / 2**20:>13.0f}"
            f"{record['added'] / 2**20:>10.0f}{time_ratio:>10}{rss_ratio:>9}"
            f"{record['precision_at_1']:>8.4f}{record['r_precision']:>8.4f}"
            f"{record['map_at_r']:>8.4f}"
        )
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="queries = gallery")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=900.0, help="per method")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=METHODS)
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    add_output_options(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        worker(args.worker, args.data)
        return
    X, y = make_embeddings(args.n, args.dim, args.classes)
    print(
        f"n_queries = n_gallery = {args.n}, dim = {args.dim}, "
        f"{args.classes} classes, leave-one-out, float32, "
        f"{os.cpu_count()} CPU cores"
    )
    with tempfile.TemporaryDirectory() as tmp:
        data_path = os.path.join(tmp, "embeddings.npz")
        np.savez(data_path, X=X, y=y)
        del X, y
        results = {}
        for method in args.methods:
            results[method] = run_method(method, data_path, args.timeout)
            print(f"  done: {LABELS[method]}", flush=True)
    print(format_table(results))
    write_outputs(args, figure_record(results, args))


def figure_record(results, args):
    """Time and added memory of each method, as printed in the table."""

    def panel(key, scale, xlabel, title):
        items = []
        for method, record in results.items():
            item = {"label": LABELS[method].replace(" AccuracyCalculator", "")}
            item["colour"] = 0 if method.startswith("pml") else 2
            if isinstance(record, dict):
                item["values"] = [record[key] / scale]
            else:
                item["note"] = record.split(" (")[0]  # failed, timeout
            items.append(item)
        return {"kind": "bars", "title": title, "xlabel": xlabel, "items": items}

    return {
        "benchmark": "retrieval",
        "results": results,
        "title": f"Leave-one-out P@1, R-precision and MAP@R on {args.n:,} "
        f"embeddings ({args.dim}-D, {args.classes} classes)",
        "panels": [
            panel("time", 1, "seconds (lower is better)", "time"),
            panel(
                "added", 2**20, "MB added to the process (lower is better)", "memory"
            ),
        ],
        "panel_size": (5.2, 2.6),
    }


if __name__ == "__main__":
    main()
