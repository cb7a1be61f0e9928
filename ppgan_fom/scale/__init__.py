"""Past one machine: anonymize a folder of videos on a Ray cluster (docs/scale.md).

One task per video on a pool of worker actors that load the models once; a long video is
planned once (pass 1) and rendered in chunks on several workers, joined without
re-encoding into the result the one-video run gives. ``OUT/manifest.json`` lists every
input; a rerun skips the finished ones.

Python API::

    from ppgan_fom.scale import anonymize_folder
    anonymize_folder("sessions/", "sessions_anon/", ["face.png"], workers=4)

Modules: :mod:`.planning` (inputs, outputs, chunk ranges), :mod:`.chunks` (pass 2 of a
chunk), :mod:`.join` (packet-copy join), :mod:`.manifest`, :mod:`.worker` (the actor), :mod:`.cluster` (Ray flags,
worker shape), :mod:`.pool` (the actor pool, the progress bar), :mod:`.driver`
(:func:`anonymize_folder`).
"""

from .cluster import ClusterOptions
from .driver import anonymize_folder
from .manifest import Manifest
from .planning import DEFAULT_CHUNK_FRAMES, chunk_ranges, find_videos, plan_outputs

__all__ = ["ClusterOptions", "anonymize_folder", "Manifest", "DEFAULT_CHUNK_FRAMES",
           "chunk_ranges", "find_videos", "plan_outputs"]
