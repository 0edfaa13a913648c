import numpy as np
import pytest
import torch

from sksiamese import SiameseEmbedder, SiameseVerifier
from sksiamese.augment import (
    Compose,
    RandomAffine,
    RandomErasing,
    RandomFlip,
    RandomLighting,
    RandomResizedCrop,
    make_augment,
    training_augment,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def dot(h=9, w=9, row=4, col=6):
    batch = torch.zeros(1, 1, h, w)
    batch[0, 0, row, col] = 1.0
    return batch


def peak(batch):
    return divmod(int(batch[0, 0].argmax()), batch.shape[3])


def test_affine_identity():
    batch = torch.rand(5, 3, 12, 10, generator=gen())
    out = RandomAffine(degrees=0, translate=0, scale=0, shear=0)(batch, gen())
    assert torch.allclose(out, batch, atol=1e-6)


def test_affine_quarter_turn_is_exact_on_a_square_image():
    batch = torch.rand(2, 1, 7, 7, generator=gen())
    out = RandomAffine(degrees=(90, 90), translate=0, scale=0)(batch, gen())
    # a dot to the right of the centre goes below it (image rows grow down)
    assert torch.allclose(out, torch.rot90(batch, -1, dims=(2, 3)), atol=1e-5)


def test_affine_rotation_keeps_pixel_distances_on_wide_images():
    out = RandomAffine(degrees=(90, 90), translate=0, scale=0)(
        dot(21, 41, 10, 30), gen()
    )
    assert peak(out) == (20, 20)  # 10 pixels right of centre -> 10 below


def test_affine_translation_and_scale_in_pixels():
    shift = RandomAffine(degrees=0, translate=(0.25, 0.25), scale=0)
    assert peak(shift(dot(8, 8, 3, 3), gen())) == (5, 5)  # 0.25 * 8 = 2 px
    zoom = RandomAffine(degrees=0, translate=0, scale=(2.0, 2.0))
    assert peak(zoom(dot(21, 41, 10, 30), gen())) == (10, 40)


def test_affine_draws_per_image_and_follows_the_generator():
    batch = torch.rand(1, 1, 16, 16, generator=gen()).repeat(6, 1, 1, 1)
    aug = RandomAffine(degrees=15, translate=0.1, scale=0.1, shear=10)
    a, b, c = aug(batch, gen(1)), aug(batch, gen(1)), aug(batch, gen(2))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.allclose(a[0], a[1])  # each image its own draw


def test_affine_p_zero_is_identity():
    batch = torch.rand(4, 1, 10, 10, generator=gen())
    out = RandomAffine(degrees=30, translate=0.2, p=0.0)(batch, gen())
    assert torch.allclose(out, batch, atol=1e-6)


def test_flip():
    batch = torch.rand(3, 2, 5, 6, generator=gen())
    assert torch.equal(RandomFlip(p=1.0)(batch, gen()), batch.flip(3))
    assert torch.equal(RandomFlip(p=0.0)(batch, gen()), batch)
    both = RandomFlip(horizontal=True, vertical=True, p=1.0)(batch, gen())
    assert torch.equal(both, batch.flip(3).flip(2))
    mixed = RandomFlip(p=0.5)(torch.rand(64, 1, 2, 2, generator=gen()), gen())
    assert mixed.shape == (64, 1, 2, 2)


def test_crop_full_area_is_identity_and_small_crop_zooms():
    batch = torch.rand(3, 1, 16, 16, generator=gen())
    full = RandomResizedCrop(scale=(1.0, 1.0), ratio=(1.0, 1.0))
    assert torch.allclose(full(batch, gen()), batch, atol=1e-6)
    quarter = RandomResizedCrop(scale=(0.25, 0.25), ratio=(1.0, 1.0))
    out = quarter(dot(17, 17, 8, 8), gen())
    assert out.shape == (1, 1, 17, 17)
    assert (out > 0.1).sum() > 1  # one pixel became a blob


def test_erasing_blanks_one_rectangle_per_image():
    batch = torch.rand(50, 2, 12, 10) + 1.0  # no pixel is 0
    erase = RandomErasing(p=1.0, scale=(0.2, 0.2), ratio=(1.0, 1.0))
    out = erase(batch, gen())
    blank = out[:, 0] == 0
    assert torch.equal(blank, out[:, 1] == 0)  # the same place in all channels
    corners = set()
    for mask in blank:
        rows, cols = torch.nonzero(mask, as_tuple=True)
        height = int(rows.max() - rows.min()) + 1
        width = int(cols.max() - cols.min()) + 1
        assert height * width == int(mask.sum())  # one full rectangle
        assert abs(height * width - 0.2 * 120) <= 4  # a fifth of the area
        assert 0.7 <= (width / 10) / (height / 12) <= 1.4  # the image's shape
        corners.add((int(rows.min()), int(cols.min())))
    assert len(corners) > 10  # each image its own place
    assert torch.equal(out[~(out == 0)], batch[~(out == 0)])  # the rest kept
    assert torch.equal(erase(batch, gen()), out)  # seeded


def test_erasing_probability_and_mean_fill():
    batch = torch.rand(400, 3, 8, 8)
    assert torch.equal(RandomErasing(p=0.0)(batch, gen()), batch)
    out = RandomErasing(p=0.5)(batch, gen())
    changed = (out != batch).flatten(1).any(1).float().mean()
    assert 0.4 < float(changed) < 0.6
    out = RandomErasing(p=1.0, value="mean")(batch, gen())
    changed = out != batch
    mean = batch.mean(dim=(2, 3), keepdim=True).expand_as(batch)
    assert changed.any()
    torch.testing.assert_close(out[changed], mean[changed])


def test_lighting_without_any_range_is_the_identity():
    batch = torch.rand(3, 2, 5, 7, generator=gen())
    assert torch.equal(RandomLighting(gain=0, slope=0, gamma=0)(batch, gen()), batch)
    assert torch.equal(RandomLighting(p=0.0)(batch, gen()), batch)


def test_lighting_gain_scales_each_image_by_one_factor_in_range():
    batch = torch.rand(50, 1, 6, 5, generator=gen()) * 0.5
    out = RandomLighting(gain=0.3, slope=0, gamma=0)(batch, gen(1))
    ratio = out / batch
    factor = ratio.amin(dim=(1, 2, 3))
    torch.testing.assert_close(ratio, factor[:, None, None, None].expand_as(ratio))
    assert factor.min() >= 0.7 - 1e-6 and factor.max() <= 1.3 + 1e-6
    assert factor.max() - factor.min() > 0.3  # drawn per image


def test_lighting_slope_makes_light_change_linearly_across_the_image():
    batch = torch.full((20, 1, 5, 9), 0.5)
    out = RandomLighting(gain=0, slope=0.4, gamma=0)(batch, gen(2))
    field = out[:, 0] / 0.5
    # the field is 1 + a s + b t: its mean is 1 and it is a plane
    torch.testing.assert_close(field.mean(dim=(1, 2)), torch.ones(20))
    a = (field[:, :, -1] - field[:, :, 0]).mean(1) / 2  # s runs -1 .. 1
    b = (field[:, -1, :] - field[:, 0, :]).mean(1) / 2
    s = torch.linspace(-1, 1, 9)[None, None, :]
    t = torch.linspace(-1, 1, 5)[None, :, None]
    plane = 1 + a[:, None, None] * s + b[:, None, None] * t
    torch.testing.assert_close(field, plane)
    assert a.abs().max() <= 0.4 + 1e-6 and b.abs().max() <= 0.4 + 1e-6
    assert (a.abs() > 0.1).any() and (b.abs() > 0.1).any()


def test_lighting_gamma_keeps_order_ends_and_range():
    x = torch.linspace(0, 1, 11)
    batch = x.repeat(30, 1, 1, 1)  # (30, 1, 1, 11)
    out = RandomLighting(gain=0, slope=0, gamma=0.5)(batch, gen(3))
    assert torch.all(out[..., 1:] > out[..., :-1])  # monotone per image
    assert torch.all(out[..., 0] == 0) and torch.allclose(out[..., -1], torch.ones(1))
    exponent = torch.log(out[..., 5]) / np.log(0.5)  # x ** g at x = 0.5
    assert exponent.min() >= np.exp(-0.5) - 1e-5 and exponent.max() <= np.exp(0.5)
    assert exponent.min() < 0.9 and exponent.max() > 1.1
    # brighter light saturates at 1 and never goes below 0
    bright = RandomLighting(gain=1.0, slope=1.0, gamma=1.0)(
        torch.rand(40, 1, 8, 8), gen()
    )
    assert bright.min() >= 0 and bright.max() <= 1 and (bright == 1).any()


def test_lighting_follows_the_generator_and_refuses_other_ranges():
    batch = torch.rand(4, 1, 6, 6, generator=gen())
    light = RandomLighting()
    assert torch.equal(light(batch, gen(5)), light(batch, gen(5)))
    assert not torch.equal(light(batch, gen(5)), light(batch, gen(6)))
    with pytest.raises(ValueError, match=r"intensities in \[0, 1\].*divide by 255"):
        light(batch * 255, gen())
    with pytest.raises(ValueError, match="slope must be a number >= 0"):
        RandomLighting(slope=-0.1)(batch, gen())
    with pytest.raises(ValueError, match="gain=1.5 must lie in"):
        RandomLighting(gain=1.5)(batch, gen())


def test_compose_and_make_augment():
    aug = Compose([RandomFlip(p=1.0), RandomFlip(p=1.0)])
    batch = torch.rand(2, 1, 4, 4, generator=gen())
    assert torch.equal(aug(batch, gen()), batch)
    assert isinstance(make_augment("affine"), RandomAffine)
    assert isinstance(make_augment("crop"), RandomResizedCrop)
    assert isinstance(make_augment("erase"), RandomErasing)
    assert isinstance(make_augment("lighting"), RandomLighting)
    assert make_augment(None) is None
    assert make_augment(aug) is aug
    with pytest.raises(ValueError, match="Unknown augment"):
        make_augment("jitter")


@pytest.mark.parametrize(
    "aug, match",
    [
        (RandomAffine(degrees=-1), "degrees must be >= 0"),
        (RandomAffine(scale=(0.5, 0.2)), "scale"),
        (RandomResizedCrop(scale=(0.5, 1.5)), "must lie in"),
        (RandomErasing(scale=(0.2, 1.5)), "must lie in"),
        (RandomErasing(p=2.0), "a probability"),
        (RandomErasing(value="median"), "value must be"),
    ],
)
def test_bad_ranges_raise(aug, match):
    with pytest.raises(ValueError, match=match):
        aug(torch.zeros(1, 1, 4, 4), gen())


def test_bad_batch_raises():
    with pytest.raises(ValueError, match="channels, height"):
        RandomFlip()(torch.zeros(4, 4), gen())


# ---- in the estimators --------------------------------------------------------


class Recorder:
    """An augmentation that records the batches it sees."""

    def __init__(self):
        self.sizes, self.generators = [], []

    def __call__(self, batch, generator):
        self.sizes.append(len(batch))
        self.generators.append(generator)
        return batch + 0.01


def fast(**kw):
    params = dict(max_epochs=2, embedding_dim=8, device="cpu", random_state=0)
    params.update(kw)
    return SiameseEmbedder(**params)


def test_augment_reaches_training_batches_only(small_digits):
    X, y = small_digits
    rec = Recorder()
    emb = fast(augment=rec, validation_fraction=0.2, batch_size=40).fit(X, y)
    train = [b for row in emb.history_ for b in row["batches"] if "train_loss" in b]
    # one call per training batch, none for the validation batches
    assert len(rec.sizes) == len(train) > 0
    assert sum(rec.sizes) == sum(b["train_batch_size"] for b in train)
    assert all(isinstance(g, torch.Generator) for g in rec.generators)
    # a generator per batch, its seed drawn when the epoch is planned
    seeds = {g.initial_seed() for g in rec.generators}
    assert len(seeds) == len(rec.generators)
    seen = len(rec.sizes)
    emb.transform(X)
    assert len(rec.sizes) == seen  # transform is never augmented


def test_augment_is_seeded_and_changes_training(small_digits):
    X, y = small_digits
    a = fast(augment="affine").fit(X, y).transform(X)
    b = fast(augment="affine").fit(X, y).transform(X)
    c = fast(augment=None).fit(X, y).transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_auto_augments_images_and_not_rows(small_digits):
    X, y = small_digits
    rows = X.reshape(len(X), -1)
    assert training_augment("auto", (64,)) is None
    assert isinstance(training_augment("auto", (1, 8, 8)), RandomAffine)
    fast(max_epochs=1).fit(rows, y)  # "auto" on rows: nothing to do
    fast(max_epochs=1, augment="flip", input_shape=(8, 8)).fit(rows, y)
    with pytest.raises(ValueError, match="augment='affine' distorts images"):
        fast(augment="affine").fit(rows, y)


def test_bad_augment_parameter_is_named(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="augment"):
        fast(augment="jitter").fit(X, y)


def test_verifier_takes_augment(small_digits):
    X, y = small_digits
    rec = Recorder()
    embedder = SiameseEmbedder(
        max_epochs=1, embedding_dim=8, augment=rec, device="cpu", random_state=0
    )
    ver = SiameseVerifier(embedder, random_state=0).fit(X, y)
    assert ver.get_params()["embedder__augment"] is rec
    # the verifier trains a clone of its embedder, with a copy of the callable
    assert len(ver.embedder_.augment.sizes) > 0 and not rec.sizes


@pytest.mark.parametrize("shape", [(6, 8, 8), (6, 8, 8, 3)])
def test_augmented_batches_keep_the_layout_of_plain_batches(shape):
    # the convolution kernels a CPU picks depend on the strides; augmentation
    # must hand the network the same layout as unaugmented training
    from sksiamese._training import SampleSet

    X = np.random.default_rng(0).random(shape).astype(np.float32)
    codes = np.array([0, 0, 0, 1, 1, 1])
    net_shape = (shape[3] if len(shape) == 4 else 1, 8, 8)
    plain = SampleSet(X, codes, np.arange(6), net_shape, "batches", seed=0)
    augmented = SampleSet(X, codes, np.arange(6), net_shape, "batches", seed=0)
    augmented.set_augment(RandomAffine(), seed=0)
    local = np.arange(6)
    xb, _ = plain.fetch(local)
    xa, _ = augmented.fetch(local)
    assert xa.shape == xb.shape
    assert xa.stride() == xb.stride()
    assert not torch.equal(xa, xb)  # and it was distorted
