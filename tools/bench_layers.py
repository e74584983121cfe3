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
- arithmetic (JAX only): XLA's count of floating-point operations and bytes
  accessed by one forward and backward pass of the GPT with each mixer over
  the same for `none`: what the mixer asks of the hardware, free of timing
  noise (a step cannot cost less than its share of FLOPs at equal speed);
- memory: peak memory of a fresh process that builds the GPT and runs three
  training steps, minus the same for `none` (activations and workspace the
  mixer adds): GPU memory on a GPU, resident memory on CPU (`--nomemory`
  skips it).

`--peer` also times the step of keras_hub's `GPT2Backbone` with the same
sizes under the same head, side by side with `none`: our baseline's cost
against the peer's.

Mixers with arguments are named on the command line as
`--variant=fb_small=filterbank:num_filters=48,fraction=0.25`. Models with
adaptive hyperparameters train with `MetaOptimizer`, as in the experiments.

`--distributed` times, per backend, one GPT training step on one device
against the same step with `--data_parallel` over two devices (two virtual
CPU devices when there are no GPUs: a check of correctness and overhead, not
of speed) and reports the difference of the two first-step losses.
`--mixed_precision=mixed_bfloat16` times a step under that policy against
float32.

Ratios, not seconds, are the result: the machine is shared and noisy.
"""

import json

from absl import app, flags
from child_process import interleaved_median, rerun

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
flags.DEFINE_bool("distributed", False, "Time steps on 1 device vs data parallel "
                  "over 2 (JAX, TensorFlow), instead of the mixer benchmark.")
flags.DEFINE_enum("mixed_precision", None, ["mixed_bfloat16", "mixed_float16"],
                  "Time steps under this policy vs float32, instead of the mixer "
                  "benchmark.")
flags.DEFINE_string("child_mode", None, "Internal: distributed or mixed_precision.")
flags.DEFINE_bool("peer", False, "Also time keras_hub's GPT2Backbone (same sizes, same "
                  "head) against our none GPT.")
FLAGS = flags.FLAGS


def variants():
    """{label: (mixer, kwargs)} for `none`, `--mixers` and every `--variant`."""
    from keras_wavegpt.training.settings import parse_variant

    result = {m: (m, {}) for m in ["none", *FLAGS.mixers]}
    for spec in FLAGS.variant:
        if "=" not in spec:
            raise app.UsageError(f"--variant wants label=mixer[:key=value,...], got {spec!r}")
        label, mixer, kwargs = parse_variant(spec)
        result[label] = (mixer, kwargs)
    return result


def _train_step(mixer, kwargs, arch, tokens):
    import keras

    from keras_wavegpt.data import causal_lm_inputs
    from keras_wavegpt.models import build_gpt
    from keras_wavegpt.training import meta_optimizer_for

    keras.utils.set_random_seed(0)
    model = build_gpt(27, mixer=mixer, **arch, **kwargs)
    model.compile(
        optimizer=meta_optimizer_for(model, keras.optimizers.Adam()),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[],
    )
    return lambda: model.train_on_batch(causal_lm_inputs(tokens[:, :-1]), tokens[:, 1:])


PEER = "keras_hub_gpt2"


def _peer_step(arch, tokens):
    """One training step of keras_hub's GPT2Backbone with the same vocabulary,
    depth, width, heads, MLP width, context and no dropout, under the same
    2048-unit GELU head: the peer our `none` GPT should be as fast as."""
    import keras
    import keras_hub

    from keras_wavegpt.data import causal_lm_inputs

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=27, num_layers=arch["num_layers"], num_heads=arch["num_heads"],
        hidden_dim=arch["hidden_dim"], intermediate_dim=arch["intermediate_dim"], dropout=0.0,
        max_sequence_length=arch["max_sequence_length"],
    )
    x = keras.layers.Dense(2048, activation="gelu")(backbone.output)
    model = keras.Model(backbone.input, keras.layers.Dense(27, dtype="float32")(x))
    model.compile(optimizer=keras.optimizers.Adam(),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return lambda: model.train_on_batch(causal_lm_inputs(tokens[:, :-1]), tokens[:, 1:])


def _xla_cost(mixer, kwargs, arch, tokens):
    """(FLOPs, bytes accessed) of one forward+backward pass, from XLA (JAX)."""
    import jax
    import keras

    from keras_wavegpt.data import causal_lm_inputs
    from keras_wavegpt.models import build_gpt

    model = build_gpt(27, mixer=mixer, **arch, **kwargs)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    fixed = [v.value for v in model.non_trainable_variables]

    def objective(trainable, x, y):
        logits, _ = model.stateless_call(trainable, fixed, x)
        return loss(y, logits)

    trainable = [v.value for v in model.trainable_variables]
    compiled = jax.jit(jax.grad(objective)).lower(trainable, causal_lm_inputs(tokens[:, :-1]),
                                                 tokens[:, 1:])
    cost = compiled.compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost  # a list in older JAX
    return cost["flops"], cost["bytes accessed"]


def _tokens(arch):
    import numpy as np

    rng = np.random.default_rng(1)
    return rng.integers(0, 27, size=(FLAGS.batch_size, arch["max_sequence_length"] + 1)).astype("int32")


def measure_memory(label):
    """Peak memory after three training steps of one variant, in this process.

    Run it in a fresh process (`--memory` does): of the GPU when the backend
    runs on one, else the process's resident set.

    Args:
        label: str. The variant's label, as `--variants` names it.

    Returns:
        float, MiB.
    """
    import resource

    import keras

    from keras_wavegpt.models import gpt_preset

    arch = gpt_preset(FLAGS.preset)
    step = _train_step(*variants()[label], arch, _tokens(arch))
    for _ in range(3):
        step()
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.max_memory_allocated() / 2**20
    if backend == "jax":
        import jax

        device = jax.local_devices()[0]
        if device.platform == "gpu":
            return device.memory_stats()["peak_bytes_in_use"] / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure():
    import keras
    import numpy as np

    from keras_wavegpt.layers import get_mixer, mixer_placement
    from keras_wavegpt.models import gpt_preset

    specs = variants()
    labels = [m for m in specs if m != "none"]
    arch = gpt_preset(FLAGS.preset)
    context, width = arch["max_sequence_length"], arch["hidden_dim"]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(FLAGS.batch_size, context, width)).astype("float32")

    def forward(layer):
        inputs = keras.Input((context, width))
        model = keras.Model(inputs, layer(inputs))
        return lambda: model.predict_on_batch(x)

    layers = {"identity": forward(keras.layers.Identity())}
    for label in labels:
        mixer, kwargs = specs[label]
        layer = get_mixer(mixer, max_sequence_length=context, **kwargs)
        if mixer_placement(mixer) == "block":
            layer = keras.Sequential(list(layer.values()))
        layers[label] = forward(layer)
    layer_times = interleaved_median(layers, FLAGS.rounds)

    tokens = _tokens(arch)
    steps = {m: _train_step(*specs[m], arch, tokens) for m in specs}
    if FLAGS.peer:
        steps[PEER] = _peer_step(arch, tokens)
    step_times = interleaved_median(steps, FLAGS.rounds)
    result = {
        "backend": keras.backend.backend(),
        "preset": FLAGS.preset,
        "batch_size": FLAGS.batch_size,
        "layer_vs_identity": {m: layer_times[m] / layer_times["identity"] for m in labels},
        "step_vs_none": {m: step_times[m] / step_times["none"] for m in labels},
        "none_step_ms": 1000 * step_times["none"],
    }
    if FLAGS.peer:
        result["none_vs_peer"] = step_times["none"] / step_times[PEER]
        result["peer_step_ms"] = 1000 * step_times[PEER]
    if keras.backend.backend() == "jax":
        cost = {m: _xla_cost(*specs[m], arch, tokens) for m in specs}
        result["flops_vs_none"] = {m: cost[m][0] / cost["none"][0] for m in labels}
        result["bytes_vs_none"] = {m: cost[m][1] / cost["none"][1] for m in labels}
    return result


def measure_distributed():
    """Per variant: step time on 2 devices / on 1, and |first loss difference|."""
    import keras

    from keras_wavegpt.models import gpt_preset
    from keras_wavegpt.training.distributed import data_parallel, virtual_cpu_devices

    virtual_cpu_devices(2)  # CPU only; a GPU host keeps its GPUs as the devices
    arch = gpt_preset(FLAGS.preset)
    tokens = _tokens(arch)
    steps, first_loss = {}, {}
    for label, (mixer, kwargs) in variants().items():
        steps[f"{label}@1"] = _train_step(mixer, kwargs, arch, tokens)
        with data_parallel(FLAGS.batch_size) as replicas:
            step = _train_step(mixer, kwargs, arch, tokens)
            distribution = keras.distribution.distribution()  # JAX's; None on TensorFlow
        if distribution is not None:  # JAX splits batches where the distribution is set
            step = _within(distribution.scope, step)
        steps[f"{label}@{replicas}"] = step
        one, two = (float(steps[f"{label}@{n}"]()) for n in (1, replicas))
        first_loss[label] = abs(one - two)
    times = interleaved_median(steps, FLAGS.rounds)
    return {
        "backend": keras.backend.backend(),
        "devices": replicas,
        "device_kind": keras.distribution.list_devices()[0],
        "step_parallel_vs_one": {
            label: times[f"{label}@{replicas}"] / times[f"{label}@1"] for label in first_loss
        },
        "first_loss_abs_diff": first_loss,
    }


def _within(context, fn):
    def call():
        with context():
            return fn()

    return call


def measure_precision():
    """Per variant: step time under --mixed_precision / under float32."""
    import keras

    from keras_wavegpt.models import gpt_preset

    arch = gpt_preset(FLAGS.preset)
    tokens = _tokens(arch)
    steps = {}
    for label, (mixer, kwargs) in variants().items():
        steps[f"{label}@float32"] = _train_step(mixer, kwargs, arch, tokens)
        previous = keras.mixed_precision.dtype_policy()
        keras.mixed_precision.set_dtype_policy(FLAGS.mixed_precision)
        try:
            steps[f"{label}@mixed"] = _train_step(mixer, kwargs, arch, tokens)
        finally:
            keras.mixed_precision.set_dtype_policy(previous)
    times = interleaved_median(steps, FLAGS.rounds)
    return {
        "backend": keras.backend.backend(),
        "policy": FLAGS.mixed_precision,
        "step_mixed_vs_float32": {
            label: times[f"{label}@mixed"] / times[f"{label}@float32"] for label in variants()
        },
    }


def main(argv):
    del argv
    if FLAGS.child:
        print("RESULT " + json.dumps(measure()))
        return
    if FLAGS.child_memory:
        print("RESULT " + json.dumps(measure_memory(FLAGS.child_memory)))
        return
    if FLAGS.child_mode:
        measure_mode = {"distributed": measure_distributed, "mixed_precision": measure_precision}
        print("RESULT " + json.dumps(measure_mode[FLAGS.child_mode]()))
        return
    if FLAGS.distributed or FLAGS.mixed_precision:
        return compare_modes()
    labels = [m for m in variants() if m != "none"]
    results = []
    for backend in FLAGS.backends:
        row = rerun(__file__, backend, "--child")
        if FLAGS.memory:
            peak = {m: rerun(__file__, backend, f"--child_memory={m}") for m in ["none", *labels]}
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
    if FLAGS.peer:
        print("\n| backend | none step (ms) | keras_hub GPT2 + head step (ms) | none / GPT2 |"
              "\n|---|---|---|---|")
        for r in results:
            print(f"| {r['backend']} | {r['none_step_ms']:.1f} | {r['peer_step_ms']:.1f} | "
                  f"{r['none_vs_peer']:.3f}x |")
    for r in results:
        if "flops_vs_none" in r:
            print(f"\nXLA cost of forward+backward vs none ({r['backend']}):\n")
            print("| mixer | FLOPs / none | bytes accessed / none |\n|---|---|---|")
            for m in labels:
                print(f"| {m} | {r['flops_vs_none'][m]:.2f}x | {r['bytes_vs_none'][m]:.2f}x |")
    if FLAGS.json_out:
        with open(FLAGS.json_out, "w") as f:
            json.dump(results, f, indent=2)


def compare_modes():
    """--distributed / --mixed_precision: one table per mode, one row per backend."""
    labels = list(variants())
    results = []
    if FLAGS.distributed:
        print("| backend | devices | " + " | ".join(
            f"{m} step 2 dev / 1 | {m} first-loss diff" for m in labels) + " |")
        print("|" + "---|" * (2 + 2 * len(labels)))
        for backend in FLAGS.backends:
            if backend not in ("jax", "tensorflow"):
                print(f"| {backend} | no single-process data parallelism (torchrun) |")
                continue
            row = rerun(__file__, backend, "--child_mode=distributed")
            results.append(row)
            cells = [backend, f"{row['devices']} x {row['device_kind']}"]
            for m in labels:
                cells += [f"{row['step_parallel_vs_one'][m]:.2f}x",
                          f"{row['first_loss_abs_diff'][m]:.1e}"]
            print("| " + " | ".join(cells) + " |")
    if FLAGS.mixed_precision:
        print("| backend | " + " | ".join(
            f"{m} step {FLAGS.mixed_precision} / float32" for m in labels) + " |")
        print("|" + "---|" * (1 + len(labels)))
        for backend in FLAGS.backends:
            row = rerun(__file__, backend, "--child_mode=mixed_precision",
                         f"--mixed_precision={FLAGS.mixed_precision}")
            results.append(row)
            cells = [backend] + [f"{row['step_mixed_vs_float32'][m]:.2f}x" for m in labels]
            print("| " + " | ".join(cells) + " |")
    if FLAGS.json_out:
        with open(FLAGS.json_out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    app.run(main)
