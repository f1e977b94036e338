"""The Publish tab: from the chosen checkpoint to a Hub repo with a model card and a Runware model that is ready.

Token check (the account name, never the token), repo name and visibility (Runware needs PUBLIC), the model card
as a preview and an editable draft, the samples to show, one Publish button with staged progress and Stop,
the result with the pinned download URL and the AIR, and the list of published versions.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ui import publish_overview
from ui.context import follow, UIContext
from ui.feedback import user_errors
from ui.long_job import long_job, LongJob
from core.publishing.model_card import split
from core.publishing.publish import draft_card, publish, PublishRequest
from core.publishing import hub, model_card, publish as publishing, upload as publication
from core.errors import AppError, describe
from core.runs.paths import run_paths
from core.workspace import workspace_from
from core.progress import Cancelled
from core.settings import redact

TAB_ID = "tab-publish"
PUBLISH = LongJob("publish")
PUBLIC_NOTE = ("ℹ️ Runware can only download from a **public** repo. Choose *Public* to register the LoRA on Runware; "
               "a *private* repo is uploaded to the Hub only.")
PRIVATE_WARNING = ("⚠️ **Private repo: Runware cannot download it**, so Runware registration will be skipped. "
                   "Choose *Public* to use this LoRA on Runware.")


def _preview(text: str) -> str:
    meta, body = split(text or "")
    return (f"```yaml\n{meta}\n```\n\n{body}" if meta else body) or "_(empty card)_"


def _result_text(version) -> str:
    """Markdown for a published version (a core.publishing.record.PublishedVersion)."""
    text = (f"### Published\n\n- Repo: [{version.repo_id}]({version.repo_url or ''})\n"
            f"- Commit: `{version.commit}`\n- Download URL (pinned to the commit): `{version.url}`\n")
    status = version.runware_status
    if status == "ready":
        text += f"- Runware AIR: **`{version.air}`** (ready, architecture `{version.architecture}`)\n"
    elif status == "blocked":
        text += "- Runware: not registered. **Runware can only download from a PUBLIC repo.**\n"
    elif status:
        text += f"- Runware: {status}. {version.runware_message or ''}\n"
    return text


def _card_state_text(edited) -> str:
    if edited is True:
        return "Your edited draft (saved in the run folder)."
    if edited is False:
        return "Generated from the run; edit it and press Save draft to keep your text."
    return f"⚠️ {edited}" if edited else ""


def _on_visibility(vis):
    return PRIVATE_WARNING if vis == "Private" else PUBLIC_NOTE


@dataclass
class Widgets:
    account: gr.Markdown
    check: gr.Button
    run: gr.Dropdown
    refresh: gr.Button
    account_name: gr.State
    card_edited: gr.State  # the card in the editor is the run's saved draft
    card_owner: gr.State  # the run the card in the editor belongs to
    card_base: gr.State  # the card as loaded or saved: anything else in the editor is unsaved typing
    run_by_hand: gr.State  # the person picked the run in this tab (kept when the tab opens again)
    chosen: gr.Markdown
    adapter: gr.Textbox
    repo: gr.Textbox
    visibility: gr.Radio
    visibility_note: gr.Markdown
    existing: gr.Checkbox
    selftest: gr.Checkbox
    use_runware: gr.Checkbox
    air: gr.Textbox
    samples: gr.CheckboxGroup
    gallery: gr.Gallery
    card: gr.Textbox
    save_card: gr.Button
    reset_card: gr.Button
    card_state: gr.Markdown
    preview: gr.Markdown
    publish_button: gr.Button
    stop_button: gr.Button
    progress: gr.Markdown
    result: gr.Markdown
    versions: gr.Dataframe

    @property
    def opening(self) -> list:
        """The inputs of Handlers.load_run."""
        return [self.run, self.adapter, self.account_name, self.card, self.card_edited, self.card_owner, self.card_base]

    @property
    def loaded(self) -> list:
        """What opening a run fills in."""
        return [self.chosen, self.repo, self.air, self.samples, self.gallery, self.card, self.preview, self.card_state,
                self.versions, self.card_edited, self.card_owner, self.card_base, self.selftest]


def layout(ctx: UIContext) -> Widgets:
    gr.Markdown("## Publish\n\nOne commit to the Hugging Face Hub (adapter, model card, samples, training settings), "
                "then a Runware model waited until it is ready. Publishing the same thing again is safe.")
    with gr.Row():
        account = gr.Markdown("Hugging Face account: not checked yet.", elem_id="publish-account")
        check = gr.Button("Check token", size="sm", elem_id="publish-check-token", scale=0)
    with gr.Row():
        # The choices are filled in when the page loads and whenever the tab opens (never frozen at app start).
        run = gr.Dropdown(choices=[], value=None, label="Run", elem_id="publish-run", allow_custom_value=False, scale=2)
        refresh = gr.Button("↻ Refresh", size="sm", elem_id="publish-refresh", scale=0)
    account_name = gr.State("you")
    card_edited = gr.State(False)
    card_owner = gr.State(None)
    card_base = gr.State("")
    run_by_hand = gr.State(False)
    chosen = gr.Markdown("", elem_id="publish-chosen")
    with gr.Accordion("Advanced: publish another adapter file", open=False):
        adapter = gr.Textbox(label="Adapter file (.safetensors) instead of the chosen checkpoint",
                             placeholder="/path/to/pytorch_lora_weights.safetensors", elem_id="publish-adapter")
    with gr.Row():
        repo = gr.Textbox(label="Repo name (on your account, or owner/name)", elem_id="publish-repo", scale=2)
        visibility = gr.Radio(["Public", "Private"], value="Public", label="Visibility", elem_id="publish-visibility")
    visibility_note = gr.Markdown(PUBLIC_NOTE, elem_id="publish-visibility-note")
    existing = gr.Checkbox(False, label="Add a new version to an existing repo (one not published from this app)",
                           elem_id="publish-existing")
    selftest = gr.Checkbox(False, label="Publish this self-test adapter, labelled as a self-test (for testing the "
                           "pipeline only: it is no character LoRA)", visible=False, elem_id="publish-selftest")
    with gr.Row():
        use_runware = gr.Checkbox(True, label="Register on Runware after the upload", elem_id="publish-runware")
        air = gr.Textbox(label="Runware AIR source:id (asked once, remembered; the version is counted for you)",
                         placeholder="mysource:mira", elem_id="publish-air", scale=2)
    gr.Markdown("### Samples on the model card")
    samples = gr.CheckboxGroup(choices=[], label="Pick up to 12 images (grids, previews, Local Generate)",
                               elem_id="publish-samples")
    gallery = gr.Gallery(label="Candidates", columns=8, height=200, elem_id="publish-sample-gallery")
    gr.Markdown("### Model card (README.md)")
    with gr.Row():
        with gr.Column():
            card = gr.Textbox(label="Edit the card", lines=22, max_lines=40, elem_id="publish-card-editor")
            with gr.Row():
                save_card = gr.Button("Save draft", size="sm", elem_id="publish-card-save")
                reset_card = gr.Button("Reset to the generated card", size="sm", elem_id="publish-card-reset")
            card_state = gr.Markdown("", elem_id="publish-card-state")
        with gr.Column():
            preview = gr.Markdown("", elem_id="publish-card-preview")
    with gr.Row():
        publish_button = gr.Button("Publish", variant="primary", elem_id="publish-button")
        stop_button = gr.Button("Stop", variant="stop", elem_id="publish-stop")
    progress = gr.Markdown("", elem_id="publish-progress")
    result = gr.Markdown("", elem_id="publish-result")
    gr.Markdown("### Published versions")
    versions = gr.Dataframe(headers=publish_overview.VERSION_HEADERS, value=[], interactive=False,
                            elem_id="publish-versions", wrap=True)
    return Widgets(account, check, run, refresh, account_name, card_edited, card_owner, card_base, run_by_hand, chosen,
                   adapter, repo, visibility, visibility_note, existing, selftest, use_runware, air, samples, gallery, card, save_card, reset_card,
                   card_state, preview, publish_button, stop_button, progress, result, versions)


class Handlers:
    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx

    @staticmethod
    def request_for(run_id, adapter_path, repo_name, vis, runware_on, air_text, picked, card_text=None, into=False,
                    allow_selftest=False, as_typed=False):
        """The PublishRequest of the form. `as_typed` (Publish) hands an empty repo name on as empty, so it is
        refused with a sentence; the card preview uses the run's default name meanwhile."""
        from pathlib import Path

        repo = (repo_name or "").strip()
        return PublishRequest(run_id, repo_id=repo if as_typed else (repo or None), private=vis == "Private",
                              adapter=Path(adapter_path.strip()) if adapter_path and adapter_path.strip() else None,
                              samples=[Path(p) for p in (picked or [])][:12], card_text=card_text,
                              runware=bool(runware_on), air=(air_text or "").strip() or None,
                              allow_existing=True if into else None, allow_selftest=bool(allow_selftest))

    def account_text(self, quiet: bool):
        try:
            found = hub.whoami(self.ctx.settings)
        except AppError as error:
            if not quiet:
                raise
            return f"⚠️ {error}", "you"
        rights = "can write" if found.can_write else "**read-only: publishing needs a write token**"
        return f"✅ Hugging Face account: **{found.name}** ({rights})", found.name

    @user_errors
    def check_token(self):
        return self.account_text(quiet=False)

    @user_errors
    def account_quietly(self):
        return self.account_text(quiet=True)

    def generated_card(self, run_id, adapter_path, repo_name, picked, account_id="you"):
        try:
            request = self.request_for(run_id, adapter_path, repo_name, "Public", False, "", picked)
            return draft_card(self.ctx.settings, request, account=account_id or "you")
        except Exception as error:  # no checkpoint chosen yet: the card waits for one
            return "", str(error)

    def keep_unsaved(self, owner, text) -> None:
        """Typing in the card and then switching run must not lose it: it becomes the old run's draft."""
        if owner:
            model_card.save_draft(run_paths(workspace_from(self.ctx.settings), owner), text, check=False)

    @user_errors
    def load_run(self, run_id, adapter_path, account_id, card_text, is_draft, owner, base):
        typed = bool((card_text or "").strip()) and card_text != base
        if typed and owner != run_id:
            self.keep_unsaved(owner, card_text)
        if not run_id:
            return ("No runs yet: train one in the Train tab.", gr.update(), gr.update(), gr.update(choices=[], value=[]),
                    [], "", "", "", [], False, None, "", gr.update(visible=False, value=False))
        found = publish_overview.overview(self.ctx.settings, run_id, adapter_path or None)
        choices = [(p.name if p.parent.name in ("grid", "preview") else f"{p.parent.name}/{p.name}", str(p))
                   for p in found.samples]
        picked = [value for _, value in choices[:4]]
        card_parts = (gr.update(),) * 4 + (gr.update(),)  # the same run, being typed in: left as it is
        if not (typed and owner == run_id):
            text, edited = self.generated_card(run_id, adapter_path, found.repo_name, picked, account_id)
            card_parts = (text, _preview(text), _card_state_text(edited), edited is True, text)
        return (found.chosen_text(), found.repo_name, found.air, gr.update(choices=choices, value=picked),
                [str(p) for p in found.samples], *card_parts[:3], found.version_rows(), card_parts[3], run_id,
                card_parts[4], gr.update(visible=bool(found.selftest), value=False))

    @user_errors
    def regenerate(self, run_id, adapter_path, repo_name, picked, account_id, is_draft, card_text, base):
        """A new repo name or sample choice rewrites the generated card; a draft or typed text is left alone."""
        if is_draft or card_text != base or not run_id:
            return gr.update(), gr.update(), gr.update(), gr.update()
        text, state = self.generated_card(run_id, adapter_path, repo_name, picked, account_id)
        return text, _preview(text), _card_state_text(state), text

    @user_errors
    def save(self, run_id, text):
        model_card.save_draft(run_paths(workspace_from(self.ctx.settings), run_id, must_exist=True), text)
        return "✅ Draft saved in the run folder (the previous one is kept in model_card.history/).", True, text

    @user_errors
    def reset(self, run_id, adapter_path, repo_name, picked, account_id):
        paths = run_paths(workspace_from(self.ctx.settings), run_id, must_exist=True)
        request = self.request_for(run_id, adapter_path, repo_name, "Public", False, "", picked)
        pick = publishing.chosen(paths, request)
        repo_id = publishing.full_repo_id(request.repo_id, account_id or "you", paths)
        selftest = publishing.selftest_reason(paths, pick.adapter_path) is not None
        samples = publication.unique_samples(request.samples)
        text = model_card.render(publishing.card_info(paths, repo_id, pick, samples, selftest))
        return (text, _preview(text), "Generated card (not saved yet: Save draft keeps it, Publish uses it as shown).",
                False, text)

    def rows(self, run_id):
        return publish_overview.overview(self.ctx.settings, run_id).version_rows() if run_id else []

    @long_job(PUBLISH)
    def run_publish(self, run_id, adapter_path, repo_name, vis, runware_on, air_text, picked, card_text, into,
                    allow_selftest, *, cancel):
        if not run_id:
            raise gr.Error("Pick a run first.")
        request = self.request_for(run_id, adapter_path, repo_name, vis, runware_on, air_text, picked, card_text, into,
                                   allow_selftest, as_typed=True)
        lines, outcome = [], ""
        yield "• Checking what will be published…", "", gr.update()  # the last publish's result is not this one's
        try:
            for event in publish(self.ctx.settings, request, cancel):
                lines.append(f"{'✅' if event.result is not None else '•'} {event.message}")
                yield "\n\n".join(lines), gr.update(), gr.update()
                if event.result is not None:
                    outcome = _result_text(event.result)
        except Cancelled:
            lines.append("⏹ Stopped. Nothing is lost: press Publish again to continue where it stopped.")
        except Exception as error:
            lines.append(f"❌ {redact(describe(error))}")
            yield "\n\n".join(lines), gr.update(), self.rows(run_id)
            raise
        yield "\n\n".join(lines), outcome, self.rows(run_id)

    @user_errors
    def fresh_runs(self, current):
        """↻ Refresh: the current runs, keeping the one shown while it exists."""
        names = publish_overview.runs(self.ctx.settings)
        return gr.update(choices=names, value=current if current in names else (names[0] if names else None))

    @user_errors
    def opening_runs(self, current, by_hand):
        """Page load and tab open: the current runs; the run picked here by hand, else the one with the
        checkpoint chosen for publishing, else the newest."""
        names, value = publish_overview.opening_run(self.ctx.settings, current, bool(by_hand))
        return gr.update(choices=names, value=value)

    @staticmethod
    def picked_by_hand():
        return True

    @user_errors
    def on_tab(self, run_id, adapter_path):
        """Coming back to Publish (after choosing a checkpoint): refresh what is chosen; the card is left alone."""
        if not run_id:
            return gr.update(), gr.update()
        found = publish_overview.overview(self.ctx.settings, run_id, adapter_path or None)
        return found.chosen_text(), found.version_rows()

    @user_errors
    def on_chosen(self, run_id, adapter_path):
        """A checkpoint was chosen in the Checkpoints tab: show it here at once; the tab opens on its run next."""
        if not run_id:
            return gr.update(), False
        return publish_overview.overview(self.ctx.settings, run_id, adapter_path or None).chosen_text(), False


def wire(ctx: UIContext, w: Widgets) -> None:
    on = Handlers(ctx)
    w.check.click(on.check_token, outputs=[w.account, w.account_name], api_name="publish_whoami")
    for trigger in (w.repo.blur, w.repo.submit, w.samples.input):
        trigger(on.regenerate, inputs=[w.run, w.adapter, w.repo, w.samples, w.account_name, w.card_edited, w.card, w.card_base],
                outputs=[w.card, w.preview, w.card_state, w.card_base])
    w.run.change(on.load_run, inputs=w.opening, outputs=w.loaded)
    w.run.input(on.picked_by_hand, outputs=w.run_by_hand)
    w.adapter.submit(on.load_run, inputs=w.opening, outputs=w.loaded)
    w.refresh.click(on.fresh_runs, inputs=w.run, outputs=w.run).then(on.load_run, inputs=w.opening, outputs=w.loaded)
    w.visibility.change(_on_visibility, inputs=w.visibility, outputs=w.visibility_note)
    w.card.change(_preview, inputs=w.card, outputs=w.preview)
    w.save_card.click(on.save, inputs=[w.run, w.card], outputs=[w.card_state, w.card_edited, w.card_base])
    w.reset_card.click(on.reset, inputs=[w.run, w.adapter, w.repo, w.samples, w.account_name],
                       outputs=[w.card, w.preview, w.card_state, w.card_edited, w.card_base])
    w.publish_button.click(on.run_publish, inputs=[w.run, w.adapter, w.repo, w.visibility, w.use_runware, w.air, w.samples,
                                                   w.card, w.existing, w.selftest],
                           outputs=[w.progress, w.result, w.versions], api_name="publish", concurrency_limit=1)
    w.stop_button.click(PUBLISH.stop_handler(), api_name="publish_stop")
    # Opening the tab: the current runs, on the run with the chosen checkpoint unless one was picked here; a run
    # that changes loads through w.run.change, one that stays gets its chosen line and versions refreshed.
    ctx.tab_items[TAB_ID].select(on.opening_runs, inputs=[w.run, w.run_by_hand], outputs=w.run).then(
        on.on_tab, inputs=[w.run, w.adapter], outputs=[w.chosen, w.versions])
    if ctx.shared.get("chosen") is not None:  # choosing in the Checkpoints tab: the tab opens on that run next
        follow(ctx.shared["chosen"], on.on_chosen, inputs=[w.run, w.adapter], outputs=[w.chosen, w.run_by_hand])
    if ctx.blocks is not None:
        ctx.blocks.load(on.opening_runs, inputs=[w.run, w.run_by_hand], outputs=w.run).then(
            on.account_quietly, outputs=[w.account, w.account_name]).then(on.load_run, inputs=w.opening, outputs=w.loaded)
