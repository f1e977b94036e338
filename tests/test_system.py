"""The machine check's view of the Hub cache: weights count as cached only where mflux will load them."""

from __future__ import annotations

from core import constants, system

PINNED = "a3b4f4849157f664bdbc776fd7453c2783562f4d"  # what mflux 0.24.0 loads for FLUX.2-klein-base-4B


def _snapshot(cache, repo: str, revision: str) -> None:
    folder = cache / ("models--" + repo.replace("/", "--")) / "snapshots" / revision / "transformer"
    folder.mkdir(parents=True)
    (folder / "diffusion_pytorch_model.safetensors").write_bytes(b"\0" * 16)


def test_only_the_revision_mflux_pins_counts_as_cached(tmp_path, monkeypatch):
    from huggingface_hub import constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))
    repo = constants.KLEIN_BASE_4B_REPO
    assert system.pinned_revision(repo) == PINNED
    assert not system.weights_in_cache(repo)
    _snapshot(tmp_path, repo, "0" * 40)  # another commit of the same repo: mflux would download its own again
    assert not system.weights_in_cache(repo)
    _snapshot(tmp_path, repo, PINNED)
    assert system.weights_in_cache(repo)


def test_a_repo_mflux_does_not_pin_accepts_any_snapshot(tmp_path, monkeypatch):
    from huggingface_hub import constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))
    repo = "someone/unpinned-model"
    assert system.pinned_revision(repo) is None
    assert not system.weights_in_cache(repo)
    _snapshot(tmp_path, repo, "1" * 40)
    assert system.weights_in_cache(repo)
