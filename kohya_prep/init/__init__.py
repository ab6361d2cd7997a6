"""`kohya-prep dataset init` and `dataset adopt`: a spec from the art, and captions edited outside taken back.

The figure detector is pure (pixels in, boxes out): background.py -> panels.py -> lines.py -> grouping.py ->
detect.py, on the vocabulary of shapes.py. init runs inputs.py (what was given) -> propose.py (sheets.py for each
image, kohya.py for a kohya dataset) -> specfile.py (the TOML document, tomlkit) -> run.py; report.py renders.
adopt.py takes edited captions back into a spec.
"""
