"""A tiny random DINOv2 (transformers) written to a folder, so likeness scoring runs offline in tests."""

from __future__ import annotations

from pathlib import Path


def build_tiny_dinov2(folder: Path) -> Path:
    import torch
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    config = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=56, patch_size=14)
    Dinov2Model(config).save_pretrained(str(folder))
    BitImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 56, "width": 56}, do_center_crop=True,
                      image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]).save_pretrained(str(folder))
    return Path(folder)
