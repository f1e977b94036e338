"""The base models a person can pick, by the name they see, and what each needs before use."""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from pathlib import Path

from core import constants, system
from core.errors import ModelError
from core.models import selftest_model


@dataclass(frozen=True)
class BaseModel:
    key: str  # the name in the UI, the CLI and our run records
    label: str
    mflux_name: str  # the name mflux knows
    hf_repo: str | None  # where mflux downloads the weights from on first use
    default_steps: int
    default_guidance: float
    trainable: bool
    is_selftest: bool = False
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


SELFTEST = BaseModel(
    key=constants.SELFTEST,
    label="Self-test model (tiny, random: checks the pipeline, not quality)",
    mflux_name="flux2-klein-base-4b",
    hf_repo=None,
    default_steps=2,
    default_guidance=4.0,
    trainable=True,
    is_selftest=True,
    note="Built offline in seconds; its images are noise.",
)
KLEIN_BASE_4B = BaseModel(
    key=constants.KLEIN_BASE_4B,
    label="FLUX.2 klein Base 4B (the model you train on; ~50 steps)",
    mflux_name="flux2-klein-base-4b",
    hf_repo=constants.KLEIN_BASE_4B_REPO,
    default_steps=50,
    default_guidance=4.0,
    trainable=True,
    note="About 15 GB downloaded on first use.",
)
KLEIN_4B = BaseModel(
    key=constants.KLEIN_4B,
    label="FLUX.2 klein 4B distilled (4 steps; base-trained LoRAs are commonly used on it)",
    mflux_name="flux2-klein-4b",
    hf_repo=constants.KLEIN_4B_REPO,
    default_steps=4,
    default_guidance=1.0,
    trainable=False,
    note="About 15 GB downloaded on first use.",
)
BASE_MODELS: dict[str, BaseModel] = {m.key: m for m in (KLEIN_BASE_4B, KLEIN_4B, SELFTEST)}


def resolve(key: str, for_training: bool = False) -> BaseModel:
    """The BaseModel named `key`; an unknown or untrainable name gets a sentence naming the choices."""
    model = BASE_MODELS.get((key or "").strip())
    if model is None:
        close = difflib.get_close_matches((key or "").strip(), list(BASE_MODELS), n=1, cutoff=0.6)
        hint = f"Did you mean '{close[0]}'? " if close else ""
        raise ModelError(f"'{key}' is not a model this app knows.", f"{hint}Choose one of: {', '.join(BASE_MODELS)}.")
    if for_training and not model.trainable:
        raise ModelError(
            f"'{model.key}' is the distilled model; LoRAs are trained on the base model.",
            "Train on 'flux2-klein-base-4b' (or 'selftest' to check the pipeline); you can still generate with the distilled one.",
        )
    return model


def weights_in_cache(model: BaseModel) -> bool:
    """Whether a snapshot of the model with transformer weights is already in the local Hub cache."""
    return model.hf_repo is not None and system.weights_in_cache(model.hf_repo)


def prepare(model: BaseModel, cache_dir: Path) -> Path | None:
    """Make this process ready to load `model` with mflux; returns the model_path to pass (None = Hub)."""
    if model.is_selftest:
        path = selftest_model.ensure(cache_dir)
        selftest_model.use_selftest_geometry()
        return path
    selftest_model.use_real_geometry()
    return None
