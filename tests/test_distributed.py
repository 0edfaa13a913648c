"""Data-parallel fits: two gloo ranks on 127.0.0.1, spawned as processes.

The ranks run ``_distributed_rank.py`` with the variables a launcher
(torchrun, accelerate launch) sets; each writes what it saw, and the tests
compare the ranks with each other and with a plain fit in this process.
"""

import datetime
import importlib.util
import json
import math
import os
import pickle
import re
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from sksiamese import _distributed
from sksiamese._distributed import launched, mixed_precision, share_of

HERE = Path(__file__).parent
RANK_SCRIPT = HERE / "_distributed_rank.py"
ROOT = HERE.parent

_spec = importlib.util.spec_from_file_location("_distributed_rank", RANK_SCRIPT)
rank_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rank_script)

gloo = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not available",
)
LAUNCHER_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def plain_env():
    """This process's environment without a launcher's variables."""
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARS}
    env.pop(_distributed.MIXED_PRECISION_ENV, None)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    env["OMP_NUM_THREADS"] = "1"
    return env


def launch(scenario, out, world=2, extra=None):
    """Start the ranks of ``scenario``, as torchrun would (with the
    variables ``extra`` too)."""
    port = free_port()
    procs = []
    for rank in range(world):
        env = dict(
            plain_env(),
            **(extra or {}),
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE=str(world),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
        )
        log = open(out / f"rank{rank}.log", "w")  # noqa: SIM115
        cmd = [sys.executable, str(RANK_SCRIPT), scenario, str(out)]
        procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=log))
        log.close()
    return procs


def wait(procs, out, timeout, first_only=False):
    """Exit codes of the ranks; a rank still running after ``timeout``
    seconds is killed and reported as None. With ``first_only``, the
    others are killed as soon as rank 0 ends."""
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=timeout)
    codes = []
    for proc in procs:
        left = (deadline - datetime.datetime.now()).total_seconds()
        if codes and first_only:
            left = 0
        try:
            codes.append(proc.wait(timeout=max(left, 0.1)))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            codes.append(None)
    return codes


def logs(out, world=2):
    return "\n".join(
        f"--- rank {r}:\n" + (out / f"rank{r}.log").read_text()[-3000:]
        for r in range(world)
    )


# ---- the launched fits -------------------------------------------------------


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """What the two ranks of the ``fit`` scenario saw."""
    out = tmp_path_factory.mktemp("distributed_fit")
    codes = wait(launch("fit", out), out, timeout=300)
    assert codes == [0, 0], logs(out)
    return out, [dict(np.load(out / f"rank{r}.npz")) for r in range(2)]


@pytest.fixture(scope="module")
def single():
    """The same fit in this (plain) process."""
    X, y = rank_script.digits()
    train, _ = rank_script.split(y)
    seen = rank_script.Seen()
    est = rank_script.embedder(callbacks=[("seen", seen)]).fit(X[train], y[train])
    accuracies = [rank_script.accuracy(est, X, y)] + [
        rank_script.accuracy(
            rank_script.embedder(random_state=seed).fit(X[train], y[train]), X, y
        )
        for seed in rank_script.SEEDS[1:]
    ]
    return est, seen.seen_, accuracies


@pytest.mark.distributed
@gloo
def test_ranks_hold_one_model(ranks):
    _, (r0, r1) = ranks
    assert r0["params"].size > 1000
    np.testing.assert_array_equal(r0["params"], r1["params"])
    np.testing.assert_array_equal(r0["Z"], r1["Z"])
    # the losses (and batches) of history_ are those of both ranks
    h0, h1 = json.loads(str(r0["history"])), json.loads(str(r1["history"]))
    assert h0 == h1
    assert len(h0) == 2


@pytest.mark.distributed
@gloo
def test_each_rank_trains_on_half_of_the_batches(ranks, single):
    _, (r0, r1) = ranks
    _, plain_seen, _ = single
    per_epoch = len(plain_seen) // 2
    assert per_epoch >= 10
    share = math.ceil(per_epoch / 2)
    assert len(r0["seen"]) == len(r1["seen"]) == 2 * share
    for epoch in range(2):
        plan = plain_seen[epoch * per_epoch : (epoch + 1) * per_epoch]
        mine = [
            r["seen"][epoch * share : (epoch + 1) * share].tolist() for r in (r0, r1)
        ]
        # rank r trains on planned batches r, r + 2, ...; an odd plan is
        # made even by repeating its first batch
        padded = plan + plan[: 2 * share - per_epoch]
        assert mine[0] == padded[0::2]
        assert mine[1] == padded[1::2]
    history = json.loads(str(r0["history"]))
    assert [row["train_batch_count"] for row in history] == [2 * share] * 2
    # the epoch's loss averages the batches of both ranks
    for row in history:
        losses = [b["train_loss"] for b in row["batches"]]
        sizes = [b["train_batch_size"] for b in row["batches"]]
        assert row["train_loss"] == pytest.approx(np.average(losses, weights=sizes))


@pytest.mark.distributed
@gloo
def test_accuracy_matches_a_single_process_fit(ranks, single):
    # 1-NN accuracy on 597 held-out digits after 2 epochs, over 4 seeds: a
    # 2-rank epoch takes half the steps, each on two batches
    _, (r0, r1) = ranks
    _, _, plain = single
    assert min(plain) > 0.95
    np.testing.assert_array_equal(r0["accuracies"], r1["accuracies"])
    assert abs(np.mean(r0["accuracies"]) - np.mean(plain)) <= 0.01
    assert np.abs(r0["accuracies"] - np.array(plain)).max() <= 0.03


@pytest.mark.distributed
@gloo
def test_early_stopping_stops_both_ranks_at_the_same_epoch(ranks):
    _, (r0, r1) = ranks
    assert int(r0["stop_epochs"]) == int(r1["stop_epochs"])
    assert 2 <= int(r0["stop_epochs"]) < 12  # it did stop early
    np.testing.assert_array_equal(r0["stop_valid"], r1["stop_valid"])
    # the best weights restored, on both ranks alike
    np.testing.assert_array_equal(r0["stop_params"], r1["stop_params"])


@pytest.mark.distributed
@gloo
def test_warm_start_stays_in_sync(ranks):
    _, (r0, r1) = ranks
    np.testing.assert_array_equal(r0["warm_params"], r1["warm_params"])
    assert not np.array_equal(r0["warm_params"], r0["params"])  # it trained
    h0 = json.loads(str(r0["warm_history"]))
    assert h0 == json.loads(str(r1["warm_history"]))
    assert [row["epoch"] for row in h0] == [1, 2, 3]


@pytest.mark.distributed
@gloo
def test_only_rank_0_prints(ranks):
    out, _ = ranks
    rank0, rank1 = ((out / f"rank{r}.log").read_text() for r in range(2))
    quiet0, verbose0 = rank0.split("verbose fit:")
    # verbose=0 prints nothing on any rank; verbose=1 the table on rank 0
    assert "train_loss" not in quiet0
    assert len(re.findall(r"epoch\s+(?:lr\s+)?train_loss", verbose0)) == 1  # the table
    # nor the table nor the progress bar (which shows train_loss) on rank 1
    assert "verbose fit:" in rank1 and "train_loss" not in rank1


@pytest.mark.distributed
@gloo
def test_ranks_given_other_data_are_refused(ranks):
    _, (r0, r1) = ranks
    for r in (r0, r1):
        assert str(r["mismatch"]).startswith(
            "the ranks of this data-parallel fit were given different data"
        )
    assert "rank 1: 1199 training samples" in str(r1["mismatch"])


@pytest.mark.distributed
@gloo
def test_pickle_loads_and_transforms_in_a_fresh_process(ranks):
    out, (r0, _) = ranks
    blob = (out / "model.pkl").read_bytes()
    assert b"DistributedDataParallel" not in blob
    assert b"Accelerator" not in blob
    np.save(out / "Z_rank0.npy", r0["Z"])
    code = f"""
import pickle, sys
import numpy as np
import torch
sys.path.insert(0, {str(HERE)!r})
from _distributed_rank import digits
est = pickle.loads(open({str(out / "model.pkl")!r}, "rb").read())
assert not torch.distributed.is_initialized()
assert "accelerate" not in sys.modules
assert "_session" not in est.net_.__dict__
assert type(est.module_).__name__ == "Encoder"
X, _ = digits()
np.testing.assert_array_equal(est.transform(X), np.load({str(out / "Z_rank0.npy")!r}))
print("ok")
"""
    run = subprocess.run(
        [sys.executable, "-c", code],
        env=plain_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "ok"


@pytest.mark.distributed
@gloo
def test_a_lost_rank_fails_the_other_within_bounded_time(tmp_path):
    # both at once: rank 1 is killed in one job, stops answering in the
    # other (whose script sets a 10 s timeout); rank 0 must fail, not hang
    outs = {name: tmp_path / name for name in ("kill", "stall")}
    procs = {}
    for name, out in outs.items():
        out.mkdir()
        procs[name] = launch(name, out)
    for name, out in outs.items():
        # rank 0's end; rank 1 is dead, or stopped until killed here
        codes = wait(procs[name], out, timeout=180, first_only=True)
        assert codes[0] not in (0, None), logs(out)
        result = np.load(out / "rank0.npz")
        error = str(result["error"])
        assert error.startswith("DistributedTrainingError: Data-parallel training ")
        assert "failed on rank 0 of 2" in error
        lost_at = float((out / "lost_at").read_text())
        waited = float(result["failed_at"]) - lost_at
        assert 0 <= waited < 60, (name, waited)
        if name == "stall":
            assert waited >= 9  # it waited for the timeout, then gave up
            assert "Timed out" in error


# ---- detection, without launching --------------------------------------------


@pytest.fixture
def no_launcher(monkeypatch):
    for name in (*LAUNCHER_VARS, _distributed.MIXED_PRECISION_ENV):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_plain_process_is_no_job(no_launcher):
    assert launched() is None
    no_launcher.setenv("WORLD_SIZE", "1")
    no_launcher.setenv("RANK", "0")
    assert launched() is None  # torchrun --nproc_per_node 1


def test_launcher_variables_are_checked(no_launcher):
    no_launcher.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="RANK is None: each process"):
        launched()
    no_launcher.setenv("RANK", "2")
    with pytest.raises(ValueError, match="needs its rank, 0 to 1"):
        launched()
    no_launcher.setenv("RANK", "1")
    with pytest.raises(ValueError, match="MASTER_ADDR and MASTER_PORT are not"):
        launched()
    no_launcher.setenv("MASTER_ADDR", "127.0.0.1")
    no_launcher.setenv("MASTER_PORT", "29500")
    ranks = launched()
    assert (ranks.rank, ranks.world, ranks.local_rank, ranks.main) == (1, 2, 0, False)
    no_launcher.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE='two' is not an integer"):
        launched()


def test_mixed_precision_setting(no_launcher):
    assert mixed_precision("cpu") is None
    no_launcher.setenv(_distributed.MIXED_PRECISION_ENV, "no")
    assert mixed_precision("cuda") is None
    no_launcher.setenv(_distributed.MIXED_PRECISION_ENV, "fp8")
    with pytest.raises(ValueError, match="'fp16' or 'bf16', or in float32"):
        mixed_precision("cuda")
    no_launcher.setenv(_distributed.MIXED_PRECISION_ENV, "bf16")
    with pytest.warns(UserWarning, match="on a GPU only; this fit on cpu"):
        assert mixed_precision("cpu") is None


def test_shares_are_equal_for_training(no_launcher):
    for n in range(1, 12):
        for world in (2, 3, 4):
            parts = [share_of(range(n), r, world, pad=True) for r in range(world)]
            assert len({len(p) for p in parts}) == 1
            assert sorted({i for p in parts for i in p}) == list(range(n))
            valid = [share_of(range(n), r, world, pad=False) for r in range(world)]
            assert sorted(i for p in valid for i in p) == list(range(n))


def test_plain_fit_keeps_no_session(no_launcher, small_digits):
    from sksiamese import SiameseEmbedder

    X, y = small_digits
    est = SiameseEmbedder(max_epochs=1, n_threads=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no mixed-precision warning on a CPU fit
        est.fit(X.reshape(len(X), -1), y)
    assert "_session" not in est.net_.__dict__
    assert pickle.loads(pickle.dumps(est)).transform(X.reshape(len(X), -1)).shape


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_mixed_precision_steps(no_launcher, digits, dtype):
    # the steps of a mixed-precision fit, run on the CPU here (a launcher's
    # setting applies on GPUs only; test_gpu.py checks it there)
    from skorch.callbacks import Callback

    from sksiamese import SiameseEmbedder, _embedder

    X, y = digits
    X = X.reshape(len(X), -1)[:600] / 16
    y = y[:600]
    dtypes = set()

    class Attach(Callback):
        def on_train_begin(self, net, **kwargs):
            first = next(
                m for m in net.module_.modules() if type(m).__name__ == "Linear"
            )
            first.register_forward_hook(
                lambda layer, i, out: dtypes.add(out.dtype) if layer.training else None
            )

    params = dict(max_epochs=2, n_threads=1, random_state=0, device="cpu")
    full = SiameseEmbedder(**params).fit(X, y)
    no_launcher.setattr(_embedder, "mixed_precision", lambda device: dtype)
    mixed = SiameseEmbedder(callbacks=[Attach()], **params).fit(X, y)
    assert dtypes == {dtype}
    assert {p.dtype for p in mixed.module_.parameters()} == {torch.float32}
    Z = mixed.transform(X)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
    assert "_session" not in mixed.net_.__dict__
    assert not np.array_equal(Z, full.transform(X))  # it did train otherwise
    losses = mixed.history_[:, "train_loss"]
    assert losses[-1] < losses[0]
    # float16's loss scaler skips the first steps, whose scaled gradients
    # overflow, while it finds its scale
    assert np.allclose(losses, full.history_[:, "train_loss"], rtol=0.1)
