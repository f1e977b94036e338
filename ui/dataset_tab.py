"""The Dataset tab: pick or create a dataset, import a messy folder, preprocess, check before training,
look through the images, remove several (to the trash) and restore them, edit the preview prompts.
Every file operation is a core call. The dataset list is read from disk when the page loads and when the tab is
opened (a dataset made by the CLI meanwhile appears); deleting a dataset asks for a second, explicit press."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from core.captions import store as captions
from core.dataset import datasets, preflight, preview_prompts
from core.dataset.importer import import_sources
from core.dataset.images import ASPECTS, CROPS, Preprocess
from ui.context import follow, UIContext
from ui.feedback import user_errors
from ui.long_job import long_job, LongJob
from ui.preflight_view import import_status, outcome_row, preflight_html, report_html, report_rows

TAB_ID = "tab-dataset"
IMPORT = LongJob("import")
NO_IMAGE = "Click an image to see its details (and to add it to the pictures to remove)."


def _names(ctx: UIContext) -> list[str]:
    return datasets.list_names(ctx.workspace)


def _picker(ctx: UIContext, value: str | None):
    names = _names(ctx)
    if value not in names:
        value = names[0] if names else None
    return gr.update(choices=names, value=value)


def summary_line(dataset) -> str:
    """The status line under the picker: the dataset's name and how many images it has now."""
    items = dataset.items()
    uncaptioned = sum(1 for i in items if not i.has_caption)
    return f"**{dataset.name}**: {len(items)} image(s), {uncaptioned} without caption · `{dataset.images_dir}`"


def removal_choices(dataset) -> gr.update:
    """The pictures that can be selected for removal (none selected)."""
    return gr.update(choices=[item.stem for item in dataset.items()], value=[])


def trash_choices(ctx: UIContext, dataset) -> gr.update:
    removed = datasets.removed_images(ctx.workspace, dataset.name)
    return gr.update(choices=[(f"{r.stem} · removed {r.removed}", r.id) for r in removed], value=[])


def gallery_items(ctx: UIContext, name: str | None) -> list[tuple[str, str]]:
    if not name:
        return []
    dataset = datasets.open_dataset(ctx.workspace, name)
    texts = captions.read_all(dataset)
    items = []
    for item in dataset.items():
        text = texts.get(item.stem)
        label = item.stem + (" · no caption" if not text else "")
        items.append((str(item.image), label))
    return items


@dataclass
class Widgets:
    picker: gr.Dropdown
    new_name: gr.Textbox
    create_btn: gr.Button
    rename_btn: gr.Button
    duplicate_btn: gr.Button
    delete_btn: gr.Button
    delete_row: gr.Row
    delete_note: gr.Markdown
    delete_confirm: gr.Button
    delete_cancel: gr.Button
    delete_armed: gr.State
    status: gr.Markdown
    upload: gr.File
    folder: gr.Textbox
    captions_folder: gr.Textbox
    import_btn: gr.Button
    stop_btn: gr.Button
    import_status: gr.Markdown
    report: gr.HTML
    resolution: gr.Dropdown
    crop: gr.Radio
    aspect: gr.Dropdown
    background: gr.ColorPicker
    trigger: gr.Textbox
    save_settings_btn: gr.Button
    epochs: gr.Number
    batch: gr.Number
    check_btn: gr.Button
    check_summary: gr.Markdown
    check_table: gr.HTML
    gallery: gr.Gallery
    selected: gr.State
    info: gr.Markdown
    remove_pick: gr.Dropdown
    remove_btn: gr.Button
    trash_pick: gr.Dropdown
    restore_btn: gr.Button
    previews: gr.Textbox
    save_previews_btn: gr.Button

    @property
    def loaded(self) -> list:
        """What picking a dataset fills in."""
        return [self.status, self.gallery, self.resolution, self.crop, self.aspect, self.background, self.trigger,
                self.previews, self.selected, self.info, self.remove_pick, self.trash_pick]


def layout(ctx: UIContext) -> Widgets:
    gr.Markdown("## Dataset\nImport your character's pictures, check them before training, and keep them in mflux's layout.")
    with gr.Row():
        # Its choices are read from disk on page load and tab open (wire); those given here are the start-up list.
        picker = gr.Dropdown(choices=_names(ctx), value=(_names(ctx) or [None])[0], label="Dataset", elem_id="dataset-picker",
                             allow_custom_value=True, scale=3)
        new_name = gr.Textbox(label="Name (for create / rename / duplicate)", elem_id="dataset-new-name", scale=3)
        create_btn = gr.Button("Create", elem_id="dataset-create", scale=1)
        rename_btn = gr.Button("Rename", scale=1)
        duplicate_btn = gr.Button("Duplicate", scale=1)
        delete_btn = gr.Button("Delete (to trash)…", variant="stop", scale=1, elem_id="dataset-delete")
    with gr.Row(visible=False, elem_id="dataset-delete-row") as delete_row:
        delete_note = gr.Markdown(elem_id="dataset-delete-note")
        delete_confirm = gr.Button("Yes, delete it (to the trash)", variant="stop", scale=0, elem_id="dataset-delete-confirm")
        delete_cancel = gr.Button("Keep it", scale=0, elem_id="dataset-delete-cancel")
    delete_armed = gr.State(None)  # the dataset a first Delete press asked about
    ctx.shared["dataset"] = picker
    status = gr.Markdown(elem_id="dataset-status")

    with gr.Accordion("Import pictures", open=True):
        with gr.Row():
            upload = gr.File(label="Images or a zip", file_count="multiple", elem_id="dataset-upload", scale=2)
            with gr.Column(scale=2):
                folder = gr.Textbox(label="…or a folder on this computer", placeholder="/Users/me/Pictures/mira", elem_id="dataset-folder")
                captions_folder = gr.Textbox(label="Separate captions folder (optional, paired by file name)", elem_id="dataset-captions-folder")
                with gr.Row():
                    import_btn = gr.Button("Import", variant="primary", elem_id="dataset-import")
                    stop_btn = gr.Button("Stop", elem_id="dataset-import-stop")
        import_status_ = gr.Markdown(elem_id="dataset-import-status")
        report = gr.HTML(elem_id="dataset-import-report", label="What happened to each file")

    with gr.Accordion("Preprocessing and trigger word (remembered for this dataset)", open=False):
        with gr.Row():
            resolution = gr.Dropdown([512, 768, 1024, 1536], value=1024, label="Training resolution (long side)", allow_custom_value=True)
            crop = gr.Radio(list(CROPS), value="none", label="Crop")
            aspect = gr.Dropdown(list(ASPECTS), value="1:1", label="Crop aspect")
            background = gr.ColorPicker(value="#ffffff", label="Colour behind transparent pixels")
            trigger = gr.Textbox(label="Trigger word", elem_id="dataset-trigger")
        save_settings_btn = gr.Button("Save settings")
        gr.Markdown("The settings apply to pictures imported from now on; originals stay in `raw/`.")

    with gr.Accordion("Pre-flight check", open=True):
        with gr.Row():
            epochs = gr.Number(value=10, precision=0, label="Epochs", minimum=1, maximum=1000, step=1, elem_id="dataset-epochs")
            batch = gr.Number(value=1, precision=0, label="Batch size", minimum=1, maximum=16, step=1, elem_id="dataset-batch")
            check_btn = gr.Button("Check", variant="primary", elem_id="dataset-check")
        check_summary = gr.Markdown(elem_id="dataset-check-summary")
        check_table = gr.HTML(elem_id="dataset-check-table")

    with gr.Accordion("Images", open=True):
        gallery = gr.Gallery(label="Training images", columns=6, height=420, allow_preview=False, elem_id="dataset-gallery")
        selected = gr.State(None)
        info = gr.Markdown(NO_IMAGE, elem_id="dataset-image-info")
        with gr.Row():
            remove_pick = gr.Dropdown(choices=[], value=[], multiselect=True, label="Pictures to remove (click thumbnails to add or drop them)",
                                      elem_id="dataset-remove-pick", scale=4)
            remove_btn = gr.Button("Remove selected (to trash)", variant="stop", elem_id="dataset-remove-image", scale=1)
        with gr.Row():
            trash_pick = gr.Dropdown(choices=[], value=[], multiselect=True, label="Removed pictures in the trash (pick to restore)",
                                     elem_id="dataset-trash-pick", scale=4)
            restore_btn = gr.Button("Restore selected", elem_id="dataset-restore", scale=1)

    with gr.Accordion("Preview prompts (rendered by mflux during training)", open=False):
        previews = gr.Textbox(label="One prompt per line", lines=4, elem_id="dataset-previews")
        save_previews_btn = gr.Button("Save preview prompts")
    return Widgets(picker, new_name, create_btn, rename_btn, duplicate_btn, delete_btn, delete_row, delete_note,
                   delete_confirm, delete_cancel, delete_armed, status, upload, folder, captions_folder, import_btn,
                   stop_btn, import_status_, report, resolution, crop, aspect, background, trigger, save_settings_btn,
                   epochs, batch, check_btn, check_summary, check_table, gallery, selected, info, remove_pick,
                   remove_btn, trash_pick, restore_btn, previews, save_previews_btn)


class Handlers:
    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx

    @user_errors
    def load(self, name):
        ctx = self.ctx
        if not name:
            empty = gr.update(choices=[], value=[])
            return ("No dataset yet: type a name and press Create, or import pictures.", [], 1024, "none", "1:1", "#ffffff", "", "", None,
                    NO_IMAGE, empty, empty)
        dataset = datasets.open_dataset(ctx.workspace, name)
        p = dataset.preprocess
        return (summary_line(dataset), gallery_items(ctx, name), p.resolution, p.crop, p.aspect, p.background, dataset.trigger,
                "\n".join(preview_prompts.read(dataset.images_dir)), None, NO_IMAGE, removal_choices(dataset),
                trash_choices(ctx, dataset))

    @user_errors
    def refresh(self, name):
        return _picker(self.ctx, name)

    @user_errors
    def reload_images(self, name):
        """Opening the tab: the count, the gallery and the removal lists as on disk now (the CLI may have imported
        or removed pictures); the settings fields are left as the person has them."""
        if not name or name not in _names(self.ctx):
            return gr.skip()  # none, or gone: the picker's change loads the next one
        dataset = datasets.open_dataset(self.ctx.workspace, name)
        return summary_line(dataset), gallery_items(self.ctx, name), removal_choices(dataset), trash_choices(self.ctx, dataset)

    @user_errors
    def create(self, name):
        dataset = datasets.create(self.ctx.workspace.ensure(), name)
        return _picker(self.ctx, dataset.name), ""

    @user_errors
    def rename(self, name, new):
        if not name:
            raise gr.Error("Pick a dataset first.")
        return _picker(self.ctx, datasets.rename(self.ctx.workspace, name, new).name), ""

    @user_errors
    def duplicate(self, name, new):
        if not name:
            raise gr.Error("Pick a dataset first.")
        return _picker(self.ctx, datasets.duplicate(self.ctx.workspace, name, new).name), ""

    @user_errors
    def ask_delete(self, name):
        """The first press: say what will happen and show the confirm button; nothing moves yet."""
        if not name:
            raise gr.Error("Pick a dataset first.")
        dataset = datasets.open_dataset(self.ctx.workspace, name)
        note = (f"Delete **{dataset.name}** ({len(dataset.items())} image(s) with their captions)? It is moved to the trash "
                f"(`{self.ctx.workspace.trash_dir / 'datasets'}`), from where it can be moved back.")
        return gr.update(visible=True), note, dataset.name

    @user_errors
    def delete(self, name, armed):
        if not name or armed != name:
            return gr.skip(), gr.update(visible=False), None  # the picker moved on since the question: ask again
        where = datasets.delete(self.ctx.workspace, name)
        gr.Info(f"'{name}' was moved to the trash ({where}); move it back to restore it.")
        return _picker(self.ctx, None), gr.update(visible=False), None

    @staticmethod
    def keep():
        return gr.update(visible=False), None

    @long_job(IMPORT)
    def run_import(self, name, files, folder_path, captions_path, *, cancel):
        ctx = self.ctx
        sources = [Path(f) for f in (files or [])]
        if folder_path and folder_path.strip():
            sources.append(Path(folder_path.strip()).expanduser())
        if not sources:
            raise gr.Error("Choose pictures to upload or type a folder path first.")
        if not name:
            raise gr.Error("Create or pick a dataset first (type a name and press Create).")
        caps = Path(captions_path.strip()).expanduser() if captions_path and captions_path.strip() else None
        rows: list[list[str]] = []
        for event in import_sources(ctx.workspace, name, sources, captions_dir=caps, cancel=cancel):
            if event.result is not None:
                final = event.result
                yield import_status(final), report_html(report_rows(final)), gallery_items(ctx, name), None
                return
            if "outcome" in event.payload:
                rows.append(outcome_row(event.payload["outcome"]))
            bar = f" ({event.step}/{event.total})" if event.total else ""
            yield f"⏳ {event.message}{bar}", report_html(rows), gr.skip(), gr.skip()

    @user_errors
    def save_settings(self, name, res, crop_, aspect_, colour, trig):
        if not name:
            raise gr.Error("Pick a dataset first.")
        dataset = datasets.open_dataset(self.ctx.workspace, name)
        dataset.save_settings(preprocess=Preprocess(resolution=int(res), crop=crop_, aspect=aspect_, background=colour or "#ffffff"),
                              trigger=trig or "")
        gr.Info("Settings saved for this dataset.")

    @user_errors
    def check(self, name, trig, res, ep, bs):
        if not name:
            raise gr.Error("Pick a dataset first.")
        result = preflight.check(self.ctx.workspace, name, trigger=trig, resolution=int(res), epochs=int(ep or 0) or None,
                                 batch_size=int(bs or 1))
        icon = "✅" if result.ready else "⛔"
        return f"{icon} {result.summary()}", preflight_html(result)

    @user_errors
    def select(self, name, picked, event: gr.SelectData):
        """Show the clicked picture's details and add it to (or drop it from) the pictures to remove."""
        workspace = self.ctx.workspace
        stems = [item.stem for item in datasets.open_dataset(workspace, name).items()]
        if event.index is None or event.index >= len(stems):
            return None, NO_IMAGE, gr.skip()
        stem = stems[event.index]
        picked = [s for s in (picked or []) if s in stems]
        picked = [s for s in picked if s != stem] if stem in picked else picked + [stem]
        d = datasets.describe(datasets.open_dataset(workspace, name), stem)
        caption = d["caption"] if d["caption"] is not None else "(caption file is not UTF-8; left unchanged)"
        text = (f"**{stem}** · {d['width']}x{d['height']} · {d['bytes'] / 1024:.0f} KB · {d['versions']} caption version(s)\n\n"
                f"> {caption or '(no caption yet)'}")
        return stem, text, gr.update(choices=stems, value=picked)

    @user_errors
    def remove(self, name, picked):
        if not name:
            raise gr.Error("Pick a dataset first.")
        if not picked:
            raise gr.Error("Click the pictures to remove in the gallery (or pick them in the list) first.")
        datasets.remove_images(self.ctx.workspace, name, list(picked))
        dataset = datasets.open_dataset(self.ctx.workspace, name)
        names = ", ".join(picked)
        gr.Info(f"{len(picked)} picture(s) and their captions were moved to the trash; restore them below.")
        return (gallery_items(self.ctx, name), None, f"Removed {names} (recoverable from the trash below).",
                summary_line(dataset), removal_choices(dataset), trash_choices(self.ctx, dataset))

    @user_errors
    def restore(self, name, removed_ids):
        if not name:
            raise gr.Error("Pick a dataset first.")
        if not removed_ids:
            raise gr.Error("Pick the removed pictures to restore first.")
        back = [datasets.restore_image(self.ctx.workspace, name, removed_id) for removed_id in removed_ids]
        dataset = datasets.open_dataset(self.ctx.workspace, name)
        return (gallery_items(self.ctx, name), None, f"Restored {', '.join(back)}.", summary_line(dataset),
                removal_choices(dataset), trash_choices(self.ctx, dataset))

    @user_errors
    def save_previews(self, name, text):
        if not name:
            raise gr.Error("Pick a dataset first.")
        dataset = datasets.open_dataset(self.ctx.workspace, name)
        written = preview_prompts.write(dataset.images_dir, (text or "").splitlines(), self.ctx.workspace.trash_dir)
        gr.Info(f"{len(written)} preview prompt(s) saved.")


def wire(ctx: UIContext, w: Widgets) -> None:
    on = Handlers(ctx)
    follow(w.picker, on.load, w.picker, w.loaded)
    # The page-load refresh lists datasets made since the app started. A Create (Rename, …) pressed before its
    # answer came wins: it cancels the refresh, whose older list would otherwise put the picker back.
    refreshing = ctx.blocks.load(on.refresh, w.picker, w.picker)
    refreshing.then(on.load, w.picker, w.loaded)
    # Opening the tab lists the datasets on disk now (made by the CLI, renamed, deleted meanwhile); a changed
    # value reaches every listener of the picker through its change event.
    opening = ctx.tab_items[TAB_ID].select(on.refresh, w.picker, w.picker) if TAB_ID in ctx.tab_items else None
    refreshes = [refreshing] + ([opening] if opening is not None else [])
    if opening is not None:
        opening.then(on.reload_images, w.picker, [w.status, w.gallery, w.remove_pick, w.trash_pick])
    w.create_btn.click(on.create, w.new_name, [w.picker, w.new_name], cancels=refreshes)
    w.rename_btn.click(on.rename, [w.picker, w.new_name], [w.picker, w.new_name], cancels=refreshes)
    w.duplicate_btn.click(on.duplicate, [w.picker, w.new_name], [w.picker, w.new_name], cancels=refreshes)
    w.delete_btn.click(on.ask_delete, w.picker, [w.delete_row, w.delete_note, w.delete_armed])
    w.delete_confirm.click(on.delete, [w.picker, w.delete_armed], [w.picker, w.delete_row, w.delete_armed], cancels=refreshes)
    w.delete_cancel.click(on.keep, None, [w.delete_row, w.delete_armed])
    follow(w.picker, on.keep, None, [w.delete_row, w.delete_armed])  # another dataset: the question is void

    w.import_btn.click(on.run_import, [w.picker, w.upload, w.folder, w.captions_folder],
                       [w.import_status, w.report, w.gallery, w.upload],
                       concurrency_id="dataset-io", concurrency_limit=1).then(on.load, w.picker, w.loaded)
    w.stop_btn.click(IMPORT.stop_handler(), None, None)
    w.save_settings_btn.click(on.save_settings, [w.picker, w.resolution, w.crop, w.aspect, w.background, w.trigger], None)
    w.check_btn.click(on.check, [w.picker, w.trigger, w.resolution, w.epochs, w.batch], [w.check_summary, w.check_table],
                      api_name="dataset_check")
    w.gallery.select(on.select, [w.picker, w.remove_pick], [w.selected, w.info, w.remove_pick])
    changed = [w.gallery, w.selected, w.info, w.status, w.remove_pick, w.trash_pick]
    w.remove_btn.click(on.remove, [w.picker, w.remove_pick], changed, concurrency_id="dataset-io")
    w.restore_btn.click(on.restore, [w.picker, w.trash_pick], changed, concurrency_id="dataset-io")
    w.save_previews_btn.click(on.save_previews, [w.picker, w.previews], None)
