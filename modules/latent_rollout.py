"""The latent rollout of PLUME: K continuous thinking steps through the anchor-guided adapter, then ``<gen_emb>``.

Reads the prefix cache, the anchor ``c(x)`` and ``z(0)`` from :class:`~plume_input.PlumeInput` and, for the whole
batch at once::

    for k in 1..K:  z~(k) = A(z(k-1), c(x), k);  z(k) = backbone(inputs_embeds=z~(k), cache)   # one position per step
    h = backbone(embed("<eot></think>\\n<gen_emb>"), cache)[:, -1]                              # state at <gen_emb>

The state z(K) of the last step is never used (the suffix is fixed tokens), so z~(K) and the suffix go through the
backbone together: a latent encode makes 1 + K backbone passes (the prefix, K - 1 single-position steps, one pass
over [z~(K), suffix]), the same mathematics as K + 1 separate passes. Every step continues the M-RoPE positions at
``max(prefix position) + 1 + offset`` on all three axes, per row (``position_scheme="official"`` uses the row's cache
length instead, as the authors' code does). Gradients flow through all K steps. ``reasoning="explicit"`` instead
generates the rationale greedily after ``<eot>`` and reads the state of the *generated* ``<gen_emb>``;
``reasoning="none"`` leaves the anchor as the embedding. ``continuation_max_tokens > 0`` (the authors' procedure, set
by ``plume_st.convert_official``) keeps decoding greedily after the forced ``<gen_emb>`` and pools the last
``<gen_emb>`` (:mod:`greedy_continuation`). ``transition="identity"`` (no adapter: z~(k) = z(k-1)) and
``anchor_guidance=False`` (the router sees z instead of z + c) are the paper's ablations.

The rollout runs in the backbone's dtype end to end (the adapter is cast to it when the model is built or loaded:
bfloat16 latent inputs, suffix embeddings, states and KV cache for a bfloat16 model); the router's softmax is the
one float32 step (:mod:`transition_adapter`), and :class:`~plume_pooling.PlumePooling` hands the caller float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from sentence_transformers.base.modules import Module

from .explicit_rationale import generate_rationale
from .greedy_continuation import continue_to_last_gen_emb
from .plume_prompt import LATENT_SUFFIX
from .source_export import copy_module_sources
from .transition_adapter import AnchorGuidedTransition

REASONING_MODES = ("latent", "none", "explicit")
POSITION_SCHEMES = ("default", "official")
TRANSITIONS = ("adapter", "identity")


@dataclass
class RolloutState:
    """Where a batch's sequence stands after the prefix: its cache, mask and next position per row."""

    past_key_values: Any
    attention_mask: torch.Tensor
    next_position: torch.Tensor
    offset: int = 0

    def positions(self, length: int) -> torch.Tensor:
        """3-axis positions (3, B, length) of the next ``length`` tokens."""
        steps = torch.arange(self.offset, self.offset + length, device=self.next_position.device)
        return (self.next_position[:, None] + steps[None, :]).unsqueeze(0).expand(3, -1, -1)


class LatentRollout(Module):
    """Runs the latent steps (or the explicit rationale) and the closing suffix on the backbone of module 0.

    Args:
        hidden_size: The backbone's hidden size D.
        latent_steps: Default number of latent steps K.
        reasoning: Default mode, ``"latent"``, ``"none"`` or ``"explicit"``.
        num_experts: Routed experts of the adapter.
        top_k: Experts per row.
        shared_expert: Whether the adapter has the always-on shared expert.
        num_step_embeddings: Size of the adapter's step-embedding table.
        expert_dropout: Dropout inside the experts.
        position_scheme: ``"default"`` (continue after the prefix's largest position) or ``"official"``
            (continue at the row's cache length, as the authors' released code does).
        max_new_tokens: Longest rationale generated in ``"explicit"`` mode before ``<gen_emb>`` is forced.
        continuation_max_tokens: Most tokens decoded greedily after the forced ``<gen_emb>`` in ``"latent"`` mode,
            pooling the last ``<gen_emb>`` (0: none, the state of the forced one; 4096 in the authors' profile).
        transition: ``"adapter"`` (the anchor-guided mixture of experts) or ``"identity"`` (the ablation without a
            latent transition: the last state is fed back as it is, and there is no adapter).
        anchor_guidance: Whether the router sees ``z + c(x)`` (the paper) or only ``z`` (the ablation without the
            anchor).
    """

    config_keys: list[str] = [
        "hidden_size",
        "latent_steps",
        "reasoning",
        "num_experts",
        "top_k",
        "shared_expert",
        "num_step_embeddings",
        "expert_dropout",
        "position_scheme",
        "max_new_tokens",
        "continuation_max_tokens",
        "transition",
        "anchor_guidance",
    ]
    forward_kwargs = {"reasoning", "latent_steps"}

    def __init__(
        self,
        hidden_size: int,
        latent_steps: int = 8,
        reasoning: str = "latent",
        num_experts: int = 4,
        top_k: int = 2,
        shared_expert: bool = True,
        num_step_embeddings: int = 32,
        expert_dropout: float = 0.1,
        position_scheme: str = "default",
        max_new_tokens: int = 512,
        continuation_max_tokens: int = 0,
        transition: str = "adapter",
        anchor_guidance: bool = True,
    ) -> None:
        super().__init__()
        self._check(reasoning, latent_steps)
        if position_scheme not in POSITION_SCHEMES:
            raise ValueError(f"position_scheme must be one of {POSITION_SCHEMES}, got {position_scheme!r}")
        if not isinstance(continuation_max_tokens, int) or continuation_max_tokens < 0:
            raise ValueError(
                f"continuation_max_tokens must be a non-negative integer, got {continuation_max_tokens!r}"
            )
        if transition not in TRANSITIONS:
            raise ValueError(f"transition must be one of {TRANSITIONS}, got {transition!r}")
        self.hidden_size = hidden_size
        self.latent_steps = latent_steps
        self.reasoning = reasoning
        self.num_experts = num_experts
        self.top_k = top_k
        self.shared_expert = shared_expert
        self.num_step_embeddings = num_step_embeddings
        self.expert_dropout = expert_dropout
        self.position_scheme = position_scheme
        self.max_new_tokens = max_new_tokens
        self.continuation_max_tokens = continuation_max_tokens
        self.transition = transition
        self.anchor_guidance = anchor_guidance
        self.adapter = None
        if transition == "adapter":
            self.adapter = AnchorGuidedTransition(
                hidden_size, num_experts, top_k, shared_expert, num_step_embeddings, expert_dropout
            )
        self.__dict__["input_module"] = None  # module 0, set by on_model_ready; not a registered submodule

    @staticmethod
    def _check(reasoning: str, latent_steps: int) -> None:
        if reasoning not in REASONING_MODES:
            raise ValueError(f"reasoning must be one of {REASONING_MODES}, got {reasoning!r}")
        if not isinstance(latent_steps, int) or latent_steps < 0:
            raise ValueError(f"latent_steps must be a non-negative integer, got {latent_steps!r}")

    def on_model_ready(self, model: Any) -> None:
        """Reach the backbone of the model's input module (shared, not copied)."""
        self.__dict__["input_module"] = model[0]
        self._suffix_ids = model[0].tokenizer(LATENT_SUFFIX, add_special_tokens=False, return_tensors="pt").input_ids

    def start(self, features: dict[str, Any]) -> RolloutState:
        """The rollout state right after the prefix pass of :class:`PlumeInput`."""
        mask = features["attention_mask"]
        if self.position_scheme == "official":
            next_position = mask.sum(dim=1)
        else:
            next_position = features["next_position"]
        return RolloutState(features["past_key_values"], mask, next_position)

    def extend(
        self, state: RolloutState, inputs_embeds: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Append ``inputs_embeds`` (B, T, D) to every row's sequence; returns their last-layer states (B, T, D)."""
        length = inputs_embeds.shape[1]
        if mask is None:
            mask = state.attention_mask.new_ones(inputs_embeds.shape[0], length)
        state.attention_mask = torch.cat([state.attention_mask, mask.to(state.attention_mask.dtype)], dim=1)
        outputs = self.input_module.run_backbone(
            state.attention_mask, state.positions(length), state.past_key_values, inputs_embeds=inputs_embeds
        )
        state.offset += length
        return outputs.last_hidden_state

    def transition_step(self, z: torch.Tensor, anchor: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The next backbone input z~ (B, D) and the router probabilities (B, M; M = 0 without an adapter)."""
        if self.adapter is None:
            return z, z.new_zeros(z.shape[0], 0, dtype=torch.float32)
        return self.adapter(z, anchor if self.anchor_guidance else torch.zeros_like(anchor), step)

    def rollout(
        self, state: RolloutState, z: torch.Tensor, anchor: torch.Tensor, num_steps: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Compute ``num_steps`` latent inputs for the whole batch, feeding all but the last to the backbone.

        z~(K) is left for :meth:`close`, which feeds it together with the suffix that follows.

        Returns:
            The latent inputs z~ (B, K, D), in the backbone's dtype, and the router probabilities (B, K, M), in
            float32.
        """
        fed, probs = [], []
        for step in range(num_steps):
            if fed:
                z = self.extend(state, fed[-1].unsqueeze(1))[:, -1]
            z_tilde, step_probs = self.transition_step(z, anchor, step)
            fed.append(z_tilde)
            probs.append(step_probs)
        if not fed:
            num_experts = 0 if self.adapter is None else self.num_experts
            no_probs = z.new_zeros(z.shape[0], 0, num_experts, dtype=torch.float32)
            return z.new_zeros(z.shape[0], 0, z.shape[-1]), no_probs
        return torch.stack(fed, dim=1), torch.stack(probs, dim=1)

    def close(
        self,
        state: RolloutState,
        latent_inputs: torch.Tensor,
        suffix_embeds: torch.Tensor,
        suffix_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Feed the last latent input z~(K) (none when K = 0) and the suffix in one backbone pass.

        Args:
            state: The rollout state after :meth:`rollout`.
            latent_inputs: Its latent inputs (B, K, D).
            suffix_embeds: Embeddings of the suffix (B, T, D).
            suffix_mask: Which suffix positions are real tokens (B, T); all when ``None``.

        Returns:
            The last-layer states of the suffix positions (B, T, D).
        """
        pending = latent_inputs[:, -1:]
        if suffix_mask is not None:
            suffix_mask = torch.cat([suffix_mask.new_ones(pending.shape[:2]), suffix_mask], dim=1)
        hidden = self.extend(state, torch.cat([pending, suffix_embeds], dim=1), suffix_mask)
        return hidden[:, pending.shape[1] :]

    def embed_tokens(self, token_ids: torch.Tensor) -> torch.Tensor:
        return self.input_module.causal_lm.get_input_embeddings()(token_ids)

    def suffix_ids(self, batch_size: int, device: torch.device) -> torch.Tensor:
        """The ids of ``<eot></think>\n<gen_emb>`` for every row (tokenised once, in ``on_model_ready``)."""
        return self._suffix_ids.to(device).expand(batch_size, -1)

    def forward(
        self, features: dict[str, Any], reasoning: str | None = None, latent_steps: int | None = None
    ) -> dict[str, Any]:
        """Write ``gen_state`` (latent / explicit) and ``reasoning`` into the features."""
        reasoning = self.reasoning if reasoning is None else reasoning
        latent_steps = self.latent_steps if latent_steps is None else latent_steps
        self._check(reasoning, latent_steps)
        features["reasoning"] = reasoning
        if reasoning == "none":
            features.pop("past_key_values", None)
            return features
        state = self.start(features)
        z, anchor = features["bot_state"], features["anchor_embedding"]
        batch_size, device = z.shape[0], z.device
        if reasoning == "explicit":
            features["gen_state"] = generate_rationale(self, state, batch_size, device)
        else:
            fed, probs = self.rollout(state, z, anchor, latent_steps)
            suffix = self.embed_tokens(self.suffix_ids(batch_size, device))
            gen_state = self.close(state, fed, suffix)[:, -1]
            if self.continuation_max_tokens:
                gen_state = continue_to_last_gen_emb(self, state, gen_state, self.continuation_max_tokens)
            features["gen_state"] = gen_state
            features["latent_inputs"] = fed
            features["router_probs"] = probs
        features.pop("past_key_values")  # the batch's cache is spent; do not hand it to encode's outputs
        return features

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any) -> None:
        self.save_config(output_path)
        self.save_torch_weights(output_path, safe_serialization=safe_serialization)
        copy_module_sources(type(self), f"{output_path}/..")

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", **kwargs: Any) -> LatentRollout:
        hub_kwargs = {
            key: kwargs[key] for key in ("token", "cache_folder", "revision", "local_files_only") if key in kwargs
        }
        module = cls(**cls.load_config(model_name_or_path, subfolder=subfolder, **hub_kwargs))
        cls.load_torch_weights(model_name_or_path, subfolder=subfolder, model=module, **hub_kwargs)
        return module
