"""An independent implementation of the authors' inference procedure, one item at a time, for the parity tests.

Written from the procedure in ``official-checkpoint.md``, not from plume-st's modules: it loads the checkpoint in
the authors' layout with transformers' own Qwen2-VL class and processor, builds their prompt as a string, resizes
images the way qwen-vl-utils does, lets the model compute its own M-RoPE positions for the prefix, writes the
adapter equations out on the raw checkpoint tensors, and decodes the continuation token by token with batch size 1.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file
from transformers import AutoProcessor, DynamicCache, Qwen2VLForConditionalGeneration

GENERATION_PROMPT = (
    "Represent the above input text, images, videos, or any combination of the three as embeddings. "
    "First output the thinking process in <think> </think> tags and then summarize the entire input in a word or "
    "sentence. Finally, use the <gen_emb> tag to represent the entire input."
)
IMAGE_FACTOR, MIN_PIXELS, MAX_PIXELS = 28, 4 * 28 * 28, 2_359_296  # qwen-vl-utils' factor and minimum; their max


def qwen_vl_utils_resize(image: Image.Image) -> Image.Image:
    """qwen-vl-utils' ``smart_resize`` + PIL resize: sides multiples of 28, pixel count within the bounds."""
    width, height = image.size
    h_bar = max(IMAGE_FACTOR, round(height / IMAGE_FACTOR) * IMAGE_FACTOR)
    w_bar = max(IMAGE_FACTOR, round(width / IMAGE_FACTOR) * IMAGE_FACTOR)
    if h_bar * w_bar > MAX_PIXELS:
        beta = math.sqrt(height * width / MAX_PIXELS)
        h_bar = math.floor(height / beta / IMAGE_FACTOR) * IMAGE_FACTOR
        w_bar = math.floor(width / beta / IMAGE_FACTOR) * IMAGE_FACTOR
    elif h_bar * w_bar < MIN_PIXELS:
        beta = math.sqrt(MIN_PIXELS / (height * width))
        h_bar = math.ceil(height * beta / IMAGE_FACTOR) * IMAGE_FACTOR
        w_bar = math.ceil(width * beta / IMAGE_FACTOR) * IMAGE_FACTOR
    return image if (w_bar, h_bar) == image.size else image.resize((w_bar, h_bar), Image.BICUBIC)


def transition(z: torch.Tensor, c: torch.Tensor, k: int, w: dict[str, torch.Tensor]) -> torch.Tensor:
    """z~ = z + E_shared(LN z) + sum_{m in top-2 pi} pi_m E_m(LN z),  pi = softmax(W_r [z + c ; e_k] + b_r)."""
    router_input = torch.cat([z + c, w["step_embed.weight"][min(k, 31)]])
    pi = torch.softmax(router_input @ w["router.weight"].T + w["router.bias"], dim=-1)
    x = F.layer_norm(z, z.shape, w["ln.weight"], w["ln.bias"], eps=1e-5)

    def expert(name: str) -> torch.Tensor:
        hidden = F.gelu(x @ w[f"{name}.fc1.weight"].T + w[f"{name}.fc1.bias"])
        return hidden @ w[f"{name}.fc2.weight"].T + w[f"{name}.fc2.bias"]

    routed = sum(pi[m] * expert(f"experts.{m}") for m in pi.topk(2).indices.tolist())
    return z + expert("shared_expert") + routed


class OfficialReference:
    """The authors' procedure on a checkpoint folder in their layout, in float32."""

    def __init__(self, folder: Path, latent_steps: int = 8, max_new_tokens: int = 4096) -> None:
        self.model = Qwen2VLForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()
        self.processor = AutoProcessor.from_pretrained(folder)
        tensors: dict[str, torch.Tensor] = {}
        for file in sorted(folder.glob("*.safetensors")):
            tensors.update(load_file(file))
        prefix = "latent_moe_transition."
        self.adapter = {k[len(prefix):]: v.float() for k, v in tensors.items() if k.startswith(prefix)}
        self.latent_steps, self.max_new_tokens = latent_steps, max_new_tokens
        tokenizer = self.processor.tokenizer
        self.gen_id = tokenizer.convert_tokens_to_ids("<gen_emb>")
        self.suffix = tokenizer("<eot></think>\n<gen_emb>", add_special_tokens=False, return_tensors="pt").input_ids
        eos = self.model.generation_config.eos_token_id
        self.eos = {eos} if isinstance(eos, int) else set(eos)

    def step(self, cache: DynamicCache, embeds: torch.Tensor) -> torch.Tensor:
        """Feed ``embeds`` (1, T, D) at positions cache length ... on all three axes; last-layer states (T, D)."""
        start = cache.get_seq_length()
        positions = torch.arange(start, start + embeds.shape[1]).view(1, 1, -1).expand(3, 1, -1)
        out = self.model.model(inputs_embeds=embeds, position_ids=positions, past_key_values=cache, use_cache=True)
        return out.last_hidden_state[0]

    @torch.no_grad()
    def __call__(self, text: str = "", image: Image.Image | None = None) -> tuple[torch.Tensor, list[int]]:
        """The embedding of one item and the tokens its continuation decoded."""
        if image is None:
            image = Image.new("RGB", (28, 28), (255, 255, 255))  # the blank image of a text-only item
        prompt = (
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
            "<|vision_start|><|image_pad|><|vision_end|>"
            f"{text.strip()}\n<disc_emb>\n{GENERATION_PROMPT}<|im_end|>\n<|im_start|>assistant\n<think><bot>"
        )
        image = qwen_vl_utils_resize(image.convert("RGB"))
        inputs = self.processor(text=[prompt], images=[image], return_tensors="pt")
        cache = DynamicCache(config=self.model.config.get_text_config())
        prefix = self.model.model(**inputs, past_key_values=cache, use_cache=True).last_hidden_state[0]
        ids = inputs["input_ids"][0]
        anchor = prefix[(ids == self.processor.tokenizer.convert_tokens_to_ids("<disc_emb>")).nonzero().max()]
        z = prefix[-1]
        for k in range(self.latent_steps):
            z = self.step(cache, transition(z, anchor, k, self.adapter)[None, None])[-1]
        embed = self.model.get_input_embeddings()
        state = self.step(cache, embed(self.suffix))[-1]
        embedding, decoded = state, []
        for _ in range(self.max_new_tokens):
            token = int(self.model.lm_head(state).argmax())
            if token in self.eos:
                break
            decoded.append(token)
            state = self.step(cache, embed(torch.tensor([[token]])))[-1]
            if token == self.gen_id:
                embedding = state
                break
        return F.normalize(embedding, dim=-1), decoded
