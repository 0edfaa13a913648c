"""One-shot recognition of unseen alphabets: Omniglot's minimal split.

Train on ``images_background_small1`` (5 alphabets, 136 characters, 20
drawings each); test on the alphabets of ``images_background_small2`` that
training never saw (Greek and Latin are in both archives and are left out):
20-way one-shot episodes inside each unseen alphabet, one support drawing
per character and every other drawing of those characters as queries, 20
episodes per alphabet, seeded. Tagalog has 17 characters only, so it is
reported apart as 17-way. Images are downsampled from 105x105 by area
averaging and inverted (ink bright).

Rows, all on the library's default network, optimiser, learning rate,
batch size and number of epochs (the default ``max_epochs``), changing only
what their name says:

* raw pixels (no training);
* triplet loss (margin 0.2) on offline random triplets, with semi-hard
  mining and with batch-hard mining, each with and without random affine
  distortions (``augment="affine"``); random triplets embed three images
  per triplet, so an epoch costs them three times as much and they get a
  third of the epochs, for equal training time;
* multi-similarity loss (with its own pair mining), with and without them;
* pytorch-metric-learning: ``TripletMarginLoss(0.2)`` with its semi-hard
  ``TripletMarginMiner`` and ``MPerClassSampler(m=4)``, a hand-written loop;
* ``SiameseEmbedder()`` with every parameter at its default (when that is
  one of the rows above, its result is reused).

Fit time is wall-clock and CPU (process) seconds; on a shared machine the
CPU seconds compare better.

    python benchmarks/bench_omniglot.py [--size 28] [--seeds 0] \
        [--data ../shared/data/omniglot] [--device cpu]

``--figure PATH`` draws each row's 20-way error (a dot per seed) and fit
CPU time, ``--results PATH`` writes the values as JSON.
"""

import os

# OpenMP threads that spin while they wait slow training down severalfold
# when other processes share the cores; passive waiting costs nothing alone.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from _common import add_output_options, table, write_outputs
from bench_quality import fit_pml

from sksiamese import SiameseEmbedder
from sksiamese.datasets import load_omniglot
from sksiamese.evaluation import one_shot_evaluate
from sksiamese.losses import resolve_miner

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "omniglot"
DEFAULT_EPOCHS = SiameseEmbedder().max_epochs

#: label -> SiameseEmbedder parameters (``None``: a baseline, see ``fit``).
METHODS = {
    "raw pixels": None,
    "random triplets": dict(loss="triplet", miner="random", augment=None),
    "random triplets + affine": dict(loss="triplet", miner="random", augment="affine"),
    "semi-hard": dict(loss="triplet", miner="semi_hard", augment=None),
    "semi-hard + affine": dict(loss="triplet", miner="semi_hard", augment="affine"),
    "batch-hard": dict(loss="triplet", miner="batch_hard", augment=None),
    "batch-hard + affine": dict(loss="triplet", miner="batch_hard", augment="affine"),
    "multi-similarity": dict(loss="multi_similarity", miner="all", augment=None),
    "multi-similarity + affine": dict(
        loss="multi_similarity", miner="all", augment="affine"
    ),
    "pml TripletMarginLoss + semi-hard miner": "pml",
    "SiameseEmbedder() (defaults)": {},
}


def load(data, size):
    train = load_omniglot(data / "images_background_small1.zip", image_size=size)
    test = load_omniglot(data / "images_background_small2.zip", image_size=size)
    seen = set(train.alphabet_names)
    unseen = [i for i, a in enumerate(test.alphabet_names) if a not in seen]
    keep = np.isin(test.alphabet, unseen)
    return train, test, keep


def episodes_error(Z, test, keep, seed, n_way=20, n_episodes=20):
    """Mean error over the unseen alphabets with at least ``n_way`` characters,
    and the error on the smaller ones (``n_way`` = their character count)."""
    big, small = [], []
    for a in np.unique(test.alphabet[keep]):
        rows = np.flatnonzero(test.alphabet == a)
        n_chars = len(np.unique(test.target[rows]))
        res = one_shot_evaluate(
            Z[rows],
            test.target[rows],
            n_way=min(n_way, n_chars),
            k_shot=1,
            n_queries=None,
            n_episodes=n_episodes,
            random_state=[seed, int(a)],
        )
        (big if n_chars >= n_way else small).append(1 - res["accuracy"])
    return float(np.mean(big)), (float(np.mean(small)) if small else float("nan"))


def method_epochs(params, epochs):
    """Epochs for equal training time: a third for offline random triplets,
    which embed three images per triplet where balanced batches embed one
    per sample."""
    if isinstance(params, dict) and params.get("miner") == "random":
        return max(1, round(epochs / 3))
    return epochs


def embedder(method, params, seed, epochs, device):
    params = dict(params)
    if method != "SiameseEmbedder() (defaults)":
        params.setdefault("max_epochs", method_epochs(params, epochs))
        params.setdefault("device", device)
    return SiameseEmbedder(random_state=seed, **params)


def same_fit_key(est, device):
    """What decides a fit, so that rows with equal settings are fitted once
    ("auto" device and augmentation resolved as they are for images)."""
    params = est.get_params()
    params["device"] = device if params["device"] == "auto" else params["device"]
    params["augment"] = "affine" if params["augment"] == "auto" else params["augment"]
    params["miner"] = resolve_miner(est.miner, est.loss)
    return repr(sorted(params.items()))


def fit(method, params, train, seed, epochs, device):
    """A function that embeds images, trained as ``method`` says."""
    X, y = train.images, train.target
    if params is None:
        return lambda Z: Z.reshape(len(Z), -1).astype(np.float32)
    if params == "pml":
        return fit_pml(X, y, seed, epochs=epochs)
    return embedder(method, params, seed, epochs, device).fit(X, y).transform


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--extra",
        default="{}",
        help='JSON {"label": {SiameseEmbedder params}} of further rows',
    )
    add_output_options(parser)
    args = parser.parse_args()
    methods = {m: METHODS[m] for m in args.methods}
    methods.update(json.loads(args.extra))
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    where = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    train, test, keep = load(args.data, args.size)
    unseen = sorted(set(test.alphabet_names[np.unique(test.alphabet[keep])]))
    print(
        f"torch {torch.__version__} on {where}, {torch.get_num_threads()} threads; "
        f"{args.size}x{args.size} images, {args.epochs} epochs, seeds {args.seeds}"
    )
    print(
        f"train: {len(train.images)} images of {len(train.target_names)} characters "
        f"({', '.join(train.alphabet_names)}); test: {int(keep.sum())} images of "
        f"the unseen alphabets {', '.join(unseen)}"
    )
    rows, done, runs = [], {}, {}
    for method, params in methods.items():
        errs, smalls, walls, cpus, label = [], [], [], [], method
        for seed in args.seeds:
            key = None
            if isinstance(params, dict):
                est = embedder(method, params, seed, args.epochs, device)
                key = same_fit_key(est, device)
            if key in done:
                err, small, wall, cpu, twin = done[key]
                label = f"{method} (= {twin})"
            else:
                wall, cpu = time.perf_counter(), time.process_time()
                transform = fit(method, params, train, seed, args.epochs, device)
                wall = time.perf_counter() - wall
                cpu = time.process_time() - cpu
                err, small = episodes_error(transform(test.images), test, keep, seed)
                if key is not None:
                    done[key] = err, small, wall, cpu, method
            errs.append(err)
            smalls.append(small)
            walls.append(wall)
            cpus.append(cpu)
        if params is None:
            n_epochs = "-"
        elif isinstance(params, dict):
            est = embedder(method, params, 0, args.epochs, device)
            n_epochs = est.max_epochs
        else:
            n_epochs = args.epochs
        runs[label] = {"epochs": n_epochs, "error": errs, "fit_cpu": cpus}
        rows.append(
            (
                label,
                n_epochs,
                f"{np.mean(errs):.4f}",
                f"{np.std(errs):.4f}" if len(errs) > 1 else "-",
                f"{np.mean(smalls):.4f}",
                f"{np.mean(walls):.1f}",
                f"{np.mean(cpus):.1f}",
            )
        )
        print(f"  {label}: {rows[-1][1:]}", flush=True)
    print(f"\nOmniglot one-shot on unseen alphabets ({where})")
    header = ("method", "epochs", "20-way error", "sd", "Tagalog 17-way")
    table(rows, (*header, "fit s", "fit CPU s"))
    best = min(rows, key=lambda r: float(r[2]))
    print(f"lowest 20-way error: {best[0]} ({best[2]})")
    write_outputs(args, figure_record(runs, args, where))


def figure_record(runs, args, where):
    """20-way error and fit CPU time of each row and seed, as printed."""

    def colour(label):
        if label.startswith("SiameseEmbedder"):
            return 2
        return 5 if label == "raw pixels" else 0

    def short(label):  # "SiameseEmbedder() (defaults) (= ...)" is too long
        return label.split(" (= ")[0]

    seeds = ", ".join(map(str, args.seeds))
    return {
        "benchmark": "omniglot",
        "runs": runs,
        "seeds": args.seeds,
        "title": f"Omniglot: 20-way one-shot on unseen alphabets, {where}, "
        f"seed{'s' if len(args.seeds) > 1 else ''} {seeds}",
        "panel_size": (5.0, 0.32 * len(runs) + 1.2),
        "panels": [
            {
                "kind": "bars",
                "title": "20-way one-shot error",
                "xlabel": "error rate (lower is better)",
                "fmt": "{:.3f}",
                "items": [
                    {"label": short(k), "values": r["error"], "colour": colour(k)}
                    for k, r in runs.items()
                ],
            },
            {
                "kind": "bars",
                "title": "fit CPU time",
                "xlabel": "CPU seconds",
                "fmt": "{:.0f}",
                "items": [
                    {"label": short(k), "values": r["fit_cpu"], "colour": colour(k)}
                    if r["epochs"] != "-"
                    else {"label": short(k), "note": "no training"}
                    for k, r in runs.items()
                ],
            },
        ],
    }


if __name__ == "__main__":
    main()
