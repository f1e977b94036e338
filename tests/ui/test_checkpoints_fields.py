"""Every number field of the Checkpoints and Local Generate tabs has a step, a minimum and a maximum (the browser
accepts what the app accepts, and ArrowUp moves by a sensible amount)."""

import gradio as gr


def test_number_fields_of_the_checkpoints_and_generate_tabs_have_a_step_and_a_range(settings):
    from ui.context import UIContext
    from ui.shell import build_app

    demo = build_app(UIContext(settings=settings))
    fields = {block.elem_id: block for block in demo.blocks.values()
              if isinstance(block, (gr.Number, gr.Slider)) and (block.elem_id or "").startswith(("grid-", "ckpt-", "choose-", "gen-"))}
    assert {"grid-sample-steps", "grid-guidance", "choose-strength", "ckpt-keep", "gen-seed", "gen-steps", "gen-guidance",
            "gen-count", "gen-lora-strength", "gen-lora2-strength"} <= set(fields)
    for elem_id, field in fields.items():
        assert field.step is not None and field.minimum is not None and field.maximum is not None, elem_id
        assert field.minimum <= field.value <= field.maximum, elem_id
    assert fields["grid-guidance"].step <= 0.1 and fields["choose-strength"].step <= 0.05 and fields["gen-guidance"].step <= 0.1
    assert fields["grid-sample-steps"].step == 1 and fields["ckpt-keep"].minimum == 1
