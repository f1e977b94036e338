"""The self-test room: `python -m core selftest`, the whole pipeline offline, and the stand-ins it starts.

- runner: `run(settings)`, the stages in order, one PASS/FAIL line each
- stages, stage: the stages and the types they share
- offline: the tiny Florence-2 and DINOv2 and the loopback Hub and Runware servers, started for a self-test
- loopback_hub, loopback_runware, loopback_files: servers that speak the real protocols (the tests reuse them)
- tiny_florence, tiny_dinov2, pictures: models and pictures built offline
"""

__all__ = ["runner", "stages", "stage", "offline", "loopback_hub", "loopback_runware", "loopback_files", "tiny_florence", "tiny_dinov2", "pictures"]
