"""Build time, memory, query latency and recall of the gallery indexes.

Clustered float32 embeddings (``--n`` rows of width ``--dim`` around
``--clusters`` standard normal centres, spread ``--spread``) are the
gallery; ``--queries`` fresh points of the same clusters are the queries.
Each index of :mod:`sksiamese.neighbors` is built in its own subprocess,
which loads the gallery and reports:

* ``build s``: wall time of ``fit`` (IVF trains its lists there);
* ``+MB``: the process's peak resident memory (``ru_maxrss``) over fit and
  all searches, minus its resident memory just before ``fit`` (gallery
  loaded, libraries imported): the memory the index and its searches
  added on top of the caller's gallery;
* ``ms/q (1000)``: wall time of one ``search`` of all queries, per query;
* ``ms/q (1)``: median wall time of a ``search`` of a single query, over
  ``--single`` queries;
* ``R@1``, ``R@10``: recall against the exact index: the share of queries
  whose exact nearest row is found first, and the mean share of the exact
  ``k`` nearest rows found among the ``k`` returned.

Ratios are to the exact index. The faiss indexes are searched with and
without exact re-ranking (``rerank``) on one build. ``--skip hnsw`` leaves
out HNSW, whose build takes minutes on a million rows.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_gallery.py            # 1,000,000 x 64
    OMP_NUM_THREADS=1 python benchmarks/bench_gallery.py --n 50000 --skip hnsw

``--figure PATH`` draws recall against query latency (one search of all
queries, and one query at a time), build time and added memory of each
index; ``--results PATH`` writes the values as JSON.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from _common import add_output_options, peak_rss_mb, table, write_outputs

KINDS = ("exact", "flat", "ivf", "hnsw")


def make_gallery(n, n_queries, dim, n_clusters, spread, seed=0):
    """Gallery and queries drawn from the same Gaussian clusters, float32."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_clusters, dim), dtype=np.float32)
    labels = rng.integers(0, n_clusters, size=n + n_queries)
    X = rng.standard_normal((n + n_queries, dim), dtype=np.float32)
    X *= np.float32(spread)
    X += centers[labels]
    return X[:n], X[n:]


def current_rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make(kind, args):
    from sksiamese.neighbors import ExactIndex, FaissIndex

    if kind == "exact":
        return ExactIndex()
    return FaissIndex(
        kind=kind,
        nlist=args.nlist,
        nprobe=args.nprobe,
        M=args.M,
        ef_search=args.ef_search,
    )


def timed_searches(index, queries, args):
    """Seconds of one search of all queries, median seconds of one query,
    and the neighbours found."""
    start = time.perf_counter()
    _, found = index.search(queries, args.k)
    batch = time.perf_counter() - start
    single = []
    for row in queries[: args.single]:
        start = time.perf_counter()
        index.search(row[None, :], args.k)
        single.append(time.perf_counter() - start)
    return batch, statistics.median(single), found


def worker(kind, folder, args):
    """Build and search one index in this process; print a JSON line."""
    import sksiamese.neighbors  # noqa: F401  (imports before the baseline)

    if kind != "exact":
        import faiss  # noqa: F401

    gallery = np.load(os.path.join(folder, "gallery.npy"))
    queries = np.load(os.path.join(folder, "queries.npy"))
    index = make(kind, args)
    before = current_rss_mb()
    start = time.perf_counter()
    index.fit(gallery)
    build = time.perf_counter() - start
    runs = {}
    for rerank in (True, False) if kind != "exact" else (None,):
        if rerank is not None:
            index.set_params(rerank=rerank)
        batch, single, found = timed_searches(index, queries, args)
        runs["exact" if rerank is None else f"{kind}, rerank={rerank}"] = {
            "batch": batch,
            "single": single,
        }
        if kind == "exact":
            np.save(os.path.join(folder, "exact.npy"), found)
        else:
            exact = np.load(os.path.join(folder, "exact.npy"))
            runs[f"{kind}, rerank={rerank}"].update(recalls(found, exact))
    added = peak_rss_mb() - before
    print(json.dumps({"build": build, "added": added, "runs": runs}))


def recalls(found, exact):
    k = exact.shape[1]
    overlap = [len(set(a) & set(b)) / k for a, b in zip(found, exact, strict=True)]
    return {
        "recall_1": float(np.mean(found[:, 0] == exact[:, 0])),
        "recall_k": float(np.mean(overlap)),
    }


def run_kind(kind, folder, args):
    """Run ``kind`` in a subprocess; return its record or a failure string."""
    command = [sys.executable, os.path.abspath(__file__), "--worker", kind]
    command += ["--folder", folder, *sys.argv[1:]]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=args.timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return f"timeout (> {args.timeout:.0f} s)"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"failed (exit {done.returncode}: {last[:70]})"
    return json.loads(done.stdout.strip().splitlines()[-1])


def rows_of(results, n_queries):
    ref = results.get("exact")
    ref_run = ref["runs"]["exact"] if isinstance(ref, dict) else None
    ratio = lambda value, base: f"{value / base:.2f}" if base else "-"  # noqa: E731
    rows = []
    for kind, record in results.items():
        if not isinstance(record, dict):
            rows.append((kind, record, *[""] * 9))
            continue
        for name, run in record["runs"].items():
            batch_ms = 1e3 * run["batch"] / n_queries
            single_ms = 1e3 * run["single"]
            rows.append(
                (
                    name,
                    f"{record['build']:.2f}",
                    f"{record['added']:.0f}",
                    ratio(record["added"], ref and ref["added"]),
                    f"{batch_ms:.3f}",
                    ratio(batch_ms, ref_run and 1e3 * ref_run["batch"] / n_queries),
                    f"{single_ms:.2f}",
                    ratio(single_ms, ref_run and 1e3 * ref_run["single"]),
                    f"{run.get('recall_1', 1.0):.4f}",
                    f"{run.get('recall_k', 1.0):.4f}",
                )
            )
    return rows


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="gallery rows")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=1.0)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--single", type=int, default=50, help="1-query searches")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--nlist", type=int, default=1024)
    parser.add_argument("--nprobe", type=int, default=8)
    parser.add_argument("--M", type=int, default=32)
    parser.add_argument("--ef-search", type=int, default=64)
    parser.add_argument("--skip", nargs="*", choices=KINDS[1:], default=[])
    parser.add_argument("--timeout", type=float, default=1800.0, help="per index")
    parser.add_argument("--worker", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    add_output_options(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        worker(args.worker, args.folder, args)
        return
    gallery, queries = make_gallery(
        args.n, args.queries, args.dim, args.clusters, args.spread
    )
    print(
        f"gallery {args.n} x {args.dim} float32 ({gallery.nbytes / 2**20:.0f} MB), "
        f"{args.clusters} clusters, spread {args.spread}; {args.queries} queries, "
        f"k = {args.k}; IVF nlist={args.nlist} nprobe={args.nprobe}, HNSW "
        f"M={args.M} ef_search={args.ef_search}; {os.cpu_count()} CPU cores, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        np.save(os.path.join(folder, "gallery.npy"), gallery)
        np.save(os.path.join(folder, "queries.npy"), queries)
        del gallery, queries
        for kind in KINDS:
            if kind not in args.skip:
                results[kind] = run_kind(kind, folder, args)
                print(f"  done: {kind}", flush=True)
    table(
        rows_of(results, args.queries),
        (
            "index",
            "build s",
            "+MB",
            "+MB/exact",
            "ms/q (1000)",
            "/exact",
            "ms/q (1)",
            "/exact",
            "R@1",
            f"R@{args.k}",
        ),
    )
    write_outputs(args, figure_record(results, args))


def figure_record(results, args):
    """Recall against latency, build time and memory, as in the table."""
    scatter = {"batch": [], "single": []}
    build, memory = [], []
    for i, (kind, record) in enumerate(results.items()):
        if not isinstance(record, dict):
            note = record.split(" (")[0]
            build.append({"label": kind, "note": note})
            memory.append({"label": kind, "note": note})
            continue
        build.append({"label": kind, "values": [record["build"]], "colour": i})
        memory.append({"label": kind, "values": [record["added"]], "colour": i})
        for name, run in record["runs"].items():
            rerank = name.endswith("rerank=True")
            for key, seconds in (
                ("batch", run["batch"] / args.queries),
                ("single", run["single"]),
            ):
                scatter[key].append(
                    {
                        "label": name,
                        "x": 1e3 * seconds,
                        "y": run.get("recall_k", 1.0),
                        "colour": i,
                        "marker": "o" if rerank or kind == "exact" else "s",
                    }
                )
    recall = f"recall of the exact {args.k} nearest rows (R@{args.k})"
    return {
        "benchmark": "gallery",
        "results": results,
        "title": f"Gallery of {args.n:,} x {args.dim} float32 embeddings, "
        f"{args.queries:,} queries, k = {args.k}",
        "ncols": 2,
        "panel_size": (4.8, 3.3),
        "panels": [
            {
                "kind": "scatter",
                "title": f"one search of {args.queries:,} queries",
                "points": scatter["batch"],
                "logx": True,
                "xlabel": "ms per query (log scale)",
                "ylabel": recall,
                "legend": None,
            },
            {
                "kind": "scatter",
                "title": "one query at a time (median)",
                "points": scatter["single"],
                "logx": True,
                "xlabel": "ms per search (log scale)",
                "ylabel": recall,
                "legend": "outside",
            },
            {
                "kind": "bars",
                "title": "build",
                "items": build,
                "log": True,
                "xlabel": "seconds (log scale)",
            },
            {
                "kind": "bars",
                "title": "memory",
                "items": memory,
                "xlabel": "MB added to the gallery's process",
                "fmt": "{:.0f}",
            },
        ],
    }


if __name__ == "__main__":
    main()
