"""Training-loop overhead: SiameseEmbedder against a hand-written PyTorch loop.

Both train the same network from the same initial weights on the same
class-balanced batches (drawn by the same sampler from the same seed), with
the same semi-hard miner, triplet loss and Adam, for the same epochs. The
only difference is the loop: skorch with sksiamese's batching, or a plain
``for`` loop over a float32 tensor held in memory, batches laid out
channels-last as the library's are (``--nchw``: the layout of
``unsqueeze(1)`` instead, which CPU convolutions run slower). Runs alternate, and the
median of the repeats is compared, as is the fastest run of each (the
least disturbed by other load on a shared machine).

``--device cuda`` runs both on a GPU: the hand loop then holds all the
images on the GPU, while the library copies each batch there.

    python benchmarks/bench_overhead.py [--epochs 3] [--repeats 3] [--device cuda]

``--figure PATH`` draws the time of each run (bars: the medians),
``--results PATH`` writes the times as JSON.
"""

import argparse
import statistics

import numpy as np
import torch
from _common import Timer, add_output_options, mnist_5000, write_outputs

from sksiamese import SiameseEmbedder
from sksiamese._training import Encoder
from sksiamese.losses import TripletLoss
from sksiamese.mining import SemiHardMiner
from sksiamese.networks import ConvNet
from sksiamese.sampling import balanced_batches


def hand_loop(X, codes, epochs, seed, batch_size=128, m=4, nchw=False, device="cpu"):
    """What a user writes by hand: the same steps without the library."""
    torch.manual_seed(seed)
    model = Encoder(ConvNet((1, 28, 28), embedding_dim=64), normalize=True)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    # (n, 28, 28, 1), each batch viewed as (b, 1, 28, 28): the channels-last
    # strides the library's batches have, for which CPU convolutions pick
    # faster kernels than for unsqueeze(1)'s; --nchw shows the difference
    if nchw:
        data = torch.as_tensor(X, dtype=torch.float32).unsqueeze(1)
    else:
        data = torch.as_tensor(X, dtype=torch.float32).unsqueeze(-1)
    data, labels = data.to(device), torch.as_tensor(codes).to(device)
    miner, loss_fn = SemiHardMiner(), TripletLoss(0.2)
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        for idx in balanced_batches(codes, rng, m, batch_size):
            idx = torch.from_numpy(idx).to(device)
            xb, yb = data[idx], labels[idx]
            if not nchw:
                xb = xb.permute(0, 3, 1, 2)
            opt.zero_grad()
            emb = model(xb)
            loss = loss_fn(emb, yb, miner(emb, yb))
            loss.backward()
            opt.step()
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
    return model


def library(X, y, epochs, seed, device="cpu"):
    """The same training, spelled out so that default changes do not leak in."""
    return SiameseEmbedder(
        network="conv",
        embedding_dim=64,
        loss="triplet",
        margin=0.2,
        miner="semi_hard",
        m_per_class=4,
        batch_size=128,
        augment=None,
        optimizer="adam",
        lr=1e-3,
        max_epochs=epochs,
        device=device,
        random_state=seed,
    ).fit(X, y)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--nchw",
        action="store_true",
        help="hand loop on channels-first strides (unsqueeze(1))",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="'cpu' or 'cuda': both loops train there; the hand loop keeps "
        "all the images on the device, the library moves each batch there",
    )
    add_output_options(parser)
    args = parser.parse_args()
    X, _, y, _ = mnist_5000()
    X = X.astype(np.float32)
    codes = np.unique(y, return_inverse=True)[1]
    print(
        f"{len(X)} MNIST images 28x28, ConvNet, {args.epochs} epochs, "
        f"device {args.device}, {torch.get_num_threads()} threads, hand loop "
        f"{'channels-first' if args.nchw else 'channels-last'}"
    )
    dev = args.device
    hand_loop(X[:512], codes[:512], 1, 0, nchw=args.nchw, device=dev)  # warm-up
    times = {"hand-written loop": [], "SiameseEmbedder": []}
    for r in range(args.repeats):
        with Timer() as t:
            hand_loop(X, codes, args.epochs, r, nchw=args.nchw, device=dev)
        times["hand-written loop"].append(t.seconds)
        with Timer() as t:
            library(X, y, args.epochs, r, device=dev)
        times["SiameseEmbedder"].append(t.seconds)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(
            f"{k:<20} median {med[k]:7.2f} s   runs " + " ".join(f"{s:.2f}" for s in v)
        )
    ratio = med["SiameseEmbedder"] / med["hand-written loop"]
    best = min(times["SiameseEmbedder"]) / min(times["hand-written loop"])
    print(
        f"time ratio SiameseEmbedder / hand-written loop: median {ratio:.3f}, "
        f"best-of-runs {best:.3f}"
    )
    write_outputs(args, figure_record(times, ratio, args))


def figure_record(times, ratio, args):
    """The time of every run, as printed."""
    return {
        "benchmark": "overhead",
        "times": times,
        "title": f"{args.epochs} epoch{'s' if args.epochs > 1 else ''} on 3,750 "
        f"MNIST digits, device {args.device}, torch on {torch.get_num_threads()} "
        f"thread(s): median time ratio {ratio:.3f}",
        "panel_size": (6.4, 1.9),
        "panels": [
            {
                "kind": "bars",
                "center": "median",
                "xlabel": f"seconds per fit (median of {args.repeats} runs; "
                "lower is better)",
                "fmt": "{:.2f} s",
                "items": [
                    {"label": name, "values": runs, "colour": 2 * (i == 1)}
                    for i, (name, runs) in enumerate(times.items())
                ],
            }
        ],
    }


if __name__ == "__main__":
    main()
