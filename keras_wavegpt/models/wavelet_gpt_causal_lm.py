"""WaveletGPT causal language model: backbone, the paper's head, generation."""

import os
import shutil

import keras
import keras_hub
from keras import ops

from keras_wavegpt.layers.cached_call import call_with_cache, initial_cache
from keras_wavegpt.layers.dsp_decoder_block import DSPDecoderBlock
from keras_wavegpt.models.checked_preset import CheckedPreset
from keras_wavegpt.models.restores_compile import RestoresCompile
from keras_wavegpt.models.wavelet_gpt_backbone import (
    WaveletGPTBackbone,
    call_block,
)
from keras_wavegpt.models.wavelet_gpt_causal_lm_preprocessor import (
    WaveletGPTCausalLMPreprocessor,
)
from keras_wavegpt.utils.files import (
    check_preset_destination,
    replace_folder,
    write_preset_manifest,
)
from keras_wavegpt.utils.validation import check_positive_ints, check_prefix_mask


# keras_hub's built-in samplers, by the names `compile(sampler=...)` takes.
SAMPLERS = ("beam", "contrastive", "greedy", "random", "top_k", "top_p")


@keras.saving.register_keras_serializable(package="keras_wavegpt")
class WaveletGPTCausalLM(RestoresCompile, CheckedPreset, keras_hub.models.CausalLM):
    """A WaveletGPT backbone with the paper's head, for next-token prediction.

        hidden states (B, T, E) -> Dense(head_hidden_dim, gelu) -> Dense(V)

    The logits are float32 under any dtype policy. Train with `fit` on
    `({"token_ids", "padding_mask"}, labels, sample_weight)` (what the
    preprocessor makes of raw text), generate with `generate()`: any
    keras_hub sampler (`"greedy"`, `"top_k"`, `"top_p"`, `"random"`,
    `"beam"`, `"contrastive"`, or a `keras_hub.samplers.Sampler`).

    Generation is cached. Attention keeps keras_hub's key/value cache. The
    fixed Haar mixer sums each window of its cached inputs directly
    (O(E·f) per token) and `ema` keeps its recurrence (O(E)) (`call_with_cache`
    of `CausalWavelet` and `CausalEMA`); every other gap mixer keeps the inputs it has seen
    (`(B, max_length, E)` per gap) and computes a new token's output from
    the last `receptive_field` of them (the longest kernel; the whole past
    for the adaptive filterbank), which is
    exactly what the full forward pass computes at that position. The prompt runs as one
    full forward pass. Generation stops at the backbone's
    `max_sequence_length` (learned positions end there): a longer
    `max_length` is an error. Block mixers (`"multirate"`, `"canon_block"`)
    are cached the same way inside each block (`DSPDecoderBlock.call_with_cache`):
    each slot layer keeps its past inputs, the Canon taps the last
    `kernel_size` of them; the multirate slots, whose reach is the whole
    past, rerun over the cached prefix for each token.

    Args:
        backbone: a `WaveletGPTBackbone`.
        preprocessor: a `WaveletGPTCausalLMPreprocessor` or `None` (then
            `generate` takes and returns token id dicts).
        head_hidden_dim: int. Width of the GELU layer before the logits
            (the paper's 2048). Defaults to `2048`.

    Example:

    >>> import numpy as np
    >>> backbone = WaveletGPTBackbone(
    ...     vocabulary_size=27, num_layers=2, num_heads=2, hidden_dim=16,
    ...     intermediate_dim=32, max_sequence_length=32, mixer="haar",
    ... )
    >>> lm = WaveletGPTCausalLM(backbone, head_hidden_dim=64)
    >>> out = lm.generate({"token_ids": np.ones((1, 16), "int32"),
    ...                    "padding_mask": np.arange(16)[None] < 4})
    >>> tuple(out["token_ids"].shape)
    (1, 16)
    """

    backbone_cls = WaveletGPTBackbone
    preprocessor_cls = WaveletGPTCausalLMPreprocessor

    def __init__(self, backbone, preprocessor=None, head_hidden_dim=2048, **kwargs):
        check_positive_ints(head_hidden_dim=head_hidden_dim)
        _check_vocabulary(backbone, preprocessor)
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.head_dense = keras.layers.Dense(
            head_hidden_dim, activation="gelu", dtype=backbone.dtype_policy, name="head"
        )
        self.logits_dense = keras.layers.Dense(
            backbone.vocabulary_size, dtype="float32", name="logits"
        )

        # === Functional model ===
        inputs = backbone.input
        hidden_states = backbone(inputs)  # (B, T, E)
        logits = self.logits_dense(self.head_dense(hidden_states))  # (B, T, V)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        # === Config ===
        self.head_hidden_dim = head_hidden_dim

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """keras_hub's `from_preset`, then the vocabulary check.

        `__init__` cannot check the tokenizer against the backbone before a
        preset's tokenizer assets are loaded, so it happens here.

        Args:
            preset: str. A preset folder (or a keras_hub handle, online).
            load_weights: bool. Whether to load the weights. Defaults to
                `True`.
            **kwargs: keras_hub `from_preset` arguments.

        Returns:
            A `WaveletGPTCausalLM`.

        Raises:
            ValueError: the tokenizer has more ids than the backbone's
                vocabulary, or a file of a local preset is damaged (the
                error names it: `CheckedPreset`).
        """
        lm = super().from_preset(preset, load_weights=load_weights, **kwargs)
        _check_vocabulary(lm.backbone, lm.preprocessor)
        return lm

    def get_config(self):
        config = super().get_config()
        config.update(head_hidden_dim=self.head_hidden_dim)
        return config

    def save_to_preset(self, preset_dir, max_shard_size=10):
        """keras_hub's `save_to_preset`, all or nothing, deleting nothing else.

        The preset is written to `<preset_dir>.partial` with a manifest of
        its files' sizes and checksums, and takes the place of `preset_dir`
        only when complete: an existing preset there stays readable until
        then (on Linux the two folders are exchanged in one step). A folder
        holding anything but a preset, the current directory, or a folder
        above it is refused before anything is written.

        Args:
            preset_dir: str. The preset's folder: new, empty, or a preset
                to replace.
            max_shard_size: int or `None`. Weight shard size in GB. Defaults
                to `10`.

        Raises:
            ValueError: `preset_dir` is not a folder a preset may replace.
        """
        preset_dir = os.path.normpath(preset_dir)
        check_preset_destination(preset_dir)
        partial = preset_dir + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            super().save_to_preset(partial, max_shard_size=max_shard_size)
            write_preset_manifest(partial)
            replace_folder(partial, preset_dir)
        finally:
            shutil.rmtree(partial, ignore_errors=True)

    def compile(self, *args, sampler="top_k", **kwargs):
        """keras_hub's `CausalLM.compile`, checking the sampler's name first.

        An unknown `sampler` name is an error here, not at the first
        `generate`.

        Args:
            *args: `CausalLM.compile` arguments.
            sampler: str or `keras_hub.samplers.Sampler`. Defaults to
                `"top_k"`.
            **kwargs: `CausalLM.compile` arguments.
        """
        if isinstance(sampler, str) and sampler not in SAMPLERS:
            raise ValueError(
                f"Unknown sampler {sampler!r}; accepted values: {SAMPLERS} or a "
                "keras_hub.samplers.Sampler"
            )
        super().compile(*args, sampler=sampler, **kwargs)

    def generate(self, inputs, max_length=None, stop_token_ids="auto", strip_prompt=False):
        """keras_hub's `CausalLM.generate`, with checks first.

        Args:
            inputs: str, list of str, or a dict of `"token_ids"` and
                `"padding_mask"` (without a preprocessor). The prompts.
            max_length: int or `None`. Tokens in all, prompt included; at
                most the backbone's `max_sequence_length`. Defaults to
                `None`, the preprocessor's `sequence_length`.
            stop_token_ids: `"auto"`, `None` or tuple of int. `"auto"` stops
                at the tokenizer's end token, and generates to `max_length`
                without a preprocessor or with a tokenizer that has none
                (`Text8Tokenizer`, a plain `BytePairTokenizer`). Defaults to
                `"auto"`.
            strip_prompt: bool. Whether to return only the continuation.
                Defaults to `False`.

        Returns:
            The continuations, in the form of `inputs`.

        Raises:
            ValueError: an empty prompt, a prompt that fills `max_length`,
                a `max_length` beyond the model's, or token ids outside the
                vocabulary.
        """
        if stop_token_ids == "auto" and (
            self.preprocessor is None
            or getattr(self.preprocessor.tokenizer, "end_token_id", None) is None
        ):
            stop_token_ids = None
        limit = self.backbone.max_sequence_length
        if self.preprocessor is not None:
            length = max_length or self.preprocessor.sequence_length
            if length > limit:
                raise ValueError(
                    f"`max_length`={length} exceeds the model's max_sequence_length "
                    f"{limit}; ask for at most {limit} tokens in all."
                )
            if isinstance(inputs, (str, list, tuple)):
                self._check_prompts(inputs, length)
        elif isinstance(inputs, dict):
            self._check_token_inputs(inputs)
        return super().generate(inputs, max_length=max_length,
                                stop_token_ids=stop_token_ids, strip_prompt=strip_prompt)

    def _check_prompts(self, prompts, length):
        prompts = [prompts] if isinstance(prompts, str) else prompts
        # The preprocessor puts the start token (where it has one) before the prompt.
        start = int(self.preprocessor.add_start_token
                    and self.preprocessor.tokenizer.start_token_id is not None)
        for prompt in prompts:
            size = len(self.preprocessor.tokenizer(prompt)) + start
            if size == 0:
                raise ValueError(f"Prompt {prompt!r} is empty after tokenization")
            if size >= length:
                raise ValueError(
                    f"Prompt {prompt[:40]!r}... is {size} tokens"
                    + (" with the start token" if start else "")
                    + f", no room to generate within max_length={length}"
                )

    def _check_token_inputs(self, inputs):
        ids = ops.convert_to_numpy(inputs["token_ids"])
        mask = ops.convert_to_numpy(inputs["padding_mask"]).astype(bool)
        if ids.shape[1] > self.backbone.max_sequence_length:
            raise ValueError(
                f"token_ids of length {ids.shape[1]} exceed the model's "
                f"max_sequence_length {self.backbone.max_sequence_length}"
            )
        if not mask.any(axis=1).all():
            raise ValueError("Every row needs a prompt: a padding_mask row is all false")
        check_prefix_mask(mask)
        vocab = self.backbone.vocabulary_size
        if ids[mask].size and (ids[mask].min() < 0 or ids[mask].max() >= vocab):
            raise ValueError(f"token_ids must lie in [0, {vocab}), got "
                             f"[{ids[mask].min()}, {ids[mask].max()}]")

    def _logits(self, hidden_states):
        return self.logits_dense(self.head_dense(hidden_states))

    def call_with_cache(self, token_ids, cache, cache_update_index):
        """Forward pass over `token_ids` placed at `cache_update_index`.

        Args:
            token_ids: int tensor of shape `(B, L)`.
            cache: tuple `(attention, mixers)`: keras_hub's key/value cache
                `(B, num_layers, 2, max_length, num_heads, head_dim)`, and a
                tuple with one cache per gap mixer (its past inputs
                `(B, max_length, E)`, or its streaming state) and one dict
                of slot caches per block with DSP slots (a block mixer's).
            cache_update_index: int or scalar tensor. The position of
                `token_ids`' first step.

        Returns:
            `(logits, hidden_states, cache)`, the first two `(B, L, ...)`.
        """
        attention, mixer_caches = cache
        backbone = self.backbone
        x = backbone.token_embedding(token_ids, start_index=cache_update_index)  # (B, L, E)
        attention_caches, next_mixer_caches = [], []
        stateful = iter(mixer_caches)
        for i, (block, mixer) in enumerate(zip(backbone.transformer_layers,
                                               _stateful_mixers(backbone))):
            if mixer is not None:
                x, mixer_cache = call_with_cache(mixer, x, next(stateful), cache_update_index)
                next_mixer_caches.append(mixer_cache)
            if isinstance(block, DSPDecoderBlock):
                x, block_cache, slot_caches = block.call_with_cache(
                    x, attention[:, i, ...], cache_update_index, next(stateful)
                )
                next_mixer_caches.append(slot_caches)
            else:
                x, block_cache = block(
                    x,
                    self_attention_cache=attention[:, i, ...],
                    self_attention_cache_update_index=cache_update_index,
                )
            attention_caches.append(block_cache)
        hidden_states = backbone.layer_norm(x)  # (B, L, E)
        cache = (ops.stack(attention_caches, axis=1), tuple(next_mixer_caches))
        return self._logits(hidden_states), hidden_states, cache

    def _build_cache(self, token_ids):
        """Run the prompt once; returns `(hidden_states, cache)`."""
        backbone = self.backbone
        batch, length = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        head_dim = backbone.hidden_dim // backbone.num_heads
        attention = ops.zeros(
            (batch, backbone.num_layers, 2, length, backbone.num_heads, head_dim),
            dtype=self.compute_dtype,
        )
        mixers = []
        for block, mixer in zip(backbone.transformer_layers, _stateful_mixers(backbone)):
            if mixer is not None:
                mixers.append(initial_cache(mixer, batch, length, backbone.hidden_dim,
                                            self.compute_dtype))
            if isinstance(block, DSPDecoderBlock):
                mixers.append(block.initial_cache(batch, length, backbone.hidden_dim,
                                                  self.compute_dtype))
        mixers = tuple(mixers)
        _, hidden_states, cache = self.call_with_cache(token_ids, (attention, mixers), 0)
        return hidden_states, cache

    def generate_step(self, inputs, stop_token_ids=None):
        """One compilable batch of generation: fills `inputs["token_ids"]`
        where `inputs["padding_mask"]` is false, from the shortest prompt on."""
        token_ids, padding_mask = inputs["token_ids"], inputs["padding_mask"]
        limit = self.backbone.max_sequence_length
        if token_ids.shape[1] is not None and token_ids.shape[1] > limit:
            raise ValueError(
                f"Generation length {token_ids.shape[1]} exceeds the model's "
                f"max_sequence_length {limit}; ask for max_length <= {limit}."
            )
        hidden_states, cache = self._build_cache(token_ids)
        index = ops.min(ops.sum(ops.cast(padding_mask, "int32"), axis=-1))

        def next(prompt, cache, index):
            # Logits at position index - 1 give the token at `index`.
            position = index - 1
            batch = ops.shape(prompt)[0]
            current = ops.slice(prompt, [0, position], [batch, 1])
            logits, hidden_states, cache = self.call_with_cache(current, cache, position)
            return ops.squeeze(logits, axis=1), ops.squeeze(hidden_states, axis=1), cache

        token_ids = self.sampler(
            next=next,
            prompt=token_ids,
            cache=cache,
            index=index,
            mask=padding_mask,
            stop_token_ids=stop_token_ids,
            hidden_states=hidden_states,
            model=self,
        )
        if stop_token_ids is None:
            padding_mask = ops.ones_like(token_ids, dtype="bool")
        else:
            # Keep everything up to and including each row's first new stop token.
            new = ops.logical_not(ops.cast(padding_mask, "bool"))
            stops = ops.zeros_like(token_ids, dtype="bool")
            for stop in stop_token_ids:
                stops = ops.logical_or(stops, ops.logical_and(new, ops.equal(token_ids, stop)))
            stops = ops.cast(stops, "int32")
            after = ops.cumsum(stops, axis=-1) - stops
            padding_mask = ops.equal(after, 0)
        return {"token_ids": token_ids, "padding_mask": padding_mask}

    def score(self, token_ids, padding_mask=None, scoring_mode="logits",
              layer_intercept_fn=None, target_ids=None):
        """Per-token scores, as keras_hub's `CausalLM.score`.

        Args:
            token_ids: int tensor of shape `(B, T)`.
            padding_mask: tensor of shape `(B, T)` or `None`. Defaults to
                `None`, no padding.
            scoring_mode: str. `"logits"` gives `(B, T, V)`, `"loss"` the
                cross-entropy `(B, T)` against `target_ids`. Defaults to
                `"logits"`.
            layer_intercept_fn: callable `(x, i) -> x` or `None`. Sees (and
                may replace) the embeddings (`i = -1`) and each block's
                output (`i = 0, 1, ...`); gap mixers act on what it returns.
                Defaults to `None`.
            target_ids: int tensor of shape `(B, T)` or `None`. Needed for
                `"loss"`. Defaults to `None`.

        Returns:
            tensor of shape `(B, T, V)` or `(B, T)`.
        """
        if scoring_mode not in ("logits", "loss"):
            raise ValueError(
                f"Unsupported scoring_mode {scoring_mode!r}; accepted values: 'logits', 'loss'"
            )
        if scoring_mode == "loss" and target_ids is None:
            raise ValueError("scoring_mode='loss' needs `target_ids`")
        if padding_mask is None:
            padding_mask = ops.ones(ops.shape(token_ids)[:2], dtype="int32")
        else:
            check_prefix_mask(padding_mask)
        intercept = layer_intercept_fn or (lambda x, i: x)
        backbone = self.backbone
        x = intercept(backbone.token_embedding(token_ids), -1)  # (B, T, E)
        for i, (block, mixer) in enumerate(zip(backbone.transformer_layers,
                                               backbone.mixer_layers)):
            if mixer is not None:
                x = mixer(x)
            x = intercept(call_block(block, x, padding_mask), i)
        logits = self._logits(backbone.layer_norm(x))  # (B, T, V)
        if scoring_mode == "logits":
            return logits
        per_token = keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                               reduction="none")
        return per_token(target_ids, logits)


def _check_vocabulary(backbone, preprocessor):
    """A tokenizer with more ids than the embedding is an error; one whose
    vocabulary is not loaded yet (a preset's assets come after `__init__`)
    is checked by `from_preset`."""
    tokenizer = getattr(preprocessor, "tokenizer", None)
    try:
        size = None if tokenizer is None else tokenizer.vocabulary_size()
    except ValueError:  # keras_hub: "No vocabulary has been set"
        return
    if size is not None and size > backbone.vocabulary_size:
        raise ValueError(
            f"The preprocessor's {type(tokenizer).__name__} has {size} tokens, more than "
            f"the backbone's vocabulary_size={backbone.vocabulary_size}: its ids would fall "
            "outside the embedding"
        )


def _stateful_mixers(backbone):
    """The backbone's gap mixers, `None` where there is none or it is the
    identity (`mixer="none"`): those need no cache."""
    return [None if isinstance(m, keras.layers.Identity) else m
            for m in backbone.mixer_layers]
