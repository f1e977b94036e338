import subprocess
import sys
import time

import pytest

from core import jobs
from tests.support.env import PROJECT_ROOT


def test_the_slot_is_exclusive_and_says_who_holds_it(workspace):
    assert jobs.holder(workspace) is None
    with jobs.heavy_slot(workspace, "generate", "Local Generate"):
        # a second process cannot take it and learns who has it
        code = (
            "import sys; from pathlib import Path; from core import jobs; from core.workspace import Workspace;"
            f"ws = Workspace(Path({str(workspace.root)!r}));"
            "print(jobs.holder(ws)['label']);"
            "\ntry:\n with jobs.heavy_slot(ws, 'caption', 'Auto-caption', wait=0): print('got it')"
            "\nexcept jobs.Busy as e: print(e)"
        )
        done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
        lines = done.stdout.strip().splitlines()
        assert lines[0] == "Local Generate"
        assert lines[1].startswith("Auto-caption has to wait: Local Generate is using the machine.")
    assert jobs.holder(workspace) is None


def test_a_dead_holder_frees_the_slot(workspace):
    code = (
        "import time; from pathlib import Path; from core import jobs; from core.workspace import Workspace;"
        f"ws = Workspace(Path({str(workspace.root)!r}));"
        "\nwith jobs.heavy_slot(ws, 'train', 'Training run x'):\n print('holding', flush=True); time.sleep(60)"
    )
    process = subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "holding"
    assert jobs.holder(workspace)["kind"] == "train"
    process.kill()
    process.wait()
    with jobs.heavy_slot(workspace, "generate", "Local Generate", wait=5):
        assert jobs.holder(workspace)["label"] == "Local Generate"


def test_waiting_reports_the_holder_then_times_out(workspace):
    seen = []
    with jobs.heavy_slot(workspace, "train", "Training run y"):
        pass
    with jobs.heavy_slot(workspace, "train", "Training run y"):
        started = time.monotonic()
        with pytest.raises(jobs.Busy):
            # flock is per open file description: a second open in the same process also blocks
            with jobs.heavy_slot(workspace, "generate", "Local Generate", wait=0.3, on_wait=seen.append, poll=0.1):
                pass
        assert time.monotonic() - started >= 0.3
    assert seen and seen[0]["label"] == "Training run y"


def test_a_waiter_that_gives_up_keeps_the_holders_record(workspace):
    with jobs.heavy_slot(workspace, "train", "Training run y"):
        code = (
            "from pathlib import Path; from core import jobs; from core.workspace import Workspace;"
            f"ws = Workspace(Path({str(workspace.root)!r}));"
            "\ntry:\n with jobs.heavy_slot(ws, 'generate', 'Local Generate', wait=0.2, poll=0.05): pass"
            "\nexcept jobs.Busy: print('busy')"
        )
        done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
        assert done.stdout.strip() == "busy"
        assert jobs.holder(workspace)["label"] == "Training run y"
