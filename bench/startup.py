"""Start-up time: process start -> the app answers HTTP, against a bare Gradio Blocks app with one textbox.

Both are started as fresh processes, alternating, several times each; prints the medians and, last,
`ratio X` (app / bare). Target: at most 1.5.

    .venv/bin/python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BARE_APP = """
import os, sys
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
import gradio as gr
with gr.Blocks() as demo:
    gr.Textbox()
demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), ssr_mode=False, quiet=True)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def time_to_http(command: list[str], port: int, env: dict[str, str]) -> float:
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited with {process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    workspace = tempfile.mkdtemp(prefix="bench-startup-")
    env = {**os.environ, "WORKSPACE_DIR": workspace, "GRADIO_ANALYTICS_ENABLED": "False"}
    bare_file = Path(workspace) / "bare_app.py"
    bare_file.write_text(BARE_APP)
    app_times, bare_times = [], []
    # one unmeasured start of each, so both pay the same warm disk cache
    for measured in [False] + [True] * args.runs:
        port = free_port()
        app_time = time_to_http([sys.executable, "app.py", "--port", str(port)], port, env)
        port = free_port()
        bare_time = time_to_http([sys.executable, str(bare_file), str(port)], port, env)
        if measured:
            app_times.append(app_time)
            bare_times.append(bare_time)
            print(f"app {app_time:.2f} s   bare gradio {bare_time:.2f} s", flush=True)
    app_median, bare_median = statistics.median(app_times), statistics.median(bare_times)
    print(f"median: app {app_median:.2f} s, bare gradio {bare_median:.2f} s ({args.runs} runs each)")
    print(f"ratio {app_median / bare_median:.2f}")


if __name__ == "__main__":
    main()
