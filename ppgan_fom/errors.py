"""Exception hierarchy shared by the whole ppgan-fom project.

Every error carries a one-line, user-facing message (``str(e)``) naming the file
and the problem, and an ``exit_code`` that command-line entry points return to the
shell: 1 for runtime failures, 2 for bad arguments or input (0 is success).
docs/errors.md lists every failure and its message.
"""

from __future__ import annotations

__all__ = [
    "FomError",
    "InputError",
    "NoFaceError",
    "WeightsError",
    "VideoError",
    "TruncatedVideoError",
    "OutputError",
    "RuntimeFailure",
]


class FomError(Exception):
    """Base class; str(e) is a one-line user-facing message."""

    exit_code: int = 1


class InputError(FomError):
    """A bad input file or argument; the message names the file."""

    exit_code = 2


class NoFaceError(InputError):
    """No face was detected in an input image ("no face found in <path>")."""


class WeightsError(FomError):
    """Model weights are missing, corrupt or do not match the model."""

    exit_code = 2


class VideoError(InputError):
    """A video cannot be opened or is truncated/empty."""


class TruncatedVideoError(VideoError):
    """A video that decodes clearly short of the frame count its header states.

    ``decoded`` and ``expected`` hold the two counts; ``path`` the file.
    """

    def __init__(self, message: str, *, path: str = "", decoded: int = 0, expected: int = 0):
        super().__init__(message)
        self.path, self.decoded, self.expected = path, decoded, expected


class OutputError(FomError):
    """The output path is not writable or equals one of the inputs."""

    exit_code = 2


class RuntimeFailure(FomError):
    """A failure during the run itself (e.g. the video writer died)."""

    exit_code = 1
