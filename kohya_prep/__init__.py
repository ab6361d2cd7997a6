"""kohya-prep: from raw character art to a kohya-ss/sd-scripts LoRA run that starts as written."""

__version__ = "0.1.0"
