"""The Caption Editor tab: a gallery and a large text box, driven by keyboard (ui/keyboard.html):
Alt+↓ / Alt+↑ next / previous, Alt+J next caption needing attention, Ctrl+S save, Alt+Z undo.
Leaving an image (navigation, gallery click, the text box losing focus) saves it first (core.captions.autosave).
Bulk edits (find/replace, prefix/suffix, trigger) show every change before they are applied, as one undoable step.
The line above the editor names the dataset that is open (picked in the Dataset tab, whose list is read from disk
again when this tab is opened). Leaving or reloading the page with an edit not yet saved asks first (keyboard.html).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import gradio as gr

from core.captions import captioner, store as captions
from core.captions.autosave import Autosave, autosave
from core.dataset import datasets
from core.progress import Cancelled
from ui.context import follow, UIContext
from ui.feedback import error_sentence, user_errors
from ui.long_job import long_job, LongJob
from ui.shell import HEAD_PATHS, selected_tab

TAB_ID = "tab-captions"
AUTO_CAPTION = LongJob("caption")
KEYBOARD_HTML = __file__.replace("caption_tab.py", "keyboard.html")
if KEYBOARD_HTML not in HEAD_PATHS:
    HEAD_PATHS.append(KEYBOARD_HTML)
IO = {"concurrency_id": "caption-io", "concurrency_limit": 1}


def _dataset(ctx: UIContext, name: str | None):
    if not name:
        raise gr.Error("Pick or create a dataset in the Dataset tab first.")
    return datasets.open_dataset(ctx.workspace, name)


def dataset_line(dataset) -> str:
    """Which dataset the editor has open (it is picked in the Dataset tab)."""
    if dataset is None:
        return "No dataset open: pick or create one in the **Dataset** tab."
    return f"Dataset: **{dataset.name}** · {len(dataset.items())} image(s) · pick another in the Dataset tab"


def picker_update(ctx: UIContext, value: str | None):
    """The Dataset picker's choices as on disk now, keeping `value` while it exists (else the first)."""
    names = datasets.list_names(ctx.workspace)
    return gr.update(choices=names, value=value if value in names else (names[0] if names else None))


def _gallery(dataset, only: list[str] | None = None) -> list[tuple[str, str]]:
    texts = captions.read_all(dataset)
    shown = []
    for item in dataset.items():
        if only is not None and item.stem not in only:
            continue
        text = texts.get(item.stem)
        mark = "⚠ not UTF-8" if text is None else ("· empty" if not text.strip() else "")
        shown.append((str(item.image), f"{item.stem} {mark}".strip()))
    return shown


def _status(dataset, stem: str | None, text: str, note: str = "") -> str:
    if not stem:
        return note or "No image selected."
    words = len(text.split())
    position = [i.stem for i in dataset.items()].index(stem) + 1 if stem in [i.stem for i in dataset.items()] else 0
    trigger = dataset.trigger
    check = "" if not trigger else (" · trigger ✓" if captions.has_trigger(text, trigger) else f" · **no trigger '{trigger}'**")
    return f"**{stem}** ({position}/{len(dataset.items())}) · {words} words · {len(text)} characters{check}" + (f" · {note}" if note else "")


def _autosave_note(outcome: Autosave, stem: str | None) -> str:
    if outcome is Autosave.SAVED:
        return f"saved {stem} ✓"
    if outcome is Autosave.KEPT:
        return f"the empty text was not saved over {stem}'s caption (press Save to clear it)"
    return ""


@dataclass
class Widgets:
    current: gr.State  # the stem in the editor
    loaded: gr.State  # its text as last read from or written to disk
    filter_state: gr.State
    pending: gr.State  # previewed bulk changes
    gallery: gr.Gallery
    filter_box: gr.Textbox
    clear_filter: gr.Button
    image: gr.Image
    text: gr.Textbox
    status: gr.Markdown
    prev_btn: gr.Button
    next_btn: gr.Button
    todo_btn: gr.Button
    save_btn: gr.Button
    undo_btn: gr.Button
    versions: gr.Dropdown
    restore_btn: gr.Button
    find: gr.Textbox
    replace: gr.Textbox
    regex: gr.Checkbox
    ignore_case: gr.Checkbox
    preview_replace_btn: gr.Button
    prefix: gr.Textbox
    suffix: gr.Textbox
    preview_affix_btn: gr.Button
    trigger: gr.Textbox
    preview_trigger_btn: gr.Button
    preview_untrigger_btn: gr.Button
    changes_table: gr.Dataframe
    apply_btn: gr.Button
    tags_mode: gr.Radio
    counts: gr.Dataframe
    model: gr.Textbox
    task: gr.Dropdown
    policy: gr.Radio
    auto_btn: gr.Button
    auto_stop: gr.Button
    auto_status: gr.Markdown
    dataset_line: gr.Markdown

    @property
    def editor(self) -> list:
        """What showing an image fills in: [gallery, current, loaded, image, text, status, versions]."""
        return [self.gallery, self.current, self.loaded, self.image, self.text, self.status, self.versions]


def layout(ctx: UIContext) -> Widgets:
    gr.Markdown("## Caption Editor\nKeys: **Alt+↓ / Alt+↑** next / previous · **Alt+J** next caption that is empty or lacks the trigger · "
                "**Ctrl+S** save · **Alt+Z** undo the last change. Leaving an image saves it.")
    current = gr.State(None)
    loaded = gr.State("")
    filter_state = gr.State(None)
    pending = gr.State([])
    dataset_md = gr.Markdown(dataset_line(None), elem_id="caption-dataset")
    with gr.Row():
        with gr.Column(scale=2):
            gallery = gr.Gallery(columns=4, height=560, allow_preview=False, elem_id="caption-gallery", label="Images")
            with gr.Row():
                filter_box = gr.Textbox(label="Show only captions containing", elem_id="caption-filter", scale=3)
                clear_filter = gr.Button("Show all", scale=1)
        with gr.Column(scale=3):
            image = gr.Image(label="Image", height=420, interactive=False, elem_id="caption-image", buttons=[])
            text = gr.Textbox(label="Caption", lines=5, max_lines=14, elem_id="caption-text", autofocus=False)
            status = gr.Markdown(elem_id="caption-status")
            with gr.Row():
                prev_btn = gr.Button("◀ Previous (Alt+↑)", elem_id="caption-prev")
                next_btn = gr.Button("Next (Alt+↓) ▶", elem_id="caption-next")
                todo_btn = gr.Button("Next to fix (Alt+J)", elem_id="caption-next-todo")
                save_btn = gr.Button("Save (Ctrl+S)", variant="primary", elem_id="caption-save")
                undo_btn = gr.Button("Undo last change (Alt+Z)", elem_id="caption-undo")
            with gr.Accordion("Versions of this caption", open=False):
                versions = gr.Dropdown(label="Version", choices=[], elem_id="caption-versions")
                restore_btn = gr.Button("Restore this version")

    with gr.Accordion("Find and replace · prefix / suffix · trigger word", open=False):
        with gr.Row():
            find = gr.Textbox(label="Find", elem_id="caption-find")
            replace = gr.Textbox(label="Replace with", elem_id="caption-replace")
            regex = gr.Checkbox(label="Regular expression")
            ignore_case = gr.Checkbox(label="Ignore case")
            preview_replace_btn = gr.Button("Preview replace", elem_id="caption-preview-replace")
        with gr.Row():
            prefix = gr.Textbox(label="Prefix for all")
            suffix = gr.Textbox(label="Suffix for all")
            preview_affix_btn = gr.Button("Preview prefix/suffix")
            trigger = gr.Textbox(label="Trigger word", elem_id="caption-trigger")
            preview_trigger_btn = gr.Button("Preview: trigger first")
            preview_untrigger_btn = gr.Button("Preview: remove trigger")
        changes_table = gr.Dataframe(headers=["image", "before", "after"], value=[], interactive=False, wrap=True,
                                     elem_id="caption-changes", label="Changes that would be applied")
        apply_btn = gr.Button("Apply these changes", variant="primary", elem_id="caption-apply")

    with gr.Accordion("Words and tags over the dataset (click one to filter)", open=False):
        tags_mode = gr.Radio(["words", "comma tags"], value="comma tags", label="Count")
        counts = gr.Dataframe(headers=["word", "captions"], value=[], interactive=False, elem_id="caption-counts", max_height=300)

    with gr.Accordion("Auto-caption with Florence-2", open=False):
        with gr.Row():
            model = gr.Textbox(value=captioner.DEFAULT_MODEL, label="Model (Hub id or local folder)", elem_id="caption-model")
            task = gr.Dropdown(list(captioner.TASKS), value="<DETAILED_CAPTION>", label="Task")
            policy = gr.Radio(["skip", "overwrite", "append"], value="skip", label="Images that already have a caption")
        with gr.Row():
            auto_btn = gr.Button("Caption the dataset", variant="primary", elem_id="caption-auto")
            auto_stop = gr.Button("Stop", elem_id="caption-auto-stop")
        auto_status = gr.Markdown(elem_id="caption-auto-status")
    return Widgets(current, loaded, filter_state, pending, gallery, filter_box, clear_filter, image, text, status,
                   prev_btn, next_btn, todo_btn, save_btn, undo_btn, versions, restore_btn, find, replace, regex,
                   ignore_case, preview_replace_btn, prefix, suffix, preview_affix_btn, trigger, preview_trigger_btn,
                   preview_untrigger_btn, changes_table, apply_btn, tags_mode, counts, model, task, policy, auto_btn,
                   auto_stop, auto_status, dataset_md)


class Handlers:
    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx

    # --- helpers shared by the handlers ---
    @staticmethod
    def show(dataset, stem, note="", only=None):
        """Outputs for Widgets.editor."""
        if stem is None:
            return _gallery(dataset, only), None, "", None, "", note or "This dataset has no images yet.", gr.update(choices=[], value=None)
        item = dataset.item(stem)
        try:
            body = captions.read(dataset, stem)
        except captions.CaptionEncodingError as error:
            return (_gallery(dataset, only), stem, None, str(item.image), "", f"⛔ {error}", gr.update(choices=[], value=None))
        rows = captions.version_rows(dataset, stem)
        choices = [(f"{r['index']}: {r['when']} · {r['source']} · {r['text'][:60]}", r["index"]) for r in reversed(rows)]
        return (gr.skip(), stem, body, str(item.image), body, _status(dataset, stem, body, note), gr.update(choices=choices, value=None))

    @staticmethod
    def keep(dataset, stem, body, was) -> str:
        """Autosave (core.captions.autosave); returns the note for the status line."""
        return _autosave_note(autosave(dataset, stem, body, was), stem)

    @user_errors
    def open_dataset(self, name, only):
        if not name:
            return [], None, "", None, "", "Pick or create a dataset in the Dataset tab first.", gr.update(choices=[]), "", dataset_line(None)
        dataset = _dataset(self.ctx, name)
        stems = [i.stem for i in dataset.items()]
        out = self.show(dataset, stems[0] if stems else None)
        return (_gallery(dataset, only), *out[1:], dataset.trigger, dataset_line(dataset))

    @user_errors
    def refresh(self, name, stem, body, was, only, event: gr.SelectData):
        """Leaving the tab saves the editor; coming back shows the same image with what is on disk now
        (the text box of a hidden tab is not trusted: nothing is saved from it)."""
        arriving = selected_tab(event) == TAB_ID
        if not name:
            return self.open_dataset(name, only)
        if name not in datasets.list_names(self.ctx.workspace):
            return (gr.skip(),) * 9  # gone from disk: refresh_picker picks another, whose change opens it here
        dataset = _dataset(self.ctx, name)
        if not arriving:
            self.keep(dataset, stem, body, was)
            return (gr.skip(),) * 9
        note = ""
        stems = [i.stem for i in dataset.items()]
        out = self.show(dataset, stem if stem in stems else (stems[0] if stems else None), note, only)
        return (_gallery(dataset, only), *out[1:], dataset.trigger, dataset_line(dataset))

    @user_errors
    def refresh_picker(self, name):
        """Opening this tab: the Dataset picker lists the datasets on disk now (a change of value opens it here)."""
        return picker_update(self.ctx, name)

    def navigate(self, step: int, attention: bool = False):
        @user_errors
        def handler(name, stem, body, was):
            dataset = _dataset(self.ctx, name)
            note = self.keep(dataset, stem, body, was)
            target = captions.next_stem(dataset, stem, step, trigger=dataset.trigger, attention=attention)
            if target is None:
                note = (note + " · " if note else "") + "every caption has text and the trigger ✓"
                target = stem
            out = self.show(dataset, target, note)
            return (_gallery(dataset) if note else gr.skip(), *out[1:])

        return handler

    @user_errors
    def pick(self, name, stem, body, was, only, event: gr.SelectData):
        dataset = _dataset(self.ctx, name)
        note = self.keep(dataset, stem, body, was)
        shown = [i.stem for i in dataset.items() if only is None or i.stem in only]
        target = shown[event.index] if event.index is not None and event.index < len(shown) else stem
        out = self.show(dataset, target, note, only)
        return (_gallery(dataset, only) if note else gr.skip(), *out[1:])

    @user_errors
    def save(self, name, stem, body, was):
        dataset = _dataset(self.ctx, name)
        if stem is None:
            return gr.skip(), gr.skip(), gr.skip()
        if was is None:
            raise gr.Error("This caption file is not UTF-8 and is left unchanged; fix it in a text editor first.")
        if body is None:
            return gr.skip(), gr.skip(), gr.skip()
        changed = captions.save(dataset, stem, body)
        return body, _status(dataset, stem, body, "saved ✓" if changed else "unchanged"), gr.skip()

    @user_errors
    def autosave(self, name, stem, body, was):
        if not name or stem is None:
            return gr.skip(), gr.skip()
        dataset = _dataset(self.ctx, name)
        note = self.keep(dataset, stem, body, was)
        if not note:
            return gr.skip(), gr.skip()
        shown = captions.read(dataset, stem)
        return shown, _status(dataset, stem, body or "", note)

    @user_errors
    def undo(self, name, stem, body, was):
        dataset = _dataset(self.ctx, name)
        self.keep(dataset, stem, body, was)
        restored = captions.undo(dataset)
        out = self.show(dataset, stem, f"undid the last change ({len(restored)} caption(s) restored)")
        return (_gallery(dataset), *out[1:])

    @user_errors
    def restore(self, name, stem, index):
        if index is None:
            raise gr.Error("Pick a version first.")
        dataset = _dataset(self.ctx, name)
        captions.restore(dataset, stem, int(index))
        out = self.show(dataset, stem, f"restored version {index}")
        return (_gallery(dataset), *out[1:])

    # --- bulk edits: preview, then apply ---
    def preview(self, kind):
        @user_errors
        def handler(name, find_, replace_, regex_, case_, prefix_, suffix_, trigger_):
            dataset = _dataset(self.ctx, name)
            if kind == "replace":
                changes = captions.preview_replace(dataset, find_, replace_ or "", regex=regex_, ignore_case=case_)
            elif kind == "affix":
                changes = captions.preview_affix(dataset, prefix_ or "", suffix_ or "")
            else:
                changes = captions.preview_trigger(dataset, trigger_ or "", remove=(kind == "untrigger"))
            if not changes:
                gr.Info("No caption would change.")
            return [[c.stem, c.before, c.after] for c in changes], [dict(asdict(c), source=kind) for c in changes]

        return handler

    @user_errors
    def apply(self, name, stem, body, was, planned):
        if not planned:
            raise gr.Error("Preview the changes first.")
        dataset = _dataset(self.ctx, name)
        self.keep(dataset, stem, body, was)
        changes = [captions.Change(p["stem"], p["before"], p["after"]) for p in planned]
        applied = captions.apply(dataset, changes, source=planned[0]["source"].replace("untrigger", "trigger"))
        skipped = len(changes) - len(applied)
        note = f"applied to {len(applied)} caption(s)" + (f", {skipped} edited since the preview were left alone" if skipped else "") + " · Alt+Z undoes it"
        out = self.show(dataset, stem, note)
        return (_gallery(dataset), *out[1:], [], [])

    # --- counts and filter ---
    @user_errors
    def count(self, name, mode):
        if not name:
            return []  # no dataset yet (a new workspace): nothing to count, no error toast
        if name not in datasets.list_names(self.ctx.workspace):
            return gr.skip()  # gone from disk meanwhile: the picker is being refreshed, and counts again on change
        dataset = _dataset(self.ctx, name)
        return [[w, n] for w, n in captions.word_counts(dataset, tags=(mode == "comma tags"))[:300]]

    def _filtered(self, name, word):
        dataset = _dataset(self.ctx, name)
        only = captions.stems_with(dataset, word) if word and word.strip() else None
        return _gallery(dataset, only), only

    @user_errors
    def filter_by(self, name, word):
        return self._filtered(name, word)

    @user_errors
    def clear_filter(self, name):
        return _gallery(_dataset(self.ctx, name)), None, ""

    @user_errors
    def click_count(self, name, event: gr.SelectData):
        word = event.row_value[0] if event.row_value else str(event.value)
        gallery_value, only = self._filtered(name, word)
        return gallery_value, only, word

    # --- auto-caption ---
    @long_job(AUTO_CAPTION)
    def auto(self, name, model_, task_, policy_, trigger_, *, cancel):
        """The status line ends in the outcome: the summary, or the one sentence of an error (never a stale
        "Downloading…" under a toast)."""
        dataset = _dataset(self.ctx, name)
        options = captioner.CaptionOptions(model=(model_ or "").strip() or captioner.DEFAULT_MODEL, task=task_, policy=policy_,
                                           trigger=trigger_ or dataset.trigger, endpoint=self.ctx.settings.hf_endpoint)
        try:
            for event in captioner.auto_caption(self.ctx.workspace, dataset, options, cancel=cancel):
                if event.result is not None:
                    run = event.result
                    icon = "✅" if run.captioned and not run.empty and not run.failed else ("⚠️" if run.captioned or run.skipped else "⛔")
                    yield f"{icon} {run.summary()}", _gallery(dataset)
                    return
                bar = f" [{event.step}/{event.total}]" if event.total else ""
                yield f"⏳{bar} {event.message}", gr.skip()
        except Cancelled:
            raise
        except Exception as error:
            yield f"⛔ {error_sentence(error)}", _gallery(dataset)


def wire(ctx: UIContext, w: Widgets) -> None:
    on = Handlers(ctx)
    picker = ctx.shared.get("dataset")
    opening = [picker, w.filter_state], w.editor + [w.trigger, w.dataset_line]
    if picker is not None:
        follow(picker, on.open_dataset, *opening, **IO)
        loading = ctx.blocks.load(on.open_dataset, *opening, **IO)
        returning = ctx.tabs.select(on.refresh, [picker, w.current, w.text, w.loaded, w.filter_state],
                                    w.editor + [w.trigger, w.dataset_line], **IO)
        if TAB_ID in ctx.tab_items:
            ctx.tab_items[TAB_ID].select(on.refresh_picker, picker, picker)

    nav_inputs = [picker, w.current, w.text, w.loaded]
    w.prev_btn.click(on.navigate(-1), nav_inputs, w.editor, **IO)
    w.next_btn.click(on.navigate(1), nav_inputs, w.editor, api_name="caption_next", **IO)
    w.todo_btn.click(on.navigate(1, attention=True), nav_inputs, w.editor, **IO)
    w.gallery.select(on.pick, nav_inputs + [w.filter_state], w.editor, **IO)
    w.save_btn.click(on.save, nav_inputs, [w.loaded, w.status, w.gallery], api_name="caption_save", **IO)
    w.text.blur(on.autosave, nav_inputs, [w.loaded, w.status], **IO)
    w.undo_btn.click(on.undo, nav_inputs, w.editor, **IO)
    w.restore_btn.click(on.restore, [picker, w.current, w.versions], w.editor, **IO)

    bulk_inputs = [picker, w.find, w.replace, w.regex, w.ignore_case, w.prefix, w.suffix, w.trigger]
    w.preview_replace_btn.click(on.preview("replace"), bulk_inputs, [w.changes_table, w.pending])
    w.preview_affix_btn.click(on.preview("affix"), bulk_inputs, [w.changes_table, w.pending])
    w.preview_trigger_btn.click(on.preview("trigger"), bulk_inputs, [w.changes_table, w.pending])
    w.preview_untrigger_btn.click(on.preview("untrigger"), bulk_inputs, [w.changes_table, w.pending])
    applying = w.apply_btn.click(on.apply, nav_inputs + [w.pending], w.editor + [w.changes_table, w.pending], **IO)

    counting = [picker, w.tags_mode], w.counts
    w.tags_mode.change(on.count, *counting)
    applying.then(on.count, *counting)
    w.undo_btn.click(on.count, *counting)
    if picker is not None:
        follow(picker, on.count, *counting)
        loading.then(on.count, *counting)
        returning.then(on.count, *counting)

    w.filter_box.submit(on.filter_by, [picker, w.filter_box], [w.gallery, w.filter_state])
    w.clear_filter.click(on.clear_filter, picker, [w.gallery, w.filter_state, w.filter_box])
    w.counts.select(on.click_count, picker, [w.gallery, w.filter_state, w.filter_box])

    w.auto_btn.click(on.auto, [picker, w.model, w.task, w.policy, w.trigger], [w.auto_status, w.gallery],
                     concurrency_id="caption-auto", concurrency_limit=1).then(
        on.open_dataset, *opening).then(on.count, *counting)
    w.auto_stop.click(AUTO_CAPTION.stop_handler(), None, None)
