"""Merge several experiment `out_dir`s into one table and two plots.

    python tools/compare_runs.py runs/a runs/b --out=runs/compare.png
    python tools/compare_runs.py runs/lr_4e-3:none runs/lr_8e-3:haar runs/seed_1 \\
        --pool --references=shift --out=runs/long.png --summary_out=runs/long.json

`DIR:v1,v2` takes only those variants of `DIR`. By default each variant is
labelled `<out_dir name>/<variant>`. With `--pool`, the runs of one variant
label from every folder are seeds of one variant (a seed given twice is an
error), summarised as the runner does (each compared with the baseline's run
of the same seed) with Welch's test against `none` and every `--references`
variant. The table is Markdown; `--out` plots loss against steps and
`<out>_seconds.png` against seconds.
"""

import json
import os

from absl import app, flags

from keras_wavegpt.training.flags import user_errors
from keras_wavegpt.training.runner import format_table, plot_curves, summarize_runs

flags.DEFINE_string("out", "compare.png", "Where the plot against steps goes.")
flags.DEFINE_bool("pool", False, "Pool each variant's runs over the folders as seeds.")
flags.DEFINE_list("references", [], "With --pool: variants to test every other against.")
flags.DEFINE_string("summary_out", None, "With --pool: write the pooled summary.json here.")
FLAGS = flags.FLAGS


def read_summaries(specs):
    """Reads the summaries a command line names.

    Args:
        specs: list of str. `DIR` (every variant) or `DIR:variant,...`.

    Returns:
        list of `(folder label, summary)` tuples.

    Raises:
        FileNotFoundError: a folder has no `summary.json`.
        ValueError: a folder lacks a named variant.
    """
    result = []
    for spec in specs:
        folder, _, wanted = spec.partition(":")
        path = os.path.join(folder, "summary.json")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No summary.json in {folder!r}; run an experiment there first")
        with open(path) as f:
            summary = json.load(f)
        if wanted:
            names = wanted.split(",")
            missing = sorted(set(names) - set(summary["variants"]))
            if missing:
                raise ValueError(f"{folder!r} has no variant {missing}; it has "
                                 f"{sorted(summary['variants'])}")
            summary["variants"] = {n: summary["variants"][n] for n in names}
        result.append((os.path.basename(os.path.normpath(folder)), summary))
    return result


def merge(specs):
    """Every folder's variants side by side, each under its folder's name.

    Args:
        specs: list of str. As `read_summaries` takes.

    Returns:
        dict mapping `"<dir>/<variant>"` to its summary entry.
    """
    return {f"{label}/{variant}": entry
            for label, summary in read_summaries(specs)
            for variant, entry in summary["variants"].items()}


def pool(specs, references=()):
    """One summary whose variants hold every folder's runs of that label.

    Args:
        specs: list of str. As `read_summaries` takes.
        references: tuple of str. Variants besides the baseline to test
            against (Welch). Defaults to `()`.

    Returns:
        dict with the folders and the pooled variants (`summarize_runs`).

    Raises:
        ValueError: a seed of a variant is in two folders, or a reference
            is not among the variants.
    """
    runs, origin = {}, {}
    for label, summary in read_summaries(specs):
        for variant, entry in summary["variants"].items():
            for record in entry["runs"]:
                key = (variant, record["seed"])
                if key in origin:
                    raise ValueError(f"Seed {record['seed']} of {variant!r} is in both "
                                     f"{origin[key]!r} and {label!r}; name one with DIR:variant")
                origin[key] = label
                runs.setdefault(variant, []).append(dict(record, folder=label))
    missing = sorted(set(references) - set(runs))
    if missing:
        raise ValueError(f"--references {missing} are not among the variants {sorted(runs)}")
    for records in runs.values():
        records.sort(key=lambda r: r["seed"])
    return {"folders": list(specs), "variants": summarize_runs(runs, references=references)}


def main(argv):
    if len(argv) < 2:
        raise app.UsageError("Name at least one experiment out_dir")
    with user_errors():
        if FLAGS.pool:
            summary = pool(argv[1:], tuple(FLAGS.references))
            variants = summary["variants"]
        else:
            variants = merge(argv[1:])
    if FLAGS.pool and FLAGS.summary_out:
        with open(FLAGS.summary_out, "w") as f:
            json.dump(summary, f, indent=2)
    print(format_table(variants))
    seconds = os.path.splitext(FLAGS.out)[0] + "_seconds.png"
    plot_curves(variants, FLAGS.out, title="Validation loss across runs")
    plot_curves(variants, seconds, title="Validation loss across runs", x="seconds")
    print(f"plots: {FLAGS.out}, {seconds}")


if __name__ == "__main__":
    app.run(main)
