"""Where the person's work lives: datasets, runs, trash and logs below one movable root.

    <root>/datasets/<name>/images/NAME.png + NAME.txt   (exactly mflux's data layout)
    <root>/outputs/runs/<run-id>/                      (one training run, self-describing)
    <root>/outputs/trash/<timestamp>/                  (everything "deleted", recoverable)
    <root>/outputs/logs/app.log
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from core.errors import InvalidName, NotFound

MAX_NAME_LENGTH = 80
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_ALLOWED_PUNCTUATION = set(" -_.()+,@")


def check_name(name: str, kind: str = "dataset") -> str:
    """Return `name` (stripped, NFC) if it is safe as one folder name; otherwise raise InvalidName.

    Letters of any script (Korean included), digits, spaces and - _ . ( ) + , @ are allowed.
    Path separators, `..`, hidden (dot-first) names and control characters are not.
    """
    rule = "use letters, numbers, spaces, '-' or '_'"
    if not isinstance(name, str) or not name.strip():
        raise InvalidName(f"The {kind} name is empty.", f"Type a name; {rule}.")
    clean = unicodedata.normalize("NFC", name.strip())
    shown = clean.encode("unicode_escape").decode("ascii") if any(unicodedata.category(c)[0] == "C" for c in clean) else clean
    if len(clean) > MAX_NAME_LENGTH:
        raise InvalidName(f"The {kind} name is {len(clean)} characters long; the limit is {MAX_NAME_LENGTH}.", "Use a shorter name.")
    if "/" in clean or "\\" in clean or ".." in clean:
        raise InvalidName(f"The {kind} name '{shown}' contains '/', '\\' or '..', which would point outside its folder.", f"Pick a plain name; {rule}.")
    if clean.startswith("."):
        raise InvalidName(f"The {kind} name '{shown}' starts with '.', which hides it.", f"Pick a name that starts with a letter or number; {rule}.")
    for char in clean:
        if char.isalnum() or char in _ALLOWED_PUNCTUATION:
            continue
        if unicodedata.category(char).startswith("C"):
            raise InvalidName(f"The {kind} name '{shown}' contains a control character.", f"Retype it; {rule}.")
        raise InvalidName(f"The {kind} name '{shown}' contains '{char}', which cannot be part of a folder name here.", f"Remove it; {rule}.")
    if clean.lower().split(".")[0] in _WINDOWS_RESERVED:
        raise InvalidName(f"'{shown}' is a reserved device name on some systems.", "Pick another name.")
    return clean


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def outputs_dir(self) -> Path:
        return self.root / "outputs"

    @property
    def runs_dir(self) -> Path:
        return self.outputs_dir / "runs"

    @property
    def trash_dir(self) -> Path:
        return self.outputs_dir / "trash"

    @property
    def logs_dir(self) -> Path:
        return self.outputs_dir / "logs"

    @property
    def generations_dir(self) -> Path:
        return self.outputs_dir / "generations"

    def ensure(self) -> "Workspace":
        for folder in (self.datasets_dir, self.runs_dir, self.trash_dir, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    # --- datasets ---
    def dataset_dir(self, name: str, must_exist: bool = False) -> Path:
        path = self.datasets_dir / check_name(name, "dataset")
        if must_exist and not path.is_dir():
            known = ", ".join(self.list_datasets()) or "none yet"
            raise NotFound(f"There is no dataset named '{name}'.", f"Existing datasets: {known}.")
        return path

    def dataset_images_dir(self, name: str) -> Path:
        return self.dataset_dir(name) / "images"

    def list_datasets(self) -> list[str]:
        if not self.datasets_dir.is_dir():
            return []
        return sorted(p.name for p in self.datasets_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    # --- runs ---
    def run_dir(self, run_id: str, must_exist: bool = False) -> Path:
        path = self.runs_dir / check_name(run_id, "run")
        if must_exist and not path.is_dir():
            raise NotFound(f"There is no run named '{run_id}'.", "See the runs list (`python -m core runs list`).")
        return path

    def list_runs(self) -> list[str]:
        """Run ids, newest first."""
        if not self.runs_dir.is_dir():
            return []
        runs = [p for p in self.runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
        return [p.name for p in sorted(runs, key=lambda p: p.name, reverse=True)]

    def new_run_id(self, dataset: str, now: float | None = None) -> str:
        """A fresh, sortable run id: `YYYYMMDD-HHMMSS-<dataset>` (with a counter if taken)."""
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        base = f"{stamp}-{re.sub(r'[^0-9A-Za-z_-]+', '-', check_name(dataset)).strip('-') or 'run'}"
        run_id, counter = base, 2
        while (self.runs_dir / run_id).exists():
            run_id = f"{base}-{counter}"
            counter += 1
        return run_id


def workspace_from(settings) -> Workspace:
    return Workspace(Path(settings.workspace))
