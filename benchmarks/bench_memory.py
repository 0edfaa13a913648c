"""Peak memory of SiameseEmbedder.fit on 60,000 28x28 images.

Each configuration runs in a fresh subprocess, which records its resident
memory after creating the data and the peak during one epoch of ``fit``
with default parameters. The budget is the data's own size plus 500 MB.

    python benchmarks/bench_memory.py [--n 60000] [--epochs 1]

``--figure PATH`` draws each configuration's memory growth against its
budget, ``--results PATH`` writes the values as JSON.
"""

import argparse
import json
import subprocess
import sys

from _common import add_output_options, peak_rss_mb, table, write_outputs


def worker(n, dtype, epochs):
    import numpy as np

    from sksiamese import SiameseEmbedder

    base = peak_rss_mb()  # after importing torch and the library
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, size=n)
    X = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    if dtype == "float32":
        X = X.astype(np.float32) / 255
    data_mb = X.nbytes / 2**20
    with_data = peak_rss_mb()
    SiameseEmbedder(max_epochs=epochs, device="cpu", random_state=0).fit(X, y)
    peak = peak_rss_mb()
    print(json.dumps(dict(base=base, with_data=with_data, peak=peak, data=data_mb)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--worker", nargs=3)
    add_output_options(parser)
    args = parser.parse_args()
    if args.worker:
        worker(int(args.worker[0]), args.worker[1], int(args.worker[2]))
        return
    rows, records = [], {}
    for dtype in ("uint8", "float32"):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                str(args.n),
                dtype,
                str(args.epochs),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        r = records[dtype] = json.loads(out.strip().splitlines()[-1])
        growth = r["peak"] - r["base"]
        budget = r["data"] + 500
        rows.append(
            (
                dtype,
                f"{r['data']:.0f}",
                f"{r['base']:.0f}",
                f"{r['peak']:.0f}",
                f"{growth:.0f}",
                f"{budget:.0f}",
                f"{growth / budget:.2f}",
            )
        )
    print(f"{args.n} images 28x28, {args.epochs} epoch(s), peak RSS in MB")
    table(
        rows,
        (
            "dtype",
            "data",
            "RSS after import",
            "peak RSS",
            "growth",
            "budget (data + 500)",
            "growth / budget",
        ),
    )
    write_outputs(args, figure_record(records, args))


def figure_record(records, args):
    """Data size, memory growth and budget of each dtype, as printed."""
    items = []
    for dtype, r in records.items():
        items.append({"label": f"{dtype}: data", "values": [r["data"]], "colour": 5})
        items.append(
            {
                "label": f"{dtype}: growth in fit",
                "values": [r["peak"] - r["base"]],
                "colour": 2,
            }
        )
        items.append(
            {"label": f"{dtype}: budget", "values": [r["data"] + 500], "colour": 0}
        )
    return {
        "benchmark": "memory",
        "records": records,
        "title": f"SiameseEmbedder().fit on {args.n:,} images 28x28, "
        f"{args.epochs} epoch(s)",
        "panel_size": (6.4, 2.8),
        "panels": [
            {
                "kind": "bars",
                "items": items,
                "fmt": "{:.0f} MB",
                "xlabel": "MB (growth: peak resident memory minus that after "
                "import; budget: data + 500 MB)",
            }
        ],
    }


if __name__ == "__main__":
    main()
