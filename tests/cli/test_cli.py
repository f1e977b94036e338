import json

from tests.support.env import cli_env, run_cli


def test_doctor_json_reports_the_machine_without_secrets(workspace_dir, cache_dir):
    env = cli_env(workspace_dir, cache_dir, HF_TOKEN="hf_CliSecretToken0123456789abcdefgh")
    code, data, _ = run_cli(["doctor"], env)
    assert code == 0, data
    assert data["ok"] is True
    assert data["mflux_version"] == "0.24.0"
    assert data["mlx_backend"] in {"cpu", "metal", "cuda"}
    assert data["memory_gb"] > 0 and data["free_disk_gb"] > 0
    assert data["workspace"] == str(workspace_dir.resolve())
    assert data["klein_base_cached"] is False
    assert data["secrets"]["HF_TOKEN"].startswith("set") and data["secrets"]["RUNWARE_API_KEY"] == "not set"
    assert "hf_CliSecretToken0123456789abcdefgh" not in json.dumps(data)


def test_workspace_flag_is_accepted_on_the_subcommand(tmp_path, cache_dir):
    other = tmp_path / "external-disk"
    other.mkdir()
    code, data, _ = run_cli(["doctor", "--workspace", str(other)], cli_env(tmp_path, cache_dir))
    assert code == 0 and data["workspace"] == str(other.resolve())


def test_selftest_model_build_into_a_folder(tmp_path, workspace_dir, cache_dir):
    target = tmp_path / "tiny"
    code, data, _ = run_cli(["selftest-model", "build", str(target)], cli_env(workspace_dir, cache_dir))
    assert code == 0, data
    assert data["built"] is True and data["path"] == str(target)
    assert (target / "transformer" / "diffusion_pytorch_model.safetensors").is_file()
    assert 0 < data["bytes"] < 5_000_000


def test_selftest_model_build_refuses_a_foreign_folder_and_leaves_it(tmp_path, workspace_dir, cache_dir):
    target = tmp_path / "my-stuff"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    code, data, _ = run_cli(["selftest-model", "build", str(target)], cli_env(workspace_dir, cache_dir))
    assert code == 1
    assert data == {"ok": False, "error": f"{target} is not empty and is not a self-test model folder. Choose an empty or new folder."}
    assert (target / "notes.txt").read_text() == "mine"


def test_bad_app_port_setting_is_one_sentence(workspace_dir, cache_dir):
    code, data, _ = run_cli(["doctor"], cli_env(workspace_dir, cache_dir, APP_PORT="seventy"))
    assert code == 1
    assert data["error"].startswith("APP_PORT must be a port number")
    assert "Traceback" not in data["error"]
