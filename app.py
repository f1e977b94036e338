"""Start the app: `make run` (or `python app.py [--host H] [--port P] [--workspace DIR]`).

Listens on 127.0.0.1 unless told otherwise; any other address requires APP_USERNAME and
APP_PASSWORD, and the app refuses to start without them.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys

import core  # noqa: F401  (sets the no-telemetry environment before gradio is imported)
from core.errors import AppError, PlatformError, SettingsError
from core.settings import Settings, check_python, load_settings, redact
from core.log import setup_logging
from core.workspace import Workspace


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Story Shorts character LoRA studio")
    parser.add_argument("--host", help="address to listen on (default: APP_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: APP_PORT or 7860)")
    parser.add_argument("--workspace", metavar="DIR", help="where datasets/ and outputs/ live")
    return parser.parse_args(argv)


def resolve_settings(args: argparse.Namespace) -> Settings:
    from dataclasses import replace

    settings = load_settings(workspace=args.workspace)
    if args.host:
        settings = replace(settings, host=args.host)
    if args.port:
        settings = replace(settings, port=args.port)
    if not settings.is_loopback and not (settings.username and settings.password):
        raise SettingsError(
            f"Refusing to listen on {settings.host}: anyone on that network could use this app and your tokens.",
            "Set APP_USERNAME and APP_PASSWORD in .env to require a login, or use 127.0.0.1.",
        )
    return settings


def check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PlatformError(
                    f"Port {port} is already in use (is the app already open at http://{host}:{port} ?).",
                    f"Close the other program or start on another port: `make run PORT={port + 1}`.",
                ) from None
            raise PlatformError(f"Cannot listen on {host}:{port}: {exc.strerror}.", "Check --host and --port.") from None


def launch(settings: Settings, block: bool = True):
    """Build the UI and serve it; with `block=False` return the running Blocks at once (tests)."""
    from ui.context import UIContext
    from ui.shell import HEAD_PATHS, build_app

    from core.runs import state as run_state

    workspace = Workspace(settings.workspace).ensure()
    setup_logging(workspace.logs_dir)
    run_state.reconcile_all(workspace)  # a training whose worker died with the machine is "interrupted" from the start
    demo = build_app(UIContext(settings))
    auth = None if settings.is_loopback else (settings.username, settings.password)
    demo.queue(default_concurrency_limit=4)
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        share=False,
        ssr_mode=False,
        inbrowser=False,
        auth=auth,
        allowed_paths=[str(workspace.datasets_dir), str(workspace.outputs_dir), str(settings.cache_dir)],
        prevent_thread_lock=True,
        quiet=True,
        footer_links=[],
        head_paths=HEAD_PATHS or None,
    )
    if block:
        print(f"Running at {demo.local_url}  (press Ctrl+C to stop)", flush=True)
        demo.block_thread()
    return demo


def main(argv: list[str] | None = None) -> int:
    try:
        check_python()
        settings = resolve_settings(parse_args(argv))
        check_port(settings.host, settings.port)
        for warning in settings.warnings:
            print(f"Warning: {warning}", file=sys.stderr)
        print("Starting…", flush=True)
        launch(settings)
    except AppError as error:
        print(f"Error: {redact(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
