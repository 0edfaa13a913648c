"""The main job: learn an embedding of scikit-learn's digits and report it.

``python -m sksiamese`` trains a :class:`~sksiamese.SiameseEmbedder` with its
default parameters on 75% of the 8x8 digit images (stratified,
``random_state=0``), prints retrieval quality on the other 25% next to raw
pixels, and saves the embeddings of all images.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from . import SiameseEmbedder
from .metrics import retrieval_report


def _row(name, train, test, y_train, y_test, seconds):
    acc = KNeighborsClassifier(1).fit(train, y_train).score(test, y_test)
    rep = retrieval_report(test, y_test, train, y_train, k=5)
    return (
        f"{name:<18}{acc:>10.4f}{rep['precision_at_1']:>10.4f}"
        f"{rep['map_at_r']:>10.4f}{rep['hit_rate_at_k']:>10.4f}{seconds:>10.1f}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sksiamese", description=__doc__)
    parser.add_argument("--output", default="sksiamese_output/digits_embeddings.npz")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=0)
    args = parser.parse_args(argv)

    digits = load_digits()
    X, y = digits.images, digits.target
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    params = {"random_state": args.random_state, "verbose": args.verbose}
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    embedder = SiameseEmbedder(**params)
    start = time.perf_counter()
    embedder.fit(X_tr, y_tr)
    seconds = time.perf_counter() - start

    print(f"digits: {len(X_tr)} training and {len(X_te)} query images, 8x8")
    header = ["1-NN acc", "P@1", "MAP@R", "hit@5", "fit s"]
    print(f"{'':<18}" + "".join(f"{h:>10}" for h in header))
    raw_tr, raw_te = X_tr.reshape(len(X_tr), -1), X_te.reshape(len(X_te), -1)
    print(_row("raw pixels", raw_tr, raw_te, y_tr, y_te, 0.0))
    emb_tr, emb_te = embedder.transform(X_tr), embedder.transform(X_te)
    print(_row("SiameseEmbedder", emb_tr, emb_te, y_tr, y_te, seconds))

    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, embeddings=embedder.transform(X), target=y)
    print(f"saved {len(X)} embeddings of width {embedder.embedding_dim_} to {out}")


if __name__ == "__main__":
    main()
