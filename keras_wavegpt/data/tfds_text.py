"""text8 and enwik8 as tensorflow-datasets builders.

    import keras_wavegpt.data.tfds_text  # registers "text8" and "enwik8"
    builder = tfds.builder("text8", data_dir="~/tensorflow_datasets")
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir="/data"))
    ids = next(iter(builder.as_dataset(split="validation")))["ids"]  # uint8

The archive is read from `manual_dir` (`text8`, `text8.zip`, ...) when it is
there, and downloaded from its public URL otherwise. Each split (90% / 5% / 5%,
as `TextCorpus.split`) is one example whose `ids` feature holds the whole
split as uint8 token ids (text8: 27 symbols, enwik8: 256 bytes).
"""

import numpy as np
import tensorflow_datasets as tfds

from keras_wavegpt.data.text import (
    ENWIK8_URL,
    SPLIT_FRACTIONS,
    TEXT8_URL,
    TextCorpus,
    encode_text8,
    read_archive_member,
)


class _CharCorpus(tfds.core.GeneratorBasedBuilder):
    """One archive, one member, split 90/5/5 in order."""

    VERSION = tfds.core.Version("1.0.0")
    MEMBER = URL = None
    VOCAB_SIZE = None

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {"ids": tfds.features.Tensor(shape=(None,), dtype=np.uint8)}
            ),
            homepage="http://mattmahoney.net/dc/textdata.html",
            metadata=tfds.core.MetadataDict(vocab_size=self.VOCAB_SIZE),
        )

    def _split_generators(self, dl_manager):
        path = None
        try:
            manual = dl_manager.manual_dir
        except AssertionError:  # no manual_dir given, or it does not exist
            manual = None
        if manual is not None:
            for candidate in (manual / self.MEMBER, manual / f"{self.MEMBER}.zip"):
                if candidate.exists():
                    path = candidate
        if path is None:
            path = dl_manager.download(self.URL)
        corpus = TextCorpus(self.MEMBER, self._decode(read_archive_member(str(path), self.MEMBER)),
                            self.VOCAB_SIZE)
        return {name: self._generate_examples(corpus.split(name), name)
                for name in SPLIT_FRACTIONS}

    def _generate_examples(self, ids, name):
        yield name, {"ids": ids}


class Text8(_CharCorpus):
    """text8: 100M characters of Wikipedia, 27 symbols (space, a-z)."""

    MEMBER, URL, VOCAB_SIZE = "text8", TEXT8_URL, 27
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"Put text8 or text8.zip (from {TEXT8_URL}) in manual_dir."

    @staticmethod
    def _decode(raw):
        return encode_text8(raw.decode("ascii"))


class Enwik8(_CharCorpus):
    """enwik8: the first 100M bytes of an English Wikipedia dump, 256 symbols."""

    MEMBER, URL, VOCAB_SIZE = "enwik8", ENWIK8_URL, 256
    MANUAL_DOWNLOAD_INSTRUCTIONS = f"Put enwik8 or enwik8.zip (from {ENWIK8_URL}) in manual_dir."

    @staticmethod
    def _decode(raw):
        return np.frombuffer(raw, dtype=np.uint8).copy()
