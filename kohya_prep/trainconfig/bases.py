"""The checkpoint a LoRA is trained on: each family's default sampling, and named SDXL bases (`--base`).

A base changes what the model predicts (v-prediction) and how sample images are drawn (prompt prefix, negative
prompt, sampler, steps, CFG, sizes). Every number names its source: the model card, or sd-scripts' own code; where
neither names one, the reason says it is kohya-prep's choice.

Cards: Pony Diffusion V6 XL (civitai.com/models/257749), Illustrious-XL v0.1
(huggingface.co/OnomaAIResearch/Illustrious-xl-early-release-v0, quoted on civitaiarchive.com/models/894707),
NoobAI-XL V-Pred (huggingface.co/Laxhar/noobai-XL-Vpred-1.0; its diffusers recipe in
huggingface.co/Laxhar/noob_sdxl_v_pred_test sets prediction_type="v_prediction", rescale_betas_zero_snr=True).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kohya_prep.errors import ConfigError

SD_NEGATIVE = ("lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, cropped, "
               "worst quality, low quality, jpeg artifacts, signature, watermark, username, blurry")


@dataclass(frozen=True)
class SampleStyle:
    """How sample images are drawn: prompt prefix, negative prompt, sampler, steps, CFG and (FLUX) guidance."""

    prefix: str
    negative: str | None
    sampler: str  # sample_sampler: one of train_util.py's --sample_sampler choices
    steps: int
    scale: float  # --l: CFG scale
    guidance: float | None  # --g: FLUX's embedded guidance
    source: str  # where these numbers come from, written into sample_prompts.txt


@dataclass(frozen=True)
class Base:
    """A named SDXL checkpoint family and what training and sampling on it need."""

    name: str
    title: str
    settings: tuple[tuple[str, Any, str], ...]  # (option, value, why) for training.toml
    sample: SampleStyle
    notes: tuple[str, ...] = ()


FAMILY_STYLES = {
    "sd15": SampleStyle("", SD_NEGATIVE, "euler_a", 28, 7.0, None,
                        "kohya-prep's choice: Euler a, 28 steps, CFG 7, a common SD 1.5 negative prompt"),
    "sdxl": SampleStyle("", SD_NEGATIVE, "euler_a", 28, 7.0, None,
                        "kohya-prep's choice: Euler a, 28 steps, CFG 7, a common SD negative prompt"),
    # flux_train_utils.py: sample_image_inference: 20 steps, guidance 3.5 and CFG 1.0 are its defaults; at CFG 1.0
    # it ignores a negative prompt ("negative prompt is ignored because scale is 1.0"), so none is written.
    "flux": SampleStyle("", None, "euler", 20, 1.0, 3.5,
                        "sd-scripts' FLUX sampler defaults (flux_train_utils.py): 20 steps, guidance 3.5, CFG 1.0 "
                        "(a negative prompt is ignored at CFG 1.0); FLUX's sampler ignores sample_sampler"),
}

_VPRED = (
    ("v_parameterization", True, "the checkpoint predicts v, not noise: sd-scripts' --v_parameterization"),
    ("zero_terminal_snr", True, "v-pred SDXL anime checkpoints are trained with zero terminal SNR (NoobAI's recipe: "
                                "rescale_betas_zero_snr=True); sd-scripts fixes its noise schedule to match"),
)
_NOOB_NEGATIVE = ("bad hands, worst quality, low quality, bad quality, multiple views, 4koma, comic, jpeg artifacts, "
                  "monochrome, sepia, greyscale, flat color, pale color, muted color, low contrast, bad anatomy, "
                  "picture frame, english text, signature, watermark, logo, patreon username, web address, artist name")
_ILLUSTRIOUS_NEGATIVE = ("worst quality, bad quality, low quality, lowres, bad anatomy, bad hands, jpeg artifacts, "
                         "multiple views, twitter username, extra digits, fewer digits")
_CLIP_SKIP = ("The card asks for CLIP skip 2 at generation; sd-scripts' SDXL trainer does not apply clip_skip "
              "(sdxl_train_util.verify_sdxl_training_args warns 'clip_skip will be unexpected'), so none is written.")

BASES: dict[str, Base] = {b.name: b for b in (
    Base("pony", "Pony Diffusion V6 XL", (),
         SampleStyle("score_9, score_8_up, score_7_up, score_6_up, score_5_up, score_4_up", None, "euler_a", 25, 7.0,
                     None, "Pony Diffusion V6 XL card (civitai.com/models/257749): the score_9 ... score_4_up prefix, "
                     "no negative prompt needed, Euler a, 25 steps, 1024px; CFG 7 is kohya-prep's (the card names none)"),
         (_CLIP_SKIP,)),
    Base("illustrious", "Illustrious-XL", (),
         SampleStyle("masterpiece, best quality", _ILLUSTRIOUS_NEGATIVE, "euler_a", 28, 6.0, None,
                     "Illustrious-XL v0.1 card: Euler a, 20-28 steps (28 here), CFG 5-7.5 (6 here), its quality tags "
                     "and the negative prompt of its example")),
    Base("noobai", "NoobAI-XL (eps-prediction)", (),
         SampleStyle("masterpiece, best quality", _NOOB_NEGATIVE, "euler_a", 28, 6.0, None,
                     "NoobAI-XL continues Illustrious-XL: Illustrious' Euler a, 28 steps, CFG 6; the negative prompt "
                     "of NoobAI's own recipe (huggingface.co/Laxhar/noob_sdxl_v_pred_test)")),
    Base("noobai-vpred", "NoobAI-XL V-Pred", _VPRED,
         SampleStyle("best quality", _NOOB_NEGATIVE, "euler", 28, 5.0, None,
                     "NoobAI-XL V-Pred card: Euler only (other samplers do not work with v-pred), 28-35 steps "
                     "(28 here), CFG 4-5 (5 here); prompt, negative prompt and 832x1216 from its diffusers recipe")),
    Base("vpred", "an SDXL v-prediction checkpoint", _VPRED,
         SampleStyle("", SD_NEGATIVE, "euler", 28, 5.0, None,
                     "v-prediction: Euler (not ancestral), as v-pred checkpoint cards ask; 28 steps and CFG 5 are "
                     "kohya-prep's choice"),
         ("--base vpred assumes zero terminal SNR, as the NoobAI-derived v-pred checkpoints are trained; "
          "--set zero_terminal_snr=false for one trained without it.",)),
)}


def get_base(name: str | None, family: str) -> Base | None:
    """The named base (SDXL only), or None for the family's own defaults."""
    if name is None:
        return None
    if family != "sdxl":
        raise ConfigError(f"--base {name} is an SDXL checkpoint; use --family sdxl, or drop --base for {family}.")
    try:
        return BASES[name]
    except KeyError:
        raise ConfigError(f"unknown --base {name!r}; use one of {', '.join(BASES)}.") from None


def sample_style(family: str, base: Base | None) -> SampleStyle:
    """The sampling settings for sample_prompts.txt."""
    return base.sample if base is not None else FAMILY_STYLES[family]
