"""Batch of Runware requests vs one request, against the loopback Runware API answering each image after 0.5 s.

Measures, in one process and alternating, the wall time of one request (core.cloud_generation.generate)
and of 8 prompts at once (core.cloud_generation.generate_many, default bounded concurrency), both with
the real runware-sdk, connection and login included. Prints the medians and, last, `ratio X`
(batch / single). Target: at most 2.

    .venv/bin/python bench/runware_batch.py [--runs 3] [--prompts 8] [--delay 0.5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.5)
    args = parser.parse_args()

    from core.runware.cloud import DEFAULT_CONCURRENCY, CloudRequest, generate, generate_many
    from core.settings import load_settings
    from core.selftest.loopback_runware import FakeRunware

    workspace = Path(tempfile.mkdtemp(prefix="bench-runware-"))
    with FakeRunware(image_delay=args.delay) as fake:
        settings = replace(load_settings(env_file=None, environ={"WORKSPACE_DIR": str(workspace)}),
                           runware_ws_url=fake.url, runware_api_key=fake.api_key)

        def request(text: str) -> CloudRequest:
            return CloudRequest(text, width=512, height=512, seed=1, timeout=30)

        def single() -> float:
            started = time.perf_counter()
            generate(settings, request("one prompt"), out_dir=workspace / "single")
            return time.perf_counter() - started

        def batch() -> float:
            requests = [request(f"prompt {i}") for i in range(args.prompts)]
            started = time.perf_counter()
            outcomes = list(generate_many(settings, requests, out_dir=workspace / "batch"))
            seconds = time.perf_counter() - started
            failed = [o for _, o in outcomes if isinstance(o, Exception)]
            if failed or len(outcomes) != args.prompts:
                raise SystemExit(f"batch failed: {failed[:1]}")
            return seconds

        single()  # warm-up: imports, first connection
        singles, batches = [], []
        for _ in range(args.runs):
            singles.append(single())
            batches.append(batch())
        print(f"one request:         median {statistics.median(singles):.3f} s  {[round(s, 3) for s in singles]}")
        print(f"{args.prompts} prompts at once:  median {statistics.median(batches):.3f} s  "
              f"{[round(s, 3) for s in batches]}  (concurrency {DEFAULT_CONCURRENCY}, "
              f"server saw at most {fake.max_concurrent} at once)")
        print(f"ratio {statistics.median(batches) / statistics.median(singles):.2f}")


if __name__ == "__main__":
    main()
