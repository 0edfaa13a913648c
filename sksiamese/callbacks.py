"""Training callbacks for :class:`~sksiamese.SiameseEmbedder`.

They are skorch callbacks, passed as ``callbacks=[...]`` (or ``(name,
callback)`` tuples) and cloned, pickled and searched over with the
estimator. ``lr_schedule="warmup_cosine"``, the default, adds
:class:`WarmupCosineLR` itself; a schedule of one's own among the
callbacks needs ``lr_schedule="constant"``.
"""

import math
import numbers

from skorch.callbacks import Callback

__all__ = ["WarmupCosineLR"]


class WarmupCosineLR(Callback):
    """Learning rate warmed up linearly, then decayed along a half cosine.

    Epoch ``e`` (counted from 0 in each call to ``fit``) of a fit of ``T =
    max_epochs`` epochs trains at ``lr`` times

    * ``(e + 1) / (warmup_epochs + 1)`` for ``e < warmup_epochs``;
    * ``f + (1 - f) * (1 + cos(pi * (e - w) / (T - w))) / 2`` afterwards,
      with ``w = warmup_epochs`` and ``f = final_fraction``: the full rate
      in the first epoch after the warm-up, falling towards ``f * lr``
      without reaching it in the last epoch.

    Every parameter group of every optimiser is scaled alike, from the rate
    it had when training began, which it gets back when training ends, so
    that a ``warm_start`` fit starts its own schedule from ``lr`` again.
    ``history_[:, "lr"]`` records the rate of each epoch (of the first
    parameter group).

    Parameters
    ----------
    warmup_epochs : int, default=1
        Epochs of linear warm-up; 0 for none.
    final_fraction : float, default=0.0
        Fraction of ``lr`` that the cosine decays towards.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese import SiameseEmbedder
    >>> from sksiamese.callbacks import WarmupCosineLR
    >>> X, y = load_digits(return_X_y=True)
    >>> emb = SiameseEmbedder(max_epochs=3, random_state=0, lr_schedule="constant",
    ...                       callbacks=[WarmupCosineLR(warmup_epochs=1)])
    >>> emb = emb.fit(X[:200], y[:200])
    >>> [round(lr / emb.lr, 2) for lr in emb.history_[:, "lr"]]
    [0.5, 1.0, 0.5]
    """

    def __init__(self, warmup_epochs=1, final_fraction=0.0):
        self.warmup_epochs = warmup_epochs
        self.final_fraction = final_fraction

    def initialize(self):
        w = self.warmup_epochs
        if not isinstance(w, numbers.Integral) or isinstance(w, bool) or w < 0:
            raise ValueError(
                f"WarmupCosineLR needs warmup_epochs, an int >= 0; got {w!r}."
            )
        f = self.final_fraction
        if not isinstance(f, numbers.Real) or isinstance(f, bool) or not 0 <= f <= 1:
            raise ValueError(
                f"WarmupCosineLR needs final_fraction, a number in [0, 1]; got {f!r}."
            )
        return self

    def factor(self, epoch, n_epochs):
        """The multiple of ``lr`` of epoch ``epoch`` (from 0) of ``n_epochs``."""
        w = self.warmup_epochs
        if epoch < w:
            return (epoch + 1) / (w + 1)
        f = self.final_fraction
        span = max(n_epochs - w, 1)
        return f + (1 - f) * (1 + math.cos(math.pi * (epoch - w) / span)) / 2

    def _groups(self, net):
        for name in net._optimizers:
            yield from getattr(net, name + "_").param_groups

    def on_train_begin(self, net, **kwargs):
        self.first_epoch_ = len(net.history)
        self.n_epochs_ = net.max_epochs
        self.base_lrs_ = [group["lr"] for group in self._groups(net)]

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history) - 1 - self.first_epoch_
        factor = self.factor(epoch, self.n_epochs_)
        for group, lr in zip(self._groups(net), self.base_lrs_, strict=True):
            group["lr"] = lr * factor
        net.history.record("lr", next(self._groups(net))["lr"])

    def on_train_end(self, net, **kwargs):
        for group, lr in zip(self._groups(net), self.base_lrs_, strict=True):
            group["lr"] = lr
