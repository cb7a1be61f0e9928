"""``anonymize.py`` / ``ppgan-fom-anonymize``: flags mapped onto
:class:`~ppgan_fom.anonymize.AnonymizeOptions`, then :meth:`FaceAnonymizer.run`."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Optional, Sequence

from ..errors import InputError
from ..options import COVER_RATIO, AnimateOptions
from .common import EXIT_CODES, common_flags, run_cli
from .flags import add_field_flag, add_option_flags, options_from_args

__all__ = ["anonymize_parser", "anonymize_main", "options_from_anonymize_args"]


def _add_anonymize_flags(parser: argparse.ArgumentParser) -> None:
    """The shared model / detector / compositing flags (``--ratio`` with the anonymizer's
    default) and one flag per field of the anonymizer's own options."""
    from ..anonymize import AnonymizeOptions

    add_option_flags(parser, groups=("model", "faces"), skip=("multi_person", "ratio", "slice_size"))
    add_option_flags(parser, groups=("io",), skip=("output", "filename", "auto_crop_driving"))
    grp = parser.add_argument_group("anonymization")
    ratio = next(f for f in dataclasses.fields(AnimateOptions) if f.name == "ratio")
    add_field_flag(grp, ratio, default=COVER_RATIO)
    for f in dataclasses.fields(AnonymizeOptions):
        if f.metadata.get("flag", True) is not False:
            add_field_flag(grp, f)


def options_from_anonymize_args(args: argparse.Namespace):
    """Map parsed flags to :class:`~ppgan_fom.anonymize.AnonymizeOptions`."""
    from ..anonymize import AnonymizeOptions

    base = AnonymizeOptions().animate  # relative motion with adapt_scale, always
    animate = options_from_args(args, relative=base.relative, adapt_scale=base.adapt_scale)
    own = {f.name: getattr(args, f.name) for f in dataclasses.fields(AnonymizeOptions)
           if f.name != "animate"}
    return AnonymizeOptions(animate=animate, **own)


def anonymize_parser() -> argparse.ArgumentParser:
    """The ``anonymize.py`` argument parser."""
    p = argparse.ArgumentParser(
        prog="anonymize.py",
        description="Replace every face of a video by an animated target face that keeps "
                    "the person's expressions, head motion and lip movement (First Order "
                    "Motion Model). Resolution, every frame's time and the audio are kept; "
                    "a JSON report lists the face tracks. See docs/anonymize.md.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    io = p.add_argument_group("inputs and outputs")
    io.add_argument("--video", help="video to anonymize (or --input_dir)")
    io.add_argument("--target_face", action="append", metavar="IMAGE",
                    help="image of the replacement face (required unless --voice_only); "
                         "repeat for several (track i gets target i mod N, tracks numbered "
                         "by first appearance, then left to right)")
    io.add_argument("--output", help="result video (.mp4, .m4v, .mov, .mkv, .gif)")
    io.add_argument("--input_dir", help="anonymize every video in this folder (and its "
                                        "sub-folders) on Ray, into --output_dir; "
                                        "docs/scale.md")
    io.add_argument("--output_dir", help="with --input_dir: where the outputs, their reports "
                                         "and manifest.json go")
    io.add_argument("--report", default=None,
                    help="JSON report path (default: beside the output, <output stem>.json)")
    io.add_argument("--no_report", action="store_true", help="do not write the report")
    io.add_argument("--voice_only", action="store_true",
                    help="anonymize only the voice: the picture is copied untouched (no face "
                         "model runs); see the --voice_* settings")
    _add_anonymize_flags(p)
    _add_cluster_flags(p)
    common_flags(p)
    return p


def _add_cluster_flags(parser: argparse.ArgumentParser) -> None:
    """``--ray_address``, ``--workers``, ... (fields of :class:`ClusterOptions`)."""
    from ..scale import ClusterOptions

    grp = parser.add_argument_group("folder runs on Ray (with --input_dir)")
    for f in dataclasses.fields(ClusterOptions):
        add_field_flag(grp, f)


def _run_folder(args: argparse.Namespace, options) -> str:
    """``--input_dir``: :func:`ppgan_fom.scale.anonymize_folder`; a one-line summary."""
    from ..errors import RuntimeFailure
    from ..scale import ClusterOptions, anonymize_folder

    if args.video or args.output or args.report:
        raise InputError("--input_dir goes with --output_dir (not --video, --output or "
                         "--report)")
    if not args.output_dir:
        raise InputError("--input_dir needs --output_dir")
    cluster = ClusterOptions(**{f.name: getattr(args, f.name)
                                for f in dataclasses.fields(ClusterOptions)})
    result = anonymize_folder(args.input_dir, args.output_dir, args.target_face or (),
                              options, cluster=cluster, voice_only=args.voice_only,
                              reports=not args.no_report)
    c = result["counts"]
    summary = (f"{c['done']} done, {c['skipped']} skipped, {c['failed']} failed; "
               f"manifest: {Path(args.output_dir) / 'manifest.json'}")
    if c["failed"]:
        raise RuntimeFailure(f"{c['failed']} of {len(result['videos'])} videos failed "
                             f"({summary})")
    return summary


def anonymize_main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the anonymizer; returns the exit code."""
    def body(args: argparse.Namespace):
        from ..anonymize import FaceAnonymizer, anonymize_voice_only, default_report_path

        options = options_from_anonymize_args(args)
        if args.input_dir:
            return _run_folder(args, options)
        if not args.video or not args.output:
            raise InputError("--video and --output are needed (or --input_dir and "
                             "--output_dir)")
        report = False if args.no_report else args.report
        if args.voice_only:
            if args.target_face:
                raise InputError("--voice_only copies the picture: drop --target_face")
            if report is None:
                report = default_report_path(args.output)
            return anonymize_voice_only(args.video, args.output, options,
                                        report=report or None)
        if not args.target_face:
            raise InputError("at least one --target_face is needed (or --voice_only)")
        anonymizer = FaceAnonymizer(options)
        return anonymizer.run(args.video, args.target_face, args.output, report=report)

    return run_cli(anonymize_parser(), argv, body)
