"""LibriSpeech preparation from the real layout, and the Mini LibriSpeech download."""
from __future__ import annotations

import hashlib
import http.server
import subprocess
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechssl.corpora.download import download
from speechssl.corpora.librispeech import download_librispeech, prepare_librispeech
from speechssl.data.datadir import DataDir
from speechssl.utils.errors import SpeechSSLError

SPEAKERS = """; Some comment lines, as in the real file
;ID  |SEX| SUBSET           |MINUTES| NAME
19   | F | train-clean-5    | 25.19 | Kara Shallenberg
103  | M | train-clean-5    | 25.23 | Gary Gilbert
84   | F | dev-clean-2      |  8.02 | Christie Nowak
"""


def make_corpus(root: Path, layout: dict[str, dict[str, list[str]]]) -> Path:
    """Write a tiny LibriSpeech tree: {subset: {"spk-chapter": [transcripts]}}."""
    libri = root / "LibriSpeech"
    libri.mkdir(parents=True)
    (libri / "SPEAKERS.TXT").write_text(SPEAKERS)
    rng = np.random.default_rng(0)
    for subset, chapters in layout.items():
        for sc, texts in chapters.items():
            spk, chap = sc.split("-")
            d = libri / subset / spk / chap
            d.mkdir(parents=True)
            lines = []
            for i, t in enumerate(texts):
                utt = f"{spk}-{chap}-{i:04d}"
                sf.write(d / f"{utt}.flac", (0.1 * rng.standard_normal(1600)).astype(np.float32), 16000)
                lines.append(f"{utt} {t}")
            (d / f"{spk}-{chap}.trans.txt").write_text("\n".join(lines) + "\n")
            (d / f"{spk}-{chap}.phones.txt").write_text(
                "".join(f"{spk}-{chap}-{i:04d} h ə l oʊ\n" for i in range(len(texts))))
    return libri


def test_prepare_real_layout(tmp_path):
    make_corpus(tmp_path / "corpus", {
        "train-clean-5": {"19-198": ["HELLO WORLD", "IT'S ME"], "103-1240": ["A B C"]},
        "dev-clean-2": {"84-121123": ["GOOD DAY"]},
    })
    summary = prepare_librispeech(tmp_path / "corpus", ["train-clean-5", "dev-clean-2"], tmp_path / "data")
    assert summary["train_clean_5"]["utterances"] == 3 and summary["train_clean_5"]["speakers"] == 2
    d = DataDir.load(tmp_path / "data" / "train_clean_5")
    assert d.utts == ["103-1240-0000", "19-198-0000", "19-198-0001"]  # C order
    assert d.text["19-198-0001"] == "IT'S ME"
    assert d.utt2spk["19-198-0001"] == "19"
    assert d.spk2gender == {"103": "m", "19": "f"}
    assert d.extra["utt2phones"]["19-198-0000"] == "h ə l oʊ"
    assert Path(d.wav_scp["19-198-0000"]).is_file()
    spk2utt = (tmp_path / "data/train_clean_5/spk2utt").read_text().splitlines()
    assert spk2utt == ["103 103-1240-0000", "19 19-198-0000 19-198-0001"]
    assert (tmp_path / "data" / "dev_clean_2" / "wav.scp").is_file()


def test_missing_audio_dropped_and_counted(tmp_path, caplog):
    libri = make_corpus(tmp_path / "c", {"train-clean-5": {"19-198": ["ONE", "TWO"]}})
    (libri / "train-clean-5/19/198/19-198-0001.flac").unlink()
    summary = prepare_librispeech(tmp_path / "c", ["train-clean-5"], tmp_path / "data")
    assert summary["train_clean_5"]["no_audio"] == 1 and summary["train_clean_5"]["utterances"] == 1
    assert "19-198-0001.flac" in caplog.text


def test_bad_corpus_errors(tmp_path):
    with pytest.raises(SpeechSSLError, match="no LibriSpeech corpus here"):
        prepare_librispeech(tmp_path, ["train-clean-5"], tmp_path / "data")
    make_corpus(tmp_path / "c", {"train-clean-5": {"19-198": ["ONE"]}})
    with pytest.raises(SpeechSSLError, match="subset 'dev-clean-2' not found"):
        prepare_librispeech(tmp_path / "c", ["dev-clean-2"], tmp_path / "data")


def test_cli_skips_rerun_and_refuses_changed_corpus(tmp_path, recipe_env):
    libri = make_corpus(tmp_path / "c", {"train-clean-5": {"19-198": ["ONE", "TWO"]}})
    cmd = ["python", "-m", "speechssl.bin.prepare_librispeech", "--subsets", "train-clean-5",
           str(tmp_path / "c"), str(tmp_path / "data")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=recipe_env)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(cmd, capture_output=True, text=True, env=recipe_env)
    assert r.returncode == 0 and "skipping" in r.stderr
    (libri / "train-clean-5/19/198/19-198-0001.flac").unlink()
    r = subprocess.run(cmd, capture_output=True, text=True, env=recipe_env)
    assert r.returncode == 1 and "--redo true" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(cmd + ["--redo", "true"], capture_output=True, text=True, env=recipe_env)
    assert r.returncode == 0, r.stderr
    assert len((tmp_path / "data/train_clean_5/text").read_text().splitlines()) == 1


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with single-range support, as a resuming client needs."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])
        type(self).requests.append(rng)


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    RangeHandler.requests = []
    handler = lambda *a, **k: RangeHandler(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_resume_checksum_and_extract(tmp_path, http_root):
    root, url = http_root
    make_corpus(tmp_path / "src", {"dev-clean-2": {"84-121123": ["GOOD DAY", "NICE"]}})
    (root / "31").mkdir()
    archive = root / "31" / "dev-clean-2.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "LibriSpeech", arcname="LibriSpeech")
    blob = archive.read_bytes()
    md5 = hashlib.md5(blob).hexdigest()

    dest = tmp_path / "downloads"
    dest.mkdir()
    (dest / "dev-clean-2.tar.gz.part").write_bytes(blob[:100])  # an interrupted download
    libri = download_librispeech(dest, ["dev-clean-2"], base_url=url, md5={"dev-clean-2": md5})
    assert RangeHandler.requests == ["bytes=100-"]
    assert (dest / "dev-clean-2.tar.gz").read_bytes() == blob
    assert (libri / "dev-clean-2/84/121123/84-121123-0001.flac").is_file()

    download_librispeech(dest, ["dev-clean-2"], base_url=url, md5={"dev-clean-2": md5})
    assert len(RangeHandler.requests) == 1  # already extracted: nothing fetched

    with pytest.raises(SpeechSSLError, match="checksum mismatch"):
        download(f"{url}/31/dev-clean-2.tar.gz", tmp_path / "other.tar.gz", md5="0" * 32)
    assert not (tmp_path / "other.tar.gz.part").exists()
    with pytest.raises(SpeechSSLError, match="HTTP 404"):
        download(f"{url}/nope.tar.gz", tmp_path / "nope.tar.gz")
