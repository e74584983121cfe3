"""Cached generation for a keras_hub causal LM over a `MixerBackbone`."""

from keras import ops
from keras_hub.src.utils.preset_utils import get_preset_loader

from keras_wavegpt.layers.cached_call import initial_cache
from keras_wavegpt.models.mixer_backbone import MixerBackbone
from keras_wavegpt.models.restores_compile import RestoresCompile
from keras_wavegpt.utils.validation import check_prefix_mask


class MixerCausalLM(RestoresCompile):
    """Mixin of a keras_hub causal LM family whose backbone is a
    `MixerBackbone`: generation keeps each mixer's cache beside keras_hub's
    attention cache.

    The family's own `call_with_cache` runs unchanged; the cache it is given
    is `(attention, mixers)`, and while it runs, each transformer layer of
    the backbone (`MixedLayer`) steps its mixer with that mixer's cache.
    Every keras_hub sampler (greedy, top-k, beam, ...) carries the pair, and
    `score` runs the mixers through the same layers. The result equals the
    full forward pass at every position, ragged prompts included.

    A family class sets `backbone_cls` to its `MixerBackbone` subclass.

    Args:
        backbone: the family's `MixerBackbone` subclass (from `add_mixers`).
        preprocessor: the family's causal LM preprocessor or `None`.
            Defaults to `None`.
        **kwargs: passed to the family's causal LM.
    """

    def __init__(self, backbone, preprocessor=None, **kwargs):
        family = self.backbone_cls
        if not isinstance(backbone, family):
            got = type(backbone).__name__
            if isinstance(backbone, MixerBackbone):
                got += f" around a {backbone.backbone_config['class_name']}"
            raise TypeError(
                f"{type(self).__name__} takes a {family.__name__}, as "
                f"`add_mixers({family.wrapped_cls.__name__}(...), mixer)` returns; got {got}"
            )
        super().__init__(backbone=backbone, preprocessor=preprocessor, **kwargs)

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """keras_hub's `from_preset`; also loads a preset whose backbone is
        a plain `MixerBackbone` (saved by keras_wavegpt 0.1, before the
        families had their own backbone classes).

        Args:
            preset: str. A preset folder or a keras_hub preset handle.
            load_weights: bool. Load the saved weights. Defaults to `True`.
            **kwargs: passed to keras_hub's `from_preset`.
        """
        loader = get_preset_loader(preset)
        if loader.check_backbone_class() is MixerBackbone:
            return loader.load_task(cls, load_weights, "num_classes" not in kwargs, **kwargs)
        return super().from_preset(preset, load_weights=load_weights, **kwargs)

    def call_with_cache(self, token_ids, cache, cache_update_index):
        """The family's cached forward pass, with the mixers' caches.

        Args:
            token_ids: int tensor of shape `(B, L)`.
            cache: tuple `(attention, mixers)`: keras_hub's attention cache
                and one cache per transformer layer (`()` where no mixer, or
                the identity, stands before it). A bare attention cache (the family's
                `_build_cache`) starts the mixers' caches empty.
            cache_update_index: int or scalar tensor. The position of
                `token_ids`' first step.

        Returns:
            `(logits, hidden_states, cache)`.
        """
        if isinstance(cache, tuple):
            attention, mixers = cache
        else:  # the prompt pass of the family's `_build_cache`
            attention, mixers = cache, self._initial_mixer_caches(token_ids)
        backbone = self.backbone
        backbone.cached_call_state = {"old": list(mixers), "new": list(mixers)}
        try:
            logits, hidden_states, attention = super().call_with_cache(
                token_ids, attention, cache_update_index)
            mixers = tuple(backbone.cached_call_state["new"])
        finally:
            backbone.cached_call_state = None
        return logits, hidden_states, (attention, mixers)

    def _initial_mixer_caches(self, token_ids):
        batch, length = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        hidden_dim = self.backbone.hidden_dim
        return tuple(
            initial_cache(layer.mixer, batch, length, hidden_dim, self.compute_dtype)
            if layer.cached else ()  # an empty leaf: samplers map over the caches
            for layer in self.backbone.transformer_layers
        )

    def generate(self, inputs, *args, **kwargs):
        """keras_hub's `generate`, refusing padding before real tokens.

        Args:
            inputs: str, list of str, or a dict of `"token_ids"` and
                `"padding_mask"` (right-padded).
            *args: passed to keras_hub's `generate`.
            **kwargs: passed to keras_hub's `generate`.
        """
        if isinstance(inputs, dict) and "padding_mask" in inputs:
            check_prefix_mask(inputs["padding_mask"])
        return super().generate(inputs, *args, **kwargs)

    def score(self, token_ids, padding_mask=None, *args, **kwargs):
        """keras_hub's `score`, with the mixers, refusing padding before
        real tokens.

        Args:
            token_ids: int tensor of shape `(B, T)`.
            padding_mask: tensor of shape `(B, T)` or `None`. Defaults to
                `None`.
            *args: passed to keras_hub's `score`.
            **kwargs: passed to keras_hub's `score`.
        """
        if padding_mask is not None:
            check_prefix_mask(padding_mask)
        return super().score(token_ids, padding_mask, *args, **kwargs)
