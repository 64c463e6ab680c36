"""Features: images to the vectors the classic (non-deep) methods hash (pixels, GIST)."""
