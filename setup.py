"""Package discovery; everything else is in pyproject.toml.

pyproject.toml cannot combine `find` with the one mapped package: the presets live in templates/ at the top of
the checkout and ship as kohya_prep.templates. Every package under kohya_prep/ is found, so a new one cannot be
left out of the wheel (tests/test_packaging.py builds the wheel and runs it).
"""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["kohya_prep", "kohya_prep.*"]), "kohya_prep.templates"])
