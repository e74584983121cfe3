"""Symbolic music as Music Transformer performance events (WaveletGPT §4).

The 388-token vocabulary of Music Transformer (Huang et al., 2018; after
Oore et al., "This time with feeling"):

    ids   0..127  NOTE_ON(pitch)
    ids 128..255  NOTE_OFF(pitch)
    ids 256..355  TIME_SHIFT(k * 10 ms), k = 1..100
    ids 356..387  SET_VELOCITY(bin), bin = velocity // 4

Times are quantised to 10 ms; a gap longer than one second is several
shifts. At one instant note-offs come before note-ons (each group sorted by
pitch), so a repeated note re-sounds; a `SET_VELOCITY` comes only when the
velocity bin changes. A note shorter than 10 ms after quantisation lasts
10 ms, so every NOTE_ON has its NOTE_OFF after it.

A folder of MIDI files (MAESTRO layout, any depth) becomes one token stream
in a fixed shuffled piece order (seed 0), as `load_wav_folder` does for
audio. Offline data: the score corpus inside the `music21` wheel (Bach
chorales, Palestrina masses, folk tunes, ...), rendered to MIDI by
music21 at each score's own tempo (120 bpm where it has none).

MIDI files are read and written with `music21.midi` (format 0/1 files,
tempo maps, running status, SMPTE time).
"""

import collections
import glob
import hashlib
import os

import numpy as np

from keras_wavegpt.data.text import TextCorpus, warn_skipped
from keras_wavegpt.utils.validation import check_int

NUM_PITCHES = 128
MAX_SHIFT_STEPS = 100
STEPS_PER_SECOND = 100
VELOCITY_BINS = 32
NOTE_ON, NOTE_OFF = 0, NUM_PITCHES
TIME_SHIFT = 2 * NUM_PITCHES
SET_VELOCITY = TIME_SHIFT + MAX_SHIFT_STEPS
VOCAB_SIZE = SET_VELOCITY + VELOCITY_BINS  # 388
MIDI_SUFFIXES = (".mid", ".midi")

Note = collections.namedtuple("Note", "pitch velocity start end")
Note.__doc__ = """One sounding note.

Args:
    pitch: int. MIDI pitch, 0-127.
    velocity: int. MIDI velocity, 1-127.
    start: float. Onset in seconds.
    end: float. Release in seconds.
"""


# --- MIDI files <-> notes ------------------------------------------------------


def read_midi(source):
    """Notes of a MIDI file (path or bytes), sorted by `(start, pitch)`.

    Follows the file's tempo map (SMPTE files: its frame rate); a NOTE_ON of
    velocity 0 is a NOTE_OFF; overlapping notes of one pitch on one channel
    end first-in first-out; a note still sounding at the end of the file
    ends at the file's last event.

    Args:
        source: str or bytes. A MIDI file's path, or its bytes.

    Returns:
        list of `Note`, sorted by `(start, pitch)`.

    Raises:
        ValueError: `source` is not a readable MIDI file.
    """
    from music21 import midi

    try:
        if isinstance(source, (bytes, bytearray)):
            raw = bytes(source)
        else:
            with open(source, "rb") as f:
                raw = f.read()
        _check_chunks(raw)
        mf = midi.MidiFile()
        mf.readstr(raw)
    except Exception as err:  # music21 raises many kinds on truncated data
        raise ValueError(f"{_name(source)} is not a readable MIDI file: {err}") from err

    timed = []  # (tick, track, order, event) across all tracks
    for t, track in enumerate(mf.tracks):
        tick = 0
        for order, event in enumerate(track.events):
            if event.isDeltaTime():
                tick += event.time
            else:
                timed.append((tick, t, order, event))
    timed.sort(key=lambda e: e[:3])
    seconds = _tick_clock(mf, timed)

    sounding = collections.defaultdict(collections.deque)  # (channel, pitch) -> starts
    notes = []
    for tick, _, _, event in timed:
        now = seconds(tick)
        if event.isNoteOn():
            sounding[event.channel, event.pitch].append((now, event.velocity))
        elif event.isNoteOff() and sounding[event.channel, event.pitch]:
            start, velocity = sounding[event.channel, event.pitch].popleft()
            notes.append(Note(event.pitch, velocity, start, now))
    last = seconds(timed[-1][0]) if timed else 0.0
    for (_, pitch), starts in sounding.items():
        notes.extend(Note(pitch, velocity, start, last) for start, velocity in starts)
    return sorted(notes, key=lambda n: (n.start, n.pitch, n.end))


def _check_chunks(raw):
    """Raise on a file whose chunks overrun its end (music21 would read a
    truncated track without complaint)."""
    if raw[:4] != b"MThd" or len(raw) < 14:
        raise ValueError("no MIDI header (MThd)")
    declared, found, pos = int.from_bytes(raw[10:12], "big"), 0, 0
    while pos < len(raw):
        length = int.from_bytes(raw[pos + 4 : pos + 8], "big")
        if pos + 8 + length > len(raw):
            raise ValueError(f"truncated: the chunk at byte {pos} declares {length} bytes, "
                             f"{len(raw) - pos - 8} remain")
        found += raw[pos : pos + 4] == b"MTrk"
        pos += 8 + length
    if found != declared:
        raise ValueError(f"the header declares {declared} tracks, the file holds {found}")


def _tick_clock(mf, timed):
    """tick -> seconds under the file's tempo map (120 bpm until the first)."""
    from music21 import midi

    if mf.ticksPerSecond:
        return lambda tick: tick / mf.ticksPerSecond
    def elapsed(change, tick):
        t0, s0, tempo = change  # from tick t0 (s0 seconds) on, tempo us per quarter
        return s0 + (tick - t0) * tempo / 1e6 / mf.ticksPerQuarterNote

    changes = [(0, 0.0, 500000)]
    for tick, _, _, event in timed:
        if event.type == midi.MetaEvents.SET_TEMPO and len(event.data) == 3:
            changes.append((tick, elapsed(changes[-1], tick), int.from_bytes(event.data, "big")))
    ticks = np.array([c[0] for c in changes])

    def seconds(tick):
        return elapsed(changes[int(np.searchsorted(ticks, tick, side="right")) - 1], tick)

    return seconds


def write_midi(notes, path=None):
    """A format-0 MIDI file of notes, at 1 ms per tick.

    Args:
        notes: list of `Note`.
        path: str or `None`. Where to write the file too. Defaults to
            `None`, nowhere.

    Returns:
        bytes, the file.
    """
    from music21 import midi

    track = midi.MidiTrack(1)
    tempo = _meta_event(midi.MetaEvents.SET_TEMPO, (500000).to_bytes(3, "big"))
    track.events = [midi.DeltaTime(time=0), tempo]
    timeline = []  # (tick, is_on, pitch, velocity): offs sort before ons
    for n in notes:
        timeline.append((round(n.start * 1000), 1, n.pitch, n.velocity))
        timeline.append((round(n.end * 1000), 0, n.pitch, 0))
    tick = 0
    for at, is_on, pitch, velocity in sorted(timeline):
        kind = midi.ChannelVoiceMessages.NOTE_ON if is_on else midi.ChannelVoiceMessages.NOTE_OFF
        event = midi.MidiEvent(type=kind, channel=1)
        event.pitch, event.velocity = pitch, velocity
        track.events += [midi.DeltaTime(time=at - tick), event]
        tick = at
    track.events += [midi.DeltaTime(time=0), _meta_event(midi.MetaEvents.END_OF_TRACK, b"")]
    track.updateEvents()
    mf = midi.MidiFile()
    mf.format, mf.ticksPerQuarterNote = 0, 500  # 500 ticks per 0.5 s quarter = 1 ms
    mf.tracks.append(track)
    raw = mf.writestr()
    if path is not None:
        with open(path, "wb") as f:
            f.write(raw)
    return raw


def _meta_event(kind, data):
    from music21 import midi

    event = midi.MidiEvent(type=kind, channel=1)
    event.data = data
    return event


def _name(source):
    return "The given data" if isinstance(source, (bytes, bytearray)) else repr(source)


# --- notes <-> performance events ----------------------------------------------


def notes_to_events(notes):
    """Notes -> int32 event ids of the 388-token vocabulary (see module).

    Args:
        notes: iterable of `Note`. Pitches 0..127, velocities 1..127, times
            in seconds.

    Returns:
        An int32 array of event ids.
    """
    timeline = []  # (step, is_on, pitch, velocity bin)
    for n in notes:
        if not 0 <= n.pitch < NUM_PITCHES or not 0 < n.velocity < 128:
            raise ValueError(f"{n} has a pitch or velocity outside MIDI's 0..127 / 1..127")
        start = int(round(n.start * STEPS_PER_SECOND))
        end = max(int(round(n.end * STEPS_PER_SECOND)), start + 1)
        timeline.append((start, 1, n.pitch, n.velocity // 4))
        timeline.append((end, 0, n.pitch, 0))
    events, now, velocity = [], 0, None
    for step, is_on, pitch, bin_ in sorted(timeline):
        while step > now:
            shift = min(step - now, MAX_SHIFT_STEPS)
            events.append(TIME_SHIFT + shift - 1)
            now += shift
        if is_on:
            if bin_ != velocity:
                events.append(SET_VELOCITY + bin_)
                velocity = bin_
            events.append(NOTE_ON + pitch)
        else:
            events.append(NOTE_OFF + pitch)
    return np.asarray(events, np.int32)


def events_to_notes(events):
    """Event ids -> notes (the inverse of `notes_to_events` up to its 10 ms
    grid and velocity bins; a bin decodes to its centre `4 * bin + 2`).

    Ill-formed sequences, as a model may sample them, decode leniently: a
    NOTE_OFF with no sounding note is ignored, a note never turned off ends
    at the last event, NOTE_ONs before any SET_VELOCITY use velocity 64.

    Args:
        events: array of int. Event ids of the 388-token vocabulary.

    Returns:
        A list of `Note`, ordered by start time.
    """
    events = np.asarray(events)
    if events.size and (events.min() < 0 or events.max() >= VOCAB_SIZE):
        raise ValueError(f"Event ids must lie in [0, {VOCAB_SIZE}), got "
                         f"[{events.min()}, {events.max()}]")
    now, velocity = 0, 64
    sounding = collections.defaultdict(collections.deque)
    notes = []
    for e in events.tolist():
        if e < NOTE_OFF:
            sounding[e].append((now, velocity))
        elif e < TIME_SHIFT:
            if sounding[e - NOTE_OFF]:
                start, v = sounding[e - NOTE_OFF].popleft()
                notes.append(Note(e - NOTE_OFF, v, start / STEPS_PER_SECOND,
                                  now / STEPS_PER_SECOND))
        elif e < SET_VELOCITY:
            now += e - TIME_SHIFT + 1
        else:
            velocity = 4 * (e - SET_VELOCITY) + 2
    for pitch, starts in sounding.items():
        notes.extend(Note(pitch, v, s / STEPS_PER_SECOND, now / STEPS_PER_SECOND)
                     for s, v in starts)
    return sorted(notes, key=lambda n: (n.start, n.pitch, n.end))


# --- corpora ---------------------------------------------------------------------


def _stream(pieces, name, what, skipped, total):
    warn_skipped(skipped, total, what, stacklevel=4)
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        raise FileNotFoundError(f"None of the {total} {what} is usable")
    return TextCorpus(name, np.concatenate(pieces).astype(np.int16), VOCAB_SIZE)


def load_midi_folder(path, name=None):
    """Every MIDI file under `path` as one event stream (see module).

    Files that cannot be read or hold no notes are skipped with one warning
    that counts them.

    Args:
        path: str. A folder, searched recursively for `.mid`/`.midi` files.
        name: str or `None`. The corpus' name. Defaults to `None`, the last
            part of `path`.

    Returns:
        A `TextCorpus` of event ids (vocabulary 388).

    Raises:
        FileNotFoundError: the folder holds no usable MIDI file.
    """
    files = sorted(
        f for f in glob.glob(os.path.join(path, "**", "*"), recursive=True)
        if f.lower().endswith(MIDI_SUFFIXES)
    )
    if not files:
        raise FileNotFoundError(f"No {'/'.join(MIDI_SUFFIXES)} files under {path!r}")
    pieces, skipped = [], []
    for i in np.random.default_rng(0).permutation(len(files)):
        try:
            notes = read_midi(files[i])
        except ValueError as err:
            skipped.append(f"{files[i]} ({err})")
            continue
        if not notes:
            skipped.append(f"{files[i]} (no notes)")
            continue
        pieces.append(notes_to_events(notes))
    return _stream(pieces, name or os.path.basename(os.path.normpath(path)),
                   f"MIDI files under {path!r}", skipped, len(files))


def music21_corpus_paths(composers=("bach",)):
    """Paths of the scores in music21's bundled corpus by some composers.

    Args:
        composers: tuple of str or `None`. The corpus' top-level folder
            names (`"bach"`, `"palestrina"`, ...); `None` for all. Defaults
            to `("bach",)`.

    Returns:
        list of str, sorted.

    Raises:
        ValueError: a composer is not in the corpus.
    """
    from music21 import common, corpus

    root = common.getCorpusFilePath()
    paths = sorted(str(p) for p in corpus.getPaths())
    if composers is None:
        return paths
    known = sorted({os.path.relpath(p, root).split(os.sep)[0] for p in paths})
    unknown = sorted(set(composers) - set(known))
    if unknown:
        raise ValueError(f"Unknown music21 corpus composers {unknown}; accepted values: {known}")
    return [p for p in paths if os.path.relpath(p, root).split(os.sep)[0] in composers]


def score_to_notes(path):
    """The notes of a score, rendered to MIDI by music21 and read back.

    Args:
        path: str. A score music21 can parse (MusicXML, Humdrum, ABC, ...).

    Returns:
        list of `Note`.
    """
    from music21 import converter, midi

    score = converter.parse(path)
    return read_midi(midi.translate.streamToMidiFile(score).writestr())


def load_music21_corpus(composers=("bach",), max_pieces=None, cache_dir=None):
    """Music21's bundled scores by `composers` as one event stream (see
    module), in a fixed shuffled order (seed 0).

    Rendering is slow (about 0.3 s a score), so the stream is cached as
    `.npy` under `cache_dir` (default `~/.keras/datasets`), keyed by the
    music21 version and the file list. Scores music21 cannot parse or render
    are skipped with one counted warning.

    Args:
        composers: tuple of str. Composer folders of music21's corpus.
            Defaults to `("bach",)`.
        max_pieces: int or `None`. At most this many scores. Defaults to
            `None`, all of them.
        cache_dir: str or `None`. Where the stream is cached. Defaults to
            `None`, `~/.keras/datasets`.

    Returns:
        A 388-symbol `TextCorpus` of event ids.
    """
    import music21

    check_int("max_pieces", max_pieces, allow_none=True)
    paths = music21_corpus_paths(composers)
    order = np.random.default_rng(0).permutation(len(paths))
    paths = [paths[i] for i in order[:max_pieces]]
    name = "music21-" + ("all" if composers is None else "+".join(composers))
    cache_dir = cache_dir or os.path.join(os.path.expanduser("~"), ".keras", "datasets")
    key = hashlib.sha1("\n".join([music21.__version__, *paths]).encode()).hexdigest()[:16]
    cache = os.path.join(cache_dir, f"{name}-{key}.npy")
    if os.path.exists(cache):
        return TextCorpus(name, np.load(cache), VOCAB_SIZE)
    pieces, skipped = [], []
    for path in paths:
        try:
            notes = score_to_notes(path)
        except Exception as err:  # music21 parsers raise many kinds
            skipped.append(f"{os.path.basename(path)} ({type(err).__name__}: {err})")
            continue
        if not notes:
            skipped.append(f"{os.path.basename(path)} (no notes)")
            continue
        pieces.append(notes_to_events(notes))
    corpus = _stream(pieces, name, "music21 corpus scores", skipped, len(paths))
    os.makedirs(cache_dir, exist_ok=True)
    tmp = cache + f".tmp{os.getpid()}.npy"
    np.save(tmp, corpus.ids)
    os.replace(tmp, cache)
    return corpus
