"""Local generation on the self-test model: saved settings, progress, Stop, the heavy slot, decode modes."""

import json
import time

import pytest
from PIL import Image

from core import jobs
from core.checkpoints import store as checkpoints
from core.generation import local as generation
from core.generation.engine import decode_mode
from core.errors import ModelError
from core.progress import Cancellation, Cancelled


def request(**changes):
    values = dict(prompt="mira, standing in a park", model="selftest", width=64, height=64, steps=2, guidance=4.0)
    values.update(changes)
    return generation.GenerateRequest(**values)


@pytest.mark.slow
def test_generate_with_a_lora_saves_the_image_with_its_full_settings(run_copy, workspace, settings):
    adapter = checkpoints.export_adapter(run_copy, 3).path
    result = generation.generate(workspace, request(loras=[(str(adapter), 1.5)]), settings=settings)
    assert result.path.parent.parent == workspace.generations_dir
    with Image.open(result.path) as image:
        assert image.size == (64, 64)
        embedded = json.loads(image.text["parameters"])
    beside = json.loads(result.path.with_suffix(".json").read_text())
    assert embedded == beside == result.settings
    assert beside["loras"] == [{"path": str(adapter), "strength": 1.5, "name": adapter.name}]
    assert isinstance(beside["seed"], int) and beside["steps"] == 2 and beside["model"] == "selftest"
    again = generation.generate(workspace, generation.request_from_settings(beside), settings=settings)
    assert again.path != result.path
    with Image.open(result.path) as first, Image.open(again.path) as second:
        assert list(first.getdata()) == list(second.getdata())  # "reuse these settings" reproduces the image
    assert [g.path for g in generation.history(workspace)][:2] == [again.path, result.path]


@pytest.mark.slow
def test_a_batch_reports_every_step_and_stop_ends_it(workspace, settings):
    events = list(generation.run(workspace, request(count=2, seed=7), settings=settings))
    steps = [e.step for e in events]
    assert steps == sorted(steps) and events[-1].step == events[-1].total == 4
    images = [e.result for e in events if e.result is not None]
    assert [i.settings["seed"] for i in images] == [7, 8]
    assert any("step 2/2" in e.message for e in events)
    cancel = Cancellation()
    seen = []
    with pytest.raises(Cancelled):
        for event in generation.run(workspace, request(count=3, seed=1), cancel=cancel, settings=settings):
            seen.append(event)
            if "step 1/2" in event.message:
                cancel.request()
    assert not any(e.result is not None for e in seen)
    assert len(generation.history(workspace)) == 2


@pytest.mark.slow
def test_training_takes_the_machine_and_the_warm_model_is_given_back(workspace, settings):
    generation.generate(workspace, request(seed=1), settings=settings)
    assert generation.engine().loaded_model == "selftest"
    with jobs.heavy_slot(workspace, "train", "Training run"):
        with pytest.raises(jobs.Busy, match="Local Generate has to wait: Training run is using the machine"):
            generation.generate(workspace, request(seed=2), settings=settings)
        deadline = time.time() + 20
        while generation.engine().loaded_model is not None and time.time() < deadline:
            time.sleep(0.2)
        assert generation.engine().loaded_model is None


def test_bad_requests_are_one_sentence(workspace, settings, tmp_path):
    with pytest.raises(Exception, match="not a multiple of 16"):
        generation.generate(workspace, request(width=70), settings=settings)
    with pytest.raises(Exception, match="There is no LoRA file"):
        generation.generate(workspace, request(loras=[(str(tmp_path / "nope.safetensors"), 1.0)]), settings=settings)
    with pytest.raises(ModelError, match="not a model this app knows"):
        generation.generate(workspace, request(model="flux1-dev"), settings=settings)


def test_decode_mode_follows_backend_memory_and_override():
    gib = 1 << 30
    assert decode_mode(None, "cuda", 2 * gib) == "full_precision"
    assert decode_mode(None, "cpu", None) == "full_precision"
    assert decode_mode(None, "metal", 6 * gib) == "low_memory"
    assert decode_mode(None, "metal", 40 * gib) == "full_precision"
    assert decode_mode(None, "metal", None) == "low_memory"
    assert decode_mode("low-memory", "cuda", 80 * gib) == "low_memory"
    with pytest.raises(ModelError, match="VAE_DECODE_MODE 'fast'"):
        decode_mode("fast", "cpu", None)
