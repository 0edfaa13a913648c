"""What the training checks cost: a fit with them against one without.

The non-finite guard (a skorch callback on every batch) and the collapse
check after training are switched off by patching them out, in a fresh
process each, and the two kinds of fit alternate over ``--pairs`` pairs;
the CPU time of each process is printed with the ratio of each pair, so
that the machine's drift cancels.

    python benchmarks/bench_monitor.py [--pairs 3] [--epochs 4]

``--figure PATH`` draws the CPU time of each fit (bars: the medians),
``--results PATH`` writes the times as JSON.
"""

import argparse
import subprocess
import sys

from _common import add_output_options, write_outputs

FIT = """
import sys, time
from sklearn.datasets import load_digits
import sksiamese._embedder as E
from sksiamese import SiameseEmbedder
if sys.argv[1] == "off":
    callbacks = E.training_callbacks
    E.training_callbacks = lambda *args: [
        c for c in callbacks(*args) if c[0] != "nonfinite_guard"
    ]
    E.check_collapse = lambda *a, **k: 0.0
X, y = load_digits(return_X_y=True)
t = time.process_time()
SiameseEmbedder(input_shape=(8, 8), max_epochs=int(sys.argv[2]), random_state=0,
                device="cpu").fit(X, y)
print(time.process_time() - t)
"""


def cpu_seconds(mode, epochs):
    out = subprocess.run(
        [sys.executable, "-c", FIT, mode, str(epochs)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.split()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    add_output_options(parser)
    args = parser.parse_args()
    ratios, times = [], {"checks on": [], "checks off": []}
    print("pair  checks on s  checks off s  on / off")
    for i in range(args.pairs):
        on, off = cpu_seconds("on", args.epochs), cpu_seconds("off", args.epochs)
        ratios.append(on / off)
        times["checks on"].append(on)
        times["checks off"].append(off)
        print(f"{i:4d}  {on:11.2f}  {off:12.2f}  {on / off:8.3f}")
    ratios.sort()
    print(
        f"median on / off: {ratios[len(ratios) // 2]:.3f} "
        f"(min {ratios[0]:.3f}, max {ratios[-1]:.3f})"
    )
    median = ratios[len(ratios) // 2]
    write_outputs(
        args,
        {
            "benchmark": "monitor",
            "times": times,
            "ratios": ratios,
            "title": f"SiameseEmbedder on the digits, {args.epochs} "
            f"epoch{'s' if args.epochs > 1 else ''}: median CPU time ratio "
            f"on / off {median:.3f}",
            "panel_size": (6.0, 1.8),
            "panels": [
                {
                    "kind": "bars",
                    "center": "median",
                    "xlabel": f"CPU seconds per fit (median of {args.pairs})",
                    "fmt": "{:.2f} s",
                    "items": [
                        {
                            "label": name,
                            "values": t,
                            "colour": 2 * (name == "checks on"),
                        }
                        for name, t in times.items()
                    ],
                }
            ],
        },
    )


if __name__ == "__main__":
    main()
