"""One folder run on an initialised Ray: the worker actors in Ray's
:class:`~ray.util.actor_pool.ActorPool`, each video followed through its steps
(``process`` -> ``render`` of each chunk -> ``join``), the manifest updated and the one
progress bar advanced as results come in."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ..anonymize import AnonymizeOptions
from ..progress import progress
from .cluster import ClusterOptions, check_fits, startup_error, worker_shape
from .manifest import Manifest
from .planning import VideoJob
from .worker import AnonymizeWorker

logger = logging.getLogger(__name__)

__all__ = ["FolderRun"]


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


class FolderRun:
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
        check_fits(cluster, resources, local=cluster.ray_address is None)
        n, cpus = worker_shape(cluster, resources)
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
            raise startup_error(self.startup_errors[0])

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
