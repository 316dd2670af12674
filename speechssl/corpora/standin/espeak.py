"""espeak-ng through its C library (libespeak-ng), with phone and word events.

The library reports, for every phone it speaks, the sample at which the phone
starts and its IPA symbol, and for every word the character position of the
word in the input text.  Pauses, and the glide that links a vowel to a
following vowel, are phones with an empty IPA symbol (see ``align``).

libespeak-ng keeps state between two syntheses (pitch flutter, a libc random
generator): the same text twice in one process gives different samples.  To
be deterministic, :class:`EspeakEngine` initialises the library once and
synthesizes every utterance in a forked child of that process, so each
utterance starts from the same freshly initialised state.  The child also
seeds libc's generator (``srand``) from the utterance's text, voice, pitch and
rate: voices with breath noise (e.g. the ``f3`` variant) draw it from
``rand()``, whose state a child inherits from its parent, and anything in the
parent that calls ``rand()`` would otherwise change their samples (it did:
one chapter of a stand-in corpus differed between two syntheses).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechssl.utils.errors import SpeechSSLError

# Constants of speak_lib.h (espeak-ng 1.51).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_INIT_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_IPA_UNDERSCORE_SEPARATED = 0x02 | (ord("_") << 8)


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class WordEvent:
    """A word starts at ``sample``; ``text_position`` is its 0-based character offset in the input."""

    sample: int
    text_position: int


@dataclass(frozen=True)
class PhoneEvent:
    """A phone (IPA; ``""`` for a pause or a linking glide) starts at ``sample``."""

    sample: int
    phone: str


@dataclass
class Synthesis:
    """Audio (int16, at ``sample_rate``), the events of one utterance in order, and
    the pronunciation of each requested word said on its own (IPA phones)."""

    samples: np.ndarray
    sample_rate: int
    events: list[WordEvent | PhoneEvent]
    word_prons: list[list[str]]


_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


class EspeakEngine:
    """libespeak-ng loaded into this process; one forked child per utterance."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            self._lib = ctypes.CDLL(name)
        except OSError as e:
            raise SpeechSSLError(f"cannot load the espeak-ng library ({e}); install it with "
                                 "`apt-get install espeak-ng` (Debian package libespeak-ng1)") from None
        rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None,
                                           _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT)
        if rate <= 0:
            raise SpeechSSLError("espeak_Initialize failed; check that espeak-ng-data is installed "
                                 "(`espeak-ng --voices=en` must list voices)")
        self.sample_rate = rate
        self._lib.espeak_Info.restype = ctypes.c_char_p
        self._lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        data_path = ctypes.c_char_p()
        self.version = self._lib.espeak_Info(ctypes.byref(data_path)).decode()
        self.data_path = Path(data_path.value.decode())
        self._chunks: list[np.ndarray] = []
        self._events: list[WordEvent | PhoneEvent] = []
        self._callback = _Callback(self._on_audio)  # kept alive as long as the engine
        self._lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav, num_samples, events) -> int:
        if num_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            e = events[i]
            if e.type == _EVENT_WORD:
                self._events.append(WordEvent(e.sample, e.text_position - 1))
            elif e.type == _EVENT_PHONEME:
                self._events.append(PhoneEvent(e.sample, e.id.string.decode("utf-8", errors="replace")))
            i += 1
        return 0

    def resolve_accent(self, accent: str) -> str:
        """The espeak-ng voice name (e.g. ``gmw/en-US``) of a language code such as ``en-us``.

        The voice is the file under ``espeak-ng-data/lang`` that lists the code
        in a ``language`` line with the best (lowest) priority.
        """
        best: tuple[int, str] | None = None
        lang_dir = self.data_path / "lang"
        for path in sorted(p for p in lang_dir.rglob("*") if p.is_file()):
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "language" and parts[1].lower() == accent.lower():
                    priority = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 5
                    name = str(path.relative_to(lang_dir))
                    if best is None or priority < best[0]:
                        best = (priority, name)
        if best is None or not self._run_child(lambda: self._lib.espeak_SetVoiceByName(best[1].encode()) == 0):
            raise SpeechSSLError(f"espeak-ng {self.version} has no voice for the accent {accent!r}; English ones are "
                                 "listed by `espeak-ng --voices=en` (e.g. en-us, en-gb, en-gb-scotland, en-us-nyc)")
        return best[1]

    def variant_gender(self, variant: str) -> str:
        """``"M"`` or ``"F"`` from the ``gender`` line of an espeak-ng voice variant file."""
        path = self.data_path / "voices" / "!v" / variant
        if not path.is_file():
            raise SpeechSSLError(f"espeak-ng has no voice variant {variant!r} (no file {path}); list them with "
                                 "`espeak-ng --voices=variant`")
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "gender" and parts[1] in ("male", "female"):
                return "M" if parts[1] == "male" else "F"
        raise SpeechSSLError(f"{path}: the variant {variant!r} gives no gender, so SPEAKERS.TXT cannot list its sex; "
                             "use m1..m8 or f1..f5")

    def _pronounce(self, word: str) -> list[str]:
        """IPA phones of ``word`` said on its own with the current voice (stress marks removed)."""
        text = ctypes.c_char_p(word.encode("utf-8"))
        ptr = ctypes.pointer(text)
        phones: list[str] = []
        while ptr.contents.value:
            out = self._lib.espeak_TextToPhonemes(ptr, _CHARS_UTF8, _IPA_UNDERSCORE_SEPARATED)
            for chunk in out.decode("utf-8", errors="replace").replace(" ", "_").split("_"):
                chunk = chunk.replace("ˈ", "").replace("ˌ", "")
                if chunk:
                    phones.append(chunk)
        return phones

    def synthesize(self, text: str, voice: str, pitch: int, rate: int, words: list[str] = ()) -> Synthesis:
        """Speak ``text`` with ``voice`` (``accent+variant``), pitch 0-99 and rate in words per minute.

        ``words`` are also pronounced one by one with the same voice (no audio).
        """

        seed = zlib.crc32(f"{voice} {pitch} {rate} {text}".encode("utf-8"))

        def work() -> Synthesis:
            _LIBC.srand(seed)  # breath noise comes from libc's rand(): the same for the same utterance
            # the library has one callback per process: another engine made later in this process would
            # otherwise receive (or, once garbage-collected, crash on) this engine's audio
            self._lib.espeak_SetSynthCallback(self._callback)
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise SpeechSSLError(f"espeak-ng has no voice {voice!r}; list them with `espeak-ng --voices=en` "
                                     "and `espeak-ng --voices=variant`")
            self._lib.espeak_SetParameter(_PARAM_RATE, rate, 0)
            self._lib.espeak_SetParameter(_PARAM_PITCH, pitch, 0)
            data = text.encode("utf-8") + b"\0"
            rc = self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            if rc != 0 or self._lib.espeak_Synchronize() != 0:
                raise SpeechSSLError(f"espeak-ng failed (code {rc}) on {text!r} with voice {voice}")
            samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            prons = [self._pronounce(w) for w in words]
            return Synthesis(samples.astype(np.int16), self.sample_rate, self._events, prons)

        return self._run_child(work)

    @staticmethod
    def _run_child(work):
        """Run ``work()`` in a forked child and return its (pickled) result or re-raise its error."""
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: never return into the caller's code
            status = 0
            try:
                os.close(read_fd)
                try:
                    payload = pickle.dumps((True, work()))
                except BaseException as e:  # noqa: BLE001 - passed to the parent and raised there
                    payload = pickle.dumps((False, e if isinstance(e, SpeechSSLError) else RuntimeError(repr(e))))
                with os.fdopen(write_fd, "wb") as f:
                    f.write(payload)
            except BaseException:  # noqa: BLE001
                status = 1
            finally:
                os._exit(status)
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as f:
            payload = f.read()
        _, status = os.waitpid(pid, 0)
        if not payload or status != 0:
            raise SpeechSSLError(f"the espeak-ng child process died (wait status {status}); "
                                 "check that `espeak-ng -v en-us \"test\"` works")
        ok, result = pickle.loads(payload)
        if not ok:
            raise result
        return result
