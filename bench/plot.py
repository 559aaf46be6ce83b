"""Draw firing lateness against load, from bench/results/queue.json, for BENCHMARKS.md.

python -m bench.plot
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from .common import RESULTS


def main(name: str = "queue") -> None:
    results = json.loads((RESULTS / f"{name}.json").read_text())
    figure, axes = plt.subplots(figsize=(7, 4.2))
    for label, style in (("UnifiedTimedQueue", "-o"), ("APScheduler 3 AsyncIOScheduler", "--s")):
        curve = results["contenders"][label]["curve"]
        rates = [point["rate_per_s"] for point in curve]
        axes.plot(rates, [point["p99_ms"] for point in curve], style, label=f"{label}: p99")
        axes.plot(rates, [point["max_ms"] for point in curve], style, alpha=0.4, label=f"{label}: max")
    axes.set_xlabel("items firing per second")
    axes.set_ylabel("lateness (ms, log scale)")
    axes.set_yscale("log")
    axes.set_title("Firing lateness against load (trivial handler, medians of 3 runs of 3 s)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path = RESULTS / f"{name}-lateness.png"
    figure.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
