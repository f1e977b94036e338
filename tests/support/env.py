"""Small things tests need to run the project's own programs: a free port, a CLI environment."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cli_env(workspace_dir: Path, cache_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for `python -m core ...` subprocesses in tests (no real secrets)."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "RUNWARE_API_KEY")}
    env.update({"WORKSPACE_DIR": str(workspace_dir), "APP_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(PROJECT_ROOT)})
    env.update(extra)
    return env


def run_cli(args: list[str], env: dict[str, str], timeout: float = 300) -> tuple[int, dict | None, str]:
    """Run `python -m core ARGS --json`; returns (exit code, parsed JSON or None, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "core", *args, "--json"], cwd=PROJECT_ROOT, env=env,
        capture_output=True, text=True, timeout=timeout,
    )
    try:
        data = json.loads(done.stdout)
    except ValueError:
        data = None
    return done.returncode, data, done.stderr
