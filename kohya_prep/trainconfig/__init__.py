"""train-config: sd-scripts dataset TOML, training-arguments TOML and launch scripts, fitted to a GPU.

Pure: families, argtable (the scripts' option/type table), cards, fit, dataset_toml, render, plan (merge, checks,
steps preview via kohya_prep.sdscripts.steps), files (the text of each file). Adapters: presets (templates),
scan (the built dataset), gpu (doctor's probe), install (doctor's locator), preflight, writer. `run` ties them.
"""
