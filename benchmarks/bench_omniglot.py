"""One-shot recognition of unseen alphabets: Omniglot's minimal splits.

Two protocols (``--protocols``, both by default), each 20-way one-shot
episodes inside an alphabet that training never saw, one support drawing
per character and every other drawing of those characters as queries, 20
seeded episodes per alphabet:

* ``current``: train on ``images_background_small1`` (5 alphabets, 136
  characters, 20 drawings each); test on the alphabets of
  ``images_background_small2`` that training never saw (Greek and Latin
  are in both archives and are left out): Japanese (katakana) and
  Sanskrit;
* ``lao``, leave one alphabet out: the two archives together hold 8
  distinct alphabets (Greek and Latin are byte-identical in both, so they
  count once; 242 characters). Each is held out once (one fold), the
  network trained on the other 7 and tested on it. The error is the mean
  over the folds and seeds, its spread (``sd``) that of the folds and
  seeds; ``--holdout`` runs some folds only.

Tagalog has 17 characters only, so in both protocols it is reported apart
as 17-way and left out of the 20-way means. Images are downsampled from
105x105 by area averaging and inverted (ink bright).

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
  ``TripletMarginMiner`` and ``MPerClassSampler(m=4)``, a hand-written
  loop: on the library's default network for the default epochs, and on
  a Conv-4 (four stages of 64 channels, batch norm, no hidden layer)
  trained for as long as the default ``SiameseEmbedder()`` took on the
  same seed and fold (whole epochs until its CPU time is spent);
* ``SiameseEmbedder()`` with every parameter at its default (when that is
  one of the rows above, its result is reused).

``--extra`` adds rows (JSON ``{"label": {...}}``): ``SiameseEmbedder``
parameters, with ``"rotation_classes": true`` to fit the embedder in
:class:`~sksiamese.classes.RotationClasses` and ``"affine": {...}`` for
``augment=RandomAffine(...)`` with those parameters, any value an object
written ``{"@": "module.Name", **params}`` (an augmentation, a loss); or
``{"pml_same_time_as": "LABEL"}``, pytorch-metric-learning's Conv-4
trained for as long as row ``LABEL``.

Fit time is wall-clock and CPU (process) seconds per fit; on a shared
machine the CPU seconds compare better.

    python benchmarks/bench_omniglot.py [--protocols current lao] \
        [--holdout Korean ...] [--size 28] [--seeds 0] \
        [--data ../shared/data/omniglot] [--device cpu]

``--figure PATH`` draws each row's 20-way error (a dot per seed, and per
fold for ``lao``) and fit CPU time, ``--results PATH`` writes the values
as JSON.
"""

import os

# OpenMP threads that spin while they wait slow training down severalfold
# when other processes share the cores; passive waiting costs nothing alone.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from _common import add_output_options, extra_embedder, table, write_outputs
from bench_quality import train_pml
from sklearn.utils import Bunch

from sksiamese import SiameseEmbedder
from sksiamese.classes import RotationClasses
from sksiamese.datasets import load_omniglot
from sksiamese.evaluation import one_shot_evaluate
from sksiamese.losses import resolve_miner

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "omniglot"
DEFAULT_EPOCHS = SiameseEmbedder().max_epochs
DEFAULTS = "SiameseEmbedder() (defaults)"
#: the Conv-4 of few-shot learning: four stages of 64 channels, no dropout
CONV4 = {"channels": [64, 64, 64, 64], "hidden": 0, "dropout": 0.0}
N_WAY = 20


@dataclass(frozen=True)
class PML:
    """A row of pytorch-metric-learning's semi-hard triplets in a
    hand-written loop: on ``network_params`` of the default network, for the
    default epochs or, with ``same_time_as``, for as long as that row's fit
    took on the same seed and fold."""

    network_params: dict = None
    same_time_as: str = None


#: label -> SiameseEmbedder parameters (``None``: raw pixels; ``PML``).
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
    "pml TripletMarginLoss + semi-hard miner": PML(),
    DEFAULTS: {},
    "pml semi-hard, Conv-4, time of the defaults": PML(CONV4, same_time_as=DEFAULTS),
}


# ---- the two protocols ---------------------------------------------------------


ARCHIVES = ("images_background_small1.zip", "images_background_small2.zip")


def read_archives(data, size):
    """The two minimal background sets, ``small1`` and ``small2``, read once
    for every protocol."""
    return tuple(load_omniglot(data / name, image_size=size) for name in ARCHIVES)


def load(archives):
    """The current protocol: ``small1`` to train on, and ``small2`` with a
    mask of the rows of the alphabets that ``small1`` does not hold."""
    train, test = archives
    seen = set(train.alphabet_names)
    unseen = [i for i, a in enumerate(test.alphabet_names) if a not in seen]
    keep = np.isin(test.alphabet, unseen)
    return train, test, keep


def load_alphabets(archives):
    """Both minimal background sets as one, each distinct alphabet once
    (Greek and Latin, in both archives, from the first)."""
    images, chars, alphabets = [], [], []
    for part in archives:
        for a, alphabet in enumerate(part.alphabet_names):
            if alphabet in alphabets:
                continue
            rows = part.alphabet == a
            images.append(part.images[rows])
            chars.append(part.target_names[part.target[rows]])
            alphabets += [alphabet]
    chars = np.concatenate(chars)
    names, target = np.unique(chars, return_inverse=True)
    alphabet_names = np.array(sorted(alphabets))
    alphabet = np.searchsorted(alphabet_names, [c.split("/")[0] for c in chars])
    return Bunch(
        images=np.concatenate(images),
        target=target,
        target_names=names,
        alphabet=alphabet,
        alphabet_names=alphabet_names,
    )


def folds(protocol, archives, holdout=None):
    """``(fold, train Bunch, test Bunch)`` of a protocol on the archives of
    :func:`read_archives`: one fold for ``current``, one per held-out
    alphabet for ``lao``."""
    if protocol == "current":
        train, test, keep = load(archives)
        yield "small1 -> small2", train, subset(test, keep)
        return
    pool = load_alphabets(archives)
    unknown = set(holdout or ()) - set(pool.alphabet_names)
    if unknown:
        raise SystemExit(
            f"--holdout {sorted(unknown)}: no such alphabet; the alphabets are "
            f"{', '.join(pool.alphabet_names)}."
        )
    for a, name in enumerate(pool.alphabet_names):
        if holdout and name not in holdout:
            continue
        out = pool.alphabet == a
        yield name, subset(pool, ~out), subset(pool, out)


def subset(data, rows):
    return Bunch(
        images=data.images[rows],
        target=data.target[rows],
        alphabet=data.alphabet[rows],
        alphabet_names=data.alphabet_names,
    )


def alphabet_errors(Z, test, seed, n_way=N_WAY, n_episodes=20):
    """``{alphabet: (n_way, error)}``: one-shot error inside each alphabet
    of ``test`` (``Z`` its embeddings), ``n_way``-way or, for an alphabet
    with fewer characters, as many ways as it has."""
    errors = {}
    for a in np.unique(test.alphabet):
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
        errors[str(test.alphabet_names[a])] = (min(n_way, n_chars), 1 - res["accuracy"])
    return errors


# ---- the rows ------------------------------------------------------------------


def method_epochs(params, epochs):
    """Epochs for equal training time: a third for offline random triplets,
    which embed three images per triplet where balanced batches embed one
    per sample."""
    if isinstance(params, dict) and params.get("miner") == "random":
        return max(1, round(epochs / 3))
    return epochs


def embedder(method, params, seed, epochs, device):
    """The estimator of a row of ``SiameseEmbedder`` parameters (see
    :func:`_common.extra_embedder`); rows other than the defaults' train
    for ``epochs`` (a third for random triplets) on ``device``."""
    defaults = {"random_state": seed}
    if method != DEFAULTS:
        defaults.update(max_epochs=method_epochs(params, epochs), device=device)
    return extra_embedder(params, **defaults)


def same_fit_key(est, device):
    """What decides a fit, so that rows with equal settings are fitted once
    ("auto" device and augmentation resolved as they are for images)."""
    inner = est.embedder if isinstance(est, RotationClasses) else est
    params = inner.get_params()
    params["device"] = device if params["device"] == "auto" else params["device"]
    params["augment"] = "affine" if params["augment"] == "auto" else params["augment"]
    params["miner"] = resolve_miner(inner.miner, inner.loss)
    return repr((type(est).__name__, sorted(map(_settled, params.items()))))


def _settled(value):
    """``value`` for a key of :func:`same_fit_key`: an object (a loss, an
    augmentation of an ``--extra`` row) with its public attributes, since
    its repr need not show them (a torch module's does not)."""
    if isinstance(value, (list, tuple)):
        return tuple(_settled(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _settled(v)) for k, v in value.items()))
    if isinstance(value, type) or not hasattr(value, "__dict__"):
        return repr(value)
    attrs = sorted((k, repr(v)) for k, v in vars(value).items() if k[0] != "_")
    return (type(value).__qualname__, repr(value), tuple(attrs))


def fit(method, params, train, seed, epochs, device, cpu_budget=None):
    """A function that embeds images, trained as ``method`` says, and the
    number of epochs trained."""
    X, y = train.images, train.target
    if params is None:
        return (lambda Z: Z.reshape(len(Z), -1).astype(np.float32)), "-"
    if isinstance(params, PML):
        return train_pml(
            X,
            y,
            seed,
            epochs=epochs,
            network_params=params.network_params,
            cpu_budget=cpu_budget,
        )
    est = embedder(method, params, seed, epochs, device).fit(X, y)
    inner = est.embedder_ if isinstance(est, RotationClasses) else est
    return est.transform, inner.n_iter_


def run_method(method, params, protocols, args, device, done):
    """Every fit of one row: ``{protocol: [record per seed and fold]}``."""
    records = {}
    for protocol, splits in protocols.items():
        records[protocol] = []
        for seed in args.seeds:
            for fold, train, test in splits:
                key = None
                if isinstance(params, dict):
                    est = embedder(method, params, seed, args.epochs, device)
                    key = (protocol, fold, seed, same_fit_key(est, device))
                if key in done:
                    records[protocol].append({**done[key], "twin": done[key]["method"]})
                    continue
                budget = None
                if isinstance(params, PML) and params.same_time_as:
                    budget = done[(protocol, fold, seed, params.same_time_as)]["cpu"]
                wall, cpu = time.perf_counter(), time.process_time()
                transform, n_epochs = fit(
                    method, params, train, seed, args.epochs, device, budget
                )
                wall = time.perf_counter() - wall
                cpu = time.process_time() - cpu
                errors = alphabet_errors(transform(test.images), test, seed)
                record = {
                    "method": method,
                    "fold": fold,
                    "seed": seed,
                    "errors": errors,
                    "epochs": n_epochs,
                    "wall": wall,
                    "cpu": cpu,
                }
                done[(protocol, fold, seed, method)] = record
                if key is not None:
                    done[key] = record
                records[protocol].append(record)
    return records


def summary(records):
    """Mean and spread of the 20-way errors (over seeds; over folds and
    seeds), the mean error of the smaller alphabets, times and epochs."""
    big = [
        np.mean([e for n, e in r["errors"].values() if n == N_WAY])
        for r in records
        if any(n == N_WAY for n, _ in r["errors"].values())
    ]
    small = [e for r in records for n, e in r["errors"].values() if n < N_WAY]
    epochs = [r["epochs"] for r in records if r["epochs"] != "-"]
    return {
        "error": float(np.mean(big)),
        "sd": float(np.std(big)) if len(big) > 1 else None,
        "errors": [float(e) for e in big],
        "small": float(np.mean(small)) if small else float("nan"),
        "epochs": round(float(np.mean(epochs)), 1) if epochs else "-",
        "wall": float(np.mean([r["wall"] for r in records])),
        "cpu": float(np.mean([r["cpu"] for r in records])),
        "fit_cpu": [float(r["cpu"]) for r in records],
    }


def extra_rows(rows):
    """``--extra`` rows: ``{"pml_same_time_as": LABEL}`` is the Conv-4 of
    pytorch-metric-learning trained for as long as row ``LABEL``; any other
    row holds ``SiameseEmbedder`` parameters."""
    return {
        label: PML(CONV4, same_time_as=params["pml_same_time_as"])
        if "pml_same_time_as" in params
        else params
        for label, params in rows.items()
    }


def run_order(methods):
    """Rows that take another row's time after that row."""
    later = [m for m, p in methods.items() if isinstance(p, PML) and p.same_time_as]
    for m in later:
        twin = methods[m].same_time_as
        if twin not in methods:
            raise SystemExit(f"{m!r} needs the row {twin!r}: add it to --methods.")
    return [m for m in methods if m not in later] + later


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--protocols", nargs="+", choices=["current", "lao"], default=["current", "lao"]
    )
    parser.add_argument(
        "--holdout",
        nargs="+",
        metavar="ALPHABET",
        help="the lao folds to run (default: all 8)",
    )
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
    methods.update(extra_rows(json.loads(args.extra)))
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    where = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    archives = read_archives(args.data, args.size)
    protocols = {p: list(folds(p, archives, args.holdout)) for p in args.protocols}
    print(
        f"torch {torch.__version__} on {where}, {torch.get_num_threads()} threads; "
        f"{args.size}x{args.size} images, {args.epochs} epochs, seeds {args.seeds}"
    )
    for protocol, splits in protocols.items():
        for fold, train, test in splits:
            print(
                f"{protocol} {fold}: train {len(train.images)} images of "
                f"{len(np.unique(train.target))} characters "
                f"({', '.join(train.alphabet_names[np.unique(train.alphabet)])}); "
                f"test {len(test.images)} images of "
                f"{', '.join(test.alphabet_names[np.unique(test.alphabet)])}"
            )
    done, results = {}, {}
    for method in run_order(methods):
        records = run_method(method, methods[method], protocols, args, device, done)
        results[method] = {p: summary(r) for p, r in records.items()}
        twins = {r.get("twin") for rs in records.values() for r in rs} - {None}
        label = f"{method} (= {twins.pop()})" if len(twins) == 1 else method
        results[method]["label"] = label
        for protocol, rs in records.items():
            for r in rs:
                per = ", ".join(f"{a} {e:.3f}" for a, (_, e) in r["errors"].items())
                print(
                    f"  {label} [{protocol} {r['fold']}, seed {r['seed']}]: {per}; "
                    f"{r['epochs']} epochs, fit CPU {r['cpu']:.1f} s",
                    flush=True,
                )
    for protocol in protocols:
        rows = []
        for method in methods:
            s = results[method][protocol]
            rows.append(
                (
                    results[method]["label"],
                    s["epochs"],
                    f"{s['error']:.4f}",
                    "-" if s["sd"] is None else f"{s['sd']:.4f}",
                    f"{s['small']:.4f}",
                    f"{s['wall']:.1f}",
                    f"{s['cpu']:.1f}",
                )
            )
        what = (
            "unseen alphabets of small2"
            if protocol == "current"
            else f"leave one alphabet out, {len(protocols[protocol])} folds"
        )
        print(f"\nOmniglot one-shot, {protocol} protocol: {what} ({where})")
        header = ("method", "epochs", "20-way error", "sd", "Tagalog 17-way")
        table(rows, (*header, "fit s", "fit CPU s"))
        best = min(rows, key=lambda r: float(r[2]))
        print(f"lowest 20-way error: {best[0]} ({best[2]})")
    write_outputs(args, figure_record(results, args, where))


def figure_record(results, args, where):
    """20-way error of each row (a value per seed, and fold) in each protocol
    and its fit CPU time, as printed."""

    def colour(label):
        if label.startswith("SiameseEmbedder"):
            return 2
        return 5 if label == "raw pixels" else 0

    def short(label):  # "SiameseEmbedder() (defaults) (= ...)" is too long
        return label.split(" (= ")[0]

    names = {"current": "unseen alphabets of small2", "lao": "leave one alphabet out"}
    seeds = ", ".join(map(str, args.seeds))
    runs = {r["label"]: r for r in results.values()}
    panels = [
        {
            "kind": "bars",
            "title": f"20-way one-shot error, {names[p]}",
            "xlabel": "error rate (lower is better)",
            "fmt": "{:.3f}",
            "items": [
                {"label": short(k), "values": r[p]["errors"], "colour": colour(k)}
                for k, r in runs.items()
            ],
        }
        for p in args.protocols
    ]
    first = args.protocols[0]
    panels.append(
        {
            "kind": "bars",
            "title": f"fit CPU time, {names[first]}",
            "xlabel": "CPU seconds",
            "fmt": "{:.0f}",
            "items": [
                {"label": short(k), "values": r[first]["fit_cpu"], "colour": colour(k)}
                if r[first]["epochs"] != "-"
                else {"label": short(k), "note": "no training"}
                for k, r in runs.items()
            ],
        }
    )
    return {
        "benchmark": "omniglot",
        "runs": {k: {p: r[p] for p in args.protocols} for k, r in runs.items()},
        "seeds": args.seeds,
        "title": f"Omniglot: 20-way one-shot on unseen alphabets, {where}, "
        f"seed{'s' if len(args.seeds) > 1 else ''} {seeds}",
        "panel_size": (5.0, 0.32 * len(runs) + 1.2),
        "panels": panels,
    }


if __name__ == "__main__":
    main()
