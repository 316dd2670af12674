"""speechssl: self-supervised speech models where labels are scarce.

Install for development with ``tools/install.sh`` (which pins every
dependency in tools/requirements.txt), or by hand with ``pip install -e .``.
"""
from setuptools import find_packages, setup

setup(
    name="speechssl",
    version="0.1.0",
    description="Unsupervised speech recognition and SSL speech tooling with Kaldi-style recipes",
    packages=find_packages(include=["speechssl", "speechssl.*"]),
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.4",
        "numpy>=2",
        "soundfile>=0.12",
        "pyyaml>=6",
        "kaldiio>=2.18",
        "tqdm>=4.60",
    ],
    extras_require={
        "audio": ["torchaudio>=2.4", "scipy>=1.10", "webrtcvad-wheels>=2.0.14", "silero-vad>=5"],
        "text": ["phonemizer>=3.2", "sentencepiece>=0.2", "kenlm>=0.2", "epitran>=1.30"],
        "uasr": ["faiss-cpu>=1.8", "editdistance>=0.8"],
        "plot": ["matplotlib>=3.8", "tensorboard>=2.15"],
        "test": ["pytest>=8"],
    },
    entry_points={"console_scripts": []},
)
