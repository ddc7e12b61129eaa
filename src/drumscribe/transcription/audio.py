"""Decoding: any audio soundfile reads (and AAC/M4A through PyAV) -> float32 mono in ±1 at the model's sample rate.

libsndfile (soundfile) reads WAV, FLAC, OGG/Opus, MP3, AIFF and friends. What phones record
(AAC in .m4a/.mp4/.aac) it does not: those are decoded by FFmpeg (PyAV, whose wheels ship it)
into a temporary float file on disk, which is then read like any other, chunk by chunk.

Sources: a path, ``bytes``, a binary file object, or a numpy array with its ``sample_rate``.
Multichannel audio is mixed to mono (mean of the channels) and resampled with
``resample.resample_poly`` (scipy's resample_poly in numpy; exact rational factor from the gcd of the two rates).

Long files are never decoded whole: :func:`chunks` reads overlapping windows with
``SoundFile.seek`` so memory depends on the chunk length, not on the file length. Every window
starts on a whole second, so its samples (at any integer rate) and its feature frames (at any
integer fps) line up exactly with those of the whole file; the margins around each window absorb
the edge effects of the resampling filter, the STFT window and the network's context.

Input rules (each violation is one ``InputError`` line naming the file):

* missing, empty (0 bytes), not audio, or no samples at all -> rejected;
* NaN or infinite samples -> rejected, not repaired: they only occur in corrupt float files, and a
  transcription of zeroed-out garbage would look valid while being wrong;
* float files that peak above 1.0 are scaled down to a peak of 1.0 (the features depend on level,
  and the model was trained on audio in ±1); integer PCM is always in ±1;
* truncated files (header promises more than the data holds) are decoded up to where they end;
* clips shorter than ``MIN_SECONDS`` are padded with silence; silence is valid (no events).
"""

from __future__ import annotations

import io
import math
import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Union

import numpy as np
import soundfile as sf
from drumscribe.transcription.resample import resample_poly  # numpy: scipy.signal costs ~0.9 s to import

from drumscribe.errors import InputError

Source = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO, np.ndarray]

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64",
     ".m4a", ".mp4", ".aac"}
)
FFMPEG_EXTENSIONS = frozenset({".m4a", ".mp4", ".aac"})  # decoded by PyAV (FFmpeg), not libsndfile
SUPPORTED_FORMATS = "WAV, FLAC, MP3, OGG/Vorbis, Opus, AIFF, CAF, W64/RF64 and AAC (.m4a, .mp4, .aac)"
# What a stored original may be re-encoded to FLAC from, bit for bit: FLAC holds 8, 16 and 24-bit integer PCM.
FLAC_SOURCE_FORMATS = frozenset({"WAV", "WAVEX", "RF64", "W64", "AIFF"})
FLAC_SOURCE_EXTENSIONS = frozenset({".wav", ".wave", ".rf64", ".w64", ".aif", ".aiff"})  # names those formats go by
FLAC_SUBTYPES = {"PCM_16": "PCM_16", "PCM_24": "PCM_24", "PCM_S8": "PCM_S8", "PCM_U8": "PCM_S8"}
FLAC_MAX_CHANNELS = 8
MIN_SAMPLE_RATE = 4000  # below this there is no drum content left to transcribe
MIN_SECONDS = 1.0  # shorter clips are padded with silence so every stage has enough frames
_FLOAT_SUBTYPES = {"FLOAT", "DOUBLE", "VORBIS", "OPUS", "MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III"}
_SCAN_BLOCK = 1 << 20  # frames per block when scanning a float file for its peak


@dataclass(frozen=True)
class AudioInfo:
    """What the file holds, before any conversion."""

    name: str
    sample_rate: int
    channels: int
    frames: int
    format: str = ""
    subtype: str = ""

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


@dataclass
class Audio:
    """A whole decoded signal: float32 mono in ±1 at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int
    source_sample_rate: int
    channels: int
    duration: float  # seconds of the source (before any padding)
    frames: int  # frames of the source, at source_sample_rate
    name: str = ""


@dataclass(frozen=True)
class Window:
    """One overlapping window of a long signal, in whole seconds.

    The window spans ``[start, stop)`` seconds of the source (``stop`` None: to the end) and is
    authoritative for ``[core_start, core_stop)`` (``core_stop`` None: to the end). Whole seconds
    make every rate and frame rate line up exactly with a whole-file run.
    """

    start: int
    stop: int | None
    core_start: int
    core_stop: int | None

    def source_range(self, sample_rate: int) -> tuple[int, int | None]:
        return self.start * sample_rate, None if self.stop is None else self.stop * sample_rate

    def core_rows(self, rows: np.ndarray, fps: int) -> np.ndarray:
        """The rows of a per-frame array (frame i at i/fps, computed on this window) in its core."""
        fps = int(round(fps))
        lo = (self.core_start - self.start) * fps
        hi = len(rows) if self.core_stop is None else (self.core_stop - self.start) * fps
        return rows[lo:hi]


@dataclass
class Chunk:
    """A window's audio: mono at the source rate and resampled to the target rate."""

    window: Window
    source: np.ndarray
    samples: np.ndarray
    sample_rate: int


def display_name(source: Source, name: str | None = None) -> str:
    if name:
        return str(name)
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, np.ndarray):
        return "<array>"
    return getattr(source, "name", None) if isinstance(getattr(source, "name", None), str) else "<bytes>"


def resample(signal: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling by the exact rational factor ``target/source`` (float32 out)."""
    if source_rate == target_rate:
        return np.asarray(signal, dtype=np.float32)
    g = gcd(int(source_rate), int(target_rate))
    out = resample_poly(np.asarray(signal, dtype=np.float32), int(target_rate) // g, int(source_rate) // g)
    return np.asarray(out, dtype=np.float32)


def resampled_length(frames: int, source_rate: int, target_rate: int) -> int:
    """Length ``resample`` returns for ``frames`` input samples."""
    g = gcd(int(source_rate), int(target_rate))
    up, down = int(target_rate) // g, int(source_rate) // g
    return -(-frames * up // down)


# libmpg123, inside libsndfile, prints resync notes ("Note: Illegal Audio-MPEG-Header ...") straight
# to file descriptor 2; a damaged MP3 then shows three lines of it before drumscribe's own one-line error.
_MPG123_NOISE = re.compile(r"^(Note|Warning): |.*(MPEG|mpg123)", re.IGNORECASE)
# fd 2 is one per process: threads decoding at the same time share one trap (the first one in sets
# it, the last one out restores fd 2), otherwise one could "restore" another's trap for good.
_trap_lock = threading.Lock()
_trap: dict = {"depth": 0, "saved": None, "file": None}


@contextmanager
def _quiet_mpg123(enabled: bool = True):
    """Swallow libmpg123's notes on fd 2 while an MP3 is opened or read; anything else is passed on."""
    if not enabled or not _enter_trap():
        yield
        return
    try:
        yield
    finally:
        _leave_trap()


def _enter_trap() -> bool:
    with _trap_lock:
        if _trap["depth"] == 0:
            try:
                sys.stderr.flush()
                saved = os.dup(2)
            except (OSError, ValueError):  # no fd 2 (embedded interpreters): nothing to protect
                return False
            trap = tempfile.TemporaryFile()
            os.dup2(trap.fileno(), 2)
            _trap.update(saved=saved, file=trap)
        _trap["depth"] += 1
        return True


def _leave_trap() -> None:
    with _trap_lock:
        _trap["depth"] -= 1
        if _trap["depth"]:
            return
        saved, trap = _trap["saved"], _trap["file"]
        os.dup2(saved, 2)
        os.close(saved)
        trap.seek(0)
        lines = trap.read().decode("utf-8", "replace").splitlines(keepends=True)
        trap.close()
        _trap.update(saved=None, file=None)
    other = "".join(line for line in lines if not _MPG123_NOISE.match(line))
    if other:  # another thread wrote to stderr meanwhile: give it back
        sys.stderr.write(other)


class AudioReader:
    """Random access to mono float32 frames of a source, with validation done up front.

    Use as a context manager. Opening checks that the source is audio with at least one sample,
    and (for float encodings) scans it once for NaN/inf and its peak level.
    """

    def __init__(self, source: Source, *, sample_rate: int | None = None, name: str | None = None):
        self.name = display_name(source, name)
        self._file: sf.SoundFile | None = None
        self._spool: BinaryIO | None = None  # FFmpeg's decoded float audio, for formats libsndfile lacks
        self._array: np.ndarray | None = None
        self.gain = 1.0
        if isinstance(source, np.ndarray):
            self.info = self._open_array(source, sample_rate)
        else:
            self.info = self._open_file(source)
        if self.info.frames <= 0:
            self.close()
            raise InputError(f"{self.name}: contains no audio samples")
        if self.info.sample_rate < MIN_SAMPLE_RATE:
            self.close()
            raise InputError(f"{self.name}: sample rate {self.info.sample_rate} Hz is too low (need at least {MIN_SAMPLE_RATE} Hz)")
        if self._array is not None or self.info.subtype in _FLOAT_SUBTYPES:
            self._scan_levels()

    # -- opening -------------------------------------------------------------------------------
    def _open_array(self, data: np.ndarray, sample_rate: int | None) -> AudioInfo:
        if not sample_rate or int(sample_rate) <= 0:
            # no default: a guessed rate would shift every onset and tempo without a word
            raise InputError(f"{self.name}: a numpy array does not say its sample rate",
                             hint="pass it: transcribe(samples, sample_rate=44100)")
        data = np.asarray(data)
        if data.ndim == 2 and data.shape[0] < data.shape[1] and data.shape[0] <= 8:
            data = data.T  # (channels, samples) -> (samples, channels)
        if data.ndim == 1:
            data = data[:, None]
        if data.ndim != 2 or not np.issubdtype(data.dtype, np.number):
            raise InputError(f"{self.name}: expected a 1-D or 2-D numeric array, got shape {data.shape} {data.dtype}")
        if np.issubdtype(data.dtype, np.integer):  # PCM integers -> ±1 like soundfile does
            data = data.astype(np.float32) / float(np.iinfo(data.dtype).max + 1)
        self._array = data
        return AudioInfo(self.name, int(sample_rate), int(data.shape[1]), int(data.shape[0]), "ARRAY", "FLOAT")

    def _open_file(self, source: Source) -> AudioInfo:
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            if not path.exists():
                from drumscribe.keys import s3_uri_meant

                meant = s3_uri_meant(str(source))
                if meant:
                    raise InputError(f"{self.name}: no such file; it looks like an S3 URI: did you mean {meant}?")
                raise InputError(f"{self.name}: no such file")
            if path.is_dir():
                raise InputError(f"{self.name}: is a folder, not an audio file")
            try:
                if path.stat().st_size == 0:
                    raise InputError(f"{self.name}: file is empty (0 bytes)")
            except OSError as exc:
                raise InputError(f"{self.name}: cannot read: {exc.strerror or exc}") from None
            target: object = str(path)
        elif isinstance(source, (bytes, bytearray, memoryview)):
            if len(source) == 0:
                raise InputError(f"{self.name}: file is empty (0 bytes)")
            target = io.BytesIO(bytes(source))
        else:
            target = source
        fmt = None
        try:
            with _quiet_mpg123():  # libsndfile picks the decoder from the content, not the name
                self._file = sf.SoundFile(target)
        except sf.LibsndfileError as exc:
            if hasattr(target, "seek"):
                target.seek(0)  # type: ignore[union-attr]
            fmt = self._open_with_ffmpeg(target)  # AAC/M4A and whatever else FFmpeg knows
            if fmt is None:
                raise InputError(f"{self.name}: not a readable audio file ({_reason(exc)})", hint=f"drumscribe reads {SUPPORTED_FORMATS}") from None
        except (OSError, RuntimeError, TypeError, ValueError) as exc:
            raise InputError(f"{self.name}: cannot read audio ({exc})") from None
        f = self._file
        assert f is not None
        return AudioInfo(self.name, int(f.samplerate), int(f.channels), max(int(f.frames), 0), fmt or f.format, f.subtype)

    def _open_with_ffmpeg(self, target: object) -> str | None:
        """Decode with FFmpeg into a temporary float file and open that; the format name, or None if FFmpeg cannot."""
        try:
            import av
        except ImportError:  # pragma: no cover - av is a dependency; a broken install only loses AAC
            return None
        spool = tempfile.TemporaryFile(prefix="drumscribe-decoded-")
        try:
            with av.open(target, mode="r") as container:  # type: ignore[arg-type]
                stream = next((st for st in container.streams if st.type == "audio"), None)
                if stream is None:
                    spool.close()
                    return None
                rate, channels = int(stream.codec_context.sample_rate), int(stream.codec_context.channels)
                resampler = av.AudioResampler(format="flt", layout=stream.codec_context.layout, rate=rate)
                with sf.SoundFile(spool, "w", samplerate=rate, channels=channels, format="W64", subtype="FLOAT") as out:
                    for frame in container.decode(stream):
                        for packed in resampler.resample(frame):
                            out.write(packed.to_ndarray().reshape(-1, channels))
                    for packed in resampler.resample(None):
                        out.write(packed.to_ndarray().reshape(-1, channels))
                fmt = f"{stream.codec_context.name.upper()} ({container.format.name.split(',')[0]})"
        except (av.FFmpegError, OSError, ValueError, sf.LibsndfileError):
            spool.close()
            return None
        spool.seek(0)
        self._spool = spool
        self._file = sf.SoundFile(spool)
        return fmt

    def _scan_levels(self) -> None:
        peak = 0.0
        for start in range(0, self.info.frames, _SCAN_BLOCK):
            block = self._read_raw(start, min(start + _SCAN_BLOCK, self.info.frames))
            if not np.isfinite(block).all():
                self.close()
                raise InputError(f"{self.name}: contains NaN or infinite samples (corrupt float audio)")
            if block.size:
                peak = max(peak, float(np.abs(block).max()))
        self.gain = 1.0 / peak if peak > 1.0 else 1.0

    # -- reading -------------------------------------------------------------------------------
    def _read_raw(self, start: int, stop: int) -> np.ndarray:
        if self._array is not None:
            return np.asarray(self._array[start:stop], dtype=np.float32)
        assert self._file is not None
        try:
            with _quiet_mpg123(self.info.subtype.startswith("MPEG")):
                self._file.seek(start)
                return self._file.read(stop - start, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise InputError(f"{self.name}: audio data is corrupt ({_reason(exc)})") from None

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Mono float32 frames ``[start, stop)`` at the source rate (fewer at a truncated end)."""
        stop = self.info.frames if stop is None else min(stop, self.info.frames)
        raw = self._read_raw(max(start, 0), stop)
        mono = raw.mean(axis=1, dtype=np.float32) if raw.shape[1] > 1 else raw[:, 0].copy()
        if not np.isfinite(mono).all():  # integer files cannot get here; float files were scanned
            raise InputError(f"{self.name}: contains NaN or infinite samples (corrupt float audio)")
        if self.gain != 1.0:
            mono *= np.float32(self.gain)
        return mono

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def __enter__(self) -> "AudioReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _reason(exc: Exception) -> str:
    text = str(exc)
    # libsndfile says "Error opening <repr of the file>: <reason>"; the file is named already
    reason = " ".join(text.split(": ", 1)[-1].split()).rstrip(".") or type(exc).__name__
    if "does not exist or is not a regular file" in reason:
        # what libsndfile says when its MP3 decoder rejects the bytes of a file we just opened
        reason = "format not recognised or file damaged"
    return reason


def probe(source: Source, *, sample_rate: int | None = None, name: str | None = None) -> AudioInfo:
    """Validate a source without decoding it for the model (raises ``InputError``)."""
    with AudioReader(source, sample_rate=sample_rate, name=name) as reader:
        return reader.info


def min_samples(sample_rate: int) -> int:
    return int(math.ceil(MIN_SECONDS * sample_rate))


def load(source: Source, target_rate: int, *, sample_rate: int | None = None, name: str | None = None) -> Audio:
    """Decode a whole (short) source to mono float32 at ``target_rate``; pads very short clips."""
    with AudioReader(source, sample_rate=sample_rate, name=name) as reader:
        info = reader.info
        mono = reader.read()
    samples = resample(mono, info.sample_rate, target_rate)
    if len(samples) < min_samples(target_rate):
        samples = np.pad(samples, (0, min_samples(target_rate) - len(samples)))
    frames = len(mono)
    return Audio(samples, target_rate, info.sample_rate, info.channels, frames / info.sample_rate, frames, info.name)


def windows(duration: float, *, chunk_seconds: int = 60, margin_seconds: int = 2) -> list[Window]:
    """Cores of ``chunk_seconds`` covering ``duration``, each read with ``margin_seconds`` each side."""
    chunk_seconds = max(1, int(chunk_seconds))
    margin_seconds = max(0, int(math.ceil(margin_seconds)))
    n = max(1, int(math.ceil(duration / chunk_seconds - 1e-9)))
    out = []
    for k in range(n):
        last = k == n - 1
        out.append(
            Window(
                start=max(0, k * chunk_seconds - margin_seconds),
                stop=None if last else (k + 1) * chunk_seconds + margin_seconds,
                core_start=k * chunk_seconds,
                core_stop=None if last else (k + 1) * chunk_seconds,
            )
        )
    return out


def read_window(reader: AudioReader, window: Window, target_rate: int) -> Chunk:
    sr = reader.info.sample_rate
    lo, hi = window.source_range(sr)
    source = reader.read(lo, hi)
    samples = resample(source, sr, target_rate)
    if window.start == 0 and len(samples) < min_samples(target_rate):
        samples = np.pad(samples, (0, min_samples(target_rate) - len(samples)))
    return Chunk(window, source, samples, target_rate)


def chunks(reader: AudioReader, target_rate: int, *, chunk_seconds: int = 60, margin_seconds: int = 2) -> Iterator[Chunk]:
    """Decoded, resampled overlapping chunks of a reader (see :class:`Window`)."""
    for window in windows(reader.info.duration, chunk_seconds=chunk_seconds, margin_seconds=margin_seconds):
        yield read_window(reader, window, target_rate)


def is_audio_name(name: str) -> bool:
    return Path(name).suffix.lower() in AUDIO_EXTENSIONS


def write_lossless_flac(source: str | os.PathLike, dest: str | os.PathLike, *, stop: Any = None) -> bool:
    """Re-encode an integer-PCM WAV/AIFF as FLAC at ``dest``, sample for sample; False if it is not one.

    FLAC is lossless: decoding gives back exactly the integer samples of the source (the tests
    check it), at about half the size for recorded music. Streamed in blocks, so memory does not
    grow with the length of the file. Anything else (float WAV, compressed formats) returns False.
    ``stop``: a ``threading.Event``; once set, the encoding stops between blocks (``InterruptedError``).
    """
    try:
        src = sf.SoundFile(str(source))
    except sf.LibsndfileError:
        return False  # a format only FFmpeg reads (AAC): stored as given
    with src:
        subtype = FLAC_SUBTYPES.get(src.subtype)
        if src.format not in FLAC_SOURCE_FORMATS or subtype is None or src.channels > FLAC_MAX_CHANNELS:
            return False
        try:
            # int32 holds every integer PCM width left-aligned, so the FLAC writer gets the exact samples back;
            # int16 does too for 8 and 16 bits, at a quarter of the conversion work (the same FLAC bytes)
            dtype = "int16" if subtype in ("PCM_16", "PCM_S8") else "int32"
            with sf.SoundFile(str(dest), "w", samplerate=src.samplerate, channels=src.channels, format="FLAC", subtype=subtype) as out:
                for block in src.blocks(blocksize=1 << 16, dtype=dtype, always_2d=True):
                    if stop is not None and stop.is_set():
                        raise InterruptedError(f"{source}: FLAC encoding stopped")
                    out.write(block)
        except sf.LibsndfileError as exc:
            raise InputError(f"{source}: cannot re-encode as FLAC ({_reason(exc)})") from None
    return True
