"""Tests that need a CUDA device; deselected by default (``-m gpu`` runs them)."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from sksiamese import SiameseEmbedder

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_fit_on_gpu_unpickles_on_cpu_only_host(small_digits, tmp_path):
    X, y = small_digits
    emb = SiameseEmbedder(max_epochs=2, device="cuda", random_state=0).fit(X, y)
    assert emb.device_ == "cuda"
    assert next(emb.module_.parameters()).is_cuda
    path = tmp_path / "gpu_model.pkl"
    path.write_bytes(pickle.dumps(emb))
    np.save(tmp_path / "X.npy", np.asarray(X))
    np.save(tmp_path / "Z.npy", emb.transform(X))
    code = f"""
import pickle, warnings, numpy as np, torch
assert not torch.cuda.is_available()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    emb = pickle.loads(open({str(path)!r}, "rb").read())
assert emb.device_ == "cpu", emb.device_
Z = emb.transform(np.load({str(tmp_path / "X.npy")!r}))
np.testing.assert_allclose(Z, np.load({str(tmp_path / "Z.npy")!r}), atol=1e-4)
print("ok")
"""
    env = {"CUDA_VISIBLE_DEVICES": "", "PATH": ""}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")
