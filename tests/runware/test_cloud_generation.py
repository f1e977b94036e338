"""Generating on Runware with the real runware-sdk against the loopback Runware API."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image

from core.errors import (RunwareAuthError, RunwareConnectionError, RunwareCreditError, RunwareDropped, RunwareError,
                         RunwareInvalidSize, RunwareNotReady, RunwareTimeout, RunwareUnknownAir)
from core.runware import registry as runware
from core.runware.cloud import CloudRequest, LoraRef, generate, generate_many, total_cost


def _ready_lora(settings, fake, air="story:mira@1"):
    data = b"lora" * 64
    runware.register(settings, url=fake.host_file("a.safetensors", data), sha256=hashlib.sha256(data).hexdigest(),
                     air=air, name="Mira", version="1", trigger_words="mira", default_weight=1.0)
    return air


@pytest.mark.parametrize("output_type", ["URL", "base64Data", "dataURI"])
def test_each_delivery_gives_a_saved_image_with_cost(runware_settings, fake_runware, tmp_path, output_type):
    air = _ready_lora(runware_settings, fake_runware)
    request = CloudRequest("mira, a portrait", loras=(LoraRef(air, 0.8),), seed=11, width=256, height=384,
                           steps=20, cfg=3.5, number_results=2, output_type=output_type)
    images = generate(runware_settings, request, out_dir=tmp_path)
    assert len(images) == 2 and {image.delivery for image in images} == {output_type}
    for image in images:
        with Image.open(image.path) as opened:
            assert opened.size == (256, 384)
        assert image.cost == pytest.approx(0.0019)
        assert image.path.with_suffix(".json").is_file()
    assert total_cost(images) == pytest.approx(0.0038)
    sent = fake_runware.tasks("imageInference")[-1]
    assert sent["lora"] == [{"model": air, "weight": 0.8}] and sent["seed"] == 11
    assert (sent["steps"], sent["CFGScale"], sent["numberResults"]) == (20, 3.5, 2)
    assert sent["model"] == "runware:400@5" and sent["includeCost"] is True
    if output_type == "URL":
        assert images[0].url and any("/images/" in path for path in fake_runware.downloads)
    assert fake_runware.api_key not in images[0].path.with_suffix(".json").read_text()


def test_distilled_base_and_no_cost_reported(runware_settings, fake_runware, tmp_path):
    fake_runware.cost = None
    images = generate(runware_settings, CloudRequest("a cat", model="runware:400@4", width=128, height=128),
                      out_dir=tmp_path)
    assert images[0].cost is None and total_cost(images) is None
    assert images[0].seed is not None  # a seed is always chosen and recorded


def test_lora_ref_parsing():
    assert LoraRef.parse("story:mira@1") == LoraRef("story:mira@1", 1.0)
    assert LoraRef.parse("story:mira@1:0.75") == LoraRef("story:mira@1", 0.75)


@pytest.mark.parametrize("case,expected,words", [
    ("no_credit", RunwareCreditError, "no credit"),
    ("unknown_lora", RunwareUnknownAir, "does not know the LoRA"),
    ("unknown_base", RunwareUnknownAir, "does not know the model"),
    ("not_ready", RunwareNotReady, "not ready"),
    ("invalid_size", RunwareInvalidSize, "image size 250x256"),
    ("timeout", RunwareTimeout, "did not answer"),
    ("drop", RunwareDropped, "dropped"),
    ("bad_key", RunwareAuthError, "API key"),
])
def test_each_failure_is_one_sentence(runware_settings, fake_runware, tmp_path, case, expected, words):
    from dataclasses import replace

    settings, request = runware_settings, CloudRequest("mira", width=256, height=256, timeout=3)
    if case == "no_credit":
        fake_runware.balance = 0.001
    elif case == "unknown_lora":
        request.loras = (LoraRef("story:nobody@9"),)
    elif case == "unknown_base":
        request.model = "runware:999@1"
    elif case == "not_ready":
        fake_runware.upload_fault = "silent"  # registered, stuck before ready
        with pytest.raises(RunwareError):
            runware.register(settings, url=fake_runware.host_file("b", b"x"), sha256=hashlib.sha256(b"x").hexdigest(),
                             air="story:slow@1", name="Slow", version="1", trigger_words="", default_weight=1,
                             stall_timeout=0.5)
        request.loras = (LoraRef("story:slow@1"),)
    elif case == "invalid_size":
        request.width = 250
    elif case in ("timeout", "drop"):
        fake_runware.fault = case
    elif case == "bad_key":
        settings = replace(settings, runware_api_key="not-the-key")
    with pytest.raises(RunwareError) as caught:
        generate(settings, request, out_dir=tmp_path)
    error = caught.value
    assert type(error) is expected, str(error)
    assert words in error.message
    assert error.message.count(". ") == 0 and error.message.endswith(".")  # one sentence, then what to do
    assert "Traceback" not in str(error) and fake_runware.api_key not in str(error)


def test_batch_runs_concurrently_and_isolates_failures(runware_settings, fake_runware, tmp_path):
    fake_runware.image_delay = 0.3
    fake_runware.prompt_faults = {"[nocredit]": "no_credit", "[slow]": "timeout", "[size]": "invalid_size",
                                  "[blip]": "drop_once"}
    prompts = ["a", "b [nocredit]", "c", "d [slow]", "e [size]", "f", "g [blip]", "h", "i", "j"]
    requests = [CloudRequest(p, width=128, height=128, timeout=2) for p in prompts]
    outcomes = dict(generate_many(runware_settings, requests, out_dir=tmp_path, concurrency=4))
    assert sorted(outcomes) == list(range(len(prompts)))
    failed = {prompts[i]: type(o) for i, o in outcomes.items() if isinstance(o, RunwareError)}
    assert failed == {"b [nocredit]": RunwareCreditError, "d [slow]": RunwareTimeout, "e [size]": RunwareInvalidSize}
    assert all(len(o) == 1 for o in outcomes.values() if not isinstance(o, RunwareError))
    assert fake_runware.max_concurrent == 4


def test_unreachable_server_is_one_sentence(runware_settings, tmp_path):
    from dataclasses import replace

    from tests.support.env import free_port

    settings = replace(runware_settings, runware_ws_url=f"ws://127.0.0.1:{free_port()}")
    with pytest.raises(RunwareError) as caught:
        generate(settings, CloudRequest("x", width=128, height=128), out_dir=tmp_path)
    assert type(caught.value) is RunwareConnectionError and "RUNWARE_WS_URL" in caught.value.todo
