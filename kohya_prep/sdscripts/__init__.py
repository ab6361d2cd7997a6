"""Facts about kohya-ss/sd-scripts that our output must match (see shared/reference/sd-scripts.md)."""
