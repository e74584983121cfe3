"""Datasets, one module per family, all served as `tf.data` pipelines."""

from keras_wavegpt.data.text import (
    DATASETS,
    TextCorpus,
    causal_lm_inputs,
    decode_text8,
    encode_text8,
    eval_dataset,
    load_corpus,
    load_enwik8,
    load_pydoc_topics,
    load_pydocs,
    load_text8,
    load_text_files,
    normalize_text8,
    train_dataset,
)
