"""Command-line flags generated from the options dataclasses (one source of defaults).

Every field of :class:`~ppgan_fom.options.AnimateOptions` becomes one flag spelled as in
PaddleGAN (``--batch_size``, ``--weight_path``): booleans are switches (or ``--no_*``
for those that default to on), the rest take a value of the field's type, and the help
text and default come from the field.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Dict, Iterable

from ..options import GROUP_TITLES, AnimateOptions

__all__ = ["add_field_flag", "add_option_flags", "options_from_args"]


def add_field_flag(group, f: dataclasses.Field, default: Any = dataclasses.MISSING) -> None:
    """One flag for a dataclass field whose metadata holds ``help`` (and optionally
    ``type``, ``negate``): ``--name`` (a switch for booleans, ``negate`` for a switch
    that turns a default-on option off)."""
    meta = f.metadata
    default = f.default if default is dataclasses.MISSING else default
    if f.type in ("bool", bool):
        if meta.get("negate"):
            group.add_argument(meta["negate"], dest=f.name, action="store_false",
                               default=default, help=f"do not {meta['help']}")
        else:
            group.add_argument(f"--{f.name}", action="store_true", default=default,
                               help=meta["help"])
        return
    group.add_argument(f"--{f.name}", type=meta.get("type", str), default=default,
                       help=f"{meta['help']} (default: {default})")


def add_option_flags(parser: argparse.ArgumentParser, groups: Iterable[str] = (
        "io", "model", "motion", "faces"), skip: Iterable[str] = ()) -> None:
    """Add one flag per :class:`AnimateOptions` field of ``groups`` (PaddleGAN spelling,
    defaults from the dataclass), one ``--help`` section per group."""
    skip = set(skip)
    made: Dict[str, Any] = {}
    for f in dataclasses.fields(AnimateOptions):
        if f.metadata["group"] not in groups or f.name in skip:
            continue
        grp = made.get(f.metadata["group"])
        if grp is None:
            grp = made[f.metadata["group"]] = parser.add_argument_group(
                GROUP_TITLES[f.metadata["group"]])
        add_field_flag(grp, f)


def options_from_args(args: argparse.Namespace, **overrides: Any) -> AnimateOptions:
    """Map parsed flags onto :class:`AnimateOptions` (fields not on the parser keep
    their defaults)."""
    values: Dict[str, Any] = {f.name: getattr(args, f.name)
                              for f in dataclasses.fields(AnimateOptions) if hasattr(args, f.name)}
    values.update(overrides)
    return AnimateOptions(**values)
