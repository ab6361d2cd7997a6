"""`kohya-prep doctor`: find, check and repair the kohya_ss / sd-scripts training environment.

Each module probes one thing (install, submodule, GPUs, the kohya venv, accelerate, the system) and
turns what it saw into CheckResult rows; report.py runs them all and renders the table or JSON.
"""
