"""Random image distortions applied to training batches on the fly.

Every augmentation is called as ``aug(batch, generator)`` on a float tensor
of shape ``(n, channels, height, width)`` and returns a tensor of the same
shape; all its randomness comes from the ``torch.Generator`` it is given,
which the estimators seed from their ``random_state``. Each image of the
batch gets its own random draw. The estimators apply augmentation to the
training batches only, never to validation batches nor in ``transform``.

Examples
--------
>>> import torch
>>> from sksiamese.augment import Compose, RandomAffine, RandomFlip
>>> aug = Compose([RandomAffine(degrees=10, translate=0.1), RandomFlip()])
>>> batch = torch.rand(4, 1, 28, 28)
>>> out = aug(batch, torch.Generator().manual_seed(0))
>>> out.shape
torch.Size([4, 1, 28, 28])
>>> again = aug(batch, torch.Generator().manual_seed(0))
>>> bool(torch.equal(out, again))  # the same seed, the same distortions
True
"""

import math
import numbers

import torch
from torch.nn import functional as F

__all__ = [
    "RandomAffine",
    "RandomFlip",
    "RandomResizedCrop",
    "RandomErasing",
    "RandomLighting",
    "Compose",
    "AUGMENTATIONS",
    "make_augment",
]


def _uniform(n, low, high, generator):
    return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)


def _range(value, name, center=0.0, low=None):
    """``value`` as ``(low, high)``: a number ``v`` means ``center -/+ v``."""
    above = "" if low is None else f", both >= {low:g}"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise ValueError(
                f"{name} must be >= 0 and finite (a number v means the range "
                f"{center:g} -/+ v); got {value!r}."
            )
        lo, hi = center - value, center + value
        if low is not None and lo < low:
            raise ValueError(
                f"{name}={value!r} means the range ({lo:g}, {hi:g}), which goes "
                f"below {low:g}; pass a number of at most {center - low:g} or a "
                f"(low, high) pair{above}."
            )
        return float(lo), float(hi)
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        lo = hi = float("nan")
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise ValueError(
            f"{name} must be a number >= 0 or a (low, high) pair of numbers with "
            f"low <= high{above}; got {value!r}."
        )
    if low is not None and lo < low:
        raise ValueError(
            f"{name}={value!r} does not describe a valid range above {low:g}: "
            f"pass a (low, high) pair{above}."
        )
    return float(lo), float(hi)


def _check_probability(p, name="p"):
    if (
        not isinstance(p, numbers.Real)
        or isinstance(p, bool)
        or not 0.0 <= float(p) <= 1.0
    ):
        raise ValueError(f"{name} must be a probability, in [0, 1]; got {p!r}.")


def _check_batch(batch, generator=None):
    if not isinstance(batch, torch.Tensor) or batch.ndim != 4:
        raise ValueError(
            "augmentations take a tensor of shape (n, channels, height, "
            f"width); got {getattr(batch, 'shape', type(batch).__name__)}."
        )
    if not batch.is_floating_point():
        raise ValueError(
            "augmentations take a floating-point tensor of intensities; got "
            f"dtype {batch.dtype}. Convert it first, for 8-bit images with "
            "batch.float() / 255."
        )
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(
            "augmentations draw their randomness from a torch.Generator, "
            "called as aug(batch, torch.Generator().manual_seed(seed)); got "
            f"generator={generator!r}."
        )


def _warp(batch, theta):
    """Resample ``batch`` through per-image affine maps ``theta`` (n, 2, 3).

    ``theta`` maps output to input coordinates, normalised to ``[-1, 1]``
    as in :func:`torch.nn.functional.affine_grid`; pixels that fall outside
    repeat the border.
    """
    n, _, height, width = batch.shape
    theta = theta.to(device=batch.device, dtype=batch.dtype)[:, :, :, None, None]
    # pixel centres in normalised coordinates, as affine_grid(align_corners=
    # False) places them; broadcasting is several times faster than it
    x = (torch.arange(width, device=batch.device, dtype=batch.dtype) * 2 + 1) / width
    y = (torch.arange(height, device=batch.device, dtype=batch.dtype) * 2 + 1) / height
    x, y = (x - 1)[None, None, :], (y - 1)[None, :, None]
    grid = torch.stack(
        [theta[:, k, 0] * x + theta[:, k, 1] * y + theta[:, k, 2] for k in (0, 1)], -1
    )
    return F.grid_sample(
        batch, grid, mode="bilinear", padding_mode="border", align_corners=False
    )


class RandomAffine:
    """Random rotation, translation, scaling and shear of each image.

    The distortions with which Koch, Zemel and Salakhutdinov (2015) trained
    their Siamese network on Omniglot. Each image gets an angle, a shift, a
    zoom and a shear drawn uniformly from the ranges below; the image is
    resampled bilinearly and pixels that come from outside it repeat the
    border.

    Parameters
    ----------
    degrees : float or (float, float), default=10.0
        Rotation in degrees: ``d`` means uniform in ``[-d, d]``.
    translate : float or (float, float), default=0.1
        Shift as a fraction of the image width (horizontally) and height
        (vertically): ``t`` means uniform in ``[-t, t]``, for each axis.
    scale : float or (float, float), default=0.1
        Zoom factor: ``s`` means uniform in ``[1 - s, 1 + s]``.
    shear : float or (float, float), default=0.0
        Horizontal shear angle in degrees: ``s`` means uniform in
        ``[-s, s]``.
    p : float, default=1.0
        Probability that an image is distorted at all.

    Examples
    --------
    >>> import torch
    >>> batch = torch.zeros(2, 1, 9, 9)
    >>> batch[:, :, 4, 4] = 1.0
    >>> out = RandomAffine(degrees=0, translate=0, scale=0)(batch, torch.Generator())
    >>> bool(torch.allclose(out, batch, atol=1e-6))  # the identity
    True
    """

    def __init__(self, degrees=10.0, translate=0.1, scale=0.1, shear=0.0, p=1.0):
        self.degrees = degrees
        self.translate = translate
        self.scale = scale
        self.shear = shear
        self.p = p

    def __repr__(self):
        return (
            f"RandomAffine(degrees={self.degrees!r}, translate={self.translate!r}, "
            f"scale={self.scale!r}, shear={self.shear!r}, p={self.p!r})"
        )

    def _theta(self, n, height, width, generator):
        _check_probability(self.p)
        deg = _range(self.degrees, "degrees")
        shift = _range(self.translate, "translate")
        zoom = _range(self.scale, "scale", center=1.0, low=0.0)
        shear = _range(self.shear, "shear")
        angle = torch.deg2rad(_uniform(n, *deg, generator))
        skew = torch.tan(torch.deg2rad(_uniform(n, *shear, generator)))
        s = _uniform(n, *zoom, generator).clamp_min(1e-3)
        # shifts in normalised coordinates, where the image spans [-1, 1]
        t = torch.stack([_uniform(n, *shift, generator) for _ in range(2)], 1) * 2
        keep = torch.rand(n, generator=generator, dtype=torch.float64) >= self.p
        angle[keep], skew[keep], s[keep], t[keep] = 0.0, 0.0, 1.0, 0.0
        # forward map in pixel units: zoom, then shear, then rotate
        cos, sin = torch.cos(angle), torch.sin(angle)
        rot = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
        sh = torch.eye(2, dtype=torch.float64).repeat(n, 1, 1)
        sh[:, 0, 1] = skew
        fwd = rot @ sh * s[:, None, None]
        # the same map between normalised coordinates (x scaled by 2/width,
        # y by 2/height), so rotations stay rotations on non-square images
        aspect = torch.tensor([width, height], dtype=torch.float64)
        fwd = fwd * aspect[None, None, :] / aspect[None, :, None]
        inv = torch.linalg.inv(fwd)
        return torch.cat([inv, -(inv @ t[:, :, None])], 2)

    def __call__(self, batch, generator):
        """Distort each image of ``batch`` with a draw from ``generator``."""
        _check_batch(batch, generator)
        n, _, height, width = batch.shape
        return _warp(batch, self._theta(n, height, width, generator))


class RandomFlip:
    """Mirror images left-right and/or top-bottom at random.

    Parameters
    ----------
    horizontal : bool, default=True
        Whether images may be mirrored left-right.
    vertical : bool, default=False
        Whether images may be mirrored top-bottom.
    p : float, default=0.5
        Probability of each allowed flip, per image.

    Examples
    --------
    >>> import torch
    >>> batch = torch.arange(4.0).reshape(1, 1, 2, 2)
    >>> RandomFlip(p=1.0)(batch, torch.Generator())[0, 0].tolist()
    [[1.0, 0.0], [3.0, 2.0]]
    """

    def __init__(self, horizontal=True, vertical=False, p=0.5):
        self.horizontal = horizontal
        self.vertical = vertical
        self.p = p

    def __repr__(self):
        return (
            f"RandomFlip(horizontal={self.horizontal!r}, "
            f"vertical={self.vertical!r}, p={self.p!r})"
        )

    def __call__(self, batch, generator):
        """Flip a random subset of the images of ``batch``."""
        _check_batch(batch, generator)
        _check_probability(self.p)
        out = batch
        for allowed, dim in ((self.horizontal, 3), (self.vertical, 2)):
            if not allowed:
                continue
            flip = torch.rand(len(batch), generator=generator) < self.p
            flip = flip.to(batch.device)[:, None, None, None]
            out = torch.where(flip, out.flip(dim), out)
        return out


class RandomResizedCrop:
    """Crop a random part of each image and stretch it to the full size.

    As torchvision's ``RandomResizedCrop``, on a whole batch: each crop
    covers a fraction of the image area drawn uniformly from ``scale``, with
    an aspect ratio drawn log-uniformly from ``ratio``, at a uniformly
    random position inside the image.

    Parameters
    ----------
    scale : (float, float), default=(0.8, 1.0)
        Range of the cropped fraction of the area.
    ratio : (float, float), default=(3/4, 4/3)
        Range of the crop's width-to-height ratio, relative to the image's.

    Examples
    --------
    >>> import torch
    >>> batch = torch.rand(3, 1, 16, 16)
    >>> full = RandomResizedCrop(scale=(1.0, 1.0), ratio=(1.0, 1.0))
    >>> bool(torch.allclose(full(batch, torch.Generator()), batch, atol=1e-6))
    True
    """

    def __init__(self, scale=(0.8, 1.0), ratio=(3 / 4, 4 / 3)):
        self.scale = scale
        self.ratio = ratio

    def __repr__(self):
        return f"RandomResizedCrop(scale={self.scale!r}, ratio={self.ratio!r})"

    def __call__(self, batch, generator):
        """Crop and resize each image of ``batch``."""
        _check_batch(batch, generator)
        lo, hi = _range(self.scale, "scale", low=0.0)
        r_lo, r_hi = _range(self.ratio, "ratio", low=1e-6)
        if hi > 1.0 or lo <= 0.0:
            raise ValueError(
                f"scale={self.scale!r} must lie in (0, 1]: the cropped fraction "
                "of the image area, more than none and at most all of it."
            )
        n = len(batch)
        area = _uniform(n, lo, hi, generator)
        log_r = _uniform(n, math.log(r_lo), math.log(r_hi), generator)
        ratio = torch.exp(log_r)
        w = torch.sqrt(area * ratio).clamp(max=1.0)  # fractions of the side
        h = torch.sqrt(area / ratio).clamp(max=1.0)
        cx = _uniform(n, -1.0, 1.0, generator) * (1 - w)
        cy = _uniform(n, -1.0, 1.0, generator) * (1 - h)
        theta = torch.zeros(n, 2, 3, dtype=torch.float64)
        theta[:, 0, 0], theta[:, 0, 2] = w, cx
        theta[:, 1, 1], theta[:, 1, 2] = h, cy
        return _warp(batch, theta)


class RandomErasing:
    """Blank out a random rectangle of each image.

    As torchvision's ``RandomErasing`` (Zhong et al. 2020), on a whole
    batch: with probability ``p`` an image gets a rectangle whose area is a
    fraction of the image drawn uniformly from ``scale``, with a
    width-to-height ratio drawn log-uniformly from ``ratio`` (relative to
    the image's), at a uniformly random position inside the image; its
    pixels are replaced by ``value``. A network that must match images
    with a part hidden learns to rely on more than one part: for faces, more
    than the eyes, the glasses or the hair.

    Parameters
    ----------
    p : float, default=0.5
        Probability that an image is erased at all.
    scale : (float, float), default=(0.02, 0.33)
        Range of the erased fraction of the image area.
    ratio : (float, float), default=(0.3, 3.3)
        Range of the rectangle's width-to-height ratio, relative to the
        image's.
    value : float or "mean", default=0.0
        Fill of the rectangle: a constant, or the mean of the image's
        pixels (per channel).

    Examples
    --------
    >>> import torch
    >>> batch = torch.ones(2, 1, 10, 10)
    >>> out = RandomErasing(p=1.0, scale=(0.25, 0.25), ratio=(1.0, 1.0))(
    ...     batch, torch.Generator().manual_seed(0)
    ... )
    >>> (out == 0).sum(dim=(1, 2, 3)).tolist()  # a 5x5 square of each image
    [25, 25]
    """

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0.0):
        self.p = p
        self.scale = scale
        self.ratio = ratio
        self.value = value

    def __repr__(self):
        return (
            f"RandomErasing(p={self.p!r}, scale={self.scale!r}, "
            f"ratio={self.ratio!r}, value={self.value!r})"
        )

    def __call__(self, batch, generator):
        """Erase a rectangle of a random subset of the images of ``batch``."""
        _check_batch(batch, generator)
        lo, hi = _range(self.scale, "scale", low=0.0)
        r_lo, r_hi = _range(self.ratio, "ratio", low=1e-6)
        if hi > 1.0:
            raise ValueError(
                f"scale={self.scale!r} must lie in [0, 1]: the erased fraction "
                "of the image area."
            )
        _check_probability(self.p)
        if not (self.value == "mean" or isinstance(self.value, numbers.Real)):
            raise ValueError(f"value must be a number or 'mean'; got {self.value!r}.")
        n, _, height, width = batch.shape
        area = _uniform(n, lo, hi, generator)
        ratio = torch.exp(_uniform(n, math.log(r_lo), math.log(r_hi), generator))
        # sides as fractions of the image's, then in pixels (at least one)
        h = torch.round(torch.sqrt(area / ratio).clamp(max=1.0) * height)
        w = torch.round(torch.sqrt(area * ratio).clamp(max=1.0) * width)
        h, w = h.clamp(min=1).long(), w.clamp(min=1).long()
        top = (_uniform(n, 0.0, 1.0, generator) * (height - h + 1)).long()
        left = (_uniform(n, 0.0, 1.0, generator) * (width - w + 1)).long()
        erase = torch.rand(n, generator=generator, dtype=torch.float64) < self.p
        rows = torch.arange(height)[None, :]
        cols = torch.arange(width)[None, :]
        inside_r = (rows >= top[:, None]) & (rows < (top + h)[:, None])
        inside_c = (cols >= left[:, None]) & (cols < (left + w)[:, None])
        mask = inside_r[:, :, None] & inside_c[:, None, :] & erase[:, None, None]
        mask = mask[:, None].to(batch.device)
        if self.value == "mean":
            fill = batch.mean(dim=(2, 3), keepdim=True)
        else:
            fill = torch.tensor(float(self.value), dtype=batch.dtype)
            fill = fill.to(batch.device)
        return torch.where(mask, fill, batch)


class RandomLighting:
    """Random brightness, uneven light and gamma of each image.

    Photos of one face taken on different days differ in how bright they
    are, from which side the light falls and how hard it is; a model that
    must match them should not rely on those. Each image ``x`` becomes
    ``clip(field * x ** gamma, 0, 1)``, where ``gamma`` is
    ``exp(u)`` with ``u`` uniform in ``[-gamma, gamma]``, and ``field`` is
    ``gain * (1 + a * s + b * t)`` with ``s`` and ``t`` running from -1 to 1
    across the width and the height, ``gain`` uniform in ``[1 - gain, 1 +
    gain]`` and ``a``, ``b`` uniform in ``[-slope, slope]``: light brighter
    on one side than on the other.

    Intensities must lie in ``[0, 1]`` (scale 8-bit images by 1/255).

    Parameters
    ----------
    gain : float, default=0.2
        Range of the overall brightness factor around 1.
    slope : float, default=0.3
        Range of the change of brightness from the centre to each edge,
        as a fraction of the centre's.
    gamma : float, default=0.4
        Range of the logarithm of the gamma exponent: 0.4 means exponents
        from 0.67 to 1.49.
    p : float, default=1.0
        Probability that an image is changed at all.

    Examples
    --------
    >>> import torch
    >>> batch = torch.full((2, 1, 4, 4), 0.5)
    >>> same = RandomLighting(gain=0, slope=0, gamma=0)(batch, torch.Generator())
    >>> bool(torch.equal(same, batch))  # no change of any kind: the identity
    True
    >>> out = RandomLighting(gain=0, slope=0.5, gamma=0)(
    ...     batch, torch.Generator().manual_seed(0)
    ... )
    >>> bool((out[:, :, 0, 0] != out[:, :, -1, -1]).all())  # one side brighter
    True
    """

    def __init__(self, gain=0.2, slope=0.3, gamma=0.4, p=1.0):
        self.gain = gain
        self.slope = slope
        self.gamma = gamma
        self.p = p

    def __repr__(self):
        return (
            f"RandomLighting(gain={self.gain!r}, slope={self.slope!r}, "
            f"gamma={self.gamma!r}, p={self.p!r})"
        )

    def __call__(self, batch, generator):
        """Relight each image of ``batch``."""
        _check_batch(batch, generator)
        for name in ("gain", "slope", "gamma"):
            value = getattr(self, name)
            real = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if not (real and math.isfinite(value) and value >= 0):
                raise ValueError(
                    f"{name} must be a number >= 0 and finite; got {value!r}."
                )
        if self.gain > 1:
            raise ValueError(
                f"gain={self.gain!r} must lie in [0, 1], so that the brightness "
                "factor 1 -/+ gain stays at or above 0."
            )
        _check_probability(self.p)
        if len(batch) and (batch.min() < 0 or batch.max() > 1):
            raise ValueError(
                "RandomLighting needs intensities in [0, 1]; got values from "
                f"{float(batch.min()):.4g} to {float(batch.max()):.4g}. Scale "
                "the images to [0, 1] (8-bit images: divide by 255)."
            )
        n, _, height, width = batch.shape
        gain = _uniform(n, 1.0 - self.gain, 1.0 + self.gain, generator)
        a = _uniform(n, -self.slope, self.slope, generator)
        b = _uniform(n, -self.slope, self.slope, generator)
        gamma = torch.exp(_uniform(n, -self.gamma, self.gamma, generator))
        keep = torch.rand(n, generator=generator, dtype=torch.float64) >= self.p
        gain[keep], a[keep], b[keep], gamma[keep] = 1.0, 0.0, 0.0, 1.0
        s = torch.linspace(-1.0, 1.0, width, dtype=torch.float64)
        t = torch.linspace(-1.0, 1.0, height, dtype=torch.float64)
        field = gain[:, None, None] * (
            1.0
            + a[:, None, None] * s[None, None, :]
            + b[:, None, None] * t[None, :, None]
        )
        field = field.clamp_min(0.0)[:, None].to(device=batch.device, dtype=batch.dtype)
        gamma = gamma.to(device=batch.device, dtype=batch.dtype)[:, None, None, None]
        return (batch**gamma * field).clamp(0.0, 1.0)


class Compose:
    """Apply augmentations one after the other, with the same generator.

    Parameters
    ----------
    transforms : list of callables
        Each called as ``t(batch, generator)``.
    """

    def __init__(self, transforms):
        self.transforms = transforms

    def __repr__(self):
        return f"Compose({self.transforms!r})"

    def __call__(self, batch, generator):
        """Apply every augmentation in turn."""
        transforms = self.transforms
        if not isinstance(transforms, list | tuple):
            raise ValueError(
                "Compose takes a list of augmentations, Compose([aug1, aug2]); "
                f"got {transforms!r}."
            )
        for i, t in enumerate(transforms):
            if not callable(t):
                raise ValueError(
                    "Compose takes augmentations called as t(batch, generator); "
                    f"transforms[{i}] is {t!r}, which cannot be called."
                )
        for t in transforms:
            batch = t(batch, generator)
        return batch


#: Augmentations available by name, with their default settings.
AUGMENTATIONS = {
    "affine": RandomAffine,
    "flip": RandomFlip,
    "crop": RandomResizedCrop,
    "erase": RandomErasing,
    "lighting": RandomLighting,
}


def make_augment(augment):
    """Build the augmentation described by an ``augment`` parameter.

    Parameters
    ----------
    augment : None, str or callable
        ``None`` for none, a name from :data:`AUGMENTATIONS` (built with its
        defaults), or a callable ``augment(batch, generator)`` used as is.

    Returns
    -------
    augment : callable or None

    Examples
    --------
    >>> make_augment("affine")
    RandomAffine(degrees=10.0, translate=0.1, scale=0.1, shear=0.0, p=1.0)
    >>> make_augment(None) is None
    True
    """
    if augment is None:
        return None
    if isinstance(augment, str):
        if augment not in AUGMENTATIONS:
            raise ValueError(
                f"Unknown augment {augment!r}; choose one of "
                f"{sorted(AUGMENTATIONS)}, None or a callable "
                "augment(batch, generator)."
            )
        return AUGMENTATIONS[augment]()
    if callable(augment):
        return augment
    raise ValueError(f"augment must be None, a name or a callable; got {augment!r}.")


def training_augment(augment, net_shape):
    """The training augmentation of an ``augment`` parameter, or None.

    ``"auto"`` is ``"affine"`` for images (``net_shape`` of length 3) and
    nothing for feature rows; any other augmentation of feature rows is
    refused.
    """
    images = len(net_shape) == 3
    if isinstance(augment, str) and augment == "auto":
        return make_augment("affine") if images else None
    if augment is not None and not images:
        raise ValueError(
            f"augment={augment!r} distorts images, but the samples are feature "
            f"rows of shape {tuple(net_shape)}. Pass images, set input_shape="
            "(height, width) for rows that are images, or set augment=None."
        )
    return make_augment(augment)
