"""Training overhead of the app's worker vs a bare `mflux-train`, on the same self-test config.

    .venv/bin/python bench/train_overhead.py [--runs 3] [--epochs 5]

Alternates: the app's path (core.training.start -> worker process -> events, hooks, atomic saves, until
completed) and mflux's own console script (`mflux-train --config train.json`, the self-test geometry
applied by core.selftest_model.subprocess_env). Wall time of each from launch to exit; prints the
median of each, their ratio, and, last, `ratio X.XX`: the median of the per-pair ratios (worker / bare;
adjacent runs see the same machine load). Target: at most 1.05.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MLX_DISABLE_COMPILE", "1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()

    from core.models import selftest_model
    from core.training import config as train_config
    from core.training import runner as training
    from core.selftest.pictures import write_character_set
    from core.settings import load_settings
    from core.workspace import Workspace

    scratch = Path(tempfile.mkdtemp(prefix="train-bench-"))
    settings = load_settings(env_file=None, environ={"WORKSPACE_DIR": str(scratch / "ws"), "APP_CACHE_DIR": str(scratch / "cache")})
    workspace = Workspace(settings.workspace).ensure()
    write_character_set(workspace.dataset_images_dir("bench"), 4, (64, 64), captions="mira, a character standing")
    selftest_model.ensure(settings.cache_dir)
    plan = train_config.compose(workspace, "bench", "mira", ["selftest"])
    plan.epochs, plan.save_every = args.epochs, 10
    config = plan.config(workspace, settings.cache_dir)
    mflux_train = Path(sys.executable).parent / "mflux-train"
    from core.training import checks as train_checks

    train_checks.validate(plan, workspace, cache_dir=settings.cache_dir)  # warm-up: the app has mflux's parser imported after its first Check

    def app_run() -> float:
        started = time.perf_counter()
        run = training.start(workspace, settings, plan)
        done = training.wait(workspace, run.run_id, poll=0.25)  # the app's timer polls every 1.5 s
        assert done.status == "completed", done
        return time.perf_counter() - started

    def bare_run(index: int) -> float:
        folder = scratch / f"bare-{index}"
        folder.mkdir()
        bare = dict(config, data=str(workspace.dataset_images_dir("bench")))
        bare["checkpoint"] = {**config["checkpoint"], "output_path": str(folder / "out")}
        (folder / "train.json").write_text(json.dumps(bare))
        started = time.perf_counter()
        done = subprocess.run([str(mflux_train), "--config", str(folder / "train.json")], cwd=folder,
                              env=selftest_model.subprocess_env(), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return time.perf_counter() - started

    worker_times, bare_times = [], []
    for index in range(args.runs):
        worker_times.append(app_run())
        bare_times.append(bare_run(index))
        print(f"run {index + 1}: worker {worker_times[-1]:.2f} s, bare mflux-train {bare_times[-1]:.2f} s", flush=True)
    steps = train_config.iterations(config, 4)
    worker, bare = statistics.median(worker_times), statistics.median(bare_times)
    paired = statistics.median(w / b for w, b in zip(worker_times, bare_times))
    print(f"{steps} steps each; median worker {worker:.2f} s, median bare {bare:.2f} s (ratio of medians {worker / bare:.2f})")
    # Each pair ran back to back, so its ratio is the least disturbed by load that drifts over minutes.
    print(f"ratio {paired:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
