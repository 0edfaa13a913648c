"""Training and validation loss per epoch."""

import numpy as np

from ._base import _Display, _embedder_of, _fill_doc

__all__ = ["TrainingHistoryDisplay"]

_HISTORY_NAMES = {"train_loss": "training loss", "valid_loss": "validation loss"}


def _history_rows(history):
    rows = list(history)
    if not rows or not all(isinstance(r, dict) for r in rows):
        raise ValueError(
            "history must be a non-empty skorch History or list of dicts, one "
            "per epoch; got " + (f"{type(history).__name__}" if rows else "none")
        )
    return rows


def _history_keys(rows, keys):
    """The keys to draw: those asked for, all of which some epoch records, or
    by default the training and validation losses that are recorded."""
    if keys is None:
        keys = [k for k in ("train_loss", "valid_loss") if any(k in r for r in rows)]
        if not keys:
            raise ValueError("history records neither train_loss nor valid_loss.")
        return keys
    keys = [keys] if isinstance(keys, str) else list(keys)
    missing = [k for k in keys if not any(k in r for r in rows)]
    if missing:
        raise ValueError(f"history has no {missing}; it records {sorted(rows[-1])}.")
    return keys


@_fill_doc
class TrainingHistoryDisplay(_Display):
    """Loss (or any per-epoch value) against the epoch, one line per key.

    Create it with :meth:`from_estimator` or :meth:`from_history`. When the
    validation loss is drawn, its lowest point is marked: with
    ``early_stopping=True`` that is the epoch whose weights were kept.

    Parameters
    ----------
    curves : dict of str to array-like of shape (n_epochs,)
        Values per epoch, by history key; NaN where a key is missing.
    epochs : array-like of shape (n_epochs,), default=None
        Epoch numbers; None numbers them from 1.

    Attributes
    ----------
    lines_ : dict of str to matplotlib.lines.Line2D
        One line per key.
    best_epoch_ : int or None
        Epoch of the lowest validation loss, when it is drawn.
    ax_ : matplotlib.axes.Axes
        Axes with the curves.
    {figure_attr}

    Examples
    --------
    >>> from sksiamese.plotting import TrainingHistoryDisplay
    >>> history = [{"epoch": 1, "train_loss": 0.9, "valid_loss": 0.8},
    ...            {"epoch": 2, "train_loss": 0.5, "valid_loss": 0.6},
    ...            {"epoch": 3, "train_loss": 0.3, "valid_loss": 0.7}]
    >>> display = TrainingHistoryDisplay.from_history(history)
    >>> sorted(display.lines_), display.best_epoch_
    (['train_loss', 'valid_loss'], 2)
    """

    def __init__(self, curves, *, epochs=None):
        self.curves = curves
        self.epochs = epochs

    @_fill_doc
    def plot(self, ax=None, *, log_scale=False, title=None):
        """Draw the curves.

        Parameters
        ----------
        {ax}
        log_scale : bool, default=False
            Logarithmic value axis.
        title : str, default=None
            Axes title; None describes the curves.

        Returns
        -------
        display : TrainingHistoryDisplay
            This object, with ``ax_``, ``figure_``, ``lines_`` and
            ``best_epoch_`` set.
        """
        from matplotlib.ticker import MaxNLocator

        if not self.curves:
            raise ValueError("curves is empty: there is nothing to draw.")
        curves = {k: np.asarray(v, dtype=np.float64) for k, v in self.curves.items()}
        n = len(next(iter(curves.values())))
        epochs = np.arange(1, n + 1) if self.epochs is None else np.asarray(self.epochs)
        for key, values in curves.items():
            if len(values) != len(epochs):
                raise ValueError(
                    f"curve {key!r} has {len(values)} values for {len(epochs)} epochs."
                )
        ax = self._use_axes(ax, (6.4, 4.2))
        self.lines_ = {}
        for key, values in curves.items():
            (self.lines_[key],) = ax.plot(
                epochs,
                values,
                marker="o",
                markersize=4,
                label=_HISTORY_NAMES.get(key, key),
            )
        self._mark_best_epoch(ax, epochs, curves.get("valid_loss"))
        ax.set_xlabel("epoch")
        all_losses = all(key.endswith("loss") for key in curves)
        ax.set_ylabel("loss" if all_losses else "value")
        if log_scale:
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
        if title is None:
            title = f"Training history ({len(epochs)} epochs)"
        ax.set_title(title)
        return self

    def _mark_best_epoch(self, ax, epochs, valid):
        """Mark the lowest validation loss, kept as ``best_epoch_``."""
        self.best_epoch_ = None
        if valid is None or not np.isfinite(valid).any():
            return
        best = int(np.nanargmin(valid))
        self.best_epoch_ = int(epochs[best])
        ax.plot(
            epochs[best],
            valid[best],
            marker="*",
            markersize=14,
            linestyle="none",
            color=self.lines_["valid_loss"].get_color(),
            markeredgecolor="black",
            label=f"lowest validation loss (epoch {self.best_epoch_})",
        )

    @classmethod
    @_fill_doc
    def from_history(cls, history, *, keys=None, ax=None, log_scale=False, title=None):
        """Draw per-epoch values of a skorch ``History``.

        Parameters
        ----------
        history : skorch.History or list of dict
            One dict per epoch, as in an estimator's ``history_``.
        keys : list of str, default=None
            Keys to draw; None draws ``train_loss`` and, when recorded,
            ``valid_loss``.
        {ax}
        log_scale, title
            Passed to :meth:`plot`.

        Returns
        -------
        display : TrainingHistoryDisplay
        """
        rows = _history_rows(history)
        keys = _history_keys(rows, keys)
        curves = {k: [r.get(k, np.nan) for r in rows] for k in keys}
        epochs = [r.get("epoch", i + 1) for i, r in enumerate(rows)]
        return cls(curves, epochs=epochs).plot(ax, log_scale=log_scale, title=title)

    @classmethod
    def from_estimator(
        cls, estimator, *, keys=None, ax=None, log_scale=False, title=None
    ):
        """Draw the training history of a fitted estimator.

        Parameters
        ----------
        estimator : SiameseEmbedder or SiameseVerifier
            A fitted estimator with a ``history_`` attribute, a verifier
            whose embedder has one, or a pipeline ending in either.
        keys, ax, log_scale, title
            See :meth:`from_history`.

        Returns
        -------
        display : TrainingHistoryDisplay
        """
        from sklearn.utils.validation import check_is_fitted

        estimator = _embedder_of(estimator)
        check_is_fitted(estimator, "history_")
        return cls.from_history(
            estimator.history_, keys=keys, ax=ax, log_scale=log_scale, title=title
        )
