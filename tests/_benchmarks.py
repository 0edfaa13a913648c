"""The benchmark scripts as modules, for the tests that call their parts."""

import importlib.util
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def load_benchmark(name):
    """The script ``benchmarks/<name>.py``, imported afresh as a module."""
    if str(BENCHMARKS) not in sys.path:  # the scripts import one another
        sys.path.append(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
