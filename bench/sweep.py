"""Checkpoint sweep: a self-test run's 3 checkpoints x 2 prompts x 2 strengths (12 images), through the app's
grid (`python -m core compare`: one process, one warm model, adapters swapped and strengths changed in
memory, each prompt encoded once) against one `mflux-generate-flux2` process per image (what people do by
hand today), with the same adapter files, prompts, seeds, size, steps and guidance.

Both start cold (a fresh process, model loaded from disk). Prints both times and, last, `ratio X.XX`
(naive / grid). Target: at least 3.

    .venv/bin/python bench/sweep.py [--size 64] [--steps 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MLX_DISABLE_COMPILE", "1")

PROMPTS = ["mira, portrait photo, looking at the camera", "mira walking down a city street at night"]
STRENGTHS = [1.0, 1.5]
SEED = 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--guidance", type=float, default=4.0)
    args = parser.parse_args()

    from core.checkpoints import store as checkpoints
    from core.models import selftest_model
    from core.workspace import Workspace
    from tests.support.runs import train_selftest_run

    root = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    try:
        cache = root / "cache"
        workspace = Workspace(root / "workspace").ensure()
        model_dir = selftest_model.ensure(cache)
        print("training a self-test run (3 checkpoints)…", flush=True)
        run = train_selftest_run(workspace, model_dir)
        steps = [1, 2, 3]
        adapters = {step: checkpoints.export_adapter(run, step).path for step in steps}  # both sides use these files
        prompts_file = root / "prompts.txt"
        prompts_file.write_text("\n".join(PROMPTS) + "\n")
        env = {**os.environ, "WORKSPACE_DIR": str(workspace.root), "APP_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}

        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "core", "compare", run.run_id, "--prompts", str(prompts_file),
                        "--scales", ",".join(str(s) for s in STRENGTHS), "--seeds", str(SEED), "--steps", ",".join(map(str, steps)),
                        "--no-base", "--size", f"{args.size}x{args.size}", "--sample-steps", str(args.steps),
                        "--guidance", str(args.guidance), "--json"], cwd=ROOT, env=env, check=True, capture_output=True)
        grid_seconds = time.perf_counter() - started
        cells = list((run.compare_dir / "cells").glob("*.png"))
        print(f"app grid:      {len(cells)} images in {grid_seconds:6.1f} s (one process)", flush=True)

        naive_env = selftest_model.subprocess_env(env)
        out = root / "naive"
        out.mkdir()
        started = time.perf_counter()
        count = 0
        for step in steps:
            for strength in STRENGTHS:
                for index, prompt in enumerate(PROMPTS):
                    subprocess.run(
                        [str(Path(sys.executable).with_name("mflux-generate-flux2")), "--model", str(model_dir), "--base-model",
                         "flux2-klein-base-4b", "--lora", str(adapters[step]), str(strength), "--prompt", prompt, "--seed", str(SEED),
                         "--steps", str(args.steps), "--width", str(args.size), "--height", str(args.size), "--guidance",
                         str(args.guidance), "--output", str(out / f"{step}-{strength}-{index}.png")],
                        cwd=ROOT, env=naive_env, check=True, capture_output=True)
                    count += 1
        naive_seconds = time.perf_counter() - started
        made = len(list(out.glob("*.png")))
        print(f"mflux per image: {made} images in {naive_seconds:6.1f} s ({count} processes)", flush=True)
        if made != len(cells):
            print(f"warning: image counts differ ({made} vs {len(cells)})")
        print(f"ratio {naive_seconds / grid_seconds:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
