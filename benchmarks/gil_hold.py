"""Longest GIL hold of every model's fit: a Python thread ticks every 1 ms while the main thread
fits; the longest gap between ticks is how long the fit kept every other Python thread waiting.

    python benchmarks/gil_hold.py            # ML-100K (CROSSREC_DATA), plus EASE on 4,000 items

A reference row ("idle": the main thread sleeps) gives the gap the machine's scheduler alone causes
at the current load. Prints one JSON line per model.
"""

from __future__ import annotations

import json
import os
import threading
import time

import crossrec as cr


class Ticker:
    def __init__(self):
        self.max_gap = 0.0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        last = time.perf_counter()
        while not self._stop:
            time.sleep(0.001)
            now = time.perf_counter()
            self.max_gap = max(self.max_gap, now - last)
            last = now

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self._thread.join()


def measure(name, fit):
    with Ticker() as t:
        t0 = time.perf_counter()
        fit()
        seconds = time.perf_counter() - t0
    row = {"model": name, "fit_s": round(seconds, 3), "max_gil_gap_ms": round(1000 * t.max_gap, 1)}
    print(json.dumps(row), flush=True)
    return row


def main():
    print(json.dumps({"load": os.getloadavg()[0]}), flush=True)
    d = cr.datasets.movielens_100k()
    implicit = d.with_values((d.values >= 4).astype("float32"), explicit=False)
    measure("idle (sleep 1 s)", lambda: time.sleep(1.0))
    models = [
        ("Baseline", lambda: cr.Baseline().fit(d)),
        ("MostPopular", lambda: cr.MostPopular().fit(implicit)),
        ("ItemKNN", lambda: cr.ItemKNN().fit(d)),
        ("UserKNN", lambda: cr.UserKNN().fit(d)),
        ("ALS explicit", lambda: cr.ALS(implicit=False, iterations=10).fit(d)),
        ("ALS implicit", lambda: cr.ALS(iterations=10).fit(implicit)),
        ("MF", lambda: cr.MF(iterations=10).fit(d)),
        ("BPR", lambda: cr.BPR(iterations=10).fit(implicit)),
        ("EASE (1,682 items)", lambda: cr.EASE().fit(implicit)),
        ("DenoisingAutoencoder", lambda: cr.DenoisingAutoencoder(epochs=5).fit(implicit)),
        ("AssociationRules (min_support 0.1)", lambda: cr.AssociationRules(min_support=0.1).fit(implicit)),
    ]
    for name, fit in models:
        measure(name, fit)
    big = cr.datasets.synthetic_interactions(20_000, 4_000, 400_000, seed=0)
    measure("EASE (4,000 items)", lambda: cr.EASE().fit(big))


if __name__ == "__main__":
    main()
