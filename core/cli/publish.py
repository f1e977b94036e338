"""`publish`: put a chosen checkpoint on the Hugging Face Hub and register it on Runware.

    python -m core publish all RUN [--repo NAME] [--private] [--air SOURCE:ID] [--step N | --adapter PATH] [--selftest]
    python -m core publish hf RUN [--step N] [--repo OWNER/NAME] [--private]      (Hub only)
    python -m core publish runware RUN --air SOURCE:ID[@VERSION]                  (the latest Hub version)
    python -m core publish status RUN
    python -m core publish card RUN [--repo NAME]                                 (print the model card)

Running the same command again after a failure continues where it stopped.
"""

from __future__ import annotations

from pathlib import Path

from core.cli import Commands, Context, Outcome
from core.publishing.publish import draft_card, publish, PublishRequest, register_latest, status


def register(commands: Commands) -> None:
    group = commands.group("publish", "Publish a chosen checkpoint to the Hugging Face Hub and register it on Runware.")
    everything = group.add("all", "Hub commit, then Runware registration (public repos), waited until ready.", run_all)
    hf = group.add("hf", "Only the Hub: one commit with the adapter, model card, samples and config.", run_hf)
    for parser in (everything, hf):
        parser.add_argument("run", metavar="RUN", help="the run id")
        parser.add_argument("--repo", help="OWNER/NAME or NAME (default: <account>/<dataset>-flux2-klein-lora)")
        parser.add_argument("--private", action="store_true", help="a private repo (Runware cannot fetch from it)")
        existing = parser.add_mutually_exclusive_group()
        existing.add_argument("--existing", dest="existing", action="store_const", const=True,
                              help="add a new version to a repo that already exists on the Hub")
        existing.add_argument("--new-repo-only", dest="existing", action="store_const", const=False,
                              help="fail if the repo already exists (default: only repos published from here)")
        parser.add_argument("--step", type=int, help="choose this checkpoint first")
        parser.add_argument("--adapter", type=Path, help="publish this exported adapter instead of the chosen one")
        parser.add_argument("--strength", type=float, help="recommended strength (default: the chosen one)")
        parser.add_argument("--trigger", help="trigger word (default: the run's)")
        parser.add_argument("--sample", type=Path, action="append", default=[], help="a sample image (repeatable)")
        parser.add_argument("--card", type=Path, help="a model card (README.md) to use instead of the draft")
        parser.add_argument("--selftest", action="store_true",
                            help="publish a self-test adapter (tiny random model), labelled as a self-test: for testing")
    everything.add_argument("--air", help="Runware AIR SOURCE:ID (asked once, remembered) or SOURCE:ID@VERSION")
    runware = group.add("runware", "Register the run's latest Hub version on Runware and wait until ready.", run_runware)
    runware.add_argument("run", metavar="RUN")
    runware.add_argument("--air", help="SOURCE:ID or SOURCE:ID@VERSION (default: the remembered one)")
    runware.add_argument("--repo", help="which repo's version, when the run was published to several")
    status = group.add("status", "Show the run's published versions.", run_status)
    status.add_argument("run", metavar="RUN")
    card = group.add("card", "Print the model card that would be published.", run_card)
    card.add_argument("run", metavar="RUN")
    card.add_argument("--repo")
    card.add_argument("--adapter", type=Path)


def _request(context: Context, runware: bool):
    args = context.args
    card_text = args.card.read_text(encoding="utf-8") if getattr(args, "card", None) else None
    return PublishRequest(args.run, repo_id=args.repo, private=args.private, allow_existing=args.existing,
                          adapter=args.adapter, step=args.step, strength=args.strength, trigger=args.trigger,
                          samples=list(args.sample), card_text=card_text, runware=runware,
                          air=getattr(args, "air", None), allow_selftest=bool(getattr(args, "selftest", False)))


def _follow(context: Context, events) -> Outcome:
    last = None
    for event in events:
        context.progress(event)
        last = event
    version = last.result if last else None  # a core.publishing.record.PublishedVersion
    ok = (version.runware_status if version else None) not in ("failed", "pending")
    return Outcome({"version": version.to_dict() if version else {}, "message": last.message if last else ""},
                   last.message if last else "", ok=ok)


def run_all(context: Context) -> Outcome:
    return _follow(context, publish(context.settings, _request(context, runware=True)))


def run_hf(context: Context) -> Outcome:
    return _follow(context, publish(context.settings, _request(context, runware=False)))


def run_runware(context: Context) -> Outcome:
    args = context.args
    return _follow(context, register_latest(context.settings, args.run, args.air, args.repo))


def run_status(context: Context) -> Outcome:
    record = status(context.settings, context.args.run)
    lines = [f"{v.repo_id}  {str(v.commit or '-')[:10]}  hub {v.hub_status or '-'}  "
             f"runware {v.runware_status or '-'} {v.air or ''}".rstrip() for v in record.versions]
    return Outcome(record.to_dict(), "\n".join(lines) or "Not published yet.")


def run_card(context: Context) -> Outcome:
    args = context.args
    text, edited = draft_card(context.settings, PublishRequest(args.run, repo_id=args.repo, adapter=args.adapter))
    return Outcome({"card": text, "edited": edited}, text)
