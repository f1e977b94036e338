"""`selftest-model build [DIR]`: build the tiny random FLUX.2 klein used to check the pipeline offline."""

from __future__ import annotations

import time
from pathlib import Path

from core.cli import Commands, Context, Outcome
from core.models import selftest_model


def register(commands: Commands) -> None:
    group = commands.group("selftest-model", "The tiny self-test model (checks the pipeline, not quality).")
    build = group.add("build", "Build the self-test model (default: into the app's cache folder).", run_build)
    build.add_argument("dir", nargs="?", help="folder to build into (default: <cache>/models/selftest-flux2-klein)")
    build.add_argument("--seed", type=int, default=0)


def run_build(context: Context) -> Outcome:
    target = Path(context.args.dir) if context.args.dir else selftest_model.default_dir(context.settings.cache_dir)
    started = time.perf_counter()
    selftest_model.build(target, seed=context.args.seed)
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    data = {**selftest_model.describe(target), "seconds": round(seconds, 2), "bytes": size}
    return Outcome(data, f"Self-test model built in {seconds:.1f} s at {target} ({size / 1e6:.1f} MB).")
