"""`selftest`: the whole pipeline offline on the self-test model, each stage with pass/fail and its time."""

from __future__ import annotations

import sys

from core.cli import Commands, Context, Outcome
from core.progress import drain
from core.selftest import runner as selftest


def register(commands: Commands) -> None:
    parser = commands.add("selftest", "Check the whole pipeline offline on the tiny self-test model (a few minutes).", run)
    parser.add_argument("--only", action="append", metavar="STAGE", help="run only this stage (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway workspace even when all passed")


def run(context: Context) -> Outcome:
    def show(event) -> None:
        state = event.payload.get("state")
        if not context.json and state and state != "running":
            print(event.message, file=sys.stderr, flush=True)

    events = selftest.run(context.settings, only=set(context.args.only or ()) or None, keep=context.args.keep)
    report = drain(events, show)
    text = "\n".join(report.lines() + [report.summary()])
    if not report.ok:
        text += f"\nThe failing stage's details are in the log; its workspace is kept at {report.workspace}."
    return Outcome(report.to_dict(), text, ok=report.ok)
