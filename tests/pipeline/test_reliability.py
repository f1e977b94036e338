"""Faults a long afternoon brings: the app SIGKILLed while captions are being saved or a training runs, a burst of
caption saves from the UI API, a disk that fills while a checkpoint is exported. Nothing acknowledged is lost,
nothing half-written looks valid, and the next start carries on.

The app runs as a real `python app.py` subprocess; the UI API is driven with gradio_client (the caption editor's
`/caption_next` and `/caption_save` endpoints, which the keyboard editor uses too).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from core.captions import store as captions
from core.dataset import datasets
from core.training import runner as training
from core.runs.paths import run_paths
from core.workspace import Workspace
from tests.support.env import PROJECT_ROOT, cli_env, free_port, run_cli
from tests.support.images import write_mflux_dataset
from tests.support.runs import assert_resume_continues, checkpoint_files

pytestmark = pytest.mark.slow
SAVE_SECONDS = float(os.environ.get("RELIABILITY_SAVE_SECONDS", "60"))  # the "for a minute"
SAVES_PER_SECOND = 20


def _start_app(workspace_dir: Path, cache_dir: Path):
    port = free_port()
    out = workspace_dir.parent / f"app-{port}.out"
    log = open(out, "wb")
    process = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--workspace", str(workspace_dir)],
                               cwd=PROJECT_ROOT, env=cli_env(workspace_dir, cache_dir), stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=5) as response:
                if response.status == 200:
                    return process, url, log
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                process.wait()
                log.close()
                return None, out.read_text(errors="replace")[-2000:], None
            time.sleep(0.3)


@contextlib.contextmanager
def app_process(workspace_dir: Path, cache_dir: Path):
    """`python app.py` on a free loopback port; yields (process, url). The process is SIGKILLed at the end if alive."""
    for _ in range(3):  # Gradio's own "is localhost reachable" probe gives up when 2 shared cores are saturated
        process, url, log = _start_app(workspace_dir, cache_dir)
        if process is not None or "localhost is not accessible" not in url:
            break
    if process is None:
        raise RuntimeError(f"the app did not start: {url}")
    try:
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        log.close()


def caption_client(url: str, name: str):
    """A UI API session with the caption editor on the dataset's first image."""
    import httpx
    from gradio_client import Client

    for attempt in range(5):  # a just-started app on saturated cores may drop the first connection
        try:
            client = Client(url, verbose=False)
            break
        except (OSError, httpx.HTTPError):
            if attempt == 4:
                raise
            time.sleep(2)
    client.predict(name, "", api_name="/caption_next")  # nothing in the editor yet: opens the first image
    return client


def make_dataset(workspace_dir: Path, name: str, count: int = 3):
    workspace = Workspace(workspace_dir).ensure()
    dataset = datasets.create(workspace, name, trigger="mira")
    write_mflux_dataset(dataset.images_dir, count=count, trigger="mira")
    return dataset


def saved_history(dataset, stem: str) -> list[str]:
    path = dataset.history_dir / f"{stem}.jsonl"
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_sigkill_of_the_app_while_captions_are_saved_loses_nothing_acknowledged(tmp_path, cache_dir):
    workspace_dir = tmp_path / "ws"
    dataset = make_dataset(workspace_dir, "kill-mira")
    stem = dataset.items()[0].stem
    original = captions.read(dataset, stem)
    acknowledged: list[str] = []
    with app_process(workspace_dir, cache_dir) as (process, url):
        client = caption_client(url, "kill-mira")
        killed = threading.Event()

        def kill_soon():
            while len(acknowledged) < 15:
                time.sleep(0.01)
            process.send_signal(signal.SIGKILL)  # mid-stream: the next save is usually in flight
            killed.set()

        threading.Thread(target=kill_soon, daemon=True).start()
        for i in range(10_000):
            text = f"mira, 미라 edit {i:04d}, red coat"
            try:
                client.predict("kill-mira", text, api_name="/caption_save")
            except Exception:
                break  # the server is gone
            acknowledged.append(text)
        assert killed.wait(30) and process.wait(30) == -signal.SIGKILL

    assert len(acknowledged) >= 15
    on_disk = captions.read(dataset, stem)  # decodes: the file is whole
    history = saved_history(dataset, stem)
    assert history[0] == original and history[1:len(acknowledged) + 1] == acknowledged  # every acknowledged save, in order
    assert on_disk in (acknowledged[-1], *history[len(acknowledged) + 1:])  # at most the one in flight came after
    assert not list(dataset.images_dir.glob(".*.tmp")), "a temporary file was left behind"
    for item in dataset.items()[1:]:
        assert captions.read(dataset, item.stem).startswith("mira")  # the other captions are untouched

    with app_process(workspace_dir, cache_dir) as (_, url):  # the next start opens the same text
        client = caption_client(url, "kill-mira")
        client.predict("kill-mira", on_disk + ", after restart", api_name="/caption_save")
    assert captions.read(dataset, stem) == on_disk + ", after restart"


def test_twenty_caption_saves_a_second_from_the_ui_api_are_all_kept_in_order(tmp_path, cache_dir):
    workspace_dir = tmp_path / "ws"
    dataset = make_dataset(workspace_dir, "burst-mira")
    stem = dataset.items()[0].stem
    sent: list[str] = []
    with app_process(workspace_dir, cache_dir) as (_, url):
        client = caption_client(url, "burst-mira")
        started = time.monotonic()
        for i in range(int(SAVE_SECONDS * SAVES_PER_SECOND)):
            if time.monotonic() - started > SAVE_SECONDS:
                break  # a slow machine sends fewer in the same minute; each one still has to land
            delay = started + i / SAVES_PER_SECOND - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # 20 a second when the machine keeps up; back to back when it does not
            text = f"mira, burst {i:05d}"
            client.predict("burst-mira", text, api_name="/caption_save")
            sent.append(text)
        elapsed = time.monotonic() - started
    print(f"{len(sent)} saves in {elapsed:.1f} s ({len(sent) / elapsed:.1f}/s)")
    assert len(sent) >= 10
    assert captions.read(dataset, stem) == sent[-1]
    history = saved_history(dataset, stem)
    assert history[1:] == sent  # all saved, in order, none twice
    assert [v.text for v in captions.history(dataset, stem)][1:] == sent


def _limit_file_size(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_disk_that_fills_during_export_leaves_no_file_and_says_so(run_copy, workspace_dir, cache_dir, tmp_path):
    from core.checkpoints import store as checkpoints

    size = checkpoints.export_adapter(run_copy, 3, out=tmp_path / "probe.safetensors").path.stat().st_size
    target = run_copy.adapters_dir / f"{run_copy.run_id}-step0000003.safetensors"
    assert not target.exists()
    env = cli_env(workspace_dir, cache_dir)
    done = subprocess.run([sys.executable, "-m", "core", "checkpoints", "export", run_copy.run_id, "--step", "3", "--json"],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=_limit_file_size(size // 2))
    assert done.returncode != 0
    answer = json.loads(done.stdout)
    assert answer["ok"] is False and answer["error"].startswith("The disk is full")
    assert "Free some space" in answer["error"] and "Traceback" not in done.stdout
    assert not target.exists(), "a cut adapter was left where a valid one belongs"
    assert not [p for p in run_copy.adapters_dir.glob("*") if p.name.endswith(".tmp")] if run_copy.adapters_dir.exists() else True

    done = subprocess.run([sys.executable, "-m", "core", "checkpoints", "export", run_copy.run_id, "--step", "3", "--json"],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and target.stat().st_size == size  # with room again, the same command finishes


def test_the_app_killed_during_training_leaves_the_worker_running_and_a_dead_worker_is_interrupted(tmp_path, cache_dir,
                                                                                                  selftest_model_dir):
    """Decision: the worker runs in its own session, so killing the app does not kill a training of hours; the next
    app start shows the run as it is (running, then completed). When the worker dies too (the machine slept or was
    switched off), the next start marks the run interrupted and it resumes from its last checkpoint."""
    workspace_dir = tmp_path / "ws"
    workspace = Workspace(workspace_dir).ensure()
    write_mflux_dataset(workspace.dataset_images_dir("train-kill"), count=4, trigger="mira")
    with app_process(workspace_dir, cache_dir) as (app, url):
        run_id = start_training(workspace_dir, cache_dir)
        worker = run_paths(workspace, run_id).read_record().pid
        _wait(lambda: training.status(workspace, run_id).step >= 2, 300)
        app.send_signal(signal.SIGKILL)
        assert app.wait(30) == -signal.SIGKILL
    assert _alive(worker), "killing the app must not kill the training"
    _wait(lambda: training.status(workspace, run_id).status == "completed", 600)

    run_id = start_training(workspace_dir, cache_dir)
    _wait(lambda: bool(training.status(workspace, run_id).checkpoints), 300)
    worker = run_paths(workspace, run_id).read_record().pid
    os.kill(worker, signal.SIGKILL)  # the machine went down with the app: nobody saw the worker die
    _wait(lambda: not _alive(worker), 30)
    with app_process(workspace_dir, cache_dir) as (_, url):  # app start reconciles every active run
        record = run_paths(workspace, run_id).read_record()
        assert record.status == "interrupted"
        with urllib.request.urlopen(url + "/", timeout=30) as response:
            assert response.status == 200
    paths = run_paths(workspace, run_id)
    last, before = training.status(workspace, run_id).checkpoints[-1], checkpoint_files(paths)
    status = training.resume(workspace, run_id)
    assert status.status in ("queued", "running")
    _wait(lambda: training.status(workspace, run_id).status == "completed", 600)
    done = training.status(workspace, run_id)
    assert done.step == 12
    assert_resume_continues(paths, last, 12, 2, before, done.checkpoints)  # from the last checkpoint, not from 0


def start_training(workspace_dir: Path, cache_dir: Path) -> str:
    """A 12-step self-test training in its own worker process (started as the Train tab does, via core.training.runner)."""
    code, data, stderr = run_cli(["train", "start", "train-kill", "--model", "selftest", "--trigger", "mira", "--epochs", "3"],
                                 cli_env(workspace_dir, cache_dir))
    assert code == 0, (data, stderr[-2000:])
    return data["run"]["run_id"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z"):
            return False
    return True


def _wait(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.5)
