"""Video anonymization: replace every face of a recorded video by a generated face that
keeps the person's expressions, head motion and lip movement (docs/anonymize.md).

Python API::

    from ppgan_fom.anonymize import FaceAnonymizer
    anon = FaceAnonymizer(weight_path="vox-256")
    anon.run("talk.mp4", ["generated_face.png"], "talk_anonymized.mp4")
"""

from .anonymizer import FaceAnonymizer
from .options import AnonymizeOptions
from .plan import TrackPlan, plan_tracks
from .render import FrameResult, Renderer
from .report import build_report, default_report_path, write_report
from .targets import TargetFace, assign_targets, prepare_targets
from .voice import VoiceMode, anonymize_voice_only

__all__ = ["FaceAnonymizer", "AnonymizeOptions", "TrackPlan", "plan_tracks", "FrameResult",
           "Renderer", "build_report", "default_report_path", "write_report", "TargetFace",
           "assign_targets", "prepare_targets", "VoiceMode", "anonymize_voice_only"]
