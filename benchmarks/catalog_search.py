"""Catalogue search latency over a realistic query mix; prints p50/p99/max.

    .venv/bin/python benchmarks/catalog_search.py [--rounds 200] [--catalog-dir catalogs]

The mix is what window staff type: Chinese fragments, full pinyin, initials,
codes and code prefixes, department names, with and without filters, and empty
queries with filters (browsing). Times one `SearchIndex.search` call each, the
index built once beforehand as at start-up.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from gateway.catalog.loader import load_catalog
from gateway.catalog.models import HandlingMode, TaskType

QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("身份证", {}),
    ("社保卡", {}),
    ("公积金", {"region": "shenzhen"}),
    ("护照", {}),
    ("驾驶证", {"high_frequency": True}),
    ("失业", {}),
    ("不动产", {"region": "dongguan"}),
    ("营业执照", {}),
    ("sfz", {}),
    ("shebao", {}),
    ("gjj", {"region": "dongguan"}),
    ("hukou", {}),
    ("jiashizheng", {}),
    ("yibao", {"mode": HandlingMode.FULL_ONLINE}),
    ("qykb", {}),
    ("SZ-C-0001", {}),
    ("DG-C-01", {}),
    ("11440300MB2D0970524440125044001", {}),
    ("440125", {}),
    ("公安局", {"region": "shenzhen"}),
    ("市场监督管理局", {"task_type": TaskType.LICENCE}),
    ("", {"region": "zhangjiagang"}),
    ("", {"region": "shenzhen", "high_frequency": True}),
    ("不存在的事项", {}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--catalog-dir", type=Path, default=Path("catalogs"))
    args = parser.parse_args()
    started = time.perf_counter()
    catalog = load_catalog(args.catalog_dir)
    load_ms = (time.perf_counter() - started) * 1000
    index = catalog.search_index
    samples = []
    for _ in range(args.rounds):
        for query, filters in QUERIES:
            began = time.perf_counter_ns()
            index.search(query, **filters)
            samples.append((time.perf_counter_ns() - began) / 1e6)
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[int(len(samples) * 0.99) - 1]
    print(f"catalogue: {len(catalog.items)} items; load + index: {load_ms:.0f} ms")
    print(f"queries: {len(samples)} ({len(QUERIES)} kinds x {args.rounds} rounds)")
    print(f"search latency: p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {samples[-1]:.3f} ms")


if __name__ == "__main__":
    main()
