"""The runs room: a training run's folder and what it records, read by training, checkpoints, publishing and the UI.

- paths: `RunPaths`, `run_paths(workspace, run_id)`, listing runs
- state: a run's status, kept true when its worker is gone
- events: the run's structured progress events (events.jsonl)
- diff: what changed between two runs' configs
"""

__all__ = ["paths", "state", "events", "diff"]
