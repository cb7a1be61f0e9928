"""Face tracks for video anonymization: link, fill gaps, smooth, follow faces through the
frame borders, and summarise (boxes only; no Paddle, no pixels).

Everything here works on *boxes*, so the memory it needs is proportional to the number
of detections, not to the size or length of the video.

Vocabulary: a **detection** is a row ``[x1, y1, x2, y2, score]`` on a frame where the
detector ran (a *sampled* frame); a **shot** is a run of frames between two scene cuts
(:mod:`ppgan_fom.scenecut`); a **track** is one face followed through the sampled frames
of one shot (:mod:`.link`), then given one smoothed box per frame (:mod:`.track`).
:meth:`Track.crop_box` makes the integer square crop box (centred on the face, allowed
to hang over the borders) used to cut the driving crop and to paste the generated face.
"""

from .coverage import active_tracks, coverage_by_frame, to_ranges, track_summary
from .link import DEFAULT_IOU, DEFAULT_MAX_GAP, RawTrack, TrackBuilder
from .track import DEFAULT_PAD, Track, finalize_tracks

__all__ = ["RawTrack", "TrackBuilder", "Track", "finalize_tracks", "to_ranges",
           "active_tracks", "coverage_by_frame", "track_summary", "DEFAULT_IOU",
           "DEFAULT_MAX_GAP", "DEFAULT_PAD"]
