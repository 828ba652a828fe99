"""Shared helpers of the MF benchmarks: data location, loaders, timing."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CROSSREC_DATA", REPO.parent / "shared" / "data"))
RESULTS = REPO / "benchmarks" / "results"


def ml100k(name: str = "u.data") -> pd.DataFrame:
    return pd.read_csv(DATA / "movielens-100k" / name, sep="\t", names=["user", "item", "rating", "ts"])


def lastfm() -> pd.DataFrame:
    df = pd.read_csv(DATA / "lastfm-hetrec2011-2k" / "user_artists.dat", sep="\t")
    return df.rename(columns={"userID": "user", "artistID": "item", "weight": "rating"})


def best_of(fn, repeats: int):
    """(best wall time, result of the last call)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def machine() -> dict:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "load_average_1min": os.getloadavg()[0]}


def write(topic: str, result: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, default=float)
    (RESULTS / f"{topic}.json").write_text(text + "\n")
    print(text)
