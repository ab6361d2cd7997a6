"""Commented presets for `kohya-prep train-config`, one TOML per model family (installed as kohya_prep.templates)."""
