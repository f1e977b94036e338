from pathlib import Path

import pytest

from core.errors import SettingsError
from core.settings import check_python, load_settings, mask, redact, register_secret

TOKEN = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


def write_env(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text, encoding="utf-8")
    return path


def test_env_file_values_and_environment_precedence(tmp_path):
    env_file = write_env(tmp_path, f"HF_TOKEN={TOKEN}\nRUNWARE_API_KEY=from-file-key\nAPP_PORT=7999\nWORKSPACE_DIR=ws\n")
    settings = load_settings(env_file=env_file, environ={"RUNWARE_API_KEY": "from-environment"}, export=False)
    assert settings.hf_token == TOKEN
    assert settings.runware_api_key == "from-environment"
    assert settings.port == 7999
    assert settings.workspace.name == "ws" and settings.workspace.is_absolute()
    assert settings.warnings == ()


def test_explicit_workspace_wins(tmp_path):
    env_file = write_env(tmp_path, "WORKSPACE_DIR=/somewhere/else\n")
    settings = load_settings(env_file=env_file, environ={}, workspace=tmp_path / "mine", export=False)
    assert settings.workspace == (tmp_path / "mine").resolve()


def test_malformed_line_is_reported_by_number_without_its_content(tmp_path):
    env_file = write_env(tmp_path, "HF_TOKEN hf_secretvalue_without_equals_sign_123\nAPP_PORT=7861\n")
    settings = load_settings(env_file=env_file, environ={}, export=False)
    assert settings.port == 7861
    assert len(settings.warnings) == 1
    assert "Line 1" in settings.warnings[0]
    assert "secretvalue" not in settings.warnings[0]


def test_misspelled_setting_gets_a_suggestion(tmp_path):
    settings = load_settings(env_file=write_env(tmp_path, "HF_TOKNE=abc\n"), environ={}, export=False)
    assert any("did you mean HF_TOKEN" in w for w in settings.warnings)


def test_env_file_in_another_encoding_is_reported_not_fatal(tmp_path):
    path = tmp_path / ".env"
    path.write_bytes("APP_PORT=7860\nNOTE=caf\xe9\n".encode("latin-1"))
    settings = load_settings(env_file=path, environ={}, export=False)
    assert any("not UTF-8" in w for w in settings.warnings)


@pytest.mark.parametrize("port", ["abc", "0", "70000"])
def test_bad_port_is_one_clear_sentence(tmp_path, port):
    with pytest.raises(SettingsError, match="APP_PORT must be a port number"):
        load_settings(env_file=None, environ={"APP_PORT": port}, export=False)


def test_secrets_never_in_repr_and_masked_for_display(tmp_path):
    settings = load_settings(env_file=None, environ={"HF_TOKEN": TOKEN, "RUNWARE_API_KEY": "rw-key-0123456789"}, export=False)
    assert TOKEN not in repr(settings)
    status = settings.secrets_status()
    assert TOKEN not in str(status) and "rw-key-0123456789" not in str(status)
    assert status["HF_TOKEN"].startswith("set")
    assert mask(None) == "not set"


def test_redact_hides_registered_secrets_and_token_shapes():
    register_secret("RUNWARE_API_KEY", "rw-registered-secret")
    text = f"sent rw-registered-secret and {TOKEN} and Authorization: Bearer abc.def.ghi"
    out = redact(text)
    assert "rw-registered-secret" not in out
    assert TOKEN not in out
    assert "abc.def.ghi" not in out
    assert "[RUNWARE_API_KEY hidden]" in out


def test_settings_register_their_secrets_for_redaction():
    load_settings(env_file=None, environ={"APP_PASSWORD": "correct horse battery"}, export=False)
    assert "correct horse battery" not in redact("login with correct horse battery")


def test_hf_endpoint_is_exported_for_huggingface_hub(monkeypatch):
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    import os

    load_settings(env_file=None, environ={"HF_ENDPOINT": "http://127.0.0.1:9"})
    assert os.environ["HF_ENDPOINT"] == "http://127.0.0.1:9"


def test_too_old_python_says_what_to_install():
    with pytest.raises(SettingsError, match=r"needs Python 3\.11 or newer.*3\.9\.6"):
        check_python((3, 9, 6))
    check_python((3, 11, 0))


def test_telemetry_is_off_once_core_is_imported():
    import os

    import core  # noqa: F401

    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert os.environ["HF_HUB_DISABLE_TELEMETRY"].lower() in {"1", "true"}
