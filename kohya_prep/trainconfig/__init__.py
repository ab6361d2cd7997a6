"""train-config: sd-scripts dataset TOML, training-arguments TOML and launch scripts, fitted to a GPU.

Pure modules (families, argtable, dataset_toml, fit, render, plan, steps preview) know nothing of disk or click;
`scan` reads the built dataset, `writer` writes the files, `presets` reads the templates.
"""
