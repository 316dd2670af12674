"""Audio: reading wav.scp entries, voice activity detection, features."""
