"""The Gradio UI: one module per tab, each wiring widgets to `core` calls. Nothing here touches files."""
