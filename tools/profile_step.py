"""Where a GPT training step's time goes, per backend: the whole step and
its parts, each a model of its own trained with Adam on the same shapes.

    OMP_NUM_THREADS=1 .venv/bin/python tools/profile_step.py --preset=paper --batch_size=4

Parts, at the preset's size `(B, T, E)`:
  gpt          the `none` GPT (build_gpt), tokens -> logits, cross-entropy
  blocks       its decoder blocks alone, (B, T, E) -> (B, T, E), squared error
  attention    one block's causal self-attention sublayer (LayerNorm,
               attention, residual), squared error
  mlp          one block's MLP sublayer (LayerNorm, GELU MLP, residual)
  head         final LayerNorm, Dense(2048, GELU), Dense(vocab) and the
               cross-entropy, (B, T, E) -> loss
  embedding    token + position embedding, (B, T) -> (B, T, E), squared error

Each backend runs in its own process, one after another; inside a process
the parts are timed interleaved. Prints milliseconds per step and, with two
or more backends, each part's time over the first backend's.
"""

import json
import sys

from absl import app, flags

flags.DEFINE_list("backends", ["tensorflow", "jax"], "Backends to profile.")
flags.DEFINE_string("preset", "paper", "GPT preset (keras_wavegpt.models.PRESETS).")
flags.DEFINE_integer("batch_size", 4, "Batch size.")
flags.DEFINE_integer("rounds", 10, "Timed rounds per part (median).")
flags.DEFINE_bool("child", False, "Internal: measure the current backend and print JSON.")
FLAGS = flags.FLAGS

PARTS = ("gpt", "blocks", "attention", "mlp", "head", "embedding")


def _parts(arch, batch_size):
    """`{part: () -> None}`: one compiled training step of each part."""
    import keras
    import keras_hub
    import numpy as np

    from keras_wavegpt.data import causal_lm_inputs
    from keras_wavegpt.layers import GPTEmbedding
    from keras_wavegpt.models import build_gpt

    rng = np.random.default_rng(0)
    time, width = arch["max_sequence_length"], arch["hidden_dim"]
    tokens = rng.integers(0, 27, size=(batch_size, time + 1)).astype("int32")
    stream = rng.normal(size=(batch_size, time, width)).astype("float32")
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def block():
        return keras_hub.layers.TransformerDecoder(
            intermediate_dim=arch["intermediate_dim"], num_heads=arch["num_heads"],
            activation="gelu", normalize_first=True)

    def attention_sublayer(x):
        y = keras.layers.LayerNormalization(epsilon=1e-5)(x)
        y = keras.layers.MultiHeadAttention(arch["num_heads"], width // arch["num_heads"])(
            y, y, use_causal_mask=True)
        return x + y

    def mlp_sublayer(x):
        y = keras.layers.LayerNormalization(epsilon=1e-5)(x)
        y = keras.layers.Dense(arch["intermediate_dim"], activation="gelu")(y)
        return x + keras.layers.Dense(width)(y)

    def head(x):
        x = keras.layers.LayerNormalization(epsilon=1e-5)(x)
        x = keras.layers.Dense(2048, activation="gelu")(x)
        return keras.layers.Dense(27, dtype="float32")(x)

    def stream_model(body):
        x = keras.Input((time, width))
        return keras.Model(x, body(x))

    def blocks(x):
        for _ in range(arch["num_layers"]):
            x = block()(x)
        return x

    token_input = keras.Input((time,), dtype="int32")
    models = {
        "gpt": (build_gpt(27, **arch), causal_lm_inputs(tokens[:, :-1]), tokens[:, 1:], ce),
        "blocks": (stream_model(blocks), stream, stream, "mse"),
        "attention": (stream_model(attention_sublayer), stream, stream, "mse"),
        "mlp": (stream_model(mlp_sublayer), stream, stream, "mse"),
        "head": (stream_model(head), stream, tokens[:, 1:], ce),
        "embedding": (keras.Model(token_input, GPTEmbedding(27, time, width)(token_input)),
                      tokens[:, :-1], stream, "mse"),
    }
    steps = {}
    for name, (model, x, y, loss) in models.items():
        model.compile(optimizer=keras.optimizers.Adam(), loss=loss, weighted_metrics=[])
        steps[name] = (lambda m, a, b: lambda: m.train_on_batch(a, b))(model, x, y)
    return steps


def measure():
    import keras

    from keras_wavegpt.models import gpt_preset

    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from child_process import interleaved_median

    times = interleaved_median(_parts(gpt_preset(FLAGS.preset), FLAGS.batch_size),
                               FLAGS.rounds)
    return {"backend": keras.backend.backend(), "ms": {k: 1e3 * v for k, v in times.items()}}


def main(argv):
    if FLAGS.child:
        print("RESULT " + json.dumps(measure()))
        return
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from child_process import rerun

    results = [rerun(__file__, backend, "--child") for backend in FLAGS.backends]
    first = results[0]["backend"]
    print(f"{FLAGS.preset} preset, batch {FLAGS.batch_size}: training step per part, ms "
          f"(and over {first})")
    print("| part | " + " | ".join(r["backend"] for r in results) + " |")
    print("|---|" + "---|" * len(results))
    for part in PARTS:
        cells = [f"{r['ms'][part]:.1f}" + ("" if r is results[0] else
                                          f" ({r['ms'][part] / results[0]['ms'][part]:.2f}x)")
                 for r in results]
        print(f"| {part} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    app.run(main)
