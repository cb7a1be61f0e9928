"""Which options the page sets per job, and how they become the library's options.

The model, detector and device options are the server's (its command-line flags, fixed
for the process since the models are loaded once); a job chooses only how to animate.
Options that other work adds to the library (face enhancement, voice anonymization)
get a control only when the options dataclass has the field, so the page works before
and after they exist.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence

from ..anonymize import AnonymizeOptions
from ..options import COVER_RATIO, PHOTO_RATIO, AnimateOptions
from ..types import PathLike

__all__ = ["ANIMATE_CHOICES", "ANIMATE_DEFAULTS", "OPTIONAL_ANIMATE", "OPTIONAL_ANONYMIZE",
           "LABELS", "available", "field_help", "animate_options", "anonymize_options"]

#: AnimateOptions fields the Animate tab sets on every job.
ANIMATE_CHOICES = ("relative", "adapt_scale", "multi_person", "ratio", "find_best_frame")
#: The page's starting values: the README's command (every face, relative motion with
#: adapt_scale), which suits a photo of people; PaddleGAN's CLI defaults are all off.
ANIMATE_DEFAULTS: Dict[str, Any] = {"relative": True, "adapt_scale": True,
                                    "multi_person": True, "ratio": PHOTO_RATIO,
                                    "find_best_frame": False}
#: Boolean options shown on the Animate tab when AnimateOptions has them.
OPTIONAL_ANIMATE = ("face_enhancement",)
#: Boolean options shown on the Anonymize tab when AnonymizeOptions (or, for the shared
#: ones, AnimateOptions) has them.
OPTIONAL_ANONYMIZE = ("voice", "face_enhancement")

#: Control labels (the help text under each comes from the field's metadata).
LABELS = {"relative": "Relative motion", "adapt_scale": "Adapt the motion to the face size",
          "multi_person": "Animate every face (off: the largest only)",
          "ratio": "Pasted face size (fraction of the face crop)",
          "find_best_frame": "Find the best reference frame",
          "face_enhancement": "Enhance the faces (GPEN)",
          "voice": "Anonymize the voice too"}


def _fields(cls) -> Dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def available(cls, names: Sequence[str]) -> List[str]:
    """The ``names`` that are fields of the dataclass ``cls``, in order; for the optional
    options only on/off fields (the page shows them as checkboxes)."""
    have = _fields(cls)
    return [n for n in names if n in have and
            (n not in (*OPTIONAL_ANIMATE, *OPTIONAL_ANONYMIZE)
             or isinstance(have[n].default, bool))]


def field_help(cls, name: str) -> str:
    """The field's help text (its metadata), or ''."""
    return str(_fields(cls)[name].metadata.get("help", ""))


def _split(choices: Mapping[str, Any], allowed: Sequence[str]) -> Dict[str, Any]:
    unknown = sorted(set(choices) - set(allowed))
    if unknown:
        raise TypeError(f"not a job option: {', '.join(unknown)}")
    return dict(choices)


def animate_options(base: AnimateOptions, choices: Mapping[str, Any], output: PathLike,
                    ) -> AnimateOptions:
    """The server's options with a job's ``choices`` and its output file.

    Raises:
        TypeError: a choice that is not a job option. InputError: a bad value.
    """
    allowed = [*ANIMATE_CHOICES, *available(AnimateOptions, OPTIONAL_ANIMATE)]
    out = Path(output)
    return base.replace(**_split(choices, allowed), output=str(out.parent), filename=out.name)


def anonymize_options(base: AnimateOptions, choices: Mapping[str, Any]) -> AnonymizeOptions:
    """The anonymizer's options: the server's model options with the anonymizer's own
    motion and paste defaults, and a job's optional ``choices`` (each goes to the
    dataclass that has it)."""
    own = set(available(AnonymizeOptions, OPTIONAL_ANONYMIZE))
    shared = set(available(AnimateOptions, OPTIONAL_ANONYMIZE)) - own
    values = _split(choices, [*own, *shared])
    animate = base.replace(ratio=COVER_RATIO, relative=True, adapt_scale=True,
                           **{k: v for k, v in values.items() if k in shared})
    return AnonymizeOptions(animate=animate, **{k: v for k, v in values.items() if k in own})
