"""Likeness scoring keeps the embeddings of the most recently scored images only."""

from __future__ import annotations

from core.checkpoints import likeness
from tests.support.images import write_mflux_dataset


def test_the_embedding_cache_keeps_only_the_most_recently_used(tmp_path, likeness_model_dir, monkeypatch):
    model = str(likeness_model_dir)
    likeness.unload()
    monkeypatch.setattr(likeness, "CACHE_LIMIT", 3, raising=False)
    images = sorted(write_mflux_dataset(tmp_path / "images", count=5).glob("*.png"))
    assert len(images) == 5
    likeness.score(images[:3], images[:1], model=model)  # 3 embeddings (the reference is among them)
    likeness.score(images[:1], images[:1], model=model)  # images[0] is the most recently used now
    likeness.score(images[3:], images[:1], model=model)  # 2 more: the two least recently used go
    cached = {key[0] for key in likeness._embedding_cache}
    assert cached == {str(p.resolve()) for p in (images[0], images[3], images[4])}
    assert likeness.score([images[1]], [images[1]], model=model) == [1.0]  # an evicted image is embedded again
    assert len(likeness._embedding_cache) == 3
    likeness.unload()


def test_a_failed_download_names_the_hub_actually_asked(tmp_path, monkeypatch):
    """HF_ENDPOINT points at a mirror (here the loopback Hub, which lacks DINOv2): the sentence names that host, not
    huggingface.co, and says what to do."""
    import subprocess
    import sys

    from core.errors import ModelDownloadFailed
    from core.selftest.loopback_hub import FakeHub
    from tests.support.env import PROJECT_ROOT

    hub = FakeHub().start()
    try:
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
        likeness.unload()
        try:
            likeness.score([tmp_path / "a.png"], [tmp_path / "b.png"], model="facebook/dinov2-small", endpoint=hub.url)
        except ModelDownloadFailed as error:
            sentence = str(error)
        assert sentence.startswith(f"The likeness model (facebook/dinov2-small) could not be downloaded from {hub.url}")
        assert "huggingface.co" not in sentence and "LIKENESS_MODEL" in sentence
        # No endpoint given (the Playground's call): the HF_ENDPOINT the process started with.
        code = ("from core.checkpoints import likeness\n"
                "try:\n    likeness.score(['a.png'], ['b.png'], model='facebook/dinov2-small')\n"
                "except Exception as error:\n    print(error)\n")
        env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf2"), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
        assert f"could not be downloaded from {hub.url}" in done.stdout and "huggingface.co" not in done.stdout, done.stdout + done.stderr
    finally:
        hub.stop()
        likeness.unload()
