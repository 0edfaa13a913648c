"""One rank of the data-parallel fits of ``test_distributed.py``.

Run as ``python _distributed_rank.py SCENARIO OUT`` with the launcher's
variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) set;
writes what the rank saw to ``OUT/rank{RANK}.npz`` (and, on rank 0, the
fitted estimator to ``OUT/model.pkl``).

Scenarios: ``fit`` (a fit of 2 epochs, a warm-start fit of 1 more, and a
fit with early stopping, a verbose fit, then fits given other data on
each rank),
``gpu`` (a fit on the GPU of each rank),
``kill`` (rank 1 kills itself in the middle of
the second epoch) and ``stall`` (rank 1 stops answering in the middle of
the second epoch, in a process group that the script initialises with a
10 s timeout).
"""

import hashlib
import json
import os
import pickle
import signal
import sys
import time

from skorch.callbacks import Callback


def digits():
    import numpy as np
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32) / 16, y


#: Seeds of the fits whose mean 1-NN accuracy is compared (one fit's
#: accuracy varies by about 0.005 from seed to seed).
SEEDS = (0, 1, 2, 3)


def split(y, n_train=1200):
    """Training and test positions of the digits."""
    import numpy as np

    order = np.random.default_rng(0).permutation(len(y))
    return order[:n_train], order[n_train:]


def accuracy(est, X, y):
    """1-NN accuracy of ``est``'s embeddings on the test split."""
    from sklearn.neighbors import KNeighborsClassifier

    train, test = split(y)
    knn = KNeighborsClassifier(n_neighbors=1).fit(est.transform(X[train]), y[train])
    return knn.score(est.transform(X[test]), y[test])


def params_of(est):
    import numpy as np

    return np.concatenate(
        [p.detach().cpu().numpy().ravel() for p in est.module_.parameters()]
    )


def embedder(**params):
    from sksiamese import SiameseEmbedder

    defaults = dict(max_epochs=2, batch_size=64, n_threads=1, random_state=0)
    return SiameseEmbedder(**{**defaults, **params})


class Seen(Callback):
    """Records a digest of every training batch of its rank, and runs
    ``action`` before batch ``at`` of epoch 2."""

    def __init__(self, at=None, action=None):
        self.at, self.action = at, action

    def initialize(self):
        self.seen_ = []
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        data = batch[0].detach().cpu().numpy().tobytes()
        self.seen_.append(hashlib.sha1(data).hexdigest())
        done = sum("train_loss" in b for b in net.history[-1]["batches"][:-1])
        if self.action is not None and len(net.history) == 2 and done == self.at:
            self.action()


def main(scenario, out):
    import numpy as np

    # the callbacks pickle with the model: by this module's name, which a
    # plain process imports, not as __main__'s
    from _distributed_rank import Seen

    rank = int(os.environ["RANK"])
    X, y = digits()
    train, _ = split(y)
    result = {}
    if scenario == "fit":
        seen = Seen()
        est = embedder(callbacks=[("seen", seen)]).fit(X[train], y[train])
        result["params"] = params_of(est)
        result["seen"] = np.array(seen.seen_)
        result["history"] = json.dumps(est.history_.to_list())
        result["Z"] = est.transform(X)
        result["accuracy"] = accuracy(est, X, y)
        result["accuracies"] = [result["accuracy"]] + [
            accuracy(embedder(random_state=seed).fit(X[train], y[train]), X, y)
            for seed in SEEDS[1:]
        ]
        if rank == 0:
            with open(os.path.join(out, "model.pkl"), "wb") as f:
                pickle.dump(est, f)
        est.set_params(warm_start=True, max_epochs=1).fit(X[train], y[train])
        result["warm_params"] = params_of(est)
        result["warm_history"] = json.dumps(est.history_.to_list())
        stopper = embedder(
            max_epochs=12, early_stopping=True, n_iter_no_change=1, lr=0.02
        ).fit(X, y)
        result["stop_epochs"] = stopper.n_iter_
        result["stop_valid"] = np.array(stopper.history_[:, "valid_loss"])
        result["stop_params"] = params_of(stopper)
        # the epoch table of verbose=1, on rank 0 only
        print("verbose fit:", flush=True)
        embedder(max_epochs=1, verbose=1).fit(X[train], y[train])
        # rank 1 given one sample fewer: refused on both, before training
        mine = train[: len(train) - rank]
        try:
            embedder().fit(X[mine], y[mine])
        except ValueError as exc:
            result["mismatch"] = str(exc)
    elif scenario == "gpu":
        est = embedder(device="cuda").fit(X[train], y[train])
        result["params"] = params_of(est)
        result["device"] = est.device_
        result["accuracy"] = accuracy(est, X, y)
    else:
        if scenario == "stall":
            import datetime

            import torch.distributed as dist

            dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=10))
            sig = signal.SIGSTOP
        else:
            sig = signal.SIGKILL

        def action():
            with open(os.path.join(out, "lost_at"), "w") as f:
                f.write(repr(time.time()))
            os.kill(os.getpid(), sig)

        seen = Seen(at=2, action=action if rank == 1 else None)
        try:
            embedder(max_epochs=50, callbacks=[("seen", seen)]).fit(X, y)
        except Exception as exc:
            result["failed_at"] = time.time()
            result["error"] = f"{type(exc).__name__}: {exc}"
            np.savez(os.path.join(out, f"rank{rank}.npz"), **result)
            raise
    np.savez(os.path.join(out, f"rank{rank}.npz"), **result)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
