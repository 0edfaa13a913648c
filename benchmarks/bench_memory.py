"""Peak memory of SiameseEmbedder.fit on 60,000 28x28 images.

Each configuration runs in a fresh subprocess, which records its resident
memory after creating the data and the peak during one epoch of ``fit``
with default parameters. The budget is the data's own size plus 500 MB.

    python benchmarks/bench_memory.py [--n 60000] [--epochs 1]
"""

import argparse
import json
import subprocess
import sys

from _common import peak_rss_mb, table


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
    args = parser.parse_args()
    if args.worker:
        worker(int(args.worker[0]), args.worker[1], int(args.worker[2]))
        return
    rows = []
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
        r = json.loads(out.strip().splitlines()[-1])
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


if __name__ == "__main__":
    main()
