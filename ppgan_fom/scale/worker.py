"""The worker of a folder run: one per Ray actor, holding the loaded models.

The class is plain Python (the driver wraps it with ``ray.remote``), so it also runs in
one process. Every method returns a result dict and never raises: a video's failure is
its own (``{"kind": "error", "error": "<one line>"}``) and the worker goes on with the
next one. The worker logs with :mod:`logging` to its process's stderr, which Ray keeps in
its session logs (``/tmp/ray/session_latest/logs/worker-*.err`` on each node).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..anonymize import (AnonymizeOptions, FaceAnonymizer, anonymize_voice_only,
                         assign_targets)
from ..errors import FomError, InputError
from ..media import VIDEO_SUFFIXES, ensure_writable_output, frame_times, probe_video
from ..media.audio import check_audio_decodes
from ..progress import ENV_PROGRESS
from .chunks import SplitError, VideoPlan, render_chunk
from .join import join_chunks, keeps_audio, time_origin
from .planning import PARTS_DIR, VideoJob, chunk_ranges, plan_digest

logger = logging.getLogger(__name__)

__all__ = ["AnonymizeWorker", "error_line"]


def error_line(exc: BaseException) -> str:
    """The one-line message of a failure (the command lines' wording)."""
    if isinstance(exc, FomError):
        return " | ".join(ln.strip() for ln in str(exc).splitlines() if ln.strip())
    if isinstance(exc, MemoryError):
        return "out of memory; try a smaller --batch_size or fewer workers per machine"
    detail = " ".join(str(exc).split())[:300] or "no message"
    return f"unexpected {type(exc).__name__}: {detail} (this is a bug; see the worker log)"


class AnonymizeWorker:
    """Loads the FOMM, the face detector and the target faces once, then anonymizes
    whole videos, plans long ones (pass 1), renders their chunks and joins them.

    Args:
        options: the run's options (``animate.threads`` is this worker's CPU threads).
        target_faces: the target face images (read by the worker: same path everywhere).
        voice_only: ``--voice_only``: no face model is loaded.
        log_level: logging level of the worker's log.
    """

    def __init__(self, options: AnonymizeOptions, target_faces: Sequence[str],
                 voice_only: bool = False, log_level: int = logging.INFO) -> None:
        logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: "
                                                     "%(message)s", force=True)
        os.environ[ENV_PROGRESS] = "0"  # the driver shows the one progress bar
        self.options = options
        self.target_paths = [str(t) for t in target_faces]
        self.voice_only = voice_only
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.anonymizer: Optional[FaceAnonymizer] = None
        self.targets: List[Any] = []
        self.startup_error: Optional[Dict[str, str]] = None
        try:
            if not voice_only:
                self.anonymizer = FaceAnonymizer(options)
                self.targets = self.anonymizer.prepare_targets(self.target_paths)
        except Exception as exc:  # reported by ready(): the driver stops the run
            logger.error("worker %s cannot start: %s", self.name, error_line(exc))
            self.startup_error = {"type": type(exc).__name__, "error": error_line(exc)}
        else:
            logger.info("worker %s ready", self.name)

    # ------------------------------------------------------------------ results
    def ready(self) -> Dict[str, Any]:
        """``{"worker": name, "error": None}``, or the startup failure."""
        return {"worker": self.name, **(self.startup_error or {"error": None})}

    def _result(self, kind: str, key: str, t0: float, **fields: Any) -> Dict[str, Any]:
        return {"kind": kind, "key": key, "worker": self.name,
                "seconds": round(time.time() - t0, 3), **fields}

    def _error(self, key: str, t0: float, exc: BaseException, **fields: Any) -> Dict[str, Any]:
        line = error_line(exc)
        if not isinstance(exc, FomError):
            logger.error("%s failed:\n%s", key, traceback.format_exc())
        else:
            logger.error("%s failed: %s", key, line)
        return self._result("error", key, t0, error=line, split=isinstance(exc, SplitError),
                            bad_input=isinstance(exc, InputError), **fields)

    # ------------------------------------------------------------------ work
    def process(self, job: VideoJob, chunk_frames: int) -> Dict[str, Any]:
        """Anonymize ``job`` in one piece (``{"kind": "done"}``) if it has at most
        ``chunk_frames`` frames (or chunking is off, 0), else run pass 1 and return its
        plan (``{"kind": "plan", "plan": VideoPlan}``) for the chunks."""
        t0 = time.time()
        try:
            Path(job.output).parent.mkdir(parents=True, exist_ok=True)
            if self.voice_only:
                anonymize_voice_only(job.video, job.output, self.options, report=job.report)
                return self._result("done", job.key, t0, frames=probe_video(job.video).n_frames,
                                    tracks=0, chunks=1)
            info = probe_video(job.video)
            if chunk_frames <= 0 or info.n_frames <= chunk_frames:
                return self.whole(job, t0)
            return self._plan(job, info, chunk_frames, t0)
        except Exception as exc:
            return self._error(job.key, t0, exc)

    def whole(self, job: VideoJob, t0: Optional[float] = None) -> Dict[str, Any]:
        """Anonymize ``job`` in one piece: exactly the one-video run
        (:meth:`FaceAnonymizer.run`)."""
        t0 = time.time() if t0 is None else t0
        try:
            seen: set = set()
            frames = [0]

            def count(r) -> None:
                frames[0] += 1
                seen.update(tid for tid, _ in r.boxes)

            Path(job.output).parent.mkdir(parents=True, exist_ok=True)
            self.anonymizer.run(job.video, self.target_paths, job.output,
                                report=job.report or False, on_frame=count)
            return self._result("done", job.key, t0, frames=frames[0], tracks=len(seen),
                                chunks=1)
        except Exception as exc:
            return self._error(job.key, t0, exc)

    def _plan(self, job: VideoJob, info, chunk_frames: int, t0: float) -> Dict[str, Any]:
        opts = self.options
        anon = self.anonymizer
        ensure_writable_output(job.output, [job.video, *self.target_paths],
                               suffixes=VIDEO_SUFFIXES - {".gif"})
        if opts.voice and info.has_audio:
            check_audio_decodes(Path(job.video))  # fails now, not after pass 2
        times = frame_times(job.video)
        if times is None:
            logger.info("%s: no timestamps in the index: rendered in one piece", job.video)
            return self.whole(job, t0)
        plan = anon.analyze(job.video, info)
        assign_targets(plan.tracks, len(self.targets))
        if len(times) != plan.n_frames:
            logger.warning("%s: %d frames decoded but %d in the index: rendered in one piece",
                           job.video, plan.n_frames, len(times))
            return self.whole(job, t0)
        chunks = chunk_ranges(plan.n_frames, chunk_frames, opts.animate.batch_size)
        origin = time_origin(job.video, times[0], keeps_audio(opts, info.has_audio, job.output))
        stat = os.stat(job.video)
        digest = plan_digest(job.video, stat.st_size, stat.st_mtime_ns, opts,
                             self.target_paths, chunks, origin,
                             arrays=[t.params for t in plan.tracks])
        parts = Path(job.output).parent / PARTS_DIR / f"{Path(job.output).name}-{digest}"
        vplan = VideoPlan(job.key, job.video, job.output, job.report, info, plan, times,
                          origin, chunks, str(parts), seconds=round(time.time() - t0, 3),
                          targets=list(self.target_paths))
        logger.info("%s: %d frames, %d track(s), %d chunks", job.video, plan.n_frames,
                    len(plan.tracks), len(chunks))
        return self._result("plan", job.key, t0, plan=vplan, frames=plan.n_frames,
                            tracks=len(plan.tracks), chunks=len(chunks))

    def render(self, vplan: VideoPlan, index: int) -> Dict[str, Any]:
        """Render chunk ``index`` of a planned video into its part file."""
        t0 = time.time()
        try:
            renderer = self.anonymizer.renderer(self.targets)
            n = render_chunk(renderer, vplan, index)
            return self._result("chunk", vplan.key, t0, index=index, frames=n)
        except Exception as exc:
            return self._error(vplan.key, t0, exc, index=index)

    def join(self, vplan: VideoPlan) -> Dict[str, Any]:
        """Join the parts of a planned video into its output, write its report."""
        t0 = time.time()
        try:
            n = join_chunks(vplan, self.options, self.targets, self.anonymizer.image_size)
            return self._result("done", vplan.key, t0, frames=n,
                                tracks=len(vplan.plan.tracks), chunks=len(vplan.chunks))
        except Exception as exc:
            return self._error(vplan.key, t0, exc)
