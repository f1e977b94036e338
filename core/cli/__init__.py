"""`python -m core`: every tab's job without the UI, through the same core calls.

Each subcommand lives in its own module here with a `register(commands)` function; add new ones to
COMMAND_MODULES. Every subcommand accepts `--json` and `--workspace DIR`, prints one JSON object
with `--json`, and exits non-zero when it failed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from core.errors import AppError, describe
from core.progress import Progress
from core.settings import Settings, check_python, load_settings, redact
from core.workspace import Workspace
from core.log import setup_logging

COMMAND_MODULES = (
    "core.cli.doctor",
    "core.cli.selftest_model",
    "core.cli.selftest",
    "core.cli.dataset",
    "core.cli.captions",
    "core.cli.train",
    "core.cli.runs",
    "core.cli.checkpoints",
    "core.cli.compare",
    "core.cli.generate",
    "core.cli.runware",
    "core.cli.publish",
)

log = logging.getLogger("core.cli")


@dataclass
class Outcome:
    """What a command returns: data for --json, text for people, and whether it succeeded."""

    data: dict[str, Any]
    text: str = ""
    ok: bool = True


@dataclass
class Context:
    args: argparse.Namespace
    settings: Settings
    json: bool = False
    events: list[Progress] = field(default_factory=list)

    @property
    def workspace(self):
        return Workspace(self.settings.workspace)

    def progress(self, event: Progress) -> None:
        """Show a progress event: on stderr for people; kept out of stdout so --json stays parseable."""
        self.events.append(event)
        if not self.json:
            total = f"/{event.total}" if event.total else ""
            print(f"[{event.step}{total}] {redact(event.message)}", file=sys.stderr, flush=True)


Handler = Callable[[Context], Outcome]


class Commands:
    """The subcommand registry handed to each module's register()."""

    def __init__(self, subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
        self._subparsers = subparsers
        self._common = common

    def add(self, name: str, help: str, handler: Handler | None = None) -> argparse.ArgumentParser:
        parser = self._subparsers.add_parser(name, help=help, description=help, parents=[self._common])
        if handler is not None:
            parser.set_defaults(handler=handler)
        return parser

    def group(self, name: str, help: str) -> "Commands":
        """A command with its own subcommands, e.g. `selftest-model build`."""
        parser = self._subparsers.add_parser(name, help=help, description=help)
        return Commands(parser.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND"), self._common)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one machine-readable JSON object")
    common.add_argument("--workspace", metavar="DIR", help="where datasets/ and outputs/ live (default: WORKSPACE_DIR or the project folder)")
    parser = argparse.ArgumentParser(prog="python -m core", description="Train, compare and publish FLUX.2 klein character LoRAs.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands = Commands(subparsers, common)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    as_json = bool(getattr(args, "json", False))
    try:
        check_python()
        settings = load_settings(workspace=getattr(args, "workspace", None))
        context = Context(args=args, settings=settings, json=as_json)
        _start_log(settings)
        outcome = args.handler(context)
    except KeyboardInterrupt:
        return _fail("Interrupted.", as_json, code=130)
    except Exception as error:  # the person gets a sentence; the traceback of an unexpected one goes to the log
        if not isinstance(error, AppError):
            log.error("command failed: %s", traceback.format_exc())
        return _fail(describe(error), as_json)
    if as_json:
        print(redact(json.dumps({"ok": outcome.ok, **outcome.data}, indent=2, ensure_ascii=False, default=str)))
    elif outcome.text:
        print(redact(outcome.text))
    return 0 if outcome.ok else 1


def _start_log(settings: Settings) -> None:
    try:
        setup_logging(Workspace(settings.workspace).logs_dir, console=False)
    except OSError:
        pass  # a read-only workspace must not stop a read-only command


def _fail(message: str, as_json: bool, code: int = 1) -> int:
    message = redact(message)
    if as_json:
        print(json.dumps({"ok": False, "error": message}, ensure_ascii=False))
    else:
        print(f"Error: {message}", file=sys.stderr)
    return code
