"""The driver of a folder run: lists the videos, starts (or joins) Ray, keeps a pool of
worker actors busy with Ray's :class:`~ray.util.actor_pool.ActorPool`, follows each video
through its steps, writes the manifest and shows the one progress bar.

A video's steps: ``process`` (short video: the whole one-video run; long video: pass 1,
returning the plan) -> ``render`` of each chunk (in parallel, on any workers) -> ``join``.
Ray places the actors on the cluster's machines, moves the plans to them and restarts a
worker that dies (its task is retried once); the driver only decides what comes next.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..anonymize import AnonymizeOptions
from ..deps import MissingDependencyError
from ..errors import FomError, InputError, RuntimeFailure
from .. import errors as _errors
from ..media import probe_video
from ..media.paths import check_input_file
from ..progress import progress
from ..types import PathLike
from .manifest import Manifest
from .planning import (DEFAULT_CHUNK_FRAMES, MANIFEST_NAME, PARTS_DIR, VideoJob, find_videos,
                       plan_outputs)
from .worker import AnonymizeWorker

logger = logging.getLogger(__name__)

__all__ = ["ClusterOptions", "anonymize_folder", "DEFAULT_CPUS_PER_WORKER"]

#: CPU threads of a CPU worker when neither --workers nor --cpus_per_worker says.
DEFAULT_CPUS_PER_WORKER = 2
RAY_HINT = 'Ray is not installed (no module named \'ray\'); install it with: ' \
           'pip install "ppgan-fom[ray]"'


def _copt(default: Any, help: str, **kw: Any):
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class ClusterOptions:
    """Where and how wide a folder run goes (``anonymize.py --input_dir``)."""

    ray_address: Optional[str] = _copt(
        None, "Ray cluster to join: 'auto' (the cluster this machine belongs to) or "
              "ray://HOST:10001; default: start Ray on this machine for the run")
    workers: Optional[int] = _copt(
        None, "worker processes (each loads the models once); default: as many as the "
              "cluster's CPUs (or GPUs) hold", type=int)
    cpus_per_worker: Optional[int] = _copt(
        None, "CPU cores (Paddle threads) per worker; default: cores / --workers, or "
              f"{DEFAULT_CPUS_PER_WORKER} (1 with --gpus_per_worker)", type=int)
    gpus_per_worker: float = _copt(0.0, "GPUs per worker (0.5: two workers share one)",
                                   type=float)
    chunk_frames: int = _copt(
        DEFAULT_CHUNK_FRAMES, "a video with more frames is rendered in chunks of about "
                              "this many frames on several workers (0: never)", type=int)

    def __post_init__(self):
        if self.workers is not None and self.workers < 1:
            raise InputError(f"--workers must be >= 1, got {self.workers}")
        if self.cpus_per_worker is not None and self.cpus_per_worker < 1:
            raise InputError(f"--cpus_per_worker must be >= 1, got {self.cpus_per_worker}")
        if self.gpus_per_worker < 0:
            raise InputError(f"--gpus_per_worker must be >= 0, got {self.gpus_per_worker}")
        if self.chunk_frames < 0:
            raise InputError(f"--chunk_frames must be >= 0, got {self.chunk_frames}")


def _import_ray():
    try:
        import ray
    except ImportError:
        raise MissingDependencyError(RAY_HINT, name="ray") from None
    return ray


def _worker_shape(cluster: ClusterOptions, resources: Dict[str, float]) -> Tuple[int, int]:
    """(workers, CPUs per worker) from the flags and the cluster's resources."""
    cpus_total = max(1, int(resources.get("CPU", 1)))
    gpus = cluster.gpus_per_worker
    if gpus > 0:
        cpus = cluster.cpus_per_worker or 1
        n = cluster.workers or max(1, int(resources.get("GPU", 0) // gpus))
        return n, cpus
    if cluster.workers:
        return cluster.workers, cluster.cpus_per_worker or max(1, cpus_total // cluster.workers)
    cpus = cluster.cpus_per_worker or min(DEFAULT_CPUS_PER_WORKER, cpus_total)
    return max(1, cpus_total // cpus), cpus


def _check_fits(cluster: ClusterOptions, resources: Dict[str, float], local: bool) -> None:
    """A worker that no machine can hold would wait for ever: an error on this machine,
    a warning on a cluster (an autoscaler may still add such a machine)."""
    problems = []
    if cluster.gpus_per_worker > 0 and resources.get("GPU", 0) < cluster.gpus_per_worker:
        problems.append(f"--gpus_per_worker {cluster.gpus_per_worker:g} but Ray sees "
                        f"{resources.get('GPU', 0):g} GPU(s)")
    if cluster.cpus_per_worker and resources.get("CPU", 0) < cluster.cpus_per_worker:
        problems.append(f"--cpus_per_worker {cluster.cpus_per_worker} but Ray sees "
                        f"{resources.get('CPU', 0):g} CPU(s)")
    for text in problems:
        if local:
            raise InputError(text)
        logger.warning("%s: workers wait until the cluster has room", text)


def _startup_error(info: Dict[str, str]) -> FomError:
    """The typed error a worker failed to start with (e.g. WeightsError, NoFaceError)."""
    cls = getattr(_errors, info.get("type", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, FomError)):
        cls = RuntimeFailure
    try:
        return cls(info["error"])
    except TypeError:
        return RuntimeFailure(info["error"])


@dataclass
class _VideoState:
    job: VideoJob
    dispatched: Optional[float] = None
    counted: int = 0  # frames shown on the bar
    worker_seconds: float = 0.0
    plan_ref: Any = None
    chunks_left: set = field(default_factory=set)
    final: bool = False
    fallback: bool = False


class _Run:
    """One folder run on an initialised Ray (see :func:`anonymize_folder`)."""

    def __init__(self, ray, jobs: List[VideoJob], manifest: Manifest, options: AnonymizeOptions,
                 targets: List[str], cluster: ClusterOptions, voice_only: bool,
                 total_frames: int) -> None:
        from ray.util.actor_pool import ActorPool

        self.ray = ray
        self.manifest = manifest
        self.cluster = cluster
        self.videos = {j.key: _VideoState(j) for j in jobs}
        resources = ray.cluster_resources()
        _check_fits(cluster, resources, local=cluster.ray_address is None)
        n, cpus = _worker_shape(cluster, resources)
        if cluster.chunk_frames == 0:
            n = min(n, len(jobs))  # one task per video: more workers would idle
        self.n_workers, self.cpus = n, cpus
        opts = options
        if opts.animate.threads is None:
            opts = opts.replace(animate=opts.animate.replace(threads=cpus))
        remote = ray.remote(AnonymizeWorker).options(
            num_cpus=cpus, num_gpus=cluster.gpus_per_worker, max_restarts=2,
            max_task_retries=1)
        level = logging.getLogger("ppgan_fom").getEffectiveLevel()
        self.actors = [remote.remote(opts, targets, voice_only, min(level, logging.INFO))
                       for _ in range(n)]
        self.starting = {a.ready.remote(): a for a in self.actors}
        self.pool = ActorPool([])
        self.alive = 0
        self.startup_errors: List[Dict[str, str]] = []
        self.inflight: Dict[Tuple, Any] = {}  # (kind, key, index) -> ObjectRef
        self.bar = progress(None, total=total_frames, desc="anonymizing", unit="frame")
        logger.info("%d worker(s), %d CPU(s)%s each; worker logs: Ray's session logs "
                    "(/tmp/ray/session_latest/logs/worker-*.err on each node)", n, cpus,
                    f" and {cluster.gpus_per_worker:g} GPU(s)" if cluster.gpus_per_worker
                    else "")

    # ------------------------------------------------------------------ dispatch
    def _submit(self, method: str, key: str, index: Optional[int], *args: Any) -> None:
        def call(actor, _):
            ref = getattr(actor, method).remote(*args)
            state = self.videos[key]
            if state.dispatched is None:
                state.dispatched = time.time()
                self.manifest.set(key, "running", started=time.strftime("%Y-%m-%dT%H:%M:%S"))
                self.manifest.save()
            self.inflight[(method, key, index)] = ref
            return ref
        self.pool.submit(call, None)

    def run(self) -> None:
        for state in self.videos.values():
            self._submit("process", state.job.key, None, state.job, self.cluster.chunk_frames)
        try:
            while any(not s.final for s in self.videos.values()):
                self._admit_workers()
                if not self.pool.has_next():
                    if self.starting:
                        self.ray.wait(list(self.starting), num_returns=1, timeout=1.0)
                        continue
                    if self.alive == 0:
                        self._no_workers_left()
                        return
                try:
                    result = self.pool.get_next_unordered(timeout=1.0)
                except TimeoutError:
                    continue
                except self.ray.exceptions.RayError as exc:
                    self._worker_lost(exc)
                    continue
                self._handle(result)
        finally:
            self.bar.close()
            for a in self.actors:  # tasks of failed videos may still run: not waited for
                self.ray.kill(a, no_restart=True)

    def _admit_workers(self) -> None:
        if not self.starting:
            return
        done, _ = self.ray.wait(list(self.starting), num_returns=len(self.starting),
                                timeout=0)
        for ref in done:
            actor = self.starting.pop(ref)
            try:
                info = self.ray.get(ref)
            except self.ray.exceptions.RayError as exc:
                info = {"type": "RuntimeFailure",
                        "error": f"a worker could not start: {str(exc).splitlines()[0]}"}
            if info.get("error"):
                self.startup_errors.append(info)
                self.ray.kill(actor)
            else:
                self.pool.push(actor)
                self.alive += 1
        if not self.starting and self.alive == 0 and self.startup_errors:
            raise _startup_error(self.startup_errors[0])

    def _no_workers_left(self) -> None:
        for key, state in self.videos.items():
            if not state.final:
                self._fail(key, "no worker left (every worker process died; see Ray's logs)")

    def _worker_lost(self, exc: BaseException) -> None:
        """A task's worker died for good (after Ray's restarts and one retry): fail the
        videos whose tasks are gone."""
        if isinstance(exc, self.ray.exceptions.ActorDiedError):
            self.alive -= 1
        line = " ".join(str(exc).split())[:200]
        for (method, key, index), ref in list(self.inflight.items()):
            ready, _ = self.ray.wait([ref], timeout=0)
            if not ready:
                continue
            try:
                self.ray.get(ref)
            except self.ray.exceptions.RayError:
                del self.inflight[(method, key, index)]
                if not self.videos[key].final:
                    self._fail(key, f"worker lost during {method}: {line}")

    # ------------------------------------------------------------------ results
    def _handle(self, r: Dict[str, Any]) -> None:
        key = r["key"]
        method = {"plan": "process", "chunk": "render"}.get(r["kind"])
        for k in [k for k in self.inflight if k[1] == key and k[2] == r.get("index")
                  and (method is None or k[0] == method)]:
            del self.inflight[k]
            break
        state = self.videos[key]
        if state.final:
            return
        state.worker_seconds += r.get("seconds", 0.0)
        kind = r["kind"]
        if kind == "error":
            if r.get("split") and not state.fallback:
                logger.warning("%s: %s; rendering it in one piece", key, r["error"])
                state.fallback = True
                state.chunks_left = set()
                self._submit("whole", key, None, state.job)
                return
            self._fail(key, r["error"], worker=r.get("worker"),
                       bad_input=bool(r.get("bad_input")))
        elif kind == "plan":
            vplan = r["plan"]
            if state.fallback:
                return
            self.manifest.set(key, "running", frames=r["frames"], tracks=r["tracks"],
                              chunks=r["chunks"], pass1_seconds=r["seconds"])
            self.manifest.save()
            state.plan_ref = self.ray.put(vplan)
            state.chunks_left = set()
            for i in range(len(vplan.chunks)):
                if vplan.part(i).exists():  # rendered by an interrupted run
                    self._count(state, vplan.chunks[i][1] - vplan.chunks[i][0])
                else:
                    state.chunks_left.add(i)
                    self._submit("render", key, i, state.plan_ref, i)
            if not state.chunks_left:
                self._submit("join", key, None, state.plan_ref)
        elif kind == "chunk":
            if state.fallback:
                return
            self._count(state, r["frames"])
            state.chunks_left.discard(r["index"])
            if not state.chunks_left:
                self._submit("join", key, None, state.plan_ref)
        elif kind == "done":
            self._count(state, max(0, r["frames"] - state.counted))
            state.final = True
            state.plan_ref = None
            self.manifest.set(key, "done", frames=r["frames"], tracks=r["tracks"],
                              chunks=r["chunks"], worker=r["worker"],
                              finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
                              seconds=round(time.time() - (state.dispatched or time.time()), 3),
                              worker_seconds=round(state.worker_seconds, 3))
            self.manifest.save()
            self._postfix()

    def _count(self, state: _VideoState, frames: int) -> None:
        state.counted += frames
        self.bar.update(frames)

    def _fail(self, key: str, error: str, **fields: Any) -> None:
        state = self.videos[key]
        state.final = True
        state.plan_ref = None
        logger.error("%s failed: %s", key, error)
        self.manifest.set(key, "failed", error=error,
                          finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
                          worker_seconds=round(state.worker_seconds, 3), **fields)
        self.manifest.save()
        self._postfix()

    def _postfix(self) -> None:
        c = self.manifest.counts()
        self.bar.set_postfix_str(f"videos {c['done'] + c['skipped']}/{len(self.videos) + 0}"
                                 + (f", {c['failed']} failed" if c["failed"] else ""),
                                 refresh=False)


def _connect(ray, address: Optional[str]) -> bool:
    """Join ``address`` or start a local Ray; True if this call started/joined it (and
    must shut it down). An already initialised Ray (e.g. a test's) is used as it is."""
    if ray.is_initialized():
        return False
    kwargs = dict(log_to_driver=False, logging_level=logging.WARNING)
    if address is None:
        ray.init(include_dashboard=False, **kwargs)
    else:
        ray.init(address=address, **kwargs)
    return True


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
        ray = _import_ray()
        total = 0
        for j in todo:
            try:
                total += probe_video(j.video).n_frames
            except FomError:
                pass  # the worker reports it on the video's entry
        started = _connect(ray, cluster.ray_address)
        try:
            _Run(ray, todo, manifest, options, targets, cluster, voice_only, total).run()
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
