"""One flag spelling across every command line: PaddleGAN's ``--snake_case``.

The former dashed spellings of the training, evaluation and face-detection tools are
still accepted for one release, marked deprecated in ``--help`` and warned about.
"""

from __future__ import annotations

import argparse

import pytest

from faceutils.__main__ import parser as faces_parser
from ppgan_fom.cli.anonymize import anonymize_parser
from ppgan_fom.cli.common import _DEPRECATED
from ppgan_fom.cli.convert import convert_parser
from ppgan_fom.cli.demo import demo_parser
from ppgan_fom.cli.evaluate import evaluate_parser
from ppgan_fom.cli.train import train_parser

PARSERS = {"first-order-demo": demo_parser, "anonymize": anonymize_parser,
           "train": train_parser, "evaluate": evaluate_parser, "convert": convert_parser,
           "faceutils": faces_parser}


def _long_flags(parser: argparse.ArgumentParser):
    for action in parser._actions:
        for opt in action.option_strings:
            if opt.startswith("--") and opt != "--help":
                yield opt, action


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_flag_is_snake_case_or_a_marked_old_spelling(name):
    parser = PARSERS[name]()
    old = _DEPRECATED.get(id(parser), {})
    for opt, action in _long_flags(parser):
        if "-" in opt[2:]:
            assert opt in old, f"{name}: {opt} is neither snake_case nor a deprecated alias"
            assert "deprecated" in action.help, f"{name}: {opt} not marked in --help"
            assert old[opt] in action.option_strings  # the alias of the new flag


@pytest.mark.parametrize("argv,dest,value", [
    (["--batch-size", "3"], "batch_size", 3),
    (["--batch_size", "3"], "batch_size", 3),
    (["--weights", "vox-256"], "weight_path", "vox-256"),
    (["--weight_path", "vox-256"], "weight_path", "vox-256"),
    (["--no-perceptual"], "no_perceptual", True),
    (["--max-steps", "7"], "max_steps", 7),
])
def test_old_training_spellings_still_work(argv, dest, value):
    args = train_parser().parse_args(["--config", "c.yaml", "--data", "d", *argv])
    assert getattr(args, dest) == value


def test_old_spelling_logs_a_deprecation_warning(capsys, tmp_path):
    from ppgan_fom.cli import evaluate_main

    rc = evaluate_main(["--data", str(tmp_path / "nowhere"), "--weights", "vox-256",
                        "--batch-size", "2", "--quiet"])
    assert rc == 2  # the data root does not exist; the flags themselves parsed
    text = capsys.readouterr().err
    assert "--weights is deprecated" in text and "use --weight_path" in text
    assert "--batch-size is deprecated" in text and "use --batch_size" in text


def test_demo_keeps_paddlegan_spellings():
    flags = {opt for opt, _ in _long_flags(demo_parser())}
    for paddlegan in ("--driving_video", "--source_image", "--weight_path", "--config",
                      "--relative", "--adapt_scale", "--find_best_frame", "--best_frame",
                      "--ratio", "--filename", "--face_detector", "--multi_person",
                      "--image_size", "--batch_size", "--mobile_net", "--output"):
        assert paddlegan in flags
