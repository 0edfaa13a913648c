"""Bad calls and the errors they must raise: one table, one test.

Each entry of ``FAULTS`` is a :class:`Fault`: an ``id``, a ``call`` that makes
one bad call, the exception type ``error`` it must raise and ``words``, the
fragments its message must contain (compared case-insensitively). The
message must say what was wrong and what to do, so pick fragments that show
both, copied from the message the library gives.

To add a case, append a ``Fault`` to ``FAULTS``, in the section of the module
it concerns::

    Fault(
        "losses-negative-margin",
        lambda: TripletLoss(margin=-1),
        ValueError,
        ("TripletLoss", "margin >= 0", "margin=-1"),
    ),

``call`` takes no argument, or takes pytest fixtures by name (for instance
``lambda tmp_path: load_omniglot(tmp_path / "missing")``); they are looked up
when the case runs. Ids must be unique; ``pytest -k losses-negative-margin``
runs one case.
"""

import functools
import io
import zipfile
from typing import Any, NamedTuple

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler
from torch import nn

from sksiamese import (
    Gallery,
    SiameseEmbedder,
    SiameseVerifier,
    losses,
    metrics,
    mining,
    sampling,
)
from sksiamese import augment as aug
from sksiamese._monitor import (
    NonFiniteGuard,
    TrainingDivergedError,
    check_collapse,
    check_network_output,
)
from sksiamese.datasets import load_omniglot
from sksiamese.evaluation import RetrievalEvaluator, one_shot_evaluate, sample_episodes
from sksiamese.features import GaborFeatures
from sksiamese.networks import MLP, ConvNet, build_network
from sksiamese.persistence import load_model, save_model


class Fault(NamedTuple):
    """One bad call and the error it must raise."""

    id: str
    call: Any
    error: type
    words: tuple


# ---- data shared by the cases (small, fixed, never modified) ----------------

E = np.random.default_rng(0).normal(size=(20, 4))  # 5 classes of 4 embeddings
Y = np.repeat(np.arange(5), 4)
E_NAN = E.copy()
E_NAN[3, 1] = np.nan
E_INF = np.where(E > 1.5, np.inf, E)
EMB = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
LABELS = torch.tensor([0, 0, 1, 1, 2, 2])
IMAGES = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def gen():
    return torch.Generator().manual_seed(0)


def rng():
    return np.random.default_rng(0)


def png_bytes(size=16, noise=False):
    """A PNG of white paper, or of noise (which compresses poorly)."""
    if noise:
        pixels = np.random.default_rng(0).integers(0, 256, (size, size), np.uint8)
    else:
        pixels = np.full((size, size), 255, np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def text_file(path):
    path.write_text("not an archive")
    return path


def omniglot_folder(root, bad=None):
    """Two characters of two drawings; ``bad`` (bytes) replaces the last."""
    for i, name in enumerate(["a/c1/1_01.png", "a/c1/1_02.png", "a/c2/2_01.png"]):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = png_bytes()
        if bad is not None and i == 2:
            data = bad
        path.write_bytes(data)
    return root


def corrupted_zip(path):
    """A zip whose stored image fails its CRC check."""
    image = png_bytes()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("a/c1/1_01.png", image)
    raw = bytearray(path.read_bytes())
    raw[raw.find(image[20:60]) + 10] ^= 0xFF
    path.write_bytes(bytes(raw))
    return path


class Apply(nn.Module):
    """A network whose forward is ``fn(linear, x)``."""

    def __init__(self, fn, n_features=4):
        super().__init__()
        self.linear = nn.Linear(n_features, 3)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.linear, x)


def diverging_fit():
    """A fit whose network returns NaN from its third training batch on."""
    from skorch import NeuralNet

    class LateNaN(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 1)
            self.calls = 0

        def forward(self, x):
            self.calls += self.training
            return self.linear(x) * (float("nan") if self.calls >= 3 else 1.0)

    torch.manual_seed(0)
    net = NeuralNet(
        LateNaN,
        nn.MSELoss,
        lr=0.05,
        max_epochs=2,
        batch_size=4,
        train_split=None,
        callbacks=[NonFiniteGuard()],
        verbose=0,
    )
    net.fit(torch.zeros(16, 2), torch.zeros(16, 1))  # 4 batches an epoch


FAULTS = [
    # ---- sksiamese.metrics ----------------------------------------------------
    Fault(
        "metrics-1d-embeddings",
        lambda: metrics.precision_at_1(E[:, 0], Y),
        ValueError,
        ("must be a 2-d array of embeddings", "(20,)", "reshape(1, -1)"),
    ),
    Fault(
        "metrics-3d-embeddings",
        lambda: metrics.precision_at_1(E[:, :, None], Y),
        ValueError,
        ("must be a 2-d array of embeddings", "(20, 4, 1)"),
    ),
    Fault(
        "metrics-nan-embeddings",
        lambda: metrics.precision_at_1(E_NAN, Y),
        ValueError,
        ("query_embeddings", "NaN"),
    ),
    Fault(
        "metrics-inf-embeddings",
        lambda: metrics.mean_average_precision_at_r(E_INF, Y),
        ValueError,
        ("query_embeddings", "nan or infinite", "must be finite"),
    ),
    Fault(
        "metrics-nan-gallery",
        lambda: metrics.precision_at_1(E, Y, E_NAN, Y),
        ValueError,
        ("gallery_embeddings", "NaN"),
    ),
    Fault(
        "metrics-label-length",
        lambda: metrics.precision_at_1(E, Y[:-1]),
        ValueError,
        ("query_labels has 19 entries", "20 samples", "same length"),
    ),
    Fault(
        "metrics-gallery-label-length",
        lambda: metrics.recall_at_k(E, Y, E, Y[:5], k=2),
        ValueError,
        ("gallery_labels has 5 entries", "20 samples"),
    ),
    Fault(
        "metrics-2d-labels",
        lambda: metrics.precision_at_1(E, np.stack([Y, Y], 1)),
        ValueError,
        ("query_labels must be 1-d", "(20, 2)"),
    ),
    Fault(
        "metrics-nan-labels",
        lambda: metrics.precision_at_1(E, np.where(Y == 1, np.nan, Y)),
        ValueError,
        ("query_labels holds missing labels", "give them one"),
    ),
    Fault(
        "metrics-k-zero",
        lambda: metrics.precision_at_k(E, Y, k=0),
        ValueError,
        ("k must be a positive integer", "got 0"),
    ),
    Fault(
        "metrics-k-float",
        lambda: metrics.hit_rate_at_k(E, Y, k=2.0),
        ValueError,
        ("k must be a positive integer", "2.0"),
    ),
    Fault(
        "metrics-k-larger-than-gallery",
        lambda: metrics.precision_at_k(E, Y, k=50),
        ValueError,
        ("k=50 is larger than the 19 gallery items",),
    ),
    Fault(
        "metrics-unknown-metric",
        lambda: metrics.precision_at_1(E, Y, metric="manhattan"),
        ValueError,
        ("metric must be one of", "euclidean", "cosine", "manhattan"),
    ),
    Fault(
        "metrics-unknown-backend",
        lambda: metrics.precision_at_1(E, Y, backend="annoy"),
        ValueError,
        ("backend must be one of", "brute", "faiss", "annoy"),
    ),
    Fault(
        "metrics-chunk-size-zero",
        lambda: metrics.precision_at_1(E, Y, chunk_size=0),
        ValueError,
        ("chunk_size must be a positive integer",),
    ),
    Fault(
        "metrics-gallery-width",
        lambda: metrics.precision_at_1(E, Y, E[:, :3], Y),
        ValueError,
        ("query_embeddings have 4 features", "gallery_embeddings have 3"),
    ),
    Fault(
        "metrics-gallery-labels-alone",
        lambda: metrics.precision_at_1(E, Y, None, Y),
        ValueError,
        ("gallery_labels given without gallery_embeddings",),
    ),
    Fault(
        "metrics-gallery-without-labels",
        lambda: metrics.precision_at_1(E, Y, E, None),
        ValueError,
        ("gallery_labels is required",),
    ),
    Fault(
        "metrics-gallery-includes-query",
        lambda: metrics.precision_at_1(E, Y, E[::-1], Y, gallery_includes_query=True),
        ValueError,
        ("gallery_includes_query=True requires", "equal the queries"),
    ),
    Fault(
        "metrics-empty",
        lambda: metrics.precision_at_1(E[:0], Y[:0]),
        ValueError,
        ("0 sample(s)", "minimum of 1"),
    ),
    Fault(
        "metrics-kneighbors-zero",
        lambda: metrics.kneighbors(E, n_neighbors=0),
        ValueError,
        ("n_neighbors must be a positive integer",),
    ),
    Fault(
        "metrics-kneighbors-too-many",
        lambda: metrics.kneighbors(E, n_neighbors=50),
        ValueError,
        ("n_neighbors=50 is larger than the 19 gallery items",),
    ),
    Fault(
        "metrics-eer-lengths",
        lambda: metrics.equal_error_rate([0, 1, 1], [0.1, 0.2]),
        ValueError,
        ("scores must be 1-dimensional with 3 entries", "(2,)"),
    ),
    Fault(
        "metrics-eer-one-kind",
        lambda: metrics.equal_error_rate([1, 1, 1], [0.1, 0.2, 0.3]),
        ValueError,
        ("must contain both same (1) and different (0)", "only same"),
    ),
    Fault(
        "metrics-eer-not-binary",
        lambda: metrics.equal_error_rate([0, 2, 1], [0.1, 0.2, 0.3]),
        ValueError,
        ("same must hold 1 (or true) for same", "[0, 1, 2]"),
    ),
    Fault(
        "metrics-eer-nan-scores",
        lambda: metrics.equal_error_rate([0, 1, 1], [0.1, np.nan, 0.3]),
        ValueError,
        ("NaN",),
    ),
    # ---- sksiamese.evaluation -------------------------------------------------
    Fault(
        "evaluation-n-way-above-classes",
        lambda: one_shot_evaluate(E, Y, n_way=10),
        ValueError,
        ("n_way=10", "only 5 classes"),
    ),
    Fault(
        "evaluation-k-shot-too-large",
        lambda: one_shot_evaluate(E, Y, n_way=5, k_shot=4),
        ValueError,
        ("fewer than 5 samples (k_shot + n_queries)", "lower k_shot/n_queries"),
    ),
    Fault(
        "evaluation-n-way-zero",
        lambda: one_shot_evaluate(E, Y, n_way=0),
        ValueError,
        ("n_way must be a positive integer",),
    ),
    Fault(
        "evaluation-n-queries-zero",
        lambda: one_shot_evaluate(E, Y, n_way=5, n_queries=0),
        ValueError,
        ("n_queries must be a positive integer",),
    ),
    Fault(
        "evaluation-n-episodes-zero",
        lambda: one_shot_evaluate(E, Y, n_way=5, n_episodes=0),
        ValueError,
        ("n_episodes must be a positive integer",),
    ),
    Fault(
        "evaluation-nan-embeddings",
        lambda: one_shot_evaluate(E_NAN, Y, n_way=5),
        ValueError,
        ("embeddings", "NaN"),
    ),
    Fault(
        "evaluation-label-length",
        lambda: one_shot_evaluate(E, Y[:-1], n_way=5),
        ValueError,
        ("y has 19 entries", "20 samples"),
    ),
    Fault(
        "evaluation-episodes-n-way",
        lambda: sample_episodes(Y, n_way=6),
        ValueError,
        ("n_way=6", "only 5 classes"),
    ),
    Fault(
        "evaluation-evaluator-k-zero",
        lambda: RetrievalEvaluator(k=0).fit(E, Y),
        ValueError,
        ("'k' parameter of RetrievalEvaluator", "range [1, inf)", "Got 0"),
    ),
    Fault(
        "evaluation-evaluator-k-too-large",
        lambda: RetrievalEvaluator(k=50).fit(E, Y).evaluate(),
        ValueError,
        ("k=50 is larger than the 19 gallery items",),
    ),
    Fault(
        "evaluation-evaluator-scoring",
        lambda: RetrievalEvaluator(scoring="accuracy").fit(E, Y),
        ValueError,
        ("'scoring' parameter of RetrievalEvaluator", "map_at_r", "'accuracy'"),
    ),
    Fault(
        "evaluation-evaluator-width",
        lambda: RetrievalEvaluator().fit(E, Y).score(E[:, :3], Y),
        ValueError,
        ("X has 3 features", "expecting 4 features"),
    ),
    Fault(
        "evaluation-evaluator-label-length",
        lambda: RetrievalEvaluator().fit(E, Y).score(E[:5], Y),
        ValueError,
        ("y has 20 entries but there are 5 samples",),
    ),
    Fault(
        "evaluation-evaluator-y-without-X",
        lambda: RetrievalEvaluator().fit(E, Y).evaluate(None, Y),
        ValueError,
        ("y was given without X",),
    ),
    Fault(
        "evaluation-evaluator-neighbours",
        lambda: RetrievalEvaluator(k=50).fit(E, Y).predict(E),
        ValueError,
        ("n_neighbors=50 is larger than the 20 gallery items",),
    ),
    # ---- sksiamese.augment ----------------------------------------------------
    Fault(
        "augment-negative-degrees",
        lambda: aug.RandomAffine(degrees=-5)(IMAGES, gen()),
        ValueError,
        ("degrees must be >= 0", "got -5"),
    ),
    Fault(
        "augment-nan-degrees",
        lambda: aug.RandomAffine(degrees=float("nan"))(IMAGES, gen()),
        ValueError,
        ("degrees must be >= 0 and finite", "got nan"),
    ),
    Fault(
        "augment-reversed-range",
        lambda: aug.RandomAffine(degrees=(10, 5))(IMAGES, gen()),
        ValueError,
        ("degrees must be a number >= 0 or a (low, high) pair", "low <= high"),
    ),
    Fault(
        "augment-range-of-text",
        lambda: aug.RandomAffine(translate="0.1")(IMAGES, gen()),
        ValueError,
        ("translate must be a number >= 0 or a (low, high) pair", "'0.1'"),
    ),
    Fault(
        "augment-scale-below-zero",
        lambda: aug.RandomAffine(scale=2)(IMAGES, gen()),
        ValueError,
        ("scale=2 means the range (-1, 3)", "below 0", "at most 1"),
    ),
    Fault(
        "augment-affine-probability",
        lambda: aug.RandomAffine(p=2)(IMAGES, gen()),
        ValueError,
        ("p must be a probability, in [0, 1]", "got 2"),
    ),
    Fault(
        "augment-flip-probability",
        lambda: aug.RandomFlip(p=1.5)(IMAGES, gen()),
        ValueError,
        ("p must be a probability", "1.5"),
    ),
    Fault(
        "augment-crop-scale",
        lambda: aug.RandomResizedCrop(scale=(0.5, 1.5))(IMAGES, gen()),
        ValueError,
        ("scale=(0.5, 1.5) must lie in (0, 1]", "cropped fraction"),
    ),
    Fault(
        "augment-crop-ratio",
        lambda: aug.RandomResizedCrop(ratio=(2, 1))(IMAGES, gen()),
        ValueError,
        ("ratio must be", "low <= high", "(2, 1)"),
    ),
    Fault(
        "augment-erase-probability",
        lambda: aug.RandomErasing(p=2)(IMAGES, gen()),
        ValueError,
        ("p must be a probability",),
    ),
    Fault(
        "augment-erase-scale",
        lambda: aug.RandomErasing(scale=(0.2, 1.5))(IMAGES, gen()),
        ValueError,
        ("scale=(0.2, 1.5) must lie in [0, 1]", "erased fraction"),
    ),
    Fault(
        "augment-erase-value",
        lambda: aug.RandomErasing(value="max")(IMAGES, gen()),
        ValueError,
        ("value must be a number or 'mean'", "'max'"),
    ),
    Fault(
        "augment-lighting-gain",
        lambda: aug.RandomLighting(gain=2)(IMAGES, gen()),
        ValueError,
        ("gain=2 must lie in [0, 1]", "brightness factor"),
    ),
    Fault(
        "augment-lighting-negative-slope",
        lambda: aug.RandomLighting(slope=-1)(IMAGES, gen()),
        ValueError,
        ("slope must be a number >= 0", "got -1"),
    ),
    Fault(
        "augment-lighting-intensities",
        lambda: aug.RandomLighting()(IMAGES * 255, gen()),
        ValueError,
        ("intensities in [0, 1]", "divide by 255"),
    ),
    Fault(
        "augment-3d-batch",
        lambda: aug.RandomAffine()(IMAGES[0], gen()),
        ValueError,
        ("(n, channels, height, width)", "[1, 8, 8]"),
    ),
    Fault(
        "augment-5d-batch",
        lambda: aug.RandomErasing()(IMAGES[None], gen()),
        ValueError,
        ("(n, channels, height, width)", "[1, 2, 1, 8, 8]"),
    ),
    Fault(
        "augment-numpy-batch",
        lambda: aug.RandomFlip()(IMAGES.numpy(), gen()),
        ValueError,
        ("take a tensor of shape (n, channels, height, width)",),
    ),
    Fault(
        "augment-integer-batch",
        lambda: aug.RandomAffine()(IMAGES.mul(255).to(torch.uint8), gen()),
        ValueError,
        ("floating-point tensor", "torch.uint8", "batch.float() / 255"),
    ),
    Fault(
        "augment-seed-for-generator",
        lambda: aug.RandomAffine()(IMAGES, 0),
        ValueError,
        ("torch.Generator", "manual_seed(seed)", "generator=0"),
    ),
    Fault(
        "augment-unknown-name",
        lambda: aug.make_augment("rotate"),
        ValueError,
        ("Unknown augment 'rotate'", "affine", "a callable augment(batch, generator)"),
    ),
    Fault(
        "augment-not-callable",
        lambda: aug.make_augment(3),
        ValueError,
        ("augment must be None, a name or a callable", "got 3"),
    ),
    Fault(
        "augment-compose-item",
        lambda: aug.Compose([aug.RandomFlip(), 3])(IMAGES, gen()),
        ValueError,
        ("transforms[1] is 3", "cannot be called"),
    ),
    Fault(
        "augment-compose-not-a-list",
        lambda: aug.Compose(aug.RandomFlip())(IMAGES, gen()),
        ValueError,
        ("Compose takes a list of augmentations", "Compose([aug1, aug2])"),
    ),
    # ---- sksiamese.losses and sksiamese.mining --------------------------------
    Fault(
        "losses-triplet-negative-margin",
        lambda: losses.TripletLoss(margin=-1),
        ValueError,
        ("TripletLoss needs margin >= 0", "margin=-1"),
    ),
    Fault(
        "losses-make-negative-margin",
        lambda: losses.make_loss("contrastive", margin=-0.5),
        ValueError,
        ("ContrastiveLoss needs margin >= 0", "margin=-0.5"),
    ),
    Fault(
        "losses-binary-scale",
        lambda: losses.BinaryPairLoss(scale=0),
        ValueError,
        ("BinaryPairLoss needs scale > 0",),
    ),
    Fault(
        "losses-multi-similarity-alpha",
        lambda: losses.MultiSimilarityLoss(alpha=0),
        ValueError,
        ("MultiSimilarityLoss needs alpha > 0", "alpha=0"),
    ),
    Fault(
        "losses-cosface-scale",
        lambda: losses.CosFaceLoss(3, 3, scale=0),
        ValueError,
        ("CosFaceLoss needs scale > 0",),
    ),
    Fault(
        "losses-cosface-one-class",
        lambda: losses.CosFaceLoss(1, 3),
        ValueError,
        ("CosFaceLoss needs n_classes >= 2", "got 1"),
    ),
    Fault(
        "losses-cosface-width",
        lambda: losses.CosFaceLoss(3, 4)(EMB, LABELS),
        ValueError,
        ("proxies of width 4", "embeddings have width 3", "embedding_dim=3"),
    ),
    Fault(
        "losses-cosface-label",
        lambda: losses.CosFaceLoss(2, 3)(EMB, LABELS),
        ValueError,
        ("2 class proxies, but a label is 2", "more classes"),
    ),
    Fault(
        "losses-triplet-reduction",
        lambda: losses.TripletLoss(reduction="sum")(EMB, LABELS),
        ValueError,
        ("reduction='mean' or 'nonzero'", "reduction='sum'"),
    ),
    Fault(
        "losses-triplet-pair-tuple",
        lambda: losses.TripletLoss()(EMB, LABELS, mining.all_pairs(LABELS)),
        ValueError,
        ("(anchor, positive, negative) index tuples", "tuple of 4 arrays"),
    ),
    Fault(
        "losses-contrastive-two-arrays",
        lambda: losses.ContrastiveLoss()(EMB, LABELS, (LABELS, LABELS)),
        ValueError,
        ("(a1, p, a2, n) or (a, p, n) index tuples", "tuple of 2 arrays"),
    ),
    Fault(
        "losses-unequal-tuple-arrays",
        lambda: losses.TripletLoss()(
            EMB, LABELS, (torch.tensor([0, 1]), torch.tensor([1]), torch.tensor([2]))
        ),
        ValueError,
        ("different lengths [2, 1, 1]", "one index per array"),
    ),
    Fault(
        "losses-label-count",
        lambda: losses.ContrastiveLoss()(EMB, LABELS[:4]),
        ValueError,
        ("one label per embedding", "(4,) for 6 embeddings"),
    ),
    Fault(
        "losses-1d-embeddings",
        lambda: losses.MultiSimilarityLoss()(EMB[:, 0], LABELS),
        ValueError,
        ("(batch_size, embedding_dim)", "[6]"),
    ),
    Fault(
        "losses-unknown-name",
        lambda: losses.make_loss("arcface"),
        ValueError,
        ("Unknown loss 'arcface'", "triplet", "or pass a loss module"),
    ),
    Fault(
        "losses-not-a-module",
        lambda: losses.make_loss(3),
        ValueError,
        ("loss must be a name or a torch.nn.Module", "got 3"),
    ),
    Fault(
        "losses-proxies-need-sizes",
        lambda: losses.make_loss("cosface"),
        ValueError,
        ("learns a proxy per class", "n_classes and embedding_dim"),
    ),
    Fault(
        "mining-label-count",
        lambda: mining.BatchHardMiner()(EMB, LABELS[:4]),
        ValueError,
        ("BatchHardMiner takes one label per embedding", "(4,) for 6"),
    ),
    Fault(
        "mining-1d-embeddings",
        lambda: mining.SemiHardMiner()(EMB[:, 0], LABELS),
        ValueError,
        ("SemiHardMiner takes embeddings of shape (batch_size, embedding_dim)",),
    ),
    # ---- sksiamese.networks ---------------------------------------------------
    Fault(
        "networks-unknown-name",
        lambda: build_network("vgg", (1, 8, 8), 8),
        ValueError,
        ("Unknown network 'vgg'", "conv", "a torch.nn.Module class or instance"),
    ),
    Fault(
        "networks-conv-on-rows",
        lambda: build_network("conv", (64,), 8),
        ValueError,
        ("needs images", "feature rows of shape (64,)", "input_shape=(height, width)"),
    ),
    Fault(
        "networks-conv-on-2d-shape",
        lambda: build_network("small_conv", (8, 8), 8),
        ValueError,
        ("(channels, height, width)", "input_shape=(8, 8)", "pass (1, height, width)"),
    ),
    Fault(
        "networks-images-too-small",
        lambda: build_network("small_conv", (1, 4, 4), 8),
        ValueError,
        ("4x4 pixels are too small", 'network="conv"'),
    ),
    Fault(
        "networks-zero-size",
        lambda: build_network("conv", (1, 0, 8), 4),
        ValueError,
        ("every size a positive int", "(1, 0, 8)"),
    ),
    Fault(
        "networks-embedding-dim-zero",
        lambda: build_network("mlp", (4,), 0),
        ValueError,
        ("embedding_dim must be a positive int", "got 0"),
    ),
    Fault(
        "networks-unknown-param",
        lambda: build_network("mlp", (4,), 2, {"hiddn": (8,)}),
        ValueError,
        ("network_params has 'hiddn'", "MLP does not take", "'hidden'"),
    ),
    Fault(
        "networks-params-for-instance",
        lambda: build_network(nn.Linear(4, 2), (4,), 2, {"bias": False}),
        ValueError,
        ("network_params cannot be applied to a network instance", "class"),
    ),
    Fault(
        "networks-not-a-network",
        lambda: build_network(3, (4,), 2),
        ValueError,
        ("network must be a name, a torch.nn.Module or a callable", "got 3"),
    ),
    Fault(
        "networks-factory-result",
        lambda: build_network(lambda input_shape, embedding_dim: 3, (4,), 2),
        ValueError,
        ("returned int, not a torch.nn.Module",),
    ),
    Fault(
        "networks-mlp-zero-width",
        lambda: MLP((4,), hidden=(16, 0)),
        ValueError,
        ("MLP needs hidden of positive ints", "(16, 0)"),
    ),
    Fault(
        "networks-conv-zero-channels",
        lambda: ConvNet((1, 8, 8), channels=(0,)),
        ValueError,
        ("ConvNet needs channels of positive ints", "(0,)"),
    ),
    Fault(
        "networks-linear-identity",
        lambda: build_network("linear", (4,), 2),
        ValueError,
        ("embedding_dim equal to the 4 input values", "network_params={'init'"),
    ),
    Fault(
        "networks-kernels-length",
        lambda: build_network("face_conv", (1, 16, 16), 4, {"kernels": (3,)}),
        ValueError,
        ("kernels=(3,) must have the same length",),
    ),
    Fault(
        "networks-dropout",
        lambda: build_network("mlp", (4,), 4, {"dropout": 1.5}),
        ValueError,
        ("dropout probability has to be between 0 and 1", "1.5"),
    ),
    # ---- sksiamese.sampling ---------------------------------------------------
    Fault(
        "sampling-one-class",
        lambda: sampling.sample_triplets(np.zeros(5, np.int64), rng()),
        ValueError,
        ("No triplet can be drawn", "1 class(es)", "at least 2 classes"),
    ),
    Fault(
        "sampling-singletons",
        lambda: sampling.sample_pairs(np.arange(5), rng()),
        ValueError,
        ("No pair can be drawn", "largest of 1 sample(s)"),
    ),
    Fault(
        "sampling-negative-codes",
        lambda: sampling.sample_pairs(np.array([-1, -1, 0, 0]), rng()),
        ValueError,
        ("negative code -1", "np.unique(y, return_inverse=True)[1]"),
    ),
    Fault(
        "sampling-missing-code",
        lambda: sampling.sample_triplets(np.array([0, 0, 5, 5]), rng()),
        ValueError,
        ("each of them used", "no sample has code 1"),
    ),
    Fault(
        "sampling-float-labels",
        lambda: sampling.sample_triplets(Y + 0.5, rng()),
        ValueError,
        ("integer class codes", "dtype float64"),
    ),
    Fault(
        "sampling-seed-for-generator",
        lambda: sampling.sample_triplets(Y, 0),
        ValueError,
        ("rng must be a numpy.random.Generator", "default_rng(seed)"),
    ),
    Fault(
        "sampling-negative-count",
        lambda: sampling.sample_triplets(Y, rng(), n_triplets=-1),
        ValueError,
        ("n_triplets must be an int >= 0 or None", "got -1"),
    ),
    Fault(
        "sampling-m-per-class",
        lambda: sampling.balanced_batches(Y, rng(), m_per_class=1),
        ValueError,
        ("m_per_class must be an int >= 2", "got 1"),
    ),
    Fault(
        "sampling-batch-size",
        lambda: sampling.balanced_batches(Y, rng(), batch_size=0),
        ValueError,
        ("batch_size must be an int >= 1", "got 0"),
    ),
    # ---- sksiamese.datasets ---------------------------------------------------
    Fault(
        "datasets-missing-folder",
        lambda tmp_path: load_omniglot(tmp_path / "omniglot"),
        ValueError,
        ("omniglot' does not exist", "pass the folder or the .zip file"),
    ),
    Fault(
        "datasets-not-an-archive",
        lambda tmp_path: load_omniglot(text_file(tmp_path / "a.zip")),
        ValueError,
        ("neither a directory nor a zip archive", "re-download"),
    ),
    Fault(
        "datasets-no-images",
        lambda tmp_path: load_omniglot(tmp_path),
        ValueError,
        ("No <alphabet>/<character>/<image>.png files were found",),
    ),
    Fault(
        "datasets-image-size-zero",
        lambda tmp_path: load_omniglot(omniglot_folder(tmp_path), image_size=0),
        ValueError,
        ("image_size must be None", "(height, width) pair of positive ints", "got 0"),
    ),
    Fault(
        "datasets-image-size-float",
        lambda tmp_path: load_omniglot(omniglot_folder(tmp_path), image_size=28.0),
        ValueError,
        ("image_size must be None", "positive int", "got 28.0"),
    ),
    Fault(
        "datasets-image-size-triple",
        lambda tmp_path: load_omniglot(omniglot_folder(tmp_path), image_size=(8, 8, 1)),
        ValueError,
        ("image_size must be None", "got (8, 8, 1)"),
    ),
    Fault(
        "datasets-truncated-file",
        lambda tmp_path: load_omniglot(
            omniglot_folder(tmp_path, png_bytes(64, noise=True)[:2000]), image_size=8
        ),
        ValueError,
        ("Cannot read the image file", "2_01.png", "truncated", "remove it"),
    ),
    Fault(
        "datasets-text-file",
        lambda tmp_path: load_omniglot(omniglot_folder(tmp_path, b"not an image")),
        ValueError,
        ("2_01.png", "PIL cannot identify an image", "re-download the data set"),
    ),
    Fault(
        "datasets-corrupted-member",
        lambda tmp_path: load_omniglot(corrupted_zip(tmp_path / "images.zip")),
        ValueError,
        ("'a/c1/1_01.png' in", "images.zip", "Bad CRC-32", "re-download"),
    ),
    Fault(
        "datasets-mixed-sizes",
        lambda tmp_path: load_omniglot(omniglot_folder(tmp_path, png_bytes(20))),
        ValueError,
        ("2_01.png is 20x20 pixels", "is 16x16", "pass image_size=(height, width)"),
    ),
    # ---- sksiamese.features ---------------------------------------------------
    Fault(
        "features-gabor-on-rows",
        lambda: GaborFeatures().fit(E),
        ValueError,
        ("GaborFeatures filters images", "feature rows of shape (4,)", "input_shape"),
    ),
    Fault(
        "features-gabor-pool",
        lambda: GaborFeatures(pool=20).fit(np.ones((3, 8, 8))),
        ValueError,
        ("pool=20 is larger than the images (8x8)", "lower pool"),
    ),
    Fault(
        "features-gabor-input-shape",
        lambda: GaborFeatures(input_shape=(5, 5)).fit(E),
        ValueError,
        ("input_shape=(5, 5) holds 25 values", "4 features"),
    ),
    Fault(
        "features-gabor-other-images",
        lambda: GaborFeatures().fit(np.ones((3, 8, 8))).transform(np.ones((3, 9, 9))),
        ValueError,
        ("shape (8, 8) in fit", "shape (9, 9) now", "fit again"),
    ),
    Fault(
        "features-gabor-channels-first",
        lambda: GaborFeatures().fit(np.ones((3, 1, 8, 8))),
        ValueError,
        ("looks channels-first", "np.moveaxis(X, 1, -1)"),
    ),
    Fault(
        "features-gabor-frequency",
        lambda: GaborFeatures(max_frequency=0.7).fit(np.ones((3, 8, 8))),
        ValueError,
        ("'max_frequency' parameter", "(0.0, 0.5]", "0.7"),
    ),
    # ---- sksiamese._monitor ---------------------------------------------------
    Fault(
        "monitor-diverged-fit",
        diverging_fit,
        TrainingDivergedError,
        ("epoch 1, batch 3 of the epoch", "training loss is nan", "Lower lr (now"),
    ),
    Fault(
        "monitor-collapse-nonfinite",
        lambda: check_collapse(E_NAN, lr=0.1),
        TrainingDivergedError,
        ("1 of 20 training samples hold NaN or inf", "Lower lr (now 0.1)"),
    ),
    Fault(
        "monitor-collapse-shape",
        lambda: check_collapse(E[:, :, None]),
        ValueError,
        ("(n_samples, n_features)", "(20, 4, 1)"),
    ),
    Fault(
        "monitor-network-first-layer",
        lambda: check_network_output(nn.Linear(3, 2), (4,)),
        ValueError,
        ("network Linear cannot take samples of shape (4,)", "must take 4 features"),
    ),
    Fault(
        "monitor-network-channels",
        lambda: check_network_output(nn.Conv2d(3, 2, 3), (1, 8, 8), name="conv"),
        ValueError,
        ("network conv cannot take samples of shape (1, 8, 8)", "1 channel of 8x8"),
    ),
    Fault(
        "monitor-network-1d-output",
        lambda: check_network_output(Apply(lambda f, x: f(x).sum(1)), (4,)),
        ValueError,
        ("returned shape (2,)", "(2, embedding_dim)"),
    ),
    Fault(
        "monitor-network-mixes-samples",
        lambda: check_network_output(Apply(lambda f, x: f(x).reshape(1, -1)), (4,)),
        ValueError,
        ("returned shape (1, 6) for a batch of 2 samples", "keep the first axis"),
    ),
    Fault(
        "monitor-network-integer-output",
        lambda: check_network_output(Apply(lambda f, x: f(x).argmax(1)[:, None]), (4,)),
        ValueError,
        ("dtype torch.int64", "must be floating point"),
    ),
    Fault(
        "monitor-network-nonfinite-output",
        lambda: check_network_output(Apply(lambda f, x: f(x) / 0.0), (4,)),
        ValueError,
        ("returned NaN or inf", "before any training"),
    ),
]


# ---- the estimators --------------------------------------------------------------


@functools.cache
def _digits():
    X, y = load_digits(return_X_y=True)
    return X[:200] / 16.0, y[:200]


def _embedder(**kw):
    return SiameseEmbedder(
        **{
            "max_epochs": 1,
            "embedding_dim": 4,
            "device": "cpu",
            "random_state": 0,
            **kw,
        }
    )


@functools.cache
def _fitted_embedder():
    return _embedder().fit(*_digits())


@functools.cache
def _fitted_verifier():
    return SiameseVerifier(_embedder(), random_state=0).fit(*_digits())


def _pairs(n=20):
    X, y = _digits()
    return np.stack([X[:n], X[n : 2 * n]], axis=1), (y[:n] == y[n : 2 * n]) | (
        np.arange(n) == 0
    )


def _with_labels(labels):
    X, _ = _digits()
    return X[: len(labels)], labels


ESTIMATOR_FAULTS = [
    Fault(
        "evaluation-transform-not-callable",
        lambda: one_shot_evaluate(E, Y, n_way=5, transform=3),
        ValueError,
        ("transform must be a fitted transformer", "got 3"),
    ),
    Fault(
        "metrics-query-class-without-support",
        lambda: metrics.one_shot_accuracy(E[:5], Y[:5], E[5:10], np.full(5, 9)),
        ValueError,
        ("classes with no support item (9)", "at least one support item"),
    ),
    Fault(
        "evaluator-nan-embeddings",
        lambda: RetrievalEvaluator().fit(E_NAN, Y),
        ValueError,
        ("x holds nan or infinite values", "check the embedder's training"),
    ),
    Fault(
        "embedder-y-none",
        lambda: _embedder().fit(_digits()[0], None),
        ValueError,
        ("needs class labels y", "fit_pairs"),
    ),
    Fault(
        "embedder-one-class",
        lambda: _embedder().fit(_digits()[0], np.zeros(200)),
        ValueError,
        ("one class only", "at least 2 classes"),
    ),
    Fault(
        "embedder-lonely-class",
        lambda: _embedder().fit(*_with_labels([0, 0, 1, 1, 2])),
        ValueError,
        ("class 2 has only 1 sample", "remove such classes or add samples"),
    ),
    Fault(
        "embedder-nan-label",
        lambda: _embedder().fit(*_with_labels([0, 0, 1, 1, np.nan])),
        ValueError,
        ("missing labels (nan or none) at positions [4]", "give them one"),
    ),
    Fault(
        "embedder-none-label",
        lambda: _embedder().fit(*_with_labels(["a", "a", "b", "b", None])),
        ValueError,
        ("missing labels (nan or none) at positions [4]",),
    ),
    Fault(
        "embedder-nan-samples",
        lambda: _embedder().fit(np.full((6, 4), np.nan), [0, 0, 0, 1, 1, 1]),
        ValueError,
        ("input x contains nan",),
    ),
    Fault(
        "embedder-channels-first",
        lambda: _embedder().fit(np.zeros((6, 3, 16, 16)), [0, 0, 0, 1, 1, 1]),
        ValueError,
        ("looks channels-first", "np.moveaxis(x, 1, -1)"),
    ),
    Fault(
        "embedder-5d",
        lambda: _embedder().fit(np.zeros((6, 2, 2, 2, 2)), [0, 0, 0, 1, 1, 1]),
        ValueError,
        ("must be 2-d", "4-d (n_samples, height, width, channels)"),
    ),
    Fault(
        "embedder-batch-smaller-than-two-classes",
        lambda: _embedder(batch_size=4).fit(*_digits()),
        ValueError,
        ("batch_size=4 cannot hold two classes", "at least 8"),
    ),
    Fault(
        "embedder-negative-margin",
        lambda: _embedder(margin=-1.0).fit(*_digits()),
        ValueError,
        ("'margin' parameter", "got -1.0"),
    ),
    Fault(
        "embedder-transform-unfitted",
        lambda: _embedder().transform(_digits()[0]),
        NotFittedError,
        ("not fitted yet", "call 'fit'"),
    ),
    Fault(
        "embedder-transform-other-width",
        lambda: _fitted_embedder().transform(_digits()[0][:, :10]),
        ValueError,
        ("x has 10 features", "expecting 64 features", "pass data laid out as in fit"),
    ),
    Fault(
        "embedder-augment-feature-rows",
        lambda: _embedder(augment="flip").fit(*_digits()),
        ValueError,
        ("distorts images", "set augment=none"),
    ),
    Fault(
        "embedder-fit-pairs-triplet",
        lambda: _embedder(loss="triplet").fit_pairs(*_pairs()),
        ValueError,
        ("triplet loss cannot use", "loss='contrastive'"),
    ),
    Fault(
        "embedder-fit-pairs-default-loss",
        lambda: _embedder().fit_pairs(*_pairs()),
        ValueError,
        ("multi-similarity loss", "loss='contrastive' or 'binary'"),
    ),
    Fault(
        "embedder-fit-pairs-not-pairs",
        lambda: _embedder(loss="contrastive").fit_pairs(_digits()[0], _digits()[1]),
        ValueError,
        ("pairs must be an array of shape (n_pairs, 2, ...)", "np.stack([a, b]"),
    ),
    Fault(
        "embedder-fit-pairs-labels-not-flags",
        lambda: _embedder(loss="contrastive").fit_pairs(_pairs()[0], np.arange(20)),
        ValueError,
        ("same must hold 1 (or true)", "for class labels, pass them as y"),
    ),
    Fault(
        "embedder-warm-start-other-shape",
        lambda: (
            _embedder(warm_start=True)
            .fit(*_digits())
            .fit(_digits()[0][:, :16], _digits()[1])
        ),
        ValueError,
        ("set warm_start=false", "expecting 64 features"),
    ),
    Fault(
        "embedder-network-wrong-width",
        lambda: _embedder(
            network=lambda input_shape, embedding_dim: nn.Linear(9, 4)
        ).fit(*_digits()),
        ValueError,
        ("cannot take samples of shape (64,)",),
    ),
    Fault(
        "embedder-network-one-row",
        lambda: _embedder(
            network=lambda input_shape, embedding_dim: Apply(lambda f, x: f(x)[:1], 64)
        ).fit(*_digits()),
        ValueError,
        ("2 samples", "returned"),
    ),
    Fault(
        "verifier-y-none",
        lambda: SiameseVerifier(_embedder()).fit(_digits()[0], None),
        ValueError,
        ("requires y to be passed", "fit_pairs(pairs, same)"),
    ),
    Fault(
        "verifier-predict-on-samples",
        lambda: _fitted_verifier().predict(_digits()[0]),
        ValueError,
        (
            "pairs must be an array of shape (n_pairs, 2, 64)",
            "np.stack([a, b], axis=1)",
        ),
    ),
    Fault(
        "verifier-pairs-of-other-samples",
        lambda: _fitted_verifier().predict_proba(_pairs()[0][..., :10]),
        ValueError,
        ("samples of shape (10,)", "fitted on samples of shape (64,)"),
    ),
    Fault(
        "verifier-score-on-pairs",
        lambda: _fitted_verifier().score(*_pairs()),
        ValueError,
        ("x looks like pairs", "class-labelled samples"),
    ),
    Fault(
        "verifier-head-without-binary-loss",
        lambda: SiameseVerifier(_embedder(), calibration="head").fit(*_digits()),
        ValueError,
        ("calibration='head'", "loss='binary'"),
    ),
    Fault(
        "verifier-too-many-folds",
        lambda: SiameseVerifier(_embedder(), calibration_cv=6).fit(*_digits()),
        ValueError,
        ("calibration_cv=6 needs at least 12 classes", "lower calibration_cv"),
    ),
    Fault(
        "verifier-unfitted",
        lambda: SiameseVerifier().predict(_pairs()[0]),
        NotFittedError,
        ("not fitted yet",),
    ),
    Fault(
        "verifier-fit-pairs-without-fit-pairs",
        lambda: SiameseVerifier(StandardScaler()).fit_pairs(*_pairs()),
        ValueError,
        ("no fit_pairs method", "use a siameseembedder"),
    ),
    Fault(
        "verifier-calibrates-on-a-failed-network",
        lambda: SiameseVerifier(
            _embedder(
                network=lambda input_shape, embedding_dim: Apply(
                    lambda f, x: f(x) * 0, 64
                ),
                normalize=False,
            )
        ).fit(*_digits()),
        ValueError,
        ("collapsed", "lower the embedder's lr"),
    ),
    Fault(
        "gallery-identify-before-enrolment",
        lambda: Gallery(_fitted_verifier()).identify(_digits()[0]),
        NotFittedError,
        ("no enrolled samples yet", "enroll(x, y)"),
    ),
    Fault(
        "persistence-pickle-file",
        lambda tmp_path: load_model(_pickle_to(tmp_path)),
        ValueError,
        ("not a model file", "loading a pickle runs the code it holds"),
    ),
    Fault(
        "persistence-user-network",
        lambda tmp_path: save_model(_embedder(network=MLP), tmp_path / "m.zip"),
        ValueError,
        ("parameter network", "not plain data", "use names for the network"),
    ),
]


def _pickle_to(tmp_path):
    import pickle

    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(_fitted_embedder()))
    return path


FAULTS += ESTIMATOR_FAULTS


def test_fault_ids_are_unique():
    ids = [fault.id for fault in FAULTS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.id for fault in FAULTS])
def test_fault(fault, request):
    import inspect

    names = inspect.signature(fault.call).parameters
    kwargs = {name: request.getfixturevalue(name) for name in names}
    with pytest.raises(fault.error) as info:
        fault.call(**kwargs)
    message = str(info.value).lower()
    missing = [word for word in fault.words if word.lower() not in message]
    assert not missing, f"{missing} not in the message: {info.value}"
