"""The training room: the config a person edits, its checks and estimates, and a run's life in a worker process.

- config: the form and the full mflux train.json, presets
- checks: a config checked before start, in plain words
- estimates: time per step, an ETA band, sizes, peak memory
- aitoolkit: importing an ai-toolkit YAML into the form, with a report
- runner: start (a worker process), stop (saving), resume, status, the queue
- worker: `python -m core.training.worker RUN_DIR`, the process that runs mflux
"""

__all__ = ["config", "checks", "estimates", "aitoolkit", "runner", "worker"]
