"""What the Playground tells a person beside the images: why likeness is empty, and what it spent today (kept in
the workspace across reloads). Real runware-sdk against the loopback Runware; a real (failing) likeness load."""

from __future__ import annotations

import hashlib

import pytest

from core.errors import ModelError
from core.playground import pairs as playground, spend
from core.playground.report import load_report
from core.runs.paths import run_paths
from core.runs.record import RunRecord
from core.runware import registry as runware
from core.storage import write_json
from tests.support.images import write_mflux_dataset


def published(workspace, settings, fake_runware, run_id="20261127-070000-mira", air="story:notes@1"):
    write_mflux_dataset(workspace.dataset_images_dir("mira"), count=2)
    paths = run_paths(workspace, run_id)
    paths.write_record(RunRecord(run_id=run_id, dataset="mira", model="selftest", trigger="mira"))
    write_json(paths.publish_json, {"versions": [{"id": "alice/mira@1", "repo_id": "alice/mira", "air": air,
                                                  "runware_status": "ready"}]})
    runware.register(settings, url=fake_runware.host_file("n", b"n"), air=air, name="N", version="1",
                     trigger_words="", default_weight=1, sha256=hashlib.sha256(b"n").hexdigest())
    return paths


def test_a_likeness_model_that_cannot_load_says_why_in_the_report(workspace, runware_settings, fake_runware,
                                                                   tmp_path):
    from dataclasses import replace

    empty = tmp_path / "no-likeness-model-here"
    empty.mkdir()
    settings = replace(runware_settings, likeness_model=str(empty))
    paths = published(workspace, settings, fake_runware)
    report = playground.compare(settings, paths.run_id, prompts=["{trigger}, a portrait", "{trigger} walking"],
                                width=128, height=128, local=False)
    assert report.status == "completed" and all(p.cloud_image and p.likeness_cloud is None for p in report.pairs)
    problems = [n for n in report.notes if n.startswith("Likeness was not scored:")]
    assert len(problems) == 1 and f"the folder {empty}" in problems[0]  # once, naming where it looked
    saved = load_report(report.folder)
    assert problems[0] in saved.notes and problems[0].split(":")[0] in (report.folder / "report.html").read_text()


def test_the_likeness_sentence_names_the_hub_host_actually_used():
    error = ModelError("The likeness model 'org/dino' could not be loaded (connection refused).", "Try again.")
    mirror = playground.likeness_problem(error, "org/dino", "http://hub.mirror.local:8080/")
    assert mirror.startswith("Likeness was not scored: The likeness model 'org/dino' could not be loaded")
    assert "read from http://hub.mirror.local:8080" in mirror and "huggingface.co" not in mirror
    assert "read from https://huggingface.co" in playground.likeness_problem(error, "org/dino", None)


def test_todays_spend_adds_up_across_reads_and_comparisons(workspace, runware_settings, fake_runware):
    assert spend.today(workspace).requests == 0
    spend.add(workspace, 0.0019)
    spend.add(workspace, None)  # Runware reported no cost: counted, said apart
    again = spend.today(workspace)  # what a reloaded page reads
    assert (again.dollars, again.requests, again.unpriced) == (0.0019, 2, 1)
    paths = published(workspace, runware_settings, fake_runware)
    playground.compare(runware_settings, paths.run_id, prompts=["a", "b"], width=128, height=128, local=False)
    total = spend.today(workspace)
    assert total.requests == 4 and total.dollars == pytest.approx(0.0019 * 3)
    yesterday = spend.add(workspace, 1.0, now=__import__("time").time() - 86_400)
    assert yesterday.dollars == 1.0 and spend.today(workspace).dollars == pytest.approx(0.0057)
