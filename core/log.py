"""The app's log file. Every line, tracebacks included, passes through settings.redact()."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from core.settings import redact

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(logs_dir: Path, level: int = logging.INFO, console: bool = True) -> Path:
    """Send our loggers to `logs_dir/app.log` (rotated) and warnings to stderr, all redacted."""
    logs_dir = Path(logs_dir)
    logs_dir.mkdir(parents=True, exist_ok=True)
    log_file = logs_dir / "app.log"
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_lora_app", False):
            root.removeHandler(handler)
    file_handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    file_handler.setFormatter(RedactingFormatter(LOG_FORMAT))
    file_handler._lora_app = True  # type: ignore[attr-defined]
    root.addHandler(file_handler)
    if console:
        stream = logging.StreamHandler()
        stream.setLevel(logging.WARNING)
        stream.setFormatter(RedactingFormatter("%(levelname)s: %(message)s"))
        stream._lora_app = True  # type: ignore[attr-defined]
        root.addHandler(stream)
    root.setLevel(min(level, root.level) if root.level else level)
    for noisy in ("httpx", "httpcore", "urllib3", "websockets", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return log_file
