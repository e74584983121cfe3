"""Generation speed, side by side: our causal LMs against keras_hub's GPT2 and Llama.

    OMP_NUM_THREADS=1 python tools/bench_generate.py --backends=tensorflow,jax,torch

For each backend (one subprocess each), preset and batch size it prints, all
measured in one process with the candidates interleaved round by round:

- tokens per second of cached `generate` (greedy) for our causal LM with each
  `--mixers` entry and for a keras_hub `GPT2CausalLM` of the same vocabulary,
  depth, width, heads, MLP width and context (its own GELU head-free tied
  output: the peer's usual shape), and our rate over the peer's;
- keras_hub's `LlamaCausalLM` against `MixerLlamaCausalLM` over
  `add_mixers(LlamaBackbone(...), m)` for each `--llama_mixers` entry, same
  dimensions, and the mixer's rate over plain Llama's;
- at `--step_preset`, one cached step at position `--late` against one at
  position `--early` (eager `call_with_cache` on a full cache): how the
  per-token cost grows with the position.

Each generation starts from a prompt of `--prompt` tokens and runs to
`min(prompt + --new_tokens, context)`: at the `small` preset's context of 128
that is fewer new tokens than asked. Compiled once before timing (keras_hub
compiles `generate` per input shape).
"""

import json

from absl import app, flags
from child_process import interleaved_median, rerun

flags.DEFINE_list("backends", ["tensorflow", "jax", "torch"], "Backends to run.")
flags.DEFINE_list("presets", ["small", "paper"], "GPT presets.")
flags.DEFINE_list("batch_sizes", ["1", "8"], "Batch sizes.")
flags.DEFINE_list("contexts", [], "Contexts to run each preset at (default: its own).")
flags.DEFINE_list("mixers", ["none", "haar"], "Mixers of our causal LM.")
flags.DEFINE_list("llama_mixers", ["haar"], "Mixers put into keras_hub's Llama.")
flags.DEFINE_integer("prompt", 16, "Prompt length.")
flags.DEFINE_integer("new_tokens", 256, "Tokens to generate (capped by the context).")
flags.DEFINE_integer("rounds", 3, "Timed rounds per candidate.")
flags.DEFINE_string("step_preset", "paper", "Preset of the per-step comparison.")
flags.DEFINE_integer("early", 32, "Early position of the per-step comparison.")
flags.DEFINE_integer("late", 480, "Late position of the per-step comparison.")
flags.DEFINE_string("json_out", None, "Also write the results as JSON here.")
flags.DEFINE_bool("child", False, "Internal: run in this process's backend.")
FLAGS = flags.FLAGS

VOCAB = 27


def _arch(preset, context):
    from keras_wavegpt.models import gpt_preset

    arch = gpt_preset(preset)
    if context:
        arch["max_sequence_length"] = context
    return arch


def _models(preset, mixer, context=None):
    import keras_hub

    from keras_wavegpt.models import WaveletGPTBackbone, WaveletGPTCausalLM

    arch = _arch(preset, context)
    if mixer is None:
        backbone = keras_hub.models.GPT2Backbone(
            vocabulary_size=VOCAB, num_layers=arch["num_layers"], num_heads=arch["num_heads"],
            hidden_dim=arch["hidden_dim"], intermediate_dim=arch["intermediate_dim"], dropout=0.0,
            max_sequence_length=arch["max_sequence_length"],
        )
        return keras_hub.models.GPT2CausalLM(backbone), arch
    backbone = WaveletGPTBackbone(
        VOCAB, arch["num_layers"], arch["num_heads"], arch["hidden_dim"], arch["intermediate_dim"],
        arch["max_sequence_length"], mixer=mixer,
    )
    return WaveletGPTCausalLM(backbone), arch


def _llama(preset, mixer, context=None):
    import keras_hub

    from keras_wavegpt.models import MixerLlamaCausalLM, add_mixers

    arch = _arch(preset, context)
    backbone = keras_hub.models.LlamaBackbone(
        vocabulary_size=VOCAB, num_layers=arch["num_layers"], num_query_heads=arch["num_heads"],
        num_key_value_heads=arch["num_heads"], hidden_dim=arch["hidden_dim"],
        intermediate_dim=arch["intermediate_dim"])
    if mixer is None:
        return keras_hub.models.LlamaCausalLM(backbone), arch
    mixed = add_mixers(backbone, mixer, max_sequence_length=arch["max_sequence_length"])
    return MixerLlamaCausalLM(mixed), arch


def _prompt(batch, length, total):
    import numpy as np

    rng = np.random.default_rng(0)
    ids = rng.integers(1, VOCAB, size=(batch, total)).astype("int32")
    mask = np.arange(total)[None].repeat(batch, 0) < length
    return {"token_ids": np.where(mask, ids, 0), "padding_mask": mask}


def _generator(lm, inputs):
    lm.compile(sampler="greedy")
    return lambda: lm.generate(inputs, stop_token_ids=None)


def _side_by_side(candidates, build, preset, context, batch):
    """Tokens per second of each `label: mixer` of `candidates`, built by
    `build(preset, mixer, context)`, timed interleaved; the row's settings."""
    fns = {}
    for label, mixer in candidates.items():
        lm, arch = build(preset, mixer, context)
        total = min(FLAGS.prompt + FLAGS.new_tokens, arch["max_sequence_length"])
        fns[label] = _generator(lm, _prompt(batch, FLAGS.prompt, total))
    new = total - FLAGS.prompt
    seconds = interleaved_median(fns, FLAGS.rounds, warmups=1)
    return {"preset": preset, "context": arch["max_sequence_length"], "batch": batch,
            "new_tokens": new, "tokens_per_s": {k: batch * new / s for k, s in seconds.items()}}


def measure():
    import keras
    import numpy as np

    settings = [(p, int(c) if c else None, int(b)) for p in FLAGS.presets
                for c in (FLAGS.contexts or [None]) for b in FLAGS.batch_sizes]
    rows = []
    for preset, context, batch in settings:
        row = _side_by_side({"gpt2": None, **{m: m for m in FLAGS.mixers}},
                            _models, preset, context, batch)
        rate = row["tokens_per_s"]
        row["vs_gpt2"] = {m: rate[m] / rate["gpt2"] for m in FLAGS.mixers}
        row["vs_none"] = {m: rate[m] / rate["none"] for m in FLAGS.mixers
                          if "none" in rate and m != "none"}
        rows.append(row)
    llama_rows = []
    for preset, context, batch in settings if FLAGS.llama_mixers else ():
        row = _side_by_side({"llama": None, **{m: m for m in FLAGS.llama_mixers}},
                            _llama, preset, context, batch)
        row["vs_llama"] = {m: row["tokens_per_s"][m] / row["tokens_per_s"]["llama"]
                           for m in FLAGS.llama_mixers}
        llama_rows.append(row)
    # One cached step early and late in a full-length cache.
    lm, arch = _models(FLAGS.step_preset, "haar")
    total = arch["max_sequence_length"]
    tokens = _prompt(1, total, total)["token_ids"]
    _, cache = lm._build_cache(keras.ops.convert_to_tensor(tokens))
    step = {
        position: (lambda p=position: lm.call_with_cache(
            keras.ops.convert_to_tensor(tokens[:, p : p + 1]), cache, p))
        for position in (FLAGS.early, FLAGS.late)
    }
    seconds = interleaved_median(step, max(FLAGS.rounds, 10), warmups=1)
    return {
        "backend": keras.backend.backend(),
        "rows": rows,
        "llama_rows": llama_rows,
        "step_ms": {str(p): 1000 * s for p, s in seconds.items()},
        "late_vs_early": seconds[FLAGS.late] / seconds[FLAGS.early],
        "numpy": np.__version__,
    }


def main(argv):
    del argv
    if FLAGS.child:
        print("RESULT " + json.dumps(measure()))
        return
    results = [rerun(__file__, backend, "--child") for backend in FLAGS.backends]
    header = ["backend", "preset", "context", "batch", "new tokens", "gpt2 tokens/s"]
    others = [m for m in FLAGS.mixers if m != "none" and "none" in FLAGS.mixers]
    header += [f"{m} tokens/s" for m in FLAGS.mixers] + [f"{m} / gpt2" for m in FLAGS.mixers]
    header += [f"{m} / none" for m in others]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for r in results:
        for row in r["rows"]:
            cells = [r["backend"], row["preset"], str(row["context"]), str(row["batch"]),
                     str(row["new_tokens"]), f"{row['tokens_per_s']['gpt2']:.0f}"]
            cells += [f"{row['tokens_per_s'][m]:.0f}" for m in FLAGS.mixers]
            cells += [f"{row['vs_gpt2'][m]:.2f}x" for m in FLAGS.mixers]
            cells += [f"{row['vs_none'][m]:.2f}x" for m in others]
            print("| " + " | ".join(cells) + " |")
    print("\nkeras_hub's Llama, plain and with mixers (MixerLlamaCausalLM):\n")
    header = ["backend", "preset", "context", "batch", "new tokens", "llama tokens/s"]
    header += [f"llama+{m} tokens/s" for m in FLAGS.llama_mixers]
    header += [f"llama+{m} / llama" for m in FLAGS.llama_mixers]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for r in results:
        for row in r["llama_rows"]:
            cells = [r["backend"], row["preset"], str(row["context"]), str(row["batch"]),
                     str(row["new_tokens"]), f"{row['tokens_per_s']['llama']:.0f}"]
            cells += [f"{row['tokens_per_s'][m]:.0f}" for m in FLAGS.llama_mixers]
            cells += [f"{row['vs_llama'][m]:.2f}x" for m in FLAGS.llama_mixers]
            print("| " + " | ".join(cells) + " |")
    print(f"\nOne cached haar step at the {FLAGS.step_preset} preset, batch 1:\n")
    print(f"| backend | step at {FLAGS.early} ms | step at {FLAGS.late} ms | ratio |\n"
          "|---|---|---|---|")
    for r in results:
        ms = r["step_ms"]
        print(f"| {r['backend']} | {ms[str(FLAGS.early)]:.2f} | {ms[str(FLAGS.late)]:.2f} | "
              f"{r['late_vs_early']:.2f}x |")
    if FLAGS.json_out:
        with open(FLAGS.json_out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    app.run(main)
