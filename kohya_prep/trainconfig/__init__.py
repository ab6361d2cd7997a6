"""train-config: sd-scripts dataset TOML, training-arguments TOML, sample prompts and launch scripts, fitted to a GPU.

Pure: families, bases (--base), argtable (the scripts' option/type table), cards, fit, dataset_toml, plan (merge,
checks, steps preview via kohya_prep.sdscripts.steps) with extra_rules, lr_scale (the steps policy) and validation,
samples and prompt_syntax (sample_prompts.txt), paths, files (the text of each file). Adapters: source (any dataset,
read with `dataset check`'s code), presets (templates), resume (saved states), target_gpu (doctor's probe), install
(doctor's locator), preflight, writer. `run` ties them.
"""
