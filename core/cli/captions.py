"""`captions auto|show|set|replace|prefix|trigger|undo|history`: the Caption Editor without the UI."""

from __future__ import annotations

from dataclasses import asdict

from core.cli import Commands, Context, Outcome
from core.progress import drain
from core.dataset import datasets
from core.captions import store as captions
from core.captions.captioner import DEFAULT_MODEL, CaptionOptions, auto_caption


def register(commands: Commands) -> None:
    group = commands.group("captions", "Read, write and bulk-edit a dataset's captions (every version is kept).")
    auto = group.add("auto", "Auto-caption with Florence-2 (existing captions are skipped unless told).", run_auto)
    auto.add_argument("name")
    auto.add_argument("--trigger", help="put this word first (default: the dataset's trigger)")
    auto.add_argument("--model", help="Hub id or local folder (default florence-community/Florence-2-large)")
    auto.add_argument("--task", default="<DETAILED_CAPTION>", choices=("<CAPTION>", "<DETAILED_CAPTION>", "<MORE_DETAILED_CAPTION>"))
    auto.add_argument("--existing", default="skip", choices=("skip", "overwrite", "append"), help="what to do with images that have a caption")
    auto.add_argument("--device", help="mps, cuda or cpu (default: the best available)")
    auto.add_argument("--max-new-tokens", type=int, default=128)
    auto.add_argument("--beams", type=int, default=3)
    show = group.add("show", "Print the captions (or one).", run_show)
    show.add_argument("name")
    show.add_argument("stem", nargs="?")
    set_ = group.add("set", "Write one caption.", run_set)
    set_.add_argument("name")
    set_.add_argument("stem")
    set_.add_argument("text")
    replace = group.add("replace", "Find and replace across captions (preview only unless --apply).", run_replace)
    replace.add_argument("name")
    replace.add_argument("find")
    replace.add_argument("replacement")
    replace.add_argument("--regex", action="store_true")
    replace.add_argument("--ignore-case", action="store_true")
    replace.add_argument("--apply", action="store_true", help="write the changes (one undoable step)")
    prefix = group.add("prefix", "Add a prefix and/or suffix to every caption (preview only unless --apply).", run_prefix)
    prefix.add_argument("name")
    prefix.add_argument("prefix", nargs="?", default="")
    prefix.add_argument("--suffix", default="")
    prefix.add_argument("--apply", action="store_true")
    trigger = group.add("trigger", "Put the trigger word first in every caption (or --remove it).", run_trigger)
    trigger.add_argument("name")
    trigger.add_argument("word")
    trigger.add_argument("--remove", action="store_true")
    trigger.add_argument("--apply", action="store_true")
    undo = group.add("undo", "Undo the last caption change (one edit or one bulk operation).", run_undo)
    undo.add_argument("name")
    hist = group.add("history", "Every version of one caption.", run_history)
    hist.add_argument("name")
    hist.add_argument("stem")


def _dataset(context: Context):
    return datasets.open_dataset(context.workspace, context.args.name)


def _changes_outcome(context: Context, changes, source: str) -> Outcome:
    applied = captions.apply(_dataset(context), changes, source=source) if context.args.apply else []
    rows = [asdict(c) for c in changes]
    verb = "Changed" if context.args.apply else "Would change"
    lines = [f"{verb} {len(applied) if context.args.apply else len(changes)} caption(s)" + ("" if context.args.apply else " (add --apply to write)")]
    lines += [f"  {c.stem}: {c.before!r} -> {c.after!r}" for c in changes]
    return Outcome({"applied": context.args.apply, "changes": rows, "changed": [c.stem for c in applied]}, "\n".join(lines))


def run_auto(context: Context) -> Outcome:
    args = context.args
    dataset = _dataset(context)
    options = CaptionOptions(model=args.model or DEFAULT_MODEL, task=args.task, policy=args.existing,
                             trigger=args.trigger if args.trigger is not None else dataset.trigger, device=args.device,
                             max_new_tokens=args.max_new_tokens, num_beams=args.beams, endpoint=context.settings.hf_endpoint)

    def show(event) -> None:
        if event.result is None:  # the summary is the command's own output
            context.progress(event)

    result = drain(auto_caption(context.workspace, dataset, options), show)
    data = {"captioned": result.captioned, "skipped": result.skipped,
            "failed": [{"stem": s, "reason": r} for s, r in result.failed], "device": result.device, "summary": result.summary()}
    return Outcome(data, result.summary())


def run_show(context: Context) -> Outcome:
    dataset = _dataset(context)
    texts = captions.read_all(dataset)
    if context.args.stem:
        texts = {context.args.stem: captions.read(dataset, dataset.item(context.args.stem).stem)}
    lines = [f"{stem}: {text if text is not None else '(not UTF-8, left unchanged)'}" for stem, text in texts.items()]
    return Outcome({"captions": texts}, "\n".join(lines))


def run_set(context: Context) -> Outcome:
    changed = captions.save(_dataset(context), context.args.stem, context.args.text)
    return Outcome({"stem": context.args.stem, "changed": changed}, "Saved." if changed else "Unchanged.")


def run_replace(context: Context) -> Outcome:
    args = context.args
    changes = captions.preview_replace(_dataset(context), args.find, args.replacement, regex=args.regex, ignore_case=args.ignore_case)
    return _changes_outcome(context, changes, "replace")


def run_prefix(context: Context) -> Outcome:
    changes = captions.preview_affix(_dataset(context), prefix=context.args.prefix, suffix=context.args.suffix)
    return _changes_outcome(context, changes, "prefix")


def run_trigger(context: Context) -> Outcome:
    changes = captions.preview_trigger(_dataset(context), context.args.word, remove=context.args.remove)
    return _changes_outcome(context, changes, "trigger")


def run_undo(context: Context) -> Outcome:
    restored = captions.undo(_dataset(context))
    return Outcome({"restored": [asdict(c) for c in restored]}, f"Restored {len(restored)} caption(s).")


def run_history(context: Context) -> Outcome:
    rows = captions.version_rows(_dataset(context), context.args.stem)
    return Outcome({"versions": rows}, "\n".join(f"{r['index']:>3} {r['when']} {r['source']:<8} {r['text']}" for r in rows))
