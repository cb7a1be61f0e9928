"""The driver of a folder run (:func:`anonymize_folder`): lists the videos, skips the
finished ones, writes the manifest, starts (or joins) Ray and hands the work to
:class:`~.pool.FolderRun`.

A video's steps: ``process`` (short video: the whole one-video run; long video: pass 1,
returning the plan) -> ``render`` of each chunk (in parallel, on any workers) -> ``join``.
Ray places the actors on the cluster's machines, moves the plans to them and restarts a
worker that dies (its task is retried once); the driver only decides what comes next.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..anonymize import AnonymizeOptions
from ..errors import FomError, InputError
from ..media import probe_video
from ..media.paths import check_input_file
from ..types import PathLike
from .cluster import ClusterOptions, connect, import_ray
from .manifest import Manifest
from .planning import MANIFEST_NAME, PARTS_DIR, find_videos, plan_outputs
from .pool import FolderRun

logger = logging.getLogger(__name__)

__all__ = ["anonymize_folder"]


def anonymize_folder(input_dir: PathLike, output_dir: PathLike,
                     target_faces: Sequence[PathLike] = (),
                     options: Optional[AnonymizeOptions] = None, *,
                     cluster: Optional[ClusterOptions] = None, voice_only: bool = False,
                     reports: bool = True, **kwargs: Any) -> Dict[str, Any]:
    """Anonymize every video under ``input_dir`` into ``output_dir`` on Ray.

    Each video is anonymized as by ``anonymize.py --video`` (same options, same output,
    its report beside it); one with more than ``chunk_frames`` frames is planned once and
    rendered in chunks on several workers, then joined without re-encoding (the result
    equals the one-piece run: docs/scale.md). Outputs that exist already are skipped, so
    a rerun (after a crash, or with new videos) does only what is missing.
    ``output_dir/manifest.json`` lists every input with its status, timing, tracks and
    error; a video that fails (unreadable, no frames, ...) fails alone.

    Args:
        input_dir: folder of videos (sub-folders too; :data:`~.planning.INPUT_SUFFIXES`).
        output_dir: where the outputs go, at the inputs' relative paths.
        target_faces: target face images (every worker reads them: same path on every
            machine); round robin over each video's tracks.
        options: the anonymizer's options (or keywords, as for ``FaceAnonymizer``).
        cluster: :class:`ClusterOptions` (or its fields as keywords: ``ray_address``,
            ``workers``, ``cpus_per_worker``, ``gpus_per_worker``, ``chunk_frames``).
        voice_only: only the voice (``--voice_only``; no face model).
        reports: write each video's JSON report beside it.

    Returns:
        The manifest (as written to ``manifest.json``).

    Raises:
        InputError: missing folder or target face; a worker's startup error (weights,
            a target without a face) for the whole run. MissingDependencyError: no Ray.
    """
    cluster_fields = {f.name for f in dataclasses.fields(ClusterOptions)}
    ckw = {k: kwargs.pop(k) for k in list(kwargs) if k in cluster_fields}
    if cluster is not None and ckw:
        raise TypeError("pass either cluster= or its fields as keywords, not both")
    cluster = cluster or ClusterOptions(**ckw)
    if options is not None and kwargs:
        raise TypeError("pass either options= or keywords, not both")
    options = options or AnonymizeOptions.from_kwargs(**kwargs)
    targets = [str(Path(t).absolute()) for t in target_faces]
    if voice_only and targets:
        raise InputError("--voice_only copies the picture: drop --target_face")
    if not voice_only and not targets:
        raise InputError("at least one --target_face is needed (or --voice_only)")
    for t in targets:
        check_input_file(Path(t), InputError, "target face image")
    src, dst = Path(input_dir).absolute(), Path(output_dir).absolute()
    jobs = plan_outputs(find_videos(src, dst), src, dst, reports=reports)
    manifest = Manifest(dst / MANIFEST_NAME, {
        "input_dir": str(src), "output_dir": str(dst), "targets": targets,
        "voice_only": voice_only,
        "cluster": dataclasses.asdict(cluster)}, [j.key for j in jobs])
    todo = []
    for j in jobs:
        before = manifest.get(j.key)
        stamp = _stamp(j.video)
        if Path(j.output).exists():
            manifest.set(j.key, "skipped", video=j.video, output=j.output, report=j.report)
        elif before.get("status") == "failed" and before.get("bad_input") \
                and before.get("input_stamp") == stamp:
            logger.info("%s: unchanged since it failed (%s); not retried", j.key,
                        before.get("error"))
        else:
            manifest.set(j.key, "pending", video=j.video, output=j.output, report=j.report,
                         input_stamp=stamp)
            todo.append(j)
    logger.info("%d video(s) in %s: %d to do, %d already done", len(jobs), src, len(todo),
                len(jobs) - len(todo))
    manifest.save()
    if todo:
        ray = import_ray()
        total = 0
        for j in todo:
            try:
                total += probe_video(j.video).n_frames
            except FomError:
                pass  # the worker reports it on the video's entry
        started = connect(ray, cluster.ray_address)
        try:
            FolderRun(ray, todo, manifest, options, targets, cluster, voice_only, total).run()
        finally:
            if started:
                ray.shutdown()
        parts = dst / PARTS_DIR
        if parts.is_dir() and not any(parts.iterdir()):
            parts.rmdir()
    result = manifest.save(finished=True)
    counts = manifest.counts()
    logger.info("%d done, %d skipped, %d failed; manifest: %s", counts["done"],
                counts["skipped"], counts["failed"], manifest.path)
    return result


def _stamp(path: str) -> Optional[List[int]]:
    """``[size, mtime_ns]`` of an input: a bad input that failed is retried only once
    it changed."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]
