"""The benchmark scripts' figures: drawn from the values of a run, and drawn
again from the JSON file of those values."""

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest
from _benchmarks import BENCHMARKS, load_benchmark

pytest.importorskip("matplotlib")


def _record():
    common = load_benchmark("_common")
    rng = np.random.default_rng(0)
    same = np.repeat([1, 0], 50)
    scores = same + rng.normal(size=100)
    return common, {
        "title": "every kind of panel",
        "ncols": 2,
        "panels": [
            {
                "kind": "bars",
                "items": [
                    {"label": "seeds", "values": [0.9, 0.92, 0.91], "colour": 2},
                    {"label": "one run", "values": [0.8]},
                    {"label": "failed", "note": "timeout"},
                ],
                "xlim": (0.5, 1.0),
            },
            {
                "kind": "bars",
                "log": True,
                "center": "median",
                "items": [{"label": "times", "values": [1.0, 2.0, 30.0]}],
            },
            {
                "kind": "roc",
                "curves": [
                    {"label": "scores", "runs": [common.roc_points(same, scores)]}
                ],
            },
            {
                "kind": "scatter",
                "logx": True,
                "legend": "outside",
                "points": [{"label": "a", "x": 0.5, "y": 0.99, "marker": "s"}],
            },
        ],
    }


def test_a_run_writes_its_values_and_its_figure(tmp_path):
    common, record = _record()
    args = argparse.Namespace(
        figure=str(tmp_path / "run.png"), results=str(tmp_path / "run.json")
    )
    common.write_outputs(args, {"benchmark": "test", **record})
    assert (tmp_path / "run.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "run.json").read_text())
    assert saved["benchmark"] == "test"
    assert "python benchmarks/" in saved["command"]
    roc = saved["panels"][2]["curves"][0]["runs"][0]
    assert roc["fpr"][0] == 0 and roc["tpr"][-1] == 1 and 0.5 < roc["auc"] < 1


def test_nothing_is_written_without_the_options(tmp_path, capsys):
    common, record = _record()
    common.write_outputs(argparse.Namespace(figure=None, results=None), record)
    assert capsys.readouterr().out == ""
    assert not list(tmp_path.iterdir())


def test_redraw_draws_the_figure_of_a_results_file(tmp_path):
    common, record = _record()
    args = argparse.Namespace(figure=None, results=str(tmp_path / "run.json"))
    common.write_outputs(args, record)
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "_common.py"),
            "redraw",
            str(tmp_path / "run.json"),
            str(tmp_path / "again.png"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "figure written" in done.stdout
    assert (tmp_path / "again.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    "name",
    [
        "bench_files",
        "bench_gallery",
        "bench_memory",
        "bench_monitor",
        "bench_omniglot",
        "bench_orl_files",
        "bench_orl_linear",
        "bench_overhead",
        "bench_quality",
        "bench_retrieval",
        "bench_verifier_orl",
    ],
)
def test_every_benchmark_takes_the_figure_options(name):
    source = (BENCHMARKS / f"{name}.py").read_text(encoding="utf-8")
    assert "add_output_options(parser)" in source
    assert "write_outputs(" in source
