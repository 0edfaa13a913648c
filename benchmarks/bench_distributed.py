"""Two data-parallel ranks against one process: fit time and 1-NN accuracy.

Each run is a job of fresh processes: one plain process, or two gloo
ranks on 127.0.0.1 started as ``torchrun --nproc_per_node 2`` would. Every
process fits ``SiameseEmbedder`` on 75% of scikit-learn's digits (rows of
64 features, the default MLP) once per seed, on ``--threads`` torch
threads, and rank 0 reports the wall time of each fit and the 1-NN
accuracy of its embeddings on the other 25%. Printed per seed: both
times, their ratio (2 ranks / 1 process), both accuracies and their
difference. With 2 ranks each epoch takes half the steps, each averaging
the gradients of two batches (mining stays within each batch).

    python benchmarks/bench_distributed.py [--seeds 5] [--epochs 2] [--threads 1]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

FIT = """
import json, os, sys, time
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sksiamese import SiameseEmbedder

seeds, epochs, threads = (int(a) for a in sys.argv[1:4])
X, y = load_digits(return_X_y=True)
X = X.astype(np.float32) / 16
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y,
                                      random_state=0)
rows = []
for seed in range(seeds):
    est = SiameseEmbedder(max_epochs=epochs, n_threads=threads, random_state=seed,
                          device="cpu")
    start = time.perf_counter()
    est.fit(Xtr, ytr)
    seconds = time.perf_counter() - start
    knn = KNeighborsClassifier(1).fit(est.transform(Xtr), ytr)
    rows.append([seconds, knn.score(est.transform(Xte), yte)])
if int(os.environ.get("RANK", 0)) == 0:
    print(json.dumps(rows))
"""


def run(world, seeds, epochs, threads):
    """Per seed, rank 0's ``[fit seconds, 1-NN accuracy]`` of a job of
    ``world`` processes."""
    root = Path(__file__).resolve().parent.parent
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    }
    env["PYTHONPATH"] = os.pathsep.join(
        [str(root), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    env["OMP_NUM_THREADS"] = str(threads)
    if world > 1:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env.update(WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1")
        env["MASTER_PORT"] = str(port)
    procs = []
    for rank in range(world):
        rank_env = dict(env, RANK=str(rank), LOCAL_RANK=str(rank)) if world > 1 else env
        cmd = [sys.executable, "-c", FIT, str(seeds), str(epochs), str(threads)]
        procs.append(
            subprocess.Popen(cmd, env=rank_env, stdout=subprocess.PIPE, text=True)
        )
    outputs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(f"a process of the {world}-process job failed")
    return json.loads(outputs[0].strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    one = run(1, args.seeds, args.epochs, args.threads)
    two = run(2, args.seeds, args.epochs, args.threads)
    print(
        f"digits, {args.epochs} epochs, {args.threads} thread(s) per process; "
        "time of the first fit includes each process's warm-up"
    )
    print("seed  1 proc s  2 ranks s  ratio  1-NN 1 proc  1-NN 2 ranks  diff")
    ratios, diffs = [], []
    for seed, ((t1, a1), (t2, a2)) in enumerate(zip(one, two, strict=True)):
        ratios.append(t2 / t1)
        diffs.append(a2 - a1)
        print(
            f"{seed:4d}  {t1:8.2f}  {t2:9.2f}  {t2 / t1:5.2f}  {a1:11.4f}  "
            f"{a2:12.4f}  {a2 - a1:+.4f}"
        )
    later = sorted(ratios[1:] or ratios)
    print(
        f"median time ratio (seeds after the first): {later[len(later) // 2]:.2f}; "
        f"accuracy difference: mean {sum(diffs) / len(diffs):+.4f}, "
        f"largest {max(diffs, key=abs):+.4f}"
    )


if __name__ == "__main__":
    main()
