"""Photos from disk: a pretrained backbone, frozen or fine-tuned, or a
network trained from scratch, on the faces of people never seen in training.

Writes the 400 ORL photos (40 people, 10 each, 112x92 grayscale) as PNG
files, one folder per person, lists them with
:func:`sksiamese.datasets.load_image_folder`, and for each of ``--splits``
random splits of the people (30 train, 10 unseen; seeds 0, 1, ...) compares
four embeddings of the unseen people's photos:

* raw pixels: the photos read as the from-scratch network reads them
  (``--small-size``, grayscale), flattened, scaled to [0, 1];
* EfficientNet-Lite0, frozen: the backbone's 1280 average-pooled ImageNet
  features (``EfficientNetLite0.features``) of the photos read at
  ``--lite-size``, with no training on the 30 people: what the pretrained
  weights know before any fitting. (A ``SiameseEmbedder`` with nothing
  trainable and no epochs would put a random dense head on these features,
  which measures that random head, not the backbone.)
* EfficientNet-Lite0, fine-tuned: ``SiameseEmbedder("efficientnet_lite0")``
  on the 30 people's files at ``--lite-size``, its default trainable parts
  (``block7``, ``top`` and the dense head), default loss (multi-similarity)
  and augmentation, ``--lite-epochs`` epochs at ``--lite-lr``;
* EfficientNet-Lite0, linear head: the same embedder with the whole
  backbone frozen and a linear head (``network_params={"trainable_layers":
  [], "head": ()}``), ``--head-epochs`` epochs at ``--lite-lr``: a metric
  learned on the frozen ImageNet features (0 epochs: no such row);
* from scratch: ``SiameseEmbedder()`` (its default ConvNet, loss and
  augmentation) on the files at ``--small-size``, ``--epochs`` epochs.

For each: ROC AUC of the Euclidean distance between embeddings on all the
"same" pairs of the unseen people's 100 photos (450) and as many
"different" pairs (``balanced_pairs(y, max_pairs=None, random_state=0)``);
one-shot identification accuracy (one photo per unseen person enrolled,
the other nine are queries, averaged over the ten choices of the enrolled
photo); and the CPU seconds of the fit (``time.process_time``; for the
frozen backbone, of building it and computing the features). The table
gives means and standard deviations over the splits, and each error
(1 - AUC, 1 - accuracy) as a ratio to raw pixels' error.

    python benchmarks/bench_orl_files.py [--data PATH] [--splits 8]
        [--epochs 30] [--lite-epochs 10] [--head-epochs 10] [--n-threads 1]

``--figure PATH`` draws each embedding's ROC AUC, one-shot accuracy and
fit CPU time (a dot per split), ``--results PATH`` writes the values as
JSON.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import add_output_options, table, write_outputs
from bench_verifier_orl import split_people

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def write_pngs(images, target, root):
    """The photos as ``root/person_NN/photo_KK.png``."""
    from PIL import Image

    counts = {}
    for img, person in zip(images, target, strict=True):
        k = counts[person] = counts.get(person, 0) + 1
        folder = root / f"person_{person + 1:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(img, np.uint8)).save(folder / f"photo_{k:02d}.png")


def read(paths, size):
    """The files as the embedder reads them: (n, h, w) in [0, 1]."""
    from sksiamese.images import ImageReader

    reader = ImageReader(size=size, mode="L")
    return np.stack([reader.read(p) for p in paths]).astype(np.float32) / 255


def scores(E, y):
    """(ROC AUC, one-shot accuracy) of embeddings ``E`` of labels ``y``."""
    from sklearn.metrics import roc_auc_score

    from sksiamese.metrics import one_shot_accuracy
    from sksiamese.verification import balanced_pairs

    E = np.asarray(E, np.float64).reshape(len(E), -1)
    pairs, same = balanced_pairs(y, max_pairs=None, random_state=0)
    d = np.linalg.norm(E[pairs[:, 0]] - E[pairs[:, 1]], axis=1)
    auc = roc_auc_score(same, -d)
    # photo k of each person: its rank within that person's photos
    rank = np.empty(len(y), int)
    for person in np.unique(y):
        rank[y == person] = np.arange(np.sum(y == person))
    accs = []
    for k in range(rank.max() + 1):
        s = rank == k
        accs.append(one_shot_accuracy(E[s], y[s], E[~s], y[~s]))
    return auc, float(np.mean(accs))


def frozen_features(paths, size, n_threads):
    import torch

    from sksiamese.networks import EfficientNetLite0

    torch.set_num_threads(n_threads)
    net = EfficientNetLite0((1, *size)).eval()
    X = torch.from_numpy(read(paths, size))[:, None]
    with torch.no_grad():
        return torch.cat([net.features(b) for b in X.split(50)]).numpy()


def embedder(args, which, seed):
    from sksiamese import SiameseEmbedder
    from sksiamese.images import ImageReader

    common = dict(n_threads=args.n_threads, device="cpu", random_state=seed)
    if which in ("lite", "head"):
        frozen = {"trainable_layers": [], "head": ()} if which == "head" else None
        return SiameseEmbedder(
            "efficientnet_lite0",
            network_params=frozen,
            input_shape=ImageReader(size=args.lite_size, mode="L"),
            max_epochs=args.head_epochs if which == "head" else args.lite_epochs,
            lr=args.lite_lr,
            **common,
        )
    return SiameseEmbedder(
        input_shape=ImageReader(size=args.small_size, mode="L"),
        max_epochs=args.epochs,
        **common,
    )


def one_split(args, paths, y, seed):
    train, test = split_people(y, "random", seed)
    out = {}
    E = read(paths[test], args.small_size)
    out["raw pixels"] = (*scores(E, y[test]), 0.0)
    start = time.process_time()
    E = frozen_features(paths[test], args.lite_size, args.n_threads)
    seconds = time.process_time() - start
    out["EfficientNet-Lite0 frozen"] = (*scores(E, y[test]), seconds)
    for name, which in [
        ("EfficientNet-Lite0 fine-tuned", "lite"),
        ("EfficientNet-Lite0 linear head", "head"),
        ("ConvNet from scratch", "conv"),
    ]:
        if (which == "lite" and args.lite_epochs == 0) or (
            which == "head" and args.head_epochs == 0
        ):
            continue
        emb = embedder(args, which, seed)
        start = time.process_time()
        emb.fit(paths[train], y[train])
        seconds = time.process_time() - start
        out[name] = (*scores(emb.transform(paths[test]), y[test]), seconds)
    return out


def size(text):
    h, _, w = text.partition("x")
    return (int(h), int(w or h))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=None, help="path to orl_faces.npz")
    parser.add_argument("--splits", type=int, default=8, help="seeds 0..splits-1")
    parser.add_argument("--epochs", type=int, default=30, help="from scratch")
    parser.add_argument("--small-size", type=size, default=(56, 46), help="HxW")
    parser.add_argument("--lite-epochs", type=int, default=10)
    parser.add_argument("--head-epochs", type=int, default=10)
    parser.add_argument("--lite-size", type=size, default=(112, 92), help="HxW")
    parser.add_argument("--lite-lr", type=float, default=1e-3)
    parser.add_argument("--n-threads", type=int, default=1)
    parser.add_argument("--dir", default=None, help="where to write (a temp dir)")
    add_output_options(parser)
    args = parser.parse_args()

    from sksiamese.datasets import load_image_folder

    data = np.load(args.data or DEFAULT_DATA / "orl_faces.npz")
    results = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp) / "orl"
        write_pngs(data["images"], data["target"], root)
        folder = load_image_folder(root)
        paths, y = np.asarray(folder.filenames), np.asarray(folder.target)
        for seed in range(args.splits):
            t0 = time.perf_counter()
            for name, row in one_split(args, paths, y, seed).items():
                results.setdefault(name, []).append(row)
            line = ", ".join(
                f"{name}: AUC {r[-1][0]:.3f} acc {r[-1][1]:.3f}"
                for name, r in results.items()
            )
            print(f"split {seed} ({time.perf_counter() - t0:.0f} s): {line}")

    h, w = args.small_size
    lh, lw = args.lite_size
    print(
        f"\nORL, {args.splits} random splits (30 train / 10 unseen people), "
        f"PNG files; raw and from scratch at {h}x{w} ({args.epochs} epochs), "
        f"EfficientNet-Lite0 at {lh}x{lw} (fine-tuned {args.lite_epochs} "
        f"epochs, linear head {args.head_epochs} epochs, lr {args.lite_lr:g}); "
        f"CPU, {args.n_threads} thread(s)"
    )
    raw = np.asarray(results["raw pixels"])
    raw_err = 1 - raw[:, :2].mean(axis=0)
    rows = []
    for name, r in results.items():
        r = np.asarray(r)
        mean, std = r.mean(axis=0), r.std(axis=0)
        ratio = (1 - mean[:2]) / raw_err
        rows.append(
            (
                name,
                f"{mean[0]:.3f} ± {std[0]:.3f}",
                f"{ratio[0]:.2f}",
                f"{mean[1]:.3f} ± {std[1]:.3f}",
                f"{ratio[1]:.2f}",
                f"{mean[2]:.0f} ± {std[2]:.0f}",
            )
        )
    header = ("embedding", "ROC AUC", "err/raw", "1-shot acc", "err/raw", "fit CPU s")
    table(rows, header)
    write_outputs(args, figure_record(results, args))


def figure_record(results, args):
    """ROC AUC, one-shot accuracy and fit CPU time per embedding and split."""

    def colour(name):
        return {"raw pixels": 5, "ConvNet from scratch": 2}.get(name, 0)

    def panel(j, title, xlabel, **options):
        return {
            "kind": "bars",
            "title": title,
            "xlabel": xlabel,
            "items": [
                {"label": name, "values": [r[j] for r in rows], "colour": colour(name)}
                if j < 2 or name != "raw pixels"
                else {"label": name, "note": "no training"}
                for name, rows in results.items()
            ],
            **options,
        }

    return {
        "benchmark": "orl_files",
        "results": {name: np.asarray(rows).tolist() for name, rows in results.items()},
        "title": f"ORL photos as PNG files: 30 people to train, 10 unseen, "
        f"{args.splits} random splits",
        "panel_size": (4.2, 2.4),
        "panels": [
            panel(
                0,
                "ROC AUC, unseen people's pairs",
                "higher is better",
                xlim=(0.8, 1.0),
                fmt="{:.3f}",
            ),
            panel(
                1,
                "one-shot identification, 10 people",
                "higher is better",
                xlim=(0.6, 1.0),
                fmt="{:.3f}",
            ),
            panel(2, "fit CPU time", "CPU seconds", fmt="{:.0f}"),
        ],
    }


if __name__ == "__main__":
    main()
