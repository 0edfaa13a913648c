"""Tests that need a CUDA device; deselected by default (``-m gpu`` runs them)."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from sksiamese import SiameseEmbedder, SiameseVerifier

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


# what is compared before and after the move: embeddings, or pair scores
OUTPUT = """
def output(est, X):
    if hasattr(est, "transform"):
        return est.transform(X)
    return est.decision_function(np.stack([X[:60], X[60:120]], axis=1))
"""


@pytest.mark.parametrize(
    "make",
    [
        lambda: SiameseEmbedder(max_epochs=2, device="cuda", random_state=0),
        # class proxies in the loss, through the verifier
        lambda: SiameseVerifier(
            SiameseEmbedder(
                max_epochs=2, loss="cosface", device="cuda", random_state=0
            ),
            random_state=0,
        ),
    ],
    ids=["embedder", "verifier-cosface"],
)
def test_fit_on_gpu_unpickles_on_cpu_only_host(small_digits, tmp_path, make):
    X, y = small_digits
    emb = make().fit(X, y)
    embedder = getattr(emb, "embedder_", emb)
    assert embedder.device_ == "cuda"
    assert next(embedder.module_.parameters()).is_cuda
    path = tmp_path / "gpu_model.pkl"
    path.write_bytes(pickle.dumps(emb))
    np.save(tmp_path / "X.npy", np.asarray(X))
    exec(OUTPUT, globals())
    np.save(tmp_path / "Z.npy", output(emb, X))  # noqa: F821
    # GPU and CPU kernels round differently (TF32 on recent GPUs): seen up
    # to 1.5e-4 apart on embeddings of unit length
    code = f"""
import pickle, warnings, numpy as np, torch
assert not torch.cuda.is_available()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    emb = pickle.loads(open({str(path)!r}, "rb").read())
embedder = getattr(emb, "embedder_", emb)
assert embedder.device_ == "cpu", embedder.device_
{OUTPUT}
Z = output(emb, np.load({str(tmp_path / "X.npy")!r}))
np.testing.assert_allclose(Z, np.load({str(tmp_path / "Z.npy")!r}), atol=2e-3)
print("ok")
"""
    # the same interpreter and import path (an install may rely on
    # PYTHONPATH), with no GPU visible
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")


def test_safe_model_file_of_a_gpu_fit_loads_on_cpu_only_host(small_digits, tmp_path):
    from sksiamese.persistence import save_model

    X, y = small_digits
    emb = SiameseEmbedder(max_epochs=2, device="cuda", random_state=0).fit(X, y)
    path = tmp_path / "gpu_model.zip"
    save_model(emb, path)
    np.save(tmp_path / "X.npy", np.asarray(X))
    np.save(tmp_path / "Z.npy", emb.transform(X))
    code = f"""
import numpy as np, torch
from sksiamese.persistence import load_model
assert not torch.cuda.is_available()
emb = load_model({str(path)!r})
assert emb.device_ == "cpu", emb.device_
Z = emb.transform(np.load({str(tmp_path / "X.npy")!r}))
np.testing.assert_allclose(Z, np.load({str(tmp_path / "Z.npy")!r}), atol=2e-3)
print("ok")
"""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")


class _LayerDtypes:
    """Records the dtype of the first convolution's output in training."""

    def __init__(self):
        self.dtypes = set()

    def attach(self, module):
        first = next(m for m in module.modules() if isinstance(m, torch.nn.Conv2d))
        first.register_forward_hook(self._record)

    def _record(self, layer, inputs, output):
        if layer.training and torch.is_grad_enabled():
            self.dtypes.add(output.dtype)


def _knn_accuracy(emb, X, y):
    from sklearn.neighbors import KNeighborsClassifier

    flat = emb.transform(X)
    knn = KNeighborsClassifier(1).fit(flat[::2], y[::2])
    return knn.score(flat[1::2], y[1::2])


@pytest.mark.parametrize(
    "precision, dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16)]
)
def test_mixed_precision_from_the_launcher(digits, monkeypatch, precision, dtype):
    from skorch.callbacks import Callback

    X, y = digits
    seen = _LayerDtypes()

    class Attach(Callback):
        def on_train_begin(self, net, **kwargs):
            seen.attach(net.module_)

    def fit(**params):
        return SiameseEmbedder(
            max_epochs=3, device="cuda", random_state=0, n_threads=2, **params
        ).fit(X, y)

    monkeypatch.delenv("ACCELERATE_MIXED_PRECISION", raising=False)
    full = fit()
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", precision)
    mixed = fit(callbacks=[Attach()])
    assert seen.dtypes == {dtype}  # the training steps ran under autocast
    # the weights, validation and transform stay float32
    assert {p.dtype for p in mixed.module_.parameters()} == {torch.float32}
    Z = mixed.transform(X)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
    assert np.isfinite(mixed.history_[:, "train_loss"]).all()
    assert "_session" not in mixed.net_.__dict__
    assert abs(_knn_accuracy(mixed, X, y) - _knn_accuracy(full, X, y)) <= 0.02
    restored = pickle.loads(pickle.dumps(mixed))
    np.testing.assert_array_equal(restored.transform(X), Z)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_two_nccl_ranks_in_mixed_precision(tmp_path):
    from test_distributed import launch, logs, wait

    codes = wait(
        launch("gpu", tmp_path, extra={"ACCELERATE_MIXED_PRECISION": "bf16"}),
        tmp_path,
        timeout=300,
    )
    assert codes == [0, 0], logs(tmp_path)
    r0, r1 = (np.load(tmp_path / f"rank{r}.npz") for r in range(2))
    assert str(r0["device"]) == "cuda:0" and str(r1["device"]) == "cuda:1"
    np.testing.assert_array_equal(r0["params"], r1["params"])
    assert float(r0["accuracy"]) > 0.9
