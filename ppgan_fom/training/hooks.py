"""Trainer hooks: work done every N steps besides the optimisation itself."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Optional

from .dataset import VideoSet, split_dir

logger = logging.getLogger(__name__)

__all__ = ["held_out_evaluation"]


def held_out_evaluation(data_root: str, output: Path, image_size: int, every: int,
                        max_videos: Optional[int] = None,
                        max_frames: Optional[int] = None) -> Callable:
    """A hook that measures the held-out reconstruction L1 on ``ROOT/test`` every ``every``
    steps and appends it to ``OUTPUT/eval.csv`` (``step, l1, frames``)."""
    from .evaluator import Evaluator, FommReconstructor
    from .logger import CsvLog

    test = VideoSet(split_dir(data_root, "test"), image_size)
    ev = Evaluator(test, batch_size=16, max_videos=max_videos, max_frames=max_frames,
                   preload=True)
    state = {"log": None}

    def hook(trainer, step: int, losses: dict) -> None:
        if step % every:
            return
        if state["log"] is None:
            state["log"] = CsvLog(Path(output) / "eval.csv", ["step", "l1", "frames"],
                                  resume_step=step - 1 if trainer.resumed else None)
        report = ev.run(FommReconstructor(trainer.generator, trainer.kp_detector))
        state["log"].write({"step": step, "l1": report.l1, "frames": report.frames})
        logger.info("step %d: held-out reconstruction L1 %.5f (%d frames)", step, report.l1,
                    report.frames)

    return hook
