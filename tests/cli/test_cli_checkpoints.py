"""`python -m core checkpoints|compare|generate` on a real self-test run, as a person would type them."""

import pytest

from tests.support.env import cli_env, run_cli

pytestmark = pytest.mark.slow  # a trained run, and mflux renders


def test_list_export_validate_choose(run_copy, workspace_dir, cache_dir, tmp_path):
    env = cli_env(workspace_dir, cache_dir)
    code, data, _ = run_cli(["checkpoints", "list", run_copy.run_id], env)
    assert code == 0, data
    assert [c["step"] for c in data["checkpoints"]] == [0, 1, 2, 3] and data["chosen"] is None
    out = tmp_path / "mira.safetensors"
    code, data, _ = run_cli(["checkpoints", "export", run_copy.run_id, str(out), "--step", "2"], env)
    assert code == 0 and data["path"] == str(out) and out.is_file() and data["metadata"]["trigger_word"] == "mira"
    code, data, _ = run_cli(["checkpoints", "validate", str(out)], env)
    assert code == 0 and data["naming"] == "diffusers" and data["layers"] == 16 and "32 of 32 keys match" in data["summary"]
    code, data, _ = run_cli(["checkpoints", "validate", str(out), "--model", "flux2-klein-base-4b"], env)
    assert code == 1 and data["problems"][0].startswith("16 of 16 layers do not have FLUX.2 klein 4B's shapes")
    code, data, _ = run_cli(["checkpoints", "choose", run_copy.run_id, "3", "--strength", "1.25"], env)
    assert code == 0 and data["step"] == 3 and data["strength"] == 1.25
    code, data, _ = run_cli(["checkpoints", "list", "no-such-run"], env)
    assert code == 1 and data["error"].startswith("There is no run named 'no-such-run'.")


def test_compare_then_generate_with_the_lora(run_copy, workspace_dir, cache_dir, tmp_path):
    env = cli_env(workspace_dir, cache_dir)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("{trigger}, portrait\n")
    args = ["compare", run_copy.run_id, "--prompts", str(prompts), "--scales", "1.0,1.5", "--seeds", "1", "--steps", "3",
            "--size", "64x64", "--sample-steps", "2"]
    code, data, _ = run_cli(args, env)
    assert code == 0, data
    assert data["rows"] == ["base", "3"] and len(data["cells"]) == 3
    assert {c["prompt"] for c in data["cells"]} == {"mira, portrait"}
    code, again, _ = run_cli(args, env)
    assert all(c["cached"] for c in again["cells"])
    adapter = data["cells"][-1]["settings"]["adapter"]
    code, data, stderr = run_cli(["generate", "--prompt", "mira, smiling", "--model", "selftest", "--width", "64", "--height", "64",
                                  "--steps", "2", "--seed", "11", "--lora", f"{adapter}:1.5"], env)
    assert code == 0, (data, stderr)
    image = data["images"][0]
    assert image["settings"]["seed"] == 11 and image["settings"]["loras"][0]["strength"] == 1.5
