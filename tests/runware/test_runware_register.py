"""Architecture resolution and LoRA registration with the real runware-sdk against the loopback Runware API."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from core.errors import (RunwareArchitectureError, RunwareAuthError, RunwareCreditError, RunwareDropped,
                         RunwareError, RunwareInvalidRequest, RunwareInvalidSize, RunwareKeyMissing, RunwareNotReady,
                         RunwareRateLimited, RunwareRefused, RunwareTimeout, RunwareUnknownAir, RunwareUploadFailed)
from core.runware import registry as runware
from core.runware.session import translate

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
    assert arch.value != fake_runware.architectures["runware:400@4"]  # the value of the AIR asked for
    search = fake_runware.tasks("modelSearch")[-1]
    assert search["search"] == "runware:400@5"


def test_architecture_override_wins_without_a_network_call(runware_settings, fake_runware):
    arch = runware.resolve_architecture(replace(runware_settings, runware_architecture="my_klein_value"))
    assert (arch.value, arch.source) == ("my_klein_value", "override")
    assert fake_runware.tasks("modelSearch") == []


def test_architecture_refused_when_unresolved(runware_settings, fake_runware):
    del fake_runware.architectures["runware:400@5"]
    with pytest.raises(RunwareArchitectureError) as caught:
        runware.resolve_architecture(runware_settings)
    assert "RUNWARE_ARCHITECTURE" in str(caught.value)


@pytest.mark.parametrize("value,family", [("flux1d", "FLUX.1 [dev]"), ("flux1s", "FLUX.1 [schnell]")])
@pytest.mark.parametrize("where", ["override", "runware"])
def test_flux1_architectures_are_never_used(runware_settings, fake_runware, where, value, family):
    settings = runware_settings
    if where == "override":
        settings = replace(settings, runware_architecture=value)
    else:
        fake_runware.architectures["runware:400@5"] = value
    with pytest.raises(RunwareArchitectureError) as caught:
        _register(settings, fake_runware)
    assert caught.value.value == value and family in str(caught.value)
    assert fake_runware.tasks("modelUpload") == []


def test_the_architecture_sent_is_the_one_runware_reported(runware_settings, fake_runware):
    reported = f"klein-arch-{SHA[:12]}"  # a value no code could know in advance
    fake_runware.architectures["runware:400@5"] = reported
    registration, events = _register(runware_settings, fake_runware)
    assert fake_runware.tasks("modelSearch")[-1]["search"] == "runware:400@5"
    assert fake_runware.tasks("modelUpload")[-1]["architecture"] == reported
    assert registration.architecture == reported and events[0].payload["value"] == reported


def test_registration_streams_stages_to_ready_and_is_idempotent(runware_settings, fake_runware):
    registration, events = _register(runware_settings, fake_runware)
    assert registration.status == "ready" and registration.air == "story:mira@1"
    assert registration.architecture == fake_runware.architecture and registration.architecture_source == "runware"
    assert [e.payload["stage"] for e in events] == ["architecture", *runware.STAGES]
    assert [e.step for e in events] == [1, 2, 3, 4, 5, 6]
    sent = fake_runware.tasks("modelUpload")[-1]
    assert sent["category"] == "lora" and sent["format"] == "safetensors"
    assert sent["uniqueIdentifier"] == SHA and sent["defaultWeight"] == 0.9
    assert sent["positiveTriggerWords"] == "mira" and sent["architecture"] == fake_runware.architecture
    assert "/files/mira.safetensors" in fake_runware.downloads
    again, events = _register(runware_settings, fake_runware)
    assert again.status == "ready" and [e.payload["stage"] for e in events] == ["architecture", "ready"]


def test_failed_download_is_one_sentence(runware_settings, fake_runware):
    with pytest.raises(RunwareUploadFailed) as caught:
        _register(runware_settings, fake_runware, sha256="0" * 64)
    assert caught.value.air == "story:mira@1"
    assert "does not match" in caught.value.message and "register again" in caught.value.todo


@pytest.mark.parametrize("fault,error", [("error", RunwareRefused), ("drop", RunwareDropped)])
def test_upload_error_frame_and_dropped_connection(runware_settings, fake_runware, fault, error):
    fake_runware.upload_fault = fault
    with pytest.raises(RunwareError) as caught:
        _register(runware_settings, fake_runware)
    assert type(caught.value) is error
    assert "Traceback" not in str(caught.value)


def test_server_that_goes_silent_is_a_bounded_wait(runware_settings, fake_runware):
    fake_runware.upload_fault = "silent"
    with pytest.raises(RunwareTimeout) as caught:
        _register(runware_settings, fake_runware, stall_timeout=1.0)
    assert caught.value.seconds == 1.0 and "story:mira@1" in caught.value.message


def test_bad_key_and_missing_key(runware_settings, fake_runware):
    with pytest.raises(RunwareAuthError) as caught:
        runware.resolve_architecture(replace(runware_settings, runware_api_key="wrong-key"))
    assert type(caught.value) is RunwareAuthError and "RUNWARE_API_KEY" in str(caught.value)
    with pytest.raises(RunwareKeyMissing):
        _register(replace(runware_settings, runware_api_key=None), fake_runware)


def test_malformed_inputs_are_refused_before_sending(runware_settings, fake_runware):
    for changes in ({"air": "mira"}, {"default_weight": 7}, {"url": "file:///x"}):
        with pytest.raises(RunwareInvalidRequest):
            _register(replace(runware_settings, runware_architecture="x"), fake_runware, **changes)
    assert fake_runware.tasks("modelUpload") == []


@pytest.mark.parametrize("raw,parameter,message,expected", [
    ("insufficientCredits", None, "Insufficient credits.", RunwareCreditError),
    ("invalidApiKey", "apiKey", "Invalid API key.", RunwareAuthError),
    ("invalidLoraModel", "lora", "LoRA model x:y@1 not found.", RunwareUnknownAir),
    ("invalidModel", "model", "Model not found.", RunwareUnknownAir),
    ("modelNotReady", "lora", "LoRA x:y@1 is still being processed.", RunwareNotReady),
    ("invalidWidth", "width", "Invalid width.", RunwareInvalidSize),
    ("timeoutProvider", None, "Provider timed out.", RunwareTimeout),
    ("connectionLost", None, "Connection lost before the response arrived.", RunwareDropped),
    ("rateLimitExceeded", None, "Too many requests.", RunwareRateLimited),
    ("modelAlreadyExists", "air", "me:mira@1 already exists with another file.", RunwareRefused),
])
def test_every_sdk_error_becomes_one_sentence(raw, parameter, message, expected):
    from runware import create_runware_error

    error = translate(create_runware_error(raw, message, parameter=parameter), lora="x:y@1", size=(250, 256))
    assert type(error) is expected
    assert error.message.endswith(".") and "\n" not in str(error)
