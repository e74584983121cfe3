"""Mixers between the transformer layers of keras_hub's own backbones."""

import os

import keras
import keras_hub
import numpy as np
import pytest

from keras_wavegpt.models import (
    MixerBackbone,
    MixerGPT2Backbone,
    MixerGPT2CausalLM,
    MixerLlamaBackbone,
    MixerLlamaCausalLM,
    add_mixers,
)

VOCAB, T = 50, 12


def gpt2():
    keras.utils.set_random_seed(0)
    return keras_hub.models.GPT2Backbone(vocabulary_size=VOCAB, num_layers=3, num_heads=2,
                                         hidden_dim=16, intermediate_dim=32,
                                         max_sequence_length=32, dropout=0.0)


def llama():
    keras.utils.set_random_seed(0)
    return keras_hub.models.LlamaBackbone(vocabulary_size=VOCAB, num_layers=3, num_query_heads=2,
                                          num_key_value_heads=1, hidden_dim=16,
                                          intermediate_dim=32)


FAMILIES = {"gpt2": (gpt2, keras_hub.models.GPT2CausalLM),
            "llama": (llama, keras_hub.models.LlamaCausalLM)}


def inputs(token_ids):
    return {"token_ids": token_ids, "padding_mask": np.ones_like(token_ids)}


def token_ids(batch=2, seed=0):
    return np.random.default_rng(seed).integers(0, VOCAB, (batch, T)).astype("int32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("family", FAMILIES)
def test_none_mixer_computes_what_the_backbone_computes(family):
    backbone = FAMILIES[family][0]()
    mixed = add_mixers(backbone, "none")
    x = inputs(token_ids())
    np.testing.assert_array_equal(numpy(mixed(x)), numpy(backbone(x)))


@pytest.mark.parametrize("family", FAMILIES)
def test_haar_mixers_share_the_weights_and_stay_causal(family):
    backbone = FAMILIES[family][0]()
    mixed = add_mixers(backbone, "haar", max_kernel=8)
    assert [m.name for m in mixed.mixer_layers] == ["mixer_1", "mixer_2"]
    assert {id(v) for v in mixed.weights} == {id(v) for v in backbone.weights}
    ids = token_ids()
    out = numpy(mixed(inputs(ids)))
    assert np.abs(out - numpy(backbone(inputs(ids)))).max() > 1e-3
    changed = ids.copy()
    changed[:, 7:] = (changed[:, 7:] + 1) % VOCAB
    moved = numpy(mixed(inputs(changed)))
    np.testing.assert_allclose(moved[:, :7], out[:, :7], atol=1e-5)
    assert np.abs(moved[:, 7:] - out[:, 7:]).max() > 1e-3


@pytest.mark.parametrize("family", FAMILIES)
def test_trains_inside_the_family_causal_lm(family):
    make, causal_lm = FAMILIES[family]
    backbone = make()
    mixed = add_mixers(backbone, "haar+canon", **{"haar.max_kernel": 4})
    lm = causal_lm(backbone=mixed, preprocessor=None)
    lm.compile(optimizer=keras.optimizers.Adam(1e-2),
               loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    canon = mixed.mixer_layers[0].mixers[1]
    taps = numpy(canon.weights[0]).copy()
    embedding = numpy(backbone.token_embedding.embeddings).copy()
    ids = token_ids(batch=4)
    history = lm.fit(inputs(ids), np.roll(ids, -1, axis=1), epochs=3, batch_size=4, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert np.abs(numpy(canon.weights[0]) - taps).max() > 0
    assert np.abs(numpy(backbone.token_embedding.embeddings) - embedding).max() > 0


# Every gap mixer and a chain, each with a reach shorter than the sequence.
GAP_MIXERS = {
    "haar": ("haar", {"max_kernel": 8}),
    "learnable": ("learnable", {"max_kernel": 4}),
    "ema": ("ema", {}),
    "filterbank": ("filterbank", {"num_filters": 4, "kernel_sizes": (2, 4)}),
    "canon": ("canon", {"kernel_size": 3}),
    "haar+canon": ("haar+canon", {"haar.max_kernel": 4}),
}
MIXER_LMS = {"gpt2": MixerGPT2CausalLM, "llama": MixerLlamaCausalLM}


def mixer_lm(family, label):
    mixer, kwargs = GAP_MIXERS[label]
    backbone = add_mixers(FAMILIES[family][0](), mixer, max_sequence_length=32, **kwargs)
    rng = np.random.default_rng(1)
    for w in backbone.weights:  # mixers off their identity-like starts
        if w.path.startswith("mixer_"):
            w.assign(w + 0.3 * rng.normal(size=w.shape).astype("float32"))
    return MIXER_LMS[family](backbone)


@pytest.mark.parametrize("label", GAP_MIXERS)
@pytest.mark.parametrize("family", FAMILIES)
def test_cached_logits_equal_the_full_forward_pass(family, label):
    """A prompt of 4 tokens in a sequence holding other tokens after it,
    then one token at a time: each step equals the full pass there."""
    lm = mixer_lm(family, label)
    true = token_ids()
    reference = numpy(lm(inputs(true)))
    padded = true.copy()
    padded[:, 4:] = token_ids(seed=9)[:, 4:]
    hidden, cache = lm._build_cache(padded)
    for position in range(4, T):
        logits, _, cache = lm.call_with_cache(true[:, position : position + 1], cache,
                                              position)
        np.testing.assert_allclose(numpy(logits)[:, 0], reference[:, position], atol=1e-5,
                                   err_msg=f"position {position}")


@pytest.mark.parametrize("label", GAP_MIXERS)
@pytest.mark.parametrize("family", FAMILIES)
def test_greedy_generation_of_ragged_prompts_equals_full_passes(family, label):
    lm = mixer_lm(family, label)
    lm.compile(sampler="greedy")
    lengths = np.array([3, 6])
    mask = np.arange(T)[None] < lengths[:, None]
    expected = np.where(mask, token_ids(), 0)
    out = numpy(lm.generate({"token_ids": expected, "padding_mask": mask},
                            stop_token_ids=None)["token_ids"])
    for position in range(lengths.min(), T):
        best = numpy(lm(inputs(expected)))[:, position - 1].argmax(-1)
        expected[:, position] = np.where(mask[:, position], expected[:, position], best)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("family", FAMILIES)
def test_top_k_and_beam_generate_and_score_matches_the_forward_pass(family):
    lm = mixer_lm(family, "haar+canon")
    mask = np.arange(T)[None] < np.array([[2], [5]])
    prompt = {"token_ids": np.where(mask, token_ids(), 0), "padding_mask": mask}
    for sampler in ("top_k", keras_hub.samplers.BeamSampler(num_beams=3)):
        lm.compile(sampler=sampler)
        out = numpy(lm.generate(prompt, stop_token_ids=None)["token_ids"])
        assert out.shape == (2, T) and (out[mask] == prompt["token_ids"][mask]).all()
    tokens = token_ids()
    np.testing.assert_allclose(numpy(lm.score(tokens)), numpy(lm(inputs(tokens))), atol=1e-5)
    with pytest.raises(ValueError, match="right padding"):
        lm.score(tokens, padding_mask=np.arange(T)[None].repeat(2, 0) % 2)


@pytest.mark.parametrize("family", FAMILIES)
def test_keras_hubs_own_causal_lm_names_the_one_that_generates(family):
    make, causal_lm = FAMILIES[family]
    lm = causal_lm(backbone=add_mixers(make(), "haar", max_kernel=8), preprocessor=None)
    prompt = inputs(token_ids()[:, :4])
    name = MIXER_LMS[family].__name__
    with pytest.raises(AttributeError, match=f"would skip the mixers.*{name}"):
        lm.generate(prompt, max_length=8, stop_token_ids=None)
    tokens = token_ids()  # keras_hub's own score walks the layers, mixers included
    np.testing.assert_allclose(numpy(lm.score(tokens)), numpy(lm(inputs(tokens))), atol=1e-5)


def test_add_mixers_gives_each_family_its_own_backbone_class():
    # A preset names its backbone's class, by which keras_hub's
    # CausalLM.from_preset picks the causal LM: each family needs its own.
    assert type(add_mixers(gpt2(), "haar")) is MixerGPT2Backbone
    assert type(add_mixers(llama(), "haar", max_sequence_length=32)) is MixerLlamaBackbone
    assert MixerGPT2CausalLM.backbone_cls is MixerGPT2Backbone
    assert MixerLlamaCausalLM.backbone_cls is MixerLlamaBackbone
    # Any other decoder gets the plain class (trains; no cached generation).
    mistral = keras_hub.models.MistralBackbone(
        vocabulary_size=VOCAB, num_layers=2, num_query_heads=2, num_key_value_heads=1,
        hidden_dim=16, intermediate_dim=32)
    assert type(add_mixers(mistral, "haar", max_sequence_length=32)) is MixerBackbone


def test_a_mixer_causal_lm_checks_its_backbone():
    with pytest.raises(TypeError, match=r"takes a MixerGPT2Backbone, as `add_mixers\(GPT2Backbone"
                                        r"\(...\), mixer\)` returns; got GPT2Backbone"):
        MixerGPT2CausalLM(gpt2())
    with pytest.raises(TypeError, match="takes a MixerGPT2Backbone.*got MixerLlamaBackbone "
                                        "around a LlamaBackbone"):
        MixerGPT2CausalLM(add_mixers(llama(), "haar", max_sequence_length=32))
    with pytest.raises(TypeError, match="got MixerBackbone around a GPT2Backbone"):
        MixerGPT2CausalLM(MixerBackbone(gpt2(), "haar"))
    with pytest.raises(TypeError, match="MixerLlamaBackbone wraps a LlamaBackbone, got"):
        MixerLlamaBackbone(gpt2(), "haar")


def test_config_and_keras_file_round_trip(tmp_path):
    mixed = add_mixers(gpt2(), "canon", kernel_size=3)
    config = mixed.get_config()
    assert (config["mixer"], config["mixer_config"]) == ("canon", {"kernel_size": 3})
    assert config["max_sequence_length"] == 32
    assert config["backbone"]["class_name"] == "GPT2Backbone"
    keras.utils.set_random_seed(1)
    for v in mixed.mixer_layers[0].weights:
        v.assign(keras.random.normal(v.shape, stddev=0.1))
    x = inputs(token_ids())
    rebuilt = MixerGPT2Backbone.from_config(config)
    assert type(rebuilt) is MixerGPT2Backbone
    # A config saved before the family classes (0.1) rebuilds the family's.
    assert type(MixerBackbone.from_config(config)) is MixerGPT2Backbone
    rebuilt.set_weights(mixed.get_weights())
    np.testing.assert_allclose(numpy(rebuilt(x)), numpy(mixed(x)), atol=1e-6)
    path = str(tmp_path / "mixed.keras")
    mixed.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is MixerGPT2Backbone
    np.testing.assert_allclose(numpy(loaded(x)), numpy(mixed(x)), atol=1e-6)


def test_llama_model_for_the_runner_round_trips(tmp_path):
    from keras_wavegpt.models import build_llama, gpt_preset

    # The runner's Llama is the family causal LM over the mixer backbone, its
    # output projection untied from the input embedding.
    model = build_llama(VOCAB, mixer="haar", **gpt_preset("tiny"))
    assert isinstance(model, MixerLlamaCausalLM) and model.name == "llama_haar"
    assert not model.backbone.backbone_config["config"]["tie_word_embeddings"]
    x = inputs(token_ids())
    path = str(tmp_path / "llama.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, MixerLlamaCausalLM)
    assert loaded.count_params() == model.count_params()
    np.testing.assert_allclose(numpy(loaded(x)), numpy(model(x)), atol=1e-5)


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="MixerBackbone wraps a Backbone, got"):
        add_mixers(keras.Sequential([keras.layers.Dense(2)]), "haar")
    with pytest.raises(ValueError, match="only gap mixers fit"):
        add_mixers(gpt2(), "canon_block")
    with pytest.raises(ValueError, match="Unknown"):
        add_mixers(gpt2(), "wavelets")
    with pytest.raises(ValueError, match="does not accept"):
        add_mixers(gpt2(), "haar", kernel_size=3)
    with pytest.raises(TypeError, match="`mixer_config` must be a dict"):
        MixerBackbone(gpt2(), "haar", mixer_config=[1])


LEGACY = os.path.join(os.path.dirname(__file__), "..", "fixtures", "legacy")


@pytest.mark.parametrize("name,causal_lm,backbone_cls", [
    ("mixer_gpt2_preset", MixerGPT2CausalLM, MixerGPT2Backbone),
    ("mixer_llama_preset", MixerLlamaCausalLM, MixerLlamaBackbone),
])
def test_presets_saved_before_the_family_classes_load(name, causal_lm, backbone_cls):
    # Saved when every family's backbone was a plain MixerBackbone
    # (tests/fixtures/legacy/README.md): the family's own loader and
    # keras_hub's Backbone loader read them as the family's classes.
    path = os.path.join(LEGACY, name)
    lm = causal_lm.from_preset(path)
    assert type(lm) is causal_lm and type(lm.backbone) is backbone_cls
    backbone = keras_hub.models.Backbone.from_preset(path)
    assert type(backbone) is backbone_cls
    ids = np.arange(T, dtype="int32")[None] % 30
    x = inputs(ids)
    saved = np.load(path + "_logits.npy")  # what the model computed when saved
    np.testing.assert_allclose(numpy(lm(x)), saved, atol=1e-5)
    np.testing.assert_allclose(numpy(lm.backbone(x)), numpy(backbone(x)), atol=1e-6)
    lm.compile(sampler="greedy")
    if lm.preprocessor is not None:  # the GPT-2 preset's byte-pair tokenizer came back
        assert lm.generate(" air", max_length=8).startswith(" air")
        return
    prompt = {"token_ids": np.pad(ids[:, :4], ((0, 0), (0, 4))),
              "padding_mask": np.pad(np.ones((1, 4), "int32"), ((0, 0), (0, 4)))}
    assert lm.generate(prompt, stop_token_ids=None)["token_ids"].shape == (1, 8)
