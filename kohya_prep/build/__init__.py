"""`kohya-prep dataset build`: a spec becomes a kohya-ready dataset, or pictures to review.

Flow (one stage per module, each taking the previous stage's value):
  spec (kohya_prep.spec) -> plan.py (pure: every file, its key) -> tree.py (the live tree against the plan)
  -> render.py / pixels.py (decode once, cut, letterbox, encode) -> stage.py (staged tree, atomic swap)
  -> manifest.py (what we wrote) -> report.py (text and JSON).
sources.py hashes the sources; run.py runs the stages for the final build, preview.py for the review pictures.
"""

from __future__ import annotations

from kohya_prep.build.run import BuildOptions, BuildResult, build_dataset

__all__ = ["BuildOptions", "BuildResult", "build_dataset"]
