"""The offline self-test: the CLI runs every stage on the self-test model; the runner reports a failing
stage and skips only what depends on it."""

import pytest

from core.selftest import runner as selftest
from core.errors import AppError
from core.progress import drain
from core.selftest.runner import Stage
from tests.support.env import cli_env, run_cli


@pytest.mark.slow  # trains and generates with real mflux
def test_selftest_cli_passes_every_stage(workspace_dir, cache_dir):
    code, data, stderr = run_cli(["selftest"], cli_env(workspace_dir, cache_dir), timeout=900)
    assert code == 0, (data, stderr[-2000:])
    from core.selftest.stages import STAGES

    assert [s["name"] for s in data["stages"]] == [s.name for s in STAGES]
    assert all(s["status"] == "passed" and s["seconds"] >= 0 for s in data["stages"])
    written = {p.relative_to(workspace_dir).as_posix() for p in workspace_dir.rglob("*") if p.is_file()}
    assert written <= {"outputs/logs/app.log"}, "the selftest must not write into the person's workspace"


def test_a_failing_stage_skips_its_dependants_only(settings):
    def good(run):
        run.data["good"] = True
        return "fine"

    def bad(run):
        raise AppError("The thing is broken.", "Fix it.")

    def after(run):
        assert run.data["good"]
        return "still ran"

    stages = (
        Stage("good", "Good", good),
        Stage("bad", "Bad", bad, needs=("good",)),
        Stage("dependant", "Dependant", after, needs=("bad",)),
        Stage("independent", "Independent", after, needs=("good",)),
    )
    report = drain(selftest.run(settings, stages=stages))
    assert [s.status for s in report.stages] == ["passed", "failed", "skipped", "passed"]
    assert report.stages[1].detail.startswith("The thing is broken.")
    assert "needs 'bad'" in report.stages[2].detail
    assert not report.ok and "3 of 4" not in report.summary() and "2 of 4 stages passed" in report.summary()
