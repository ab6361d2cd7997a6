"""Facts about kohya-ss/sd-scripts that our output must match, each module citing the sd-scripts file and function."""
