"""Where a folder run goes: the Ray flags (:class:`ClusterOptions`), joining or starting
Ray, how many workers of which size the cluster holds, and a worker's startup error
turned back into the project's typed error."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from .. import errors as _errors
from ..deps import MissingDependencyError
from ..errors import FomError, InputError, RuntimeFailure
from .planning import DEFAULT_CHUNK_FRAMES

logger = logging.getLogger(__name__)

__all__ = ["ClusterOptions", "DEFAULT_CPUS_PER_WORKER", "import_ray", "connect",
           "worker_shape", "check_fits", "startup_error"]

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


def import_ray():
    try:
        import ray
    except ImportError:
        raise MissingDependencyError(RAY_HINT, name="ray") from None
    return ray


def worker_shape(cluster: ClusterOptions, resources: Dict[str, float]) -> Tuple[int, int]:
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


def check_fits(cluster: ClusterOptions, resources: Dict[str, float], local: bool) -> None:
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


def startup_error(info: Dict[str, str]) -> FomError:
    """The typed error a worker failed to start with (e.g. WeightsError, NoFaceError)."""
    cls = getattr(_errors, info.get("type", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, FomError)):
        cls = RuntimeFailure
    try:
        return cls(info["error"])
    except TypeError:
        return RuntimeFailure(info["error"])



def connect(ray, address: Optional[str]) -> bool:
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
