"""The PLUME prompt, instructions through ST prompts, pixel budgets and uniform video frame sampling."""

from __future__ import annotations

import torch
from drawing import draw_image
from PIL import Image

from plume_st.modules.media import MediaOptions, parse_input
from plume_st.modules.plume_prompt import render_prompt
from plume_st.modules.video_decoding import uniform_indices


def test_prompt_layout():
    assert render_prompt("Find it: a cat", num_images=1) == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        "<|vision_start|><|image_pad|><|vision_end|>Find it: a cat\n<disc_emb>\n"
        "Represent the above input text, images, videos, or any combination of the three as embeddings. "
        "First output the thinking process in <think> </think> tags and then summarize the entire input in a word "
        "or sentence. Finally, use the <gen_emb> tag to represent the entire input.<|im_end|>\n"
        "<|im_start|>assistant\n<think><bot>"
    )


def test_prefix_ends_with_bot_for_every_row(plume_model):
    model = plume_model("qwen2_vl")
    features = model.preprocess(["short", "a much longer text input than the first one", draw_image(1)])
    bot = model[0].token_id("<bot>")
    assert (features["input_ids"][:, -1] == bot).all()
    assert (features["attention_mask"][:, 0] == 0).any()  # left padding


def test_instruction_goes_in_front_of_the_text(plume_model):
    model = plume_model("qwen2_vl")
    with torch.no_grad():
        via_prompt = model.encode_query(["a red square"], prompt="Retrieve an image of: ", convert_to_tensor=True)
        manual = model.encode(["Retrieve an image of: a red square"], convert_to_tensor=True)
        plain = model.encode(["a red square"], convert_to_tensor=True)
    torch.testing.assert_close(via_prompt, manual)
    assert (via_prompt - plain).abs().max() > 1e-3


def test_pixel_budgets(tiny_backbone):
    import plume_st

    small = plume_st.build_plume_model(str(tiny_backbone()), max_pixels=56 * 56, device="cpu")
    large = plume_st.build_plume_model(str(tiny_backbone()), min_pixels=112 * 112, max_pixels=224 * 224, device="cpu")
    image = draw_image(2, (200, 200))
    small_grid = small.preprocess([image])["image_grid_thw"][0]
    large_grid = large.preprocess([image])["image_grid_thw"][0]
    assert int(small_grid.prod()) * 14 * 14 <= 56 * 56
    assert int(large_grid.prod()) * 14 * 14 >= 112 * 112
    assert small[0].max_pixels == 56 * 56 and large[0].min_pixels == 112 * 112


def test_videos_are_sampled_to_uniform_frames():
    frames = [Image.new("RGB", (28, 28), (i * 10, 0, 0)) for i in range(20)]
    parsed = parse_input({"video": frames}, MediaOptions(num_frames=8))
    assert uniform_indices(20, 8) == [0, 3, 5, 8, 11, 14, 16, 19]
    assert [frame.getpixel((0, 0))[0] for frame in parsed.videos[0].frames] == [0, 30, 50, 80, 110, 140, 160, 190]
    assert uniform_indices(3, 8) == [0, 1, 2]


def test_video_grid_follows_num_frames(plume_model):
    model = plume_model("qwen2_vl")
    frames = [Image.new("RGB", (56, 56), (i * 10, 0, 0)) for i in range(20)]
    grid = model.preprocess([{"video": frames}])["video_grid_thw"][0]
    assert int(grid[0]) == 8 // 2  # 8 sampled frames, temporal patch of 2
