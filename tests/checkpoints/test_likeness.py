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
