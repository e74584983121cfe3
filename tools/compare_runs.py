"""Merge experiments, or committed run records, into one table and two plots.

    python tools/compare_runs.py runs/a runs/b --out=runs/compare.png
    python tools/compare_runs.py runs/lr_4e-3:none runs/lr_8e-3:haar runs/seed_1 \\
        --pool --references=shift --out=runs/long.png --summary_out=runs/long.json
    python tools/compare_runs.py results/llama --baseline=llama_none_4e-3 \\
        --out=docs/images/llama.png

Each argument is an experiment's `out_dir` (its `summary.json`), a run
record (`keras_wavegpt.training.records`: `results/<study>/<job>.json`), or a
folder of records. `DIR:v1,v2` takes only those variants of `DIR`. By
default each variant of an `out_dir` is labelled `<out_dir name>/<variant>`.
With `--pool`, or whenever records are given, the runs of one variant from
every source are seeds of one variant (a seed given twice is an error); a
record's variant is its `name` (its job without the seed), else its label.
They are summarised as the runner does (each compared with `--baseline`'s
run of the same seed) with Welch's test against the baseline and every
`--references` variant. The table is Markdown; `--out` plots loss against
steps and `<out>_seconds.png` against seconds.
"""

import json
import os

from absl import app, flags

from keras_wavegpt.training.flags import user_errors
from keras_wavegpt.training.records import read_record
from keras_wavegpt.training.reporting import BASELINE, format_table, plot_curves, summarize_runs
from keras_wavegpt.utils.files import write_json

flags.DEFINE_string("out", "compare.png", "Where the plot against steps goes.")
flags.DEFINE_bool("pool", False, "Pool each variant's runs over the folders as seeds.")
flags.DEFINE_list("references", [], "With --pool: variants to test every other against.")
flags.DEFINE_string("summary_out", None, "With --pool: write the pooled summary.json here.")
flags.DEFINE_string("baseline", BASELINE, "The variant others are paired with by seed.")
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
        if is_records(folder):
            result.append(records_summary(folder, wanted))
            continue
        path = os.path.join(folder, "summary.json")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No summary.json in {folder!r}; run an experiment there "
                                    "first, or name run records")
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


def is_records(path):
    """Whether a path is a run record or a folder of them (and no
    `summary.json`)."""
    if path.endswith(".json"):
        return True
    return (os.path.isdir(path) and not os.path.isfile(os.path.join(path, "summary.json"))
            and any(name.endswith(".json") for name in os.listdir(path)))


def records_summary(path, wanted=""):
    """A record, or a folder of records, as a summary of variants.

    Args:
        path: str. A record file or a folder of them.
        wanted: str. Comma list of the variants to keep; `""` keeps all.

    Returns:
        `(label, summary)`: the label is the path's name, and the summary's
        `"variants"` map each variant (a record's `name`, else its label)
        to `{"runs": [records]}`.
    """
    files = ([path] if path.endswith(".json") else
             [os.path.join(path, n) for n in sorted(os.listdir(path)) if n.endswith(".json")])
    variants = {}
    for file in files:
        record = read_record(file)
        name = record.get("name", record["label"])
        variants.setdefault(name, {"runs": []})["runs"].append(record)
    if wanted:
        names = wanted.split(",")
        missing = sorted(set(names) - set(variants))
        if missing:
            raise ValueError(f"{path!r} has no variant {missing}; it has {sorted(variants)}")
        variants = {n: variants[n] for n in names}
    return os.path.basename(os.path.normpath(path)), {"variants": variants}


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


def pool(specs, references=(), baseline=BASELINE):
    """One summary whose variants hold every folder's runs of that label.

    Args:
        specs: list of str. As `read_summaries` takes.
        references: tuple of str. Variants besides the baseline to test
            against (Welch). Defaults to `()`.
        baseline: str. The variant the others are paired with by seed.
            Defaults to `"none"`.

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
    return {"folders": list(specs),
            "variants": summarize_runs(runs, references=references, baseline=baseline)}


def main(argv):
    if len(argv) < 2:
        raise app.UsageError("Name at least one experiment out_dir")
    with user_errors():
        pooled = FLAGS.pool or any(is_records(a.partition(":")[0]) for a in argv[1:])
        if pooled:
            summary = pool(argv[1:], tuple(FLAGS.references), FLAGS.baseline)
            variants = summary["variants"]
        else:
            variants = merge(argv[1:])
    if pooled and FLAGS.summary_out:
        write_json(FLAGS.summary_out, summary)
    print(format_table(variants))
    seconds = os.path.splitext(FLAGS.out)[0] + "_seconds.png"
    plot_curves(variants, FLAGS.out, title="Validation loss across runs",
                baseline=FLAGS.baseline)
    plot_curves(variants, seconds, title="Validation loss across runs", x="seconds",
                baseline=FLAGS.baseline)
    print(f"plots: {FLAGS.out}, {seconds}")


if __name__ == "__main__":
    app.run(main)
