"""Mixers between the transformer layers of keras_hub's own backbones."""

import keras
import keras_hub
import numpy as np
import pytest

from keras_wavegpt.models import MixerBackbone, add_mixers

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


@pytest.mark.parametrize("family", FAMILIES)
def test_generation_that_would_skip_the_mixers_is_refused(family):
    make, causal_lm = FAMILIES[family]
    lm = causal_lm(backbone=add_mixers(make(), "haar", max_kernel=8), preprocessor=None)
    prompt = inputs(token_ids()[:, :4])
    with pytest.raises(AttributeError, match="would skip the mixers"):
        lm.generate(prompt, max_length=8, stop_token_ids=None)


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
    rebuilt = MixerBackbone.from_config(config)
    rebuilt.set_weights(mixed.get_weights())
    np.testing.assert_allclose(numpy(rebuilt(x)), numpy(mixed(x)), atol=1e-6)
    path = str(tmp_path / "mixed.keras")
    mixed.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, MixerBackbone)
    np.testing.assert_allclose(numpy(loaded(x)), numpy(mixed(x)), atol=1e-6)


def test_llama_model_for_the_runner_round_trips(tmp_path):
    from keras_wavegpt.models import build_llama, gpt_preset

    # A tied Llama's config from keras_hub lacks `tie_word_embeddings`; the
    # wrapped config carries it, so the .keras file loads into the same layers.
    model = build_llama(VOCAB, mixer="haar", **gpt_preset("tiny"))
    assert [layer.name for layer in model.layers] == ["tokens", "backbone", "logits"]
    ids = token_ids()
    path = str(tmp_path / "llama.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.count_params() == model.count_params()
    np.testing.assert_allclose(numpy(loaded(ids)), numpy(model(ids)), atol=1e-5)


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="`backbone` must be a keras_hub Backbone"):
        add_mixers(keras.Sequential([keras.layers.Dense(2)]), "haar")
    with pytest.raises(ValueError, match="only gap mixers fit"):
        add_mixers(gpt2(), "canon_block")
    with pytest.raises(ValueError, match="Unknown"):
        add_mixers(gpt2(), "wavelets")
    with pytest.raises(ValueError, match="does not accept"):
        add_mixers(gpt2(), "haar", kernel_size=3)
    with pytest.raises(TypeError, match="`mixer_config` must be a dict"):
        MixerBackbone(gpt2(), "haar", mixer_config=[1])
