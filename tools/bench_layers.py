"""Side-by-side timings: mixers vs an identity copy, GPT steps vs `none`.

    OMP_NUM_THREADS=1 python tools/bench_layers.py --backends=tensorflow,jax,torch

For each backend (one subprocess each) it prints ratios measured in one run,
interleaving the candidates round by round so machine noise hits all alike:

- layer: time of a compiled forward pass of the mixer layer on
  `(batch, context, width)` over that of an identity layer on the same
  tensor (for a block mixer such as multirate: its slot layers of one block,
  applied in turn);
- step: time of one `train_on_batch` of the GPT with each mixer over that of
  the GPT with `mixer="none"` (same preset, same batch);
- memory: peak resident memory of a fresh process that builds the GPT and
  runs three training steps, minus the same for `none` (CPU: activations
  and workspace the mixer adds; `--nomemory` skips it).

Mixers with arguments are named on the command line as
`--variant=fb_small=filterbank:num_filters=48,fraction=0.25`. Models with
adaptive hyperparameters train with `MetaOptimizer`, as in the experiments.

Ratios, not seconds, are the result: the machine is shared and noisy.
"""

import json
import os
import subprocess
import sys
import time

from absl import app, flags

flags.DEFINE_list("backends", ["tensorflow", "jax", "torch"], "Backends to run.")
flags.DEFINE_list("mixers", ["haar", "learnable", "filterbank"], "Mixers to time against none.")
flags.DEFINE_multi_string("variant", [], "Extra mixer with arguments: label=mixer:key=value,...")
flags.DEFINE_bool("memory", True, "Also measure peak memory per mixer (one process each).")
flags.DEFINE_string("child_memory", None, "Internal: peak memory of this variant only.")
flags.DEFINE_string("preset", "small", "GPT preset for the training-step timing.")
flags.DEFINE_integer("batch_size", 16, "Batch size.")
flags.DEFINE_integer("rounds", 30, "Timed rounds (after warm-up).")
flags.DEFINE_string("json_out", None, "Also write the results as JSON here.")
flags.DEFINE_bool("child", False, "Internal: run in this process's backend.")
FLAGS = flags.FLAGS


def _interleaved_median(fns, rounds):
    """Median seconds per call of each fn, calling them in turn each round."""
    import numpy as np

    for fn in fns.values():  # warm-up: trace and compile
        fn()
        fn()
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def variants():
    """{label: (mixer, kwargs)} for `none`, `--mixers` and every `--variant`."""
    from keras_wavegpt.training.runner import parse_variant

    result = {m: (m, {}) for m in ["none", *FLAGS.mixers]}
    for spec in FLAGS.variant:
        if "=" not in spec:
            raise app.UsageError(f"--variant wants label=mixer[:key=value,...], got {spec!r}")
        label, mixer, kwargs = parse_variant(spec)
        result[label] = (mixer, kwargs)
    return result


def _train_step(mixer, kwargs, arch, tokens):
    import keras

    from keras_wavegpt.models import build_gpt
    from keras_wavegpt.training import meta_optimizer_for

    keras.utils.set_random_seed(0)
    model = build_gpt(27, mixer=mixer, **arch, **kwargs)
    model.compile(
        optimizer=meta_optimizer_for(model, keras.optimizers.Adam()),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return lambda: model.train_on_batch(tokens[:, :-1], tokens[:, 1:])


def _tokens(arch):
    import numpy as np

    rng = np.random.default_rng(1)
    return rng.integers(0, 27, size=(FLAGS.batch_size, arch["context_length"] + 1)).astype("int32")


def measure_memory(label):
    """Peak RSS (MiB) of this process after three training steps of `label`."""
    import resource

    from keras_wavegpt.models import gpt_preset

    arch = gpt_preset(FLAGS.preset)
    step = _train_step(*variants()[label], arch, _tokens(arch))
    for _ in range(3):
        step()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure():
    import keras
    import numpy as np

    from keras_wavegpt.layers import get_mixer, mixer_placement
    from keras_wavegpt.models import gpt_preset

    specs = variants()
    labels = [m for m in specs if m != "none"]
    arch = gpt_preset(FLAGS.preset)
    context, width = arch["context_length"], arch["model_dim"]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(FLAGS.batch_size, context, width)).astype("float32")

    def forward(layer):
        inputs = keras.Input((context, width))
        model = keras.Model(inputs, layer(inputs))
        return lambda: model.predict_on_batch(x)

    layers = {"identity": forward(keras.layers.Identity())}
    for label in labels:
        mixer, kwargs = specs[label]
        layer = get_mixer(mixer, context_length=context, **kwargs)
        if mixer_placement(mixer) == "block":
            layer = keras.Sequential(list(layer.values()))
        layers[label] = forward(layer)
    layer_times = _interleaved_median(layers, FLAGS.rounds)

    tokens = _tokens(arch)
    steps = {m: _train_step(*specs[m], arch, tokens) for m in specs}
    step_times = _interleaved_median(steps, FLAGS.rounds)
    return {
        "backend": keras.backend.backend(),
        "preset": FLAGS.preset,
        "batch_size": FLAGS.batch_size,
        "layer_vs_identity": {m: layer_times[m] / layer_times["identity"] for m in labels},
        "step_vs_none": {m: step_times[m] / step_times["none"] for m in labels},
        "none_step_ms": 1000 * step_times["none"],
    }


def _child(backend, *extra):
    cmd = [sys.executable, __file__, f"--preset={FLAGS.preset}",
           f"--batch_size={FLAGS.batch_size}", f"--rounds={FLAGS.rounds}",
           f"--mixers={','.join(FLAGS.mixers)}", *[f"--variant={v}" for v in FLAGS.variant],
           *extra]
    env = dict(os.environ, KERAS_BACKEND=backend)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
    if out.returncode or not lines:
        sys.exit(f"{backend} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main(argv):
    del argv
    if FLAGS.child:
        print("RESULT " + json.dumps(measure()))
        return
    if FLAGS.child_memory:
        print("RESULT " + json.dumps(measure_memory(FLAGS.child_memory)))
        return
    labels = [m for m in variants() if m != "none"]
    results = []
    for backend in FLAGS.backends:
        row = _child(backend, "--child")
        if FLAGS.memory:
            peak = {m: _child(backend, f"--child_memory={m}") for m in ["none", *labels]}
            row["none_peak_mib"] = peak["none"]
            row["extra_peak_mib"] = {m: peak[m] - peak["none"] for m in labels}
        results.append(row)
    header = ["backend", "none step (ms)"]
    header += [f"{m} layer / identity" for m in labels]
    header += [f"{m} step / none" for m in labels]
    if FLAGS.memory:
        header += ["none peak (MiB)"] + [f"{m} extra peak (MiB)" for m in labels]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in results:
        cells = [r["backend"], f"{r['none_step_ms']:.1f}"]
        cells += [f"{r['layer_vs_identity'][m]:.2f}x" for m in labels]
        cells += [f"{r['step_vs_none'][m]:.3f}x" for m in labels]
        if FLAGS.memory:
            cells += [f"{r['none_peak_mib']:.0f}"]
            cells += [f"{r['extra_peak_mib'][m]:+.0f}" for m in labels]
        print("| " + " | ".join(cells) + " |")
    if FLAGS.json_out:
        with open(FLAGS.json_out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    app.run(main)
