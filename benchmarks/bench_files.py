"""Fitting from image files and memmaps against fitting from an array.

Writes N MNIST-like 28x28 digits (scikit-learn's 8x8 digits upscaled, each
with a random rotation, shift and scale) as PNG files, one folder per class,
and as one raw ``uint8`` file; then fits one epoch of
``SiameseEmbedder()`` (its defaults: ConvNet, multi-similarity loss,
affine augmentation) from the in-memory array, from an ``np.memmap`` of
the raw file and from the PNG paths (with 2 DataLoader workers, and
without). Each fit runs in a fresh process, which reports:

* peak memory: the largest proportional set size (PSS, psutil) of the
  process and its worker processes together, sampled every 0.2 s, so
  that pages the workers share with it count once;
* throughput: training images per second over the epoch (the epoch's
  duration in ``history_``), and its ratio to the in-memory array's.

With ``--repeat``, the configurations run that many times, interleaved,
and the fastest run of each is shown (on a shared machine, the others'
load otherwise decides the ratios).

    python benchmarks/bench_files.py [--n 50000] [--workers 2] [--repeat 1]
                                     [--n-threads N]

``--figure PATH`` draws each kind of samples' throughput and peak memory
(of its fastest run), ``--results PATH`` writes every run's values as JSON.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _common import add_output_options, table, write_outputs

SIZE = 28


def distorted_digits(n, seed=0):
    """``n`` 28x28 uint8 digits and their labels."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(digits.target), n)
    X = np.empty((n, SIZE, SIZE), np.uint8)
    for i, j in enumerate(pick):
        small = Image.fromarray((digits.images[j] * 15.9).astype(np.uint8))
        side = int(round(20 * rng.uniform(0.85, 1.15)))
        canvas = Image.new("L", (SIZE, SIZE))
        offset = (SIZE - side) // 2 + rng.integers(-2, 3, 2)
        canvas.paste(
            small.resize((side, side), Image.Resampling.BILINEAR), tuple(offset)
        )
        angle = rng.uniform(-15, 15)
        X[i] = np.asarray(canvas.rotate(angle, Image.Resampling.BILINEAR))
    return X, digits.target[pick]


def write_data(root, n):
    """PNG files under ``root/<digit>/`` and ``root/images.u8``; return the
    seconds it took."""
    from PIL import Image

    start = time.perf_counter()
    X, y = distorted_digits(n)
    for c in range(10):
        (root / str(c)).mkdir(parents=True, exist_ok=True)
    for i, (img, label) in enumerate(zip(X, y, strict=True)):
        Image.fromarray(img).save(root / str(label) / f"{i:07d}.png")
    X.tofile(root / "images.u8")
    np.save(root / "labels.npy", y)
    return time.perf_counter() - start


class PeakMemory:
    """Samples the PSS of this process and its children in a thread."""

    def __init__(self, every=0.2):
        import psutil

        self.process, self.every, self.peak = psutil.Process(), every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _pss(self):
        import psutil

        total = 0
        for p in [self.process, *self.process.children(recursive=True)]:
            try:
                total += p.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._pss())
            time.sleep(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._pss())


def samples(root, kind):
    """The training samples of one configuration, and their labels."""
    y = np.load(root / "labels.npy")
    shape = (len(y), SIZE, SIZE)
    if kind == "array":
        return np.fromfile(root / "images.u8", dtype=np.uint8).reshape(shape), y
    if kind == "memmap":
        return np.memmap(root / "images.u8", dtype=np.uint8, mode="r", shape=shape), y
    from sksiamese.datasets import load_image_folder

    data = load_image_folder(root)
    return data.filenames, data.target


def worker(root, kind, workers, epochs, threads):
    from sksiamese import SiameseEmbedder

    with PeakMemory() as memory:
        X, y = samples(Path(root), kind)
        emb = SiameseEmbedder(
            max_epochs=epochs,
            num_workers=workers,
            n_threads=threads,
            device="cpu",
            random_state=0,
        )
        start = time.perf_counter()
        emb.fit(X, y)
        seconds = time.perf_counter() - start
    batches = [b for row in emb.history_ for b in row["batches"]]
    images = sum(b["train_batch_size"] for b in batches)
    epoch_seconds = sum(emb.history_[:, "dur"])
    print(
        json.dumps(
            dict(
                peak_mb=memory.peak / 2**20,
                images_per_s=images / epoch_seconds,
                fit_s=seconds,
                loss=float(emb.history_[-1, "train_loss"]),
            )
        )
    )


def run(root, kind, workers, epochs, threads):
    args = [sys.executable, __file__, "--worker", str(root), kind, str(workers)]
    out = subprocess.run(
        [*args, str(epochs), str(threads)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="best of, per config")
    parser.add_argument(
        "--n-threads", type=int, default=None, help="torch threads of the fits"
    )
    parser.add_argument("--dir", default=None, help="where to write (a temp dir)")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    add_output_options(parser)
    args = parser.parse_args()
    if args.worker:
        root, kind, workers, epochs, threads = args.worker
        threads = None if threads == "None" else int(threads)
        worker(root, kind, int(workers), int(epochs), threads)
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp) / "digits"
        seconds = write_data(root, args.n)
        print(f"wrote {args.n} PNG files of {SIZE}x{SIZE} digits in {seconds:.0f} s")
        configs = [
            ("in-memory array", "array", 0),
            ("np.memmap", "memmap", 0),
            ("PNG paths", "paths", 0),
            (f"PNG paths, {args.workers} workers", "paths", args.workers),
        ]
        runs = {name: [] for name, _, _ in configs}
        for _ in range(args.repeat):  # interleaved, so that load changes hit all
            for name, kind, w in configs:
                runs[name].append(run(root, kind, w, args.epochs, args.n_threads))
    results = [
        (name, max(r, key=lambda one: one["images_per_s"])) for name, r in runs.items()
    ]
    base = results[0][1]["images_per_s"]
    print(
        f"one epoch of SiameseEmbedder(n_threads={args.n_threads}) on {args.n} "
        f"images, CPU, best of {args.repeat}"
    )
    rows = [
        (
            name,
            f"{r['peak_mb']:.0f}",
            f"{r['images_per_s']:.0f}",
            f"{r['images_per_s'] / base:.2f}",
            f"{r['fit_s']:.1f}",
            f"{r['loss']:.4f}",
        )
        for name, r in results
    ]
    header = ("samples", "peak MB", "images/s", "vs array", "fit s", "loss")
    table(rows, header)
    write_outputs(args, figure_record(runs, args))


def figure_record(runs, args):
    """Throughput of every run and peak memory of the fastest, as printed."""
    colour = lambda i: 2 if i == 0 else 0  # noqa: E731
    best = {
        name: max(r, key=lambda one: one["images_per_s"]) for name, r in runs.items()
    }
    return {
        "benchmark": "files",
        "runs": runs,
        "title": f"One epoch of SiameseEmbedder(n_threads={args.n_threads}) on "
        f"{args.n:,} images 28x28",
        "panel_size": (4.6, 2.2),
        "panels": [
            {
                "kind": "bars",
                "title": "training throughput",
                "xlabel": f"images per second (best of {args.repeat}; "
                "higher is better)",
                "fmt": "{:.0f}",
                "items": [
                    {
                        "label": name,
                        "values": [max(one["images_per_s"] for one in r)],
                        "colour": colour(i),
                    }
                    for i, (name, r) in enumerate(runs.items())
                ],
            },
            {
                "kind": "bars",
                "title": "peak memory",
                "xlabel": "MB, process and its workers (PSS)",
                "fmt": "{:.0f}",
                "items": [
                    {
                        "label": name,
                        "values": [best[name]["peak_mb"]],
                        "colour": colour(i),
                    }
                    for i, name in enumerate(runs)
                ],
            },
        ],
    }


if __name__ == "__main__":
    main()
