"""The model card (README.md) of a published LoRA, in the Hub's LoRA conventions, and its editable draft.

Front matter: license, base_model black-forest-labs/FLUX.2-klein-base-4B, base_model_relation adapter,
library_name, pipeline_tag, tags, instance_prompt (the trigger word), widget (one item per sample).
Body: trigger word, <Gallery />, recommended strength, use with mflux and with diffusers, training settings.

The person may edit the card before upload; the draft lives in the run folder (RunPaths.model_card_draft) and an
edited draft is kept as it is: every save keeps the previous text in model_card.history/.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import yaml

from core import storage
from core.errors import ModelCardError
from core.publishing.upload import ADAPTER_NAME, sample_name
from core.runs.paths import RunPaths

BASE_MODEL = "black-forest-labs/FLUX.2-klein-base-4B"
LICENSE = "apache-2.0"
TAGS = ("text-to-image", "diffusers", "lora", "flux2-klein", "template:sd-lora", "mflux")
SELFTEST_TAG = "selftest"
SELFTEST_BANNER = ("> ⚠️ **Self-test adapter.** Trained on this app's tiny random self-test model to test the publishing "
                   "pipeline. It does not work with FLUX.2 klein Base 4B and makes no character: do not use it.")


@dataclass
class CardInfo:
    repo_id: str
    trigger: str
    strength: float = 1.0
    step: int | None = None
    sample_prompts: list[str] = field(default_factory=list)  # one per sample, in order
    training: list[tuple[str, str]] = field(default_factory=list)  # (setting, value) of the run's training
    sampling: list[tuple[str, str]] = field(default_factory=list)  # how the training previews were sampled
    title: str = ""
    selftest: bool = False  # a self-test adapter: said in the title, the tags and a banner


class _Words(str):
    """Text a person wrote (a trigger, a prompt): written double-quoted in the front matter, on one line."""


class _CardDumper(yaml.SafeDumper):
    """yaml.safe_dump's dumper, writing _Words double-quoted."""


_CardDumper.add_representer(
    _Words, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", str(text), style='"'))


def _yaml(data: dict) -> str:
    """`data` as block YAML lines, keys in the order given (yaml.safe_dump, with the person's words quoted)."""
    return yaml.dump(data, Dumper=_CardDumper, sort_keys=False, allow_unicode=True, width=float("inf"))


def _widget(sample_prompts: list[str], trigger: str) -> list[dict]:
    """The front matter's widget list: one item per sample, its prompt and its image."""
    return [{"text": _Words(str(prompt or trigger).replace("\n", " ")), "output": {"url": sample_name(index)}}
            for index, prompt in enumerate(sample_prompts, start=1)]


def render(info: CardInfo) -> str:
    title = info.title or info.repo_id.split("/")[-1]
    if info.selftest:
        title = f"{title} (SELF-TEST)"
    trigger = info.trigger.strip()
    data: dict = {"license": LICENSE, "base_model": BASE_MODEL, "base_model_relation": "adapter",
                  "library_name": "diffusers", "pipeline_tag": "text-to-image",
                  "tags": list(TAGS) + ([SELFTEST_TAG] if info.selftest else [])}
    if trigger:
        data["instance_prompt"] = _Words(trigger.replace("\n", " "))
    if info.sample_prompts:
        data["widget"] = _widget(info.sample_prompts, trigger)
    lines = ["---", *_yaml(data).splitlines(), "---"]
    strength = f"{info.strength:g}"
    body = [
        "", f"# {title}", "",
        *([SELFTEST_BANNER, ""] if info.selftest else []),
        f"A character LoRA for [FLUX.2 klein Base 4B](https://huggingface.co/{BASE_MODEL}), trained locally with "
        "[mflux](https://github.com/filipstrand/mflux).", "",
        "<Gallery />", "",
        "## Trigger word", "",
        f"Use `{trigger}` in the prompt to bring in the character." if trigger else "This LoRA has no trigger word.", "",
        "## Recommended strength", "",
        f"`{strength}` (the strength chosen when comparing checkpoints"
        + (f"; checkpoint at step {info.step})." if info.step is not None else ")."), "",
        "## Use with mflux", "",
        "```bash",
        f"hf download {info.repo_id} {ADAPTER_NAME} --local-dir .",
        f"mflux-generate-flux2 --model flux2-klein-base-4b --lora-paths {ADAPTER_NAME} --lora-scales {strength} \\",
        f"  --prompt \"{trigger + ', ' if trigger else ''}a portrait\" --steps 50 --seed 42",
        "```", "",
        "## Use with diffusers", "",
        "```python",
        "import torch",
        "from diffusers import Flux2KleinPipeline",
        "",
        f'pipe = Flux2KleinPipeline.from_pretrained("{BASE_MODEL}", torch_dtype=torch.bfloat16)',
        f'pipe.load_lora_weights("{info.repo_id}", weight_name="{ADAPTER_NAME}", adapter_name="character")',
        f'pipe.set_adapters(["character"], adapter_weights=[{strength}])',
        f'image = pipe("{trigger + ", " if trigger else ""}a portrait", num_inference_steps=50).images[0]',
        "```", "",
        "## Download", "",
        f"[{ADAPTER_NAME}](./{ADAPTER_NAME}) in the Files tab.", "",
    ]
    if info.training:
        body += ["## Training settings", "", "| setting | value |", "|---|---|"]
        body += [f"| {k} | {v} |" for k, v in info.training]
        body += [""]
    if info.sampling:
        body += ["## Sampling settings of the training previews", "",
                 "How the preview images were generated during training (not the training length).", "",
                 "| setting | value |", "|---|---|"]
        body += [f"| {k} | {v} |" for k, v in info.sampling]
        body += [""]
    if info.training or info.sampling:
        body += ["The full settings are in `training_config.json`.", ""]
    return "\n".join(lines + body)


def mark_selftest(text: str) -> str:
    """`text` with the self-test banner after its title (or after the front matter); unchanged when it has it."""
    if SELFTEST_BANNER in text:
        return text
    match = re.match(r"^---\r?\n.*?\r?\n---[^\n]*\n", text, re.S)
    head, body = (text[:match.end()], text[match.end():]) if match else ("", text)
    title = re.match(r"\s*#[^\n]*\n", body)
    if title:
        return head + body[:title.end()] + "\n" + SELFTEST_BANNER + "\n" + body[title.end():]
    return head + "\n" + SELFTEST_BANNER + "\n" + body


def front_matter(text: str) -> dict:
    """The card's YAML front matter; raises ModelCardError when it is missing or broken."""
    match = re.match(r"^---\r?\n(.*?)\r?\n---\s*(\r?\n|$)", text, re.S)
    if not match:
        raise ModelCardError("The model card has no front matter (the block between the two '---' lines).",
                             "Reset the card to the generated one, or add the block back.")
    try:
        data = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" on line {mark.line + 2}" if mark is not None else ""
        raise ModelCardError(f"The model card's front matter is not valid YAML{where}.",
                             "Fix that line or reset the card to the generated one.") from None
    if not isinstance(data, dict):
        raise ModelCardError("The model card's front matter is not a list of 'key: value' lines.",
                             "Reset the card to the generated one.")
    return data


def validate(text: str) -> dict:
    data = front_matter(text)
    if data.get("base_model") != BASE_MODEL:
        raise ModelCardError(f"The model card's base_model must be {BASE_MODEL}.", "Put that line back in the front matter.")
    return data


# --- the editable draft in the run folder ---

def read_draft(run_paths: RunPaths) -> str | None:
    try:
        return run_paths.model_card_draft.read_text(encoding="utf-8")
    except OSError:
        return None


def save_draft(run_paths: RunPaths, text: str, check: bool = True) -> None:
    """Save the person's card; the previous draft is kept in model_card.history/ (never lost).

    `check=False` saves even a card with broken front matter (keeping unsaved work when the person moves on)."""
    if check:
        validate(text)
    previous = read_draft(run_paths)
    if previous == text:
        return
    if previous is not None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        history = run_paths.root / "model_card.history"
        target, counter = history / f"{stamp}.md", 1
        while target.exists():
            target, counter = history / f"{stamp}-{counter}.md", counter + 1
        storage.write_text(target, previous)
    storage.write_text(run_paths.model_card_draft, text)


def card_for(run_paths: RunPaths, info: CardInfo) -> tuple[str, bool]:
    """(card text, edited): the saved draft when there is one, else the generated card."""
    draft = read_draft(run_paths)
    if draft is not None and draft.strip():
        return draft, True
    return render(info), False


def split(text: str) -> tuple[str, str]:
    """(front matter YAML, body) for showing a card: the Markdown preview cannot render the YAML block."""
    match = re.match(r"^---\r?\n(.*?)\r?\n---\s*(?:\r?\n|$)", text, re.S)
    if not match:
        return "", text
    return match.group(1), text[match.end():]


def retarget(text: str, repo_id: str, sample_prompts: list[str], trigger: str = "") -> str:
    """The card fitted to what is published: the repo id in the usage code and the widget list of the samples.

    A draft written for another repo name or another set of samples keeps every word the person wrote; only
    `load_lora_weights("<repo>"`, `hf download <repo> ` and the front matter's `widget:` block are rewritten."""
    text = re.sub(r'(load_lora_weights\(\s*")[^"]*(")', lambda m: m.group(1) + repo_id + m.group(2), text)
    text = re.sub(r"(hf download )[A-Za-z0-9._-]+/[A-Za-z0-9._-]+( )", lambda m: m.group(1) + repo_id + m.group(2), text)
    match = re.match(r"^---\r?\n(.*?)\r?\n---", text, re.S)
    if not match:
        return text
    lines = match.group(1).split("\n")
    kept, skipping = [], False
    for line in lines:
        if re.match(r"^widget\s*:", line):
            skipping = True
            continue
        if skipping and (line.startswith((" ", "-", "\t")) or not line.strip()):
            continue
        skipping = False
        kept.append(line)
    if sample_prompts:
        kept += _yaml({"widget": _widget(sample_prompts, trigger)}).splitlines()
    return text[:match.start(1)] + "\n".join(kept) + text[match.end(1):]
