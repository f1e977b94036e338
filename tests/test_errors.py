"""The one place that turns an exception into the sentence a person reads, and the typed errors behind it."""

from __future__ import annotations

import errno

import pytest

from core.errors import (AppError, RunwareDropped, RunwareConnectionError, RunwareError, RunwareUnknownAir,
                         TrainingDataChanged, TrainingDiskFull, TrainingFailed, TrainingOutOfMemory, UnexpectedError,
                         as_app_error, describe)
from core.training.worker import translate as training_failure


def test_our_error_is_its_message_then_what_to_do():
    error = AppError("The dataset mira does not exist.", "Create it first.")
    assert describe(error) == str(error) == "The dataset mira does not exist. Create it first."
    assert as_app_error(error) is error


def test_an_unexpected_exception_says_where_the_details_are():
    wrapped = as_app_error(KeyError("steps"))
    assert isinstance(wrapped, UnexpectedError) and isinstance(wrapped.error, KeyError)
    assert describe(ValueError("bad value.")) == ("Something went wrong: bad value. "
                                                  "The details are in outputs/logs/app.log.")
    assert describe(RuntimeError()).startswith("Something went wrong: RuntimeError.")


def test_standard_sentences_come_from_the_fields_and_a_raise_site_may_say_more():
    assert str(RunwareUnknownAir(air="me:x@1", lora=True)).startswith("Runware does not know the LoRA me:x@1")
    assert str(RunwareUnknownAir(air="runware:9@9")).startswith("Runware does not know the model runware:9@9.")
    dropped = RunwareDropped(doing="the image request")
    assert isinstance(dropped, RunwareConnectionError) and isinstance(dropped, RunwareError)
    assert dropped.message == "The connection to Runware dropped before the image request finished."
    own = RunwareUnknownAir("Run r has no LoRA yet.", "Publish it.", lora=True)
    assert str(own) == "Run r has no LoRA yet. Publish it." and own.lora


@pytest.mark.parametrize("error,kind,start", [
    (MemoryError(), TrainingOutOfMemory, "Training ran out of memory."),
    (RuntimeError("[metal] Insufficient Memory (kIOGPUCommandBufferCallbackErrorOutOfMemory)"), TrainingOutOfMemory,
     "Training ran out of memory."),
    (OSError(errno.ENOSPC, "No space left on device"), TrainingDiskFull, "The disk is full"),
    (ValueError("dataset fingerprint differs"), TrainingDataChanged, "The dataset changed since this run started"),
    (ValueError("lora_rank must be positive"), TrainingFailed, "Training failed: lora_rank must be positive"),
])
def test_a_training_failure_becomes_a_typed_error_with_its_sentence(error, kind, start):
    failure = training_failure(error)
    assert type(failure) is kind and failure.message.startswith(start) and failure.todo
    assert describe(failure) == f"{failure.message} {failure.todo}"
