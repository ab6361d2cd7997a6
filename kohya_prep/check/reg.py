"""Regularization: how many reg images sd-scripts will use, never use, or repeat extra
(library/train_util.py: the end of DreamBoothDataset.__init__)."""

from __future__ import annotations

from pathlib import PurePath

from kohya_prep.check.findings import Finding, info, warning
from kohya_prep.check.layout import few
from kohya_prep.sdscripts.steps import EpochPlan


def reg_findings(plan: EpochPlan, label: str) -> list[Finding]:
    """Reg balancing of one dataset, in sd-scripts' words and numbers."""
    reg = [p for p in plan.placements if p.is_reg]
    if not reg:
        return []
    found = [info("reg", label, f"{len(reg)} reg image(s), {plan.num_reg_images} reg samples with repeats, against "
                  f"{plan.num_train_images} training samples: sd-scripts uses {plan.reg_samples} reg samples per epoch, "
                  f"so an epoch holds {plan.samples_per_epoch} samples")]
    if plan.reg_unused:
        found.append(warning("reg-unused", label,
                             f"{len(plan.reg_unused)} of {len(reg)} reg image(s) are never used (sd-scripts keeps the first "
                             f"{len(reg) - len(plan.reg_unused)} in folder and name order, every epoch): {few(plan.reg_unused)}",
                             "remove the unused ones, or pick the reg subset you want deliberately (sd-scripts will not "
                             "sample it); more training repeats also use more reg images"))
    order = list(dict.fromkeys(str(PurePath(p.path).parent) for p in reg))
    if len(order) > 1 and (plan.reg_unused or plan.reg_extra_repeats):
        found.append(info("reg-order", label, "sd-scripts fills reg samples subset by subset in the order the file "
                          "system lists the folders (Path.iterdir(), not sorted), here "
                          f"{', '.join(PurePath(o).name for o in order)}: which reg images are used (and so the buckets "
                          "and batches) can differ on another disk or machine", "keep one reg folder, or give each "
                          "reg folder a share you are happy to lose"))
    if plan.reg_extra_repeats:
        most = max(p.num_repeats for p in reg)
        found.append(info("reg-repeated", label,
                          f"too few reg images: sd-scripts adds {plan.reg_extra_repeats} extra repeat(s) round-robin, "
                          f"so each reg image is seen up to {most} time(s) per epoch",
                          "add reg images if they should not repeat this often"))
    return found
