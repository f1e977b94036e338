"""`checkpoints prune RUN --keep N` and `checkpoints delete RUN STEP`, and the ai-toolkit import report that points to them."""

from core.training.aitoolkit import import_yaml
from core.training.config import TrainPlan
from tests.checkpoints.test_prune import run_with_checkpoints, steps_of
from tests.support.env import cli_env, run_cli

AITOOLKIT = """
config:
  process:
    - type: sd_trainer
      save:
        save_every: 100
        max_step_saves_to_keep: 2
"""


def test_the_import_report_names_a_command_that_keeps_the_newest(workspace, workspace_dir, cache_dir):
    paths = run_with_checkpoints(workspace, chosen=100)
    report = " | ".join(import_yaml(AITOOLKIT, TrainPlan()).missing)
    command = report.split("`python -m core ", 1)[1].split("`", 1)[0]
    assert command == "checkpoints prune RUN --keep 2"
    env = cli_env(workspace_dir, cache_dir)
    args = command.replace("RUN", paths.run_id).split()
    code, data, stderr = run_cli(args + ["--dry-run"], env)
    assert code == 0, stderr
    assert data["would_remove"] == [0, 200] and data["protected"] == [100] and steps_of(paths) == [0, 100, 200, 300, 400]
    code, data, _ = run_cli(args, env)
    assert code == 0 and data["removed"] == [0, 200] and steps_of(paths) == [100, 300, 400]
    code, data, _ = run_cli(["checkpoints", "delete", paths.run_id, "100"], env)
    assert code == 1 and "chosen checkpoint" in data["error"]
    code, data, _ = run_cli(["checkpoints", "delete", paths.run_id, "300"], env)
    assert code == 0 and data["removed"] == [300] and steps_of(paths) == [100, 400]
