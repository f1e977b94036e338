"""A tiny, randomly initialised Florence-2 built offline with transformers' native classes.

Its captions are gibberish letters ("qqqq"): tests check the plumbing (trigger first, saved, policies, progress),
not words. It says only lower-case letters and spaces, at least a few of them (left to itself the random model says
only <loc_*> tokens, which a caption cleans away to nothing); with max_new_tokens=1 it says nothing at all.
"""

from __future__ import annotations

from pathlib import Path

_POST_PROCESSOR = {
    "ocr": {"pattern": r"(.+?)<loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)>",
            "area_threshold": 0.0},
    "phrase_grounding": {"banned_grounding_tokens": ["the image"]},
    "pure_text": {}, "description_with_bboxes": {}, "description_with_polygons": {}, "polygons": {},
    "bboxes": {}, "description_with_bboxes_or_polygons": {},
}


def build_tiny_florence(folder: Path, image_size: int = 32, width: int = 32) -> Path:
    import torch
    from tokenizers import pre_tokenizers
    from transformers import BartTokenizer, CLIPImageProcessorPil, Florence2Config, Florence2ForConditionalGeneration, Florence2Processor

    folder = Path(folder)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for char in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab.setdefault(char, len(vocab))
    vocab["<mask>"] = len(vocab)
    tokenizer = BartTokenizer(vocab=vocab, merges=[], extra_special_tokens={"image_token": "<image>"})
    tokenizer.add_tokens([f"<loc_{i}>" for i in range(1000)] + ["<od>", "</od>", "<ocr>", "</ocr>", "<poly>", "</poly>", "<sep>"])
    image_processor = CLIPImageProcessorPil(size={"height": image_size, "width": image_size}, do_center_crop=False,
                                            image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    image_processor.image_seq_length = (image_size // 4) ** 2 + 1
    processor = Florence2Processor(image_processor=image_processor, tokenizer=tokenizer, post_processor_config=_POST_PROCESSOR)
    config = Florence2Config(
        text_config=dict(model_type="bart", vocab_size=len(tokenizer), d_model=width, encoder_layers=1, decoder_layers=1,
                         encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                         max_position_embeddings=256, bos_token_id=0, pad_token_id=1, eos_token_id=2,
                         decoder_start_token_id=2, forced_bos_token_id=0),
        vision_config=dict(depths=[1], patch_size=[7], patch_stride=[4], patch_padding=[3], patch_prenorm=[False],
                           embed_dim=[width], num_heads=[1], num_groups=[1], window_size=4, projection_dim=width,
                           drop_path_rate=0.0),
        image_token_id=tokenizer.image_token_id,
    )
    torch.manual_seed(0)
    model = Florence2ForConditionalGeneration(config).eval()
    letters = {tokenizer.convert_tokens_to_ids(c) for c in "abcdefghijklmnopqrstuvwxyzĠ"} | {0, 2}  # and <s>, </s>
    model.generation_config.suppress_tokens = [i for i in range(len(tokenizer)) if i not in letters]
    model.generation_config.min_new_tokens = 4
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
