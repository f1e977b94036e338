"""`dataset create|import|check|list|remove-image|repeat|rename|duplicate|delete`: the Dataset tab without the UI."""

from __future__ import annotations

from pathlib import Path

from core.cli import Commands, Context, Outcome
from core.progress import drain
from core.dataset.images import Preprocess
from core.dataset import datasets, preflight
from core.dataset.importer import import_sources


def register(commands: Commands) -> None:
    group = commands.group("dataset", "Datasets of character images in mflux's layout.")
    create = group.add("create", "Create an empty dataset.", run_create)
    create.add_argument("name")
    create.add_argument("--trigger", default="", help="the trigger word captions should start with")
    _preprocess_args(create)
    imp = group.add("import", "Import images (files, zips or folders) into a dataset (created if new).", run_import)
    imp.add_argument("name")
    imp.add_argument("sources", nargs="+", help="image files, zip files or folders")
    imp.add_argument("--captions", metavar="DIR", help="a separate folder of captions, paired by file name")
    _preprocess_args(imp)
    check = group.add("check", "Pre-flight check before training (exit 1 when an error blocks training).", run_check)
    check.add_argument("name")
    check.add_argument("--trigger")
    check.add_argument("--resolution", type=int)
    check.add_argument("--epochs", type=int)
    check.add_argument("--batch-size", type=int, default=1)
    group.add("list", "List datasets with their image counts.", run_list)
    remove = group.add("remove-image", "Move one image and its caption to the trash.", run_remove_image)
    remove.add_argument("name")
    remove.add_argument("stem", help="the image's file name without extension")
    repeat = group.add("repeat", "Set how often pictures are trained in one epoch (1-50; 1 = once).", run_repeat)
    repeat.add_argument("name")
    repeat.add_argument("stems", nargs="+", metavar="STEM", help="the pictures' file names without extension")
    repeat.add_argument("count", help="the repeat count, 1 to 50")
    rename = group.add("rename", "Rename a dataset.", run_rename)
    rename.add_argument("name")
    rename.add_argument("new_name")
    dup = group.add("duplicate", "Copy a dataset under a new name.", run_duplicate)
    dup.add_argument("name")
    dup.add_argument("new_name")
    delete = group.add("delete", "Move a dataset to the trash.", run_delete)
    delete.add_argument("name")


def _preprocess_args(parser) -> None:
    parser.add_argument("--resolution", type=int, help="longest side of the training copies (default 1024)")
    parser.add_argument("--crop", choices=("none", "center", "subject"))
    parser.add_argument("--aspect", help="crop aspect, e.g. 1:1, 4:5, 2:3")
    parser.add_argument("--background", help="colour behind transparent pixels, e.g. #ffffff")


def _preprocess_from(args, base):
    data = base.to_dict()
    for key in ("resolution", "crop", "aspect", "background"):
        if getattr(args, key, None) is not None:
            data[key] = getattr(args, key)
    return Preprocess.from_dict(data)


def run_create(context: Context) -> Outcome:
    dataset = datasets.create(context.workspace.ensure(), context.args.name,
                              preprocess=_preprocess_from(context.args, Preprocess()), trigger=context.args.trigger)
    return Outcome({"dataset": dataset.name, "images_dir": str(dataset.images_dir), **dataset.read_settings()},
                   f"Created dataset '{dataset.name}' at {dataset.root}.")


def run_import(context: Context) -> Outcome:
    workspace = context.workspace.ensure()
    dataset = datasets.ensure(workspace, context.args.name)
    dataset.save_settings(preprocess=_preprocess_from(context.args, dataset.preprocess))

    def show(event) -> None:
        if event.result is None:  # the report is the command's own output
            context.progress(event)

    report = drain(import_sources(workspace, dataset.name, [Path(s) for s in context.args.sources],
                                  captions_dir=Path(context.args.captions) if context.args.captions else None), show)
    lines = [report.summary()] + [f"  rejected  {f.source}: {f.reason}" for f in report.rejected]
    lines += [f"  warning   {w}" for f in report.files for w in f.warnings]
    return Outcome(report.to_dict(), "\n".join(lines))


def run_check(context: Context) -> Outcome:
    args = context.args
    result = preflight.check(context.workspace, args.name, trigger=args.trigger, resolution=args.resolution,
                             epochs=args.epochs, batch_size=args.batch_size)
    lines = [result.summary()] + [f"  error    {f.message}" for f in result.errors] + [f"  warning  {f.message}" for f in result.warnings]
    return Outcome(result.to_dict(), "\n".join(lines), ok=result.ready)


def run_list(context: Context) -> Outcome:
    rows = []
    for name in datasets.list_names(context.workspace):
        dataset = datasets.open_dataset(context.workspace, name)
        items = dataset.items()
        rows.append({"name": name, "images": len(items), "captioned": sum(1 for i in items if i.has_caption),
                     "trigger": dataset.trigger, "images_dir": str(dataset.images_dir)})
    text = "\n".join(f"{r['name']:<30} {r['images']:>4} images  {r['captioned']:>4} captioned" for r in rows) or "No datasets yet."
    return Outcome({"datasets": rows}, text)


def run_remove_image(context: Context) -> Outcome:
    where = datasets.remove_image(context.workspace, context.args.name, context.args.stem)
    return Outcome({"removed": context.args.stem, "trash": str(where)}, f"Moved {context.args.stem} and its caption to {where}.")


def run_repeat(context: Context) -> Outcome:
    args = context.args
    repeats = datasets.set_repeat(context.workspace, args.name, args.stems, args.count)
    count = datasets.check_repeat(args.count)
    text = f"{', '.join(args.stems)}: repeat {count}." + (
        " Repeated pictures: " + ", ".join(f"{k} x{v}" for k, v in repeats.items()) + "." if repeats else "")
    return Outcome({"dataset": args.name, "repeats": repeats}, text)


def run_rename(context: Context) -> Outcome:
    dataset = datasets.rename(context.workspace, context.args.name, context.args.new_name)
    return Outcome({"dataset": dataset.name}, f"Renamed to '{dataset.name}'.")


def run_duplicate(context: Context) -> Outcome:
    dataset = datasets.duplicate(context.workspace, context.args.name, context.args.new_name)
    return Outcome({"dataset": dataset.name}, f"Copied to '{dataset.name}'.")


def run_delete(context: Context) -> Outcome:
    where = datasets.delete(context.workspace, context.args.name)
    return Outcome({"trash": str(where)}, f"Moved to the trash: {where}.")


