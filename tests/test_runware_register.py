"""Architecture resolution and LoRA registration with the real runware-sdk against the loopback Runware API."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from core.runware import registry as runware
from core.runware.registry import RunwareError

ADAPTER = b"safetensors-bytes-of-a-klein-lora" * 100
SHA = hashlib.sha256(ADAPTER).hexdigest()


def _register(settings, fake, **changes):
    url = fake.host_file("mira.safetensors", ADAPTER)
    args = dict(url=url, sha256=SHA, air="story:mira@1", name="Mira", version="1", trigger_words="mira",
                default_weight=0.9)
    args.update(changes)
    events = []
    registration = runware.register(settings, progress=events.append, **args)
    return registration, events


def test_architecture_is_read_from_runware(runware_settings, fake_runware):
    fake_runware.architectures["runware:400@5"] = "flux2klein-from-search"
    arch = runware.resolve_architecture(runware_settings)
    assert (arch.value, arch.source) == ("flux2klein-from-search", "runware")
    search = fake_runware.tasks("modelSearch")[-1]
    assert search["search"] == "runware:400@5"


def test_architecture_override_wins_without_a_network_call(runware_settings, fake_runware):
    arch = runware.resolve_architecture(replace(runware_settings, runware_architecture="my_klein_value"))
    assert (arch.value, arch.source) == ("my_klein_value", "override")
    assert fake_runware.tasks("modelSearch") == []


def test_architecture_refused_when_unresolved(runware_settings, fake_runware):
    del fake_runware.architectures["runware:400@5"]
    with pytest.raises(RunwareError) as caught:
        runware.resolve_architecture(runware_settings)
    assert caught.value.kind == "architecture"
    assert "RUNWARE_ARCHITECTURE" in str(caught.value)


@pytest.mark.parametrize("where", ["override", "runware"])
def test_flux1d_is_never_used(runware_settings, fake_runware, where):
    settings = runware_settings
    if where == "override":
        settings = replace(settings, runware_architecture="flux1d")
    else:
        fake_runware.architectures["runware:400@5"] = "flux1d"
    with pytest.raises(RunwareError) as caught:
        _register(settings, fake_runware)
    assert caught.value.kind == "architecture" and "FLUX.1 [dev]" in str(caught.value)
    assert fake_runware.tasks("modelUpload") == []


def test_registration_streams_stages_to_ready_and_is_idempotent(runware_settings, fake_runware):
    registration, events = _register(runware_settings, fake_runware)
    assert registration.status == "ready" and registration.air == "story:mira@1"
    assert registration.architecture == "flux2_klein_4b" and registration.architecture_source == "runware"
    assert [e.payload["stage"] for e in events] == ["architecture", *runware.STAGES]
    assert [e.step for e in events] == [1, 2, 3, 4, 5, 6]
    sent = fake_runware.tasks("modelUpload")[-1]
    assert sent["category"] == "lora" and sent["format"] == "safetensors"
    assert sent["uniqueIdentifier"] == SHA and sent["defaultWeight"] == 0.9
    assert sent["positiveTriggerWords"] == "mira" and sent["architecture"] == "flux2_klein_4b"
    assert "/files/mira.safetensors" in fake_runware.downloads
    again, events = _register(runware_settings, fake_runware)
    assert again.status == "ready" and [e.payload["stage"] for e in events] == ["architecture", "ready"]


def test_failed_download_is_one_sentence(runware_settings, fake_runware):
    with pytest.raises(RunwareError) as caught:
        _register(runware_settings, fake_runware, sha256="0" * 64)
    assert caught.value.kind == "upload_failed"
    assert "does not match" in caught.value.message and "register again" in caught.value.todo


@pytest.mark.parametrize("fault,kind", [("error", "refused"), ("drop", "dropped")])
def test_upload_error_frame_and_dropped_connection(runware_settings, fake_runware, fault, kind):
    fake_runware.upload_fault = fault
    with pytest.raises(RunwareError) as caught:
        _register(runware_settings, fake_runware)
    assert caught.value.kind == kind
    assert "Traceback" not in str(caught.value)


def test_server_that_goes_silent_is_a_bounded_wait(runware_settings, fake_runware):
    fake_runware.upload_fault = "silent"
    with pytest.raises(RunwareError) as caught:
        _register(runware_settings, fake_runware, stall_timeout=1.0)
    assert caught.value.kind == "timeout" and "story:mira@1" in caught.value.message


def test_bad_key_and_missing_key(runware_settings, fake_runware):
    with pytest.raises(RunwareError) as caught:
        runware.resolve_architecture(replace(runware_settings, runware_api_key="wrong-key"))
    assert caught.value.kind == "bad_key" and "RUNWARE_API_KEY" in str(caught.value)
    with pytest.raises(RunwareError) as caught:
        _register(replace(runware_settings, runware_api_key=None), fake_runware)
    assert caught.value.kind == "no_key"


def test_malformed_inputs_are_refused_before_sending(runware_settings, fake_runware):
    for changes in ({"air": "mira"}, {"default_weight": 7}, {"url": "file:///x"}):
        with pytest.raises(RunwareError):
            _register(replace(runware_settings, runware_architecture="x"), fake_runware, **changes)
    assert fake_runware.tasks("modelUpload") == []


@pytest.mark.parametrize("raw,parameter,message,kind", [
    ("insufficientCredits", None, "Insufficient credits.", "no_credit"),
    ("invalidApiKey", "apiKey", "Invalid API key.", "bad_key"),
    ("invalidLoraModel", "lora", "LoRA model x:y@1 not found.", "unknown_air"),
    ("invalidModel", "model", "Model not found.", "unknown_air"),
    ("modelNotReady", "lora", "LoRA x:y@1 is still being processed.", "not_ready"),
    ("invalidWidth", "width", "Invalid width.", "invalid_size"),
    ("timeoutProvider", None, "Provider timed out.", "timeout"),
    ("connectionLost", None, "Connection lost before the response arrived.", "dropped"),
    ("rateLimitExceeded", None, "Too many requests.", "rate_limit"),
    ("modelAlreadyExists", "air", "me:mira@1 already exists with another file.", "refused"),
])
def test_every_sdk_error_becomes_one_sentence(raw, parameter, message, kind):
    from runware import create_runware_error

    error = runware.explain(create_runware_error(raw, message, parameter=parameter), lora="x:y@1", size=(250, 256))
    assert error.kind == kind
    assert error.message.endswith(".") and "\n" not in str(error)
