"""Paths, defaults and secrets, read once from `.env` (python-dotenv) and the environment.

The environment wins over `.env`. Secrets are kept out of `repr`, registered for redaction the
moment they are read, and never written anywhere by this module.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
DEFAULT_ENV_FILE = PROJECT_ROOT / ".env"
MIN_PYTHON = (3, 11)

SECRET_KEYS = ("HF_TOKEN", "RUNWARE_API_KEY", "APP_PASSWORD")
KNOWN_KEYS = SECRET_KEYS + (
    "HF_ENDPOINT",
    "RUNWARE_WS_URL",
    "WORKSPACE_DIR",
    "APP_CACHE_DIR",
    "APP_HOST",
    "APP_PORT",
    "APP_USERNAME",
    "RUNWARE_ARCHITECTURE",
    "VAE_DECODE_MODE",
    "LIKENESS_MODEL",
)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

# Every secret value read by load_settings() (or registered by a test) is replaced by redact().
_registered_secrets: dict[str, str] = {}
# Token-shaped strings are hidden even when we never saw them as settings.
_SECRET_PATTERNS = (
    re.compile(r"\bhf_[A-Za-z0-9]{20,}\b"),
    re.compile(r"(?i)(authorization:\s*bearer\s+)[^\s\"']+"),
    re.compile(r"(?i)(\"?api_?key\"?\s*[:=]\s*\"?)[^\s\"',}]{6,}"),
)


def register_secret(name: str, value: str | None) -> None:
    """Make redact() hide `value` from now on (values shorter than 4 characters are ignored)."""
    if value and len(value) >= 4:
        _registered_secrets[value] = name


def redact(text: object) -> str:
    """Return `text` with every known secret and token-shaped string replaced by a placeholder."""
    out = str(text)
    for value, name in sorted(_registered_secrets.items(), key=lambda kv: -len(kv[0])):
        if value in out:
            out = out.replace(value, f"[{name} hidden]")
    for pattern in _SECRET_PATTERNS:
        out = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[secret hidden]", out)
    return out


def mask(value: str | None) -> str:
    """How a secret is shown to a person: whether it is set, never the value."""
    if not value:
        return "not set"
    if len(value) < 12:
        return f"set ({len(value)} characters)"
    return f"set ({value[:3]}…{value[-2:]}, {len(value)} characters)"


@dataclass(frozen=True)
class Settings:
    workspace: Path
    cache_dir: Path
    host: str = "127.0.0.1"
    port: int = 7860
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    hf_token: str | None = field(default=None, repr=False)
    runware_api_key: str | None = field(default=None, repr=False)
    hf_endpoint: str | None = None
    runware_ws_url: str | None = None
    runware_architecture: str | None = None
    vae_decode_mode: str | None = None
    likeness_model: str | None = None
    env_file: Path | None = None
    warnings: tuple[str, ...] = ()

    @property
    def is_loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS

    def secrets_status(self) -> dict[str, str]:
        """Which secrets are set, masked; safe to show on a page or in JSON."""
        return {
            "HF_TOKEN": mask(self.hf_token),
            "RUNWARE_API_KEY": mask(self.runware_api_key),
        }


def _read_env_file(path: Path) -> tuple[dict[str, str], list[str]]:
    """Values from a .env file and one warning per line that could not be read."""
    from dotenv.parser import parse_stream

    values: dict[str, str] = {}
    warnings: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return {}, [f"{path.name} is not UTF-8 text and was ignored; save it as UTF-8."]
    except OSError as exc:
        return {}, [f"{path.name} could not be read ({exc.strerror}); check its permissions."]
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            line = binding.original.line
            # The line itself may hold a secret: name its number, never its content.
            warnings.append(f"Line {line} of {path.name} is not NAME=value and was ignored; fix or delete it.")
            continue
        if binding.key is None:
            continue
        values[binding.key] = binding.value or ""
    for key in values:
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1, cutoff=0.75)
            if close:
                warnings.append(f"{key} in {path.name} is not a setting this app reads; did you mean {close[0]}?")
    return values, warnings


def _path_setting(raw: str | None, default: Path) -> Path:
    if not raw:
        return default
    path = Path(os.path.expanduser(raw))
    return path if path.is_absolute() else (PROJECT_ROOT / path)


def load_settings(
    env_file: Path | None = DEFAULT_ENV_FILE,
    environ: dict[str, str] | None = None,
    workspace: str | Path | None = None,
    export: bool = True,
) -> Settings:
    """Read settings: explicit arguments, then the environment, then `.env`, then defaults.

    With `export`, endpoint settings that libraries read at import time (HF_ENDPOINT) are copied
    into os.environ; call this before huggingface_hub is imported.
    """
    env = dict(os.environ if environ is None else environ)
    file_values: dict[str, str] = {}
    warnings: list[str] = []
    used_env_file: Path | None = None
    if env_file is not None and Path(env_file).is_file():
        used_env_file = Path(env_file)
        file_values, warnings = _read_env_file(used_env_file)

    def get(key: str) -> str | None:
        value = env.get(key)
        if value is None or value == "":
            value = file_values.get(key)
        return value.strip() if isinstance(value, str) and value.strip() else None

    port_raw = get("APP_PORT")
    try:
        port = int(port_raw) if port_raw else 7860
        if not 1 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise SettingsError(
            f"APP_PORT must be a port number between 1 and 65535, not {port_raw!r}.",
            "Fix APP_PORT in .env or the environment.",
        ) from None

    for key in SECRET_KEYS:
        register_secret(key, get(key))

    hf_endpoint = get("HF_ENDPOINT")
    if export and hf_endpoint and os.environ.get("HF_ENDPOINT") != hf_endpoint:
        if "huggingface_hub" in sys.modules:
            warnings.append("HF_ENDPOINT changed after huggingface_hub was loaded; restart the app for it to apply.")
        os.environ["HF_ENDPOINT"] = hf_endpoint

    return Settings(
        workspace=_path_setting(str(workspace) if workspace else get("WORKSPACE_DIR"), PROJECT_ROOT).resolve(),
        cache_dir=_path_setting(get("APP_CACHE_DIR"), PROJECT_ROOT / ".cache").resolve(),
        host=get("APP_HOST") or "127.0.0.1",
        port=port,
        username=get("APP_USERNAME"),
        password=get("APP_PASSWORD"),
        hf_token=get("HF_TOKEN"),
        runware_api_key=get("RUNWARE_API_KEY"),
        hf_endpoint=hf_endpoint,
        runware_ws_url=get("RUNWARE_WS_URL"),
        runware_architecture=get("RUNWARE_ARCHITECTURE"),
        vae_decode_mode=get("VAE_DECODE_MODE"),
        likeness_model=get("LIKENESS_MODEL"),
        env_file=used_env_file,
        warnings=tuple(warnings),
    )


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> None:
    """Refuse a Python older than MIN_PYTHON with a sentence saying what to install."""
    if tuple(version[:2]) < MIN_PYTHON:
        have = ".".join(str(v) for v in version[:3])
        need = ".".join(str(v) for v in MIN_PYTHON)
        raise SettingsError(
            f"This app needs Python {need} or newer, but it was started with Python {have}.",
            "Install a newer Python (on a Mac: `brew install python@3.12`), delete .venv and run `make run` again.",
        )
