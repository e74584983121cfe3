"""MIDI: the 388-event vocabulary by hand, timing against music21's own
clock, the events -> MIDI -> events round trip on a Bach chorale, the
music21 corpus and folder loaders, and bad files."""

import os

import numpy as np
import pytest
from music21 import corpus as m21_corpus
from music21 import chord, meter, note, stream, tempo

from keras_wavegpt.data import midi
from keras_wavegpt.data.midi import Note
from tests.helpers import once_on

# The pipelines are tf.data and numpy: no backend path, so they run once.
pytestmark = once_on("tensorflow", "tf.data and numpy pipelines")


def test_vocabulary_by_hand():
    assert midi.VOCAB_SIZE == 388
    notes = [Note(60, 80, 0.0, 0.5), Note(64, 83, 0.0, 1.5), Note(67, 100, 0.5, 2.73)]
    # t=0: velocity bin 80//4=20, C4 and E4 on; 0.5 s: C4 off, bin 25, G4 on;
    # 1.5 s: E4 off; 2.73 s (1.23 s later: shifts of 100 and 23 steps): G4 off.
    expected = [356 + 20, 60, 64,
                256 + 49, 128 + 60, 356 + 25, 67,
                256 + 99, 128 + 64,
                256 + 99, 256 + 22, 128 + 67]
    assert midi.notes_to_events(notes).tolist() == expected
    back = midi.events_to_notes(expected)
    assert [(n.pitch, n.velocity, n.start, n.end) for n in back] == [
        (60, 82, 0.0, 0.5), (64, 82, 0.0, 1.5), (67, 102, 0.5, 2.73)]


def test_repeated_and_very_short_notes():
    # A repeated pitch: the first note ends before the second starts at 0.5 s.
    events = midi.notes_to_events([Note(60, 64, 0.0, 0.5), Note(60, 64, 0.5, 1.0)])
    assert events.tolist() == [372, 60, 305, 188, 60, 305, 188]
    # A 2 ms note lasts one 10 ms step, so its NOTE_OFF follows its NOTE_ON.
    events = midi.notes_to_events([Note(70, 64, 0.1, 0.102)])
    assert events.tolist() == [265, 372, 70, 256, 198]
    with pytest.raises(ValueError, match="pitch or velocity"):
        midi.notes_to_events([Note(128, 64, 0.0, 1.0)])
    with pytest.raises(ValueError, match="pitch or velocity"):
        midi.notes_to_events([Note(60, 0, 0.0, 1.0)])


def test_events_from_a_model_decode_leniently():
    # Off with nothing sounding: ignored; no velocity yet: 64; never turned off: ends last.
    notes = midi.events_to_notes([128 + 50, 60, 256 + 9, 61, 256 + 19])
    assert notes == [Note(60, 64, 0.0, 0.3), Note(61, 64, 0.1, 0.3)]
    with pytest.raises(ValueError, match=r"\[0, 388\)"):
        midi.events_to_notes([388])


def _seconds_map(score):
    """(pitch, start, end) of every note, by music21's own clock."""
    out = []
    for entry in score.stripTies().flatten().secondsMap:
        element = entry["element"]
        for n in ([element] if isinstance(element, note.Note) else
                  element.notes if isinstance(element, chord.Chord) else []):
            start = entry["offsetSeconds"]
            out.append((n.pitch.midi, start, start + entry["durationSeconds"]))
    return np.array(sorted(out))


def test_a_chorale_round_trips_through_events_and_midi(tmp_path):
    path = next(p for p in midi.music21_corpus_paths(("bach",)) if "bwv66.6" in p)
    notes = midi.score_to_notes(path)
    events = midi.notes_to_events(notes)
    assert events.dtype == np.int32 and 0 <= events.min() and events.max() < 388
    # Decoded notes sit where music21 itself places the score's notes (within
    # the 10 ms grid), ties merged, at the score's tempo.
    decoded = np.array(sorted((n.pitch, n.start, n.end) for n in midi.events_to_notes(events)))
    reference = _seconds_map(m21_corpus.parse("bach/bwv66.6"))
    assert decoded.shape == reference.shape == (163, 3)
    np.testing.assert_array_equal(decoded[:, 0], reference[:, 0])
    np.testing.assert_allclose(decoded[:, 1:], reference[:, 1:], atol=0.005 + 1e-9)
    # events -> MIDI file -> events is exact.
    midi.write_midi(midi.events_to_notes(events), tmp_path / "chorale.mid")
    again = midi.notes_to_events(midi.read_midi(str(tmp_path / "chorale.mid")))
    np.testing.assert_array_equal(again, events)


def test_read_midi_follows_a_tempo_map():
    part = stream.Part([meter.TimeSignature("4/4"), tempo.MetronomeMark(number=60)])
    part.append([note.Note(p, quarterLength=1) for p in (60, 62, 64, 65)])
    part.append(tempo.MetronomeMark(number=240))
    part.append([note.Note(p, quarterLength=2) for p in (67, 69)])
    score = stream.Score([part])
    from music21.midi.translate import streamToMidiFile

    notes = midi.read_midi(streamToMidiFile(score).writestr())
    got = np.array([(n.pitch, n.start, n.end) for n in notes])
    np.testing.assert_allclose(got, _seconds_map(score), atol=1e-9)
    assert got[-1].tolist() == [69, 4.5, 5.0]  # 4 s at 60 bpm, then quarters of 0.25 s


def test_music21_corpus_loader(tmp_path):
    corpus = midi.load_music21_corpus(("bach",), max_pieces=3, cache_dir=str(tmp_path))
    assert corpus.vocabulary_size == 388 and corpus.name == "music21-bach"
    assert corpus.ids.dtype == np.int16 and 0 <= corpus.ids.min() and corpus.ids.max() < 388
    assert 300 < len(corpus.ids) < 20000
    counts = np.bincount(corpus.ids, minlength=388)
    assert counts[:128].sum() == counts[128:256].sum() > 0  # every note on has its off
    assert counts[256:356].sum() > 0 and counts[356:].sum() > 0
    cached = list(tmp_path.glob("music21-bach-*.npy"))
    assert len(cached) == 1
    again = midi.load_music21_corpus(("bach",), max_pieces=3, cache_dir=str(tmp_path))
    np.testing.assert_array_equal(again.ids, corpus.ids)
    with pytest.raises(ValueError, match="Unknown music21 corpus composers.*bach"):
        midi.load_music21_corpus(("nobody",))
    with pytest.raises(ValueError, match="max_pieces"):
        midi.load_music21_corpus(("bach",), max_pieces=0)


def test_midi_folder_skips_bad_files_with_a_count(tmp_path):
    paths = midi.music21_corpus_paths(("bach",))[:2]
    expected = 0
    for i, path in enumerate(paths):
        notes = midi.score_to_notes(path)
        midi.write_midi(notes, tmp_path / f"piece{i}.mid")
        expected += len(midi.notes_to_events(notes))
    (tmp_path / "sub").mkdir()
    os.replace(tmp_path / "piece1.mid", tmp_path / "sub" / "piece1.MIDI")
    real = (tmp_path / "piece0.mid").read_bytes()
    (tmp_path / "cut.mid").write_bytes(real[:40])  # a track cut short
    (tmp_path / "empty.mid").write_bytes(b"")
    midi.write_midi([], tmp_path / "silent.mid")
    with pytest.warns(UserWarning, match="Skipped 3 of 5 MIDI files"):
        corpus = midi.load_midi_folder(str(tmp_path))
    assert len(corpus.ids) == expected and corpus.vocabulary_size == 388
    for name in ("piece0.mid", "sub/piece1.MIDI"):
        os.remove(tmp_path / name)
    with pytest.warns(UserWarning), pytest.raises(FileNotFoundError, match="None of the 3"):
        midi.load_midi_folder(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="No .mid/.midi files"):
        midi.load_midi_folder(str(tmp_path / "nowhere"))
