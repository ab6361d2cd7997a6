"""Loss masks: subsets whose images carry alpha, whether sd-scripts uses it, and how much of each image it masks
(library/train_util.py: load_image with alpha_mask; library/custom_train_functions.py: apply_masked_loss)."""

from __future__ import annotations

from pathlib import Path

from kohya_prep.check.findings import Finding, info
from kohya_prep.check.layout import few
from kohya_prep.check.scan import ScannedSubset


def masked_share(path: Path) -> float | None:
    """The share of an image's loss weight its alpha takes away: mean of 1 - alpha / 255 (None: unreadable)."""
    import numpy as np
    from PIL import Image

    try:
        with Image.open(path) as image:
            alpha = np.asarray(image.convert("RGBA").getchannel("A"), dtype=np.float64)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return float(1.0 - alpha.mean() / 255.0)


def mask_findings(subset: ScannedSubset) -> list[Finding]:
    """A fact per subset holding images with alpha: its mean masked share with alpha_mask, or that it is dropped."""
    with_alpha = [image for image in subset.images if image.alpha and image.size is not None and not image.truncated]
    if not with_alpha:
        return []
    folder = subset.config.image_dir
    if not subset.config.alpha_mask:
        return [info("alpha-unused", folder,
                     f"{len(with_alpha)} image(s) have an alpha channel ({few([i.path for i in with_alpha])}), but "
                     "alpha_mask is off: sd-scripts drops the alpha and trains on every pixel",
                     "set alpha_mask = true on this subset in the dataset config to train with the mask")]
    shares = [share for share in (masked_share(image.path) for image in with_alpha) if share is not None]
    mean = sum(shares) / len(subset.images)
    return [info("masked-subset", folder,
                 f"masked subset (alpha_mask): {len(with_alpha)} of {len(subset.images)} image(s) carry a loss mask; "
                 f"mean masked share {mean:.1%} (the share of each image's pixels that teaches nothing)")]
