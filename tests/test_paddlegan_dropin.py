"""PaddleGAN drop-in: every flag of PaddleGAN's ``applications/tools/first-order-demo.py``
and every keyword (in its positional order) of ``ppgan.apps.FirstOrderPredictor`` is
accepted with PaddleGAN's meaning, and PaddleGAN's documented command lines run through
the command line with small local weights.

The PaddleGAN facts below are written out by hand from ppgan 2.1's sources (not taken
from this project's code), so a renamed or re-ordered option here fails the test.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, SMALL
from dropin_helpers import (DRIVING, PORTRAIT, SMALL_CFG, SMALL_WEIGHTS, SYNDICS, decoded,
                            error_lines, last_line, paste_mask, run_demo, short_clip,
                            write_random_fomm)
from pipeline_helpers import stream_durations
from ppgan_fom import FirstOrderPredictor
from ppgan_fom.cli.demo import demo_parser
from ppgan_fom.cli.flags import options_from_args
from ppgan_fom.errors import InputError
from ppgan_fom.media import probe_video, read_image
from ppgan_fom.options import AnimateOptions
from ppgan_fom.pipeline.models import official_weights

#: ppgan 2.1 ``FirstOrderPredictor.__init__`` parameters, in order, with their defaults.
PADDLEGAN_KEYWORDS = [
    ("output", "output"), ("weight_path", None), ("config", None), ("relative", False),
    ("adapt_scale", False), ("find_best_frame", False), ("best_frame", None), ("ratio", 1.0),
    ("filename", "result.mp4"), ("face_detector", "sfd"), ("multi_person", False),
    ("image_size", 256), ("face_enhancement", False), ("batch_size", 1),
    ("mobile_net", False), ("slice_size", 0)]
#: flags of PaddleGAN's first-order-demo.py (value flags with an example value)
PADDLEGAN_VALUE_FLAGS = {"--config": "c.yaml", "--weight_path": "w.pdparams",
                         "--source_image": "s.png", "--driving_video": "d.mp4",
                         "--output": "outdir", "--filename": "f.mp4", "--best_frame": "3",
                         "--ratio": "0.45", "--face_detector": "sfd", "--image_size": "512",
                         "--batch_size": "4", "--slice_size": "1048576"}
PADDLEGAN_SWITCHES = ["--relative", "--adapt_scale", "--find_best_frame", "--cpu", "--xpu",
                      "--multi_person", "--face_enhancement", "--mobile_net"]
PADDLEGAN_METHODS = ["run", "read_img", "load_checkpoints", "make_animation",
                     "find_best_frame_func", "extract_bbox", "IOU"]

GPEN_URL = "https://paddlegan.bj.bcebos.com/models/GPEN-512.pdparams"


# --------------------------------------------------------------------------- flags
def test_every_paddlegan_flag_parses_with_its_meaning():
    argv = [x for kv in PADDLEGAN_VALUE_FLAGS.items() for x in kv]
    argv += [s for s in PADDLEGAN_SWITCHES if s != "--xpu"]  # --cpu/--xpu: exclusive
    args = demo_parser().parse_args(argv)
    opts = options_from_args(args)
    assert (args.source_image, args.driving_video) == ("s.png", "d.mp4")
    assert (opts.config, opts.weight_path, opts.output, opts.filename) == \
        ("c.yaml", "w.pdparams", "outdir", "f.mp4")
    assert (opts.best_frame, opts.ratio, opts.image_size, opts.batch_size) == (3, 0.45, 512, 4)
    assert opts.slice_size == 1048576 and opts.face_detector == "sfd"
    assert opts.detector_name == "s3fd"  # PaddleGAN's sfd is the S3FD detector
    assert opts.relative and opts.adapt_scale and opts.find_best_frame and opts.cpu
    assert opts.multi_person and opts.face_enhancement and opts.mobile_net
    assert opts.requested_device == "cpu"
    xpu = options_from_args(demo_parser().parse_args(["--source_image", "s", "--driving_video",
                                                       "d", "--xpu"]))
    assert xpu.xpu and xpu.requested_device == "xpu"


def test_paddlegan_defaults_where_they_are_kept():
    opts = options_from_args(demo_parser().parse_args(["--source_image", "s",
                                                       "--driving_video", "d"]))
    # first-order-demo.py's defaults (its --ratio is 0.4; the class's own default is 1.0)
    assert (opts.output, opts.filename, opts.ratio, opts.batch_size, opts.slice_size) == \
        ("output", "result.mp4", 0.4, 1, 0)
    assert not (opts.relative or opts.adapt_scale or opts.multi_person or opts.mobile_net
                or opts.face_enhancement or opts.find_best_frame or opts.cpu or opts.xpu)


def test_slice_size_help_says_it_is_not_needed():
    action = next(a for a in demo_parser()._actions if "--slice_size" in a.option_strings)
    assert "ignored" in action.help and "streamed" in action.help


def test_cpu_and_xpu_are_exclusive_and_device_is_checked():
    with pytest.raises(InputError, match="--cpu and --xpu are mutually exclusive"):
        AnimateOptions(cpu=True, xpu=True)
    with pytest.raises(InputError, match="contradicts"):
        AnimateOptions(xpu=True, device="gpu:0")
    with pytest.raises(InputError, match="not a Paddle device"):
        AnimateOptions(device="gpu 0")
    with pytest.raises(InputError, match="--slice_size must be >= 0"):
        AnimateOptions(slice_size=-1)
    assert AnimateOptions(device="GPU:1").requested_device == "gpu:1"
    assert AnimateOptions().requested_device is None


# --------------------------------------------------------------------------- keywords
def test_every_keyword_in_paddlegans_positional_order():
    values = {"output": "out_dir", "weight_path": "w.pdparams", "config": "c.yaml",
              "relative": True, "adapt_scale": True, "find_best_frame": True,
              "best_frame": 2, "ratio": 0.5, "filename": "x.mp4", "face_detector": "sfd",
              "multi_person": True, "image_size": 512, "face_enhancement": True,
              "batch_size": 3, "mobile_net": True, "slice_size": 7}
    assert [k for k, _ in PADDLEGAN_KEYWORDS] == list(values)
    by_position = FirstOrderPredictor(*values.values(), load_models=False).options
    by_keyword = FirstOrderPredictor(load_models=False, **values).options
    assert by_position == by_keyword
    for name, value in values.items():
        assert getattr(by_position, name) == value, name
    # each position alone (several of PaddleGAN's are booleans: a swap of two of them
    # passing True to both would go unseen above)
    defaults = AnimateOptions()
    for i, name in enumerate(values):
        args = [getattr(defaults, k) for k in list(values)[:i]]
        flipped = (not getattr(defaults, name)) if isinstance(values[name], bool) else values[name]
        got = FirstOrderPredictor(*args, flipped, load_models=False).options
        changed = [k for k in values if getattr(got, k) != getattr(defaults, k)]
        assert changed == [name], f"position {i} set {changed}, not {name!r}"
    # PaddleGAN's README form: the output directory as the first positional argument
    p = FirstOrderPredictor("output_dir", relative=True, load_models=False)
    assert p.options.output == "output_dir" and p.options.relative
    assert p.ratio == 0.4 and p.relative  # arguments read back as attributes, as there
    with pytest.raises(TypeError, match="multiple values for argument"):
        FirstOrderPredictor("a", output="b", load_models=False)
    with pytest.raises(TypeError, match="at most 16 positional"):
        FirstOrderPredictor(*values.values(), 1, load_models=False)
    opts = AnimateOptions(ratio=0.3)
    assert FirstOrderPredictor(opts, load_models=False).options is opts
    assert FirstOrderPredictor(options=opts, load_models=False).options is opts


def test_config_dict_without_weight_path(tmp_path):
    """PaddleGAN's ``config=`` dict, as PaddleGAN's own tutorial code passes it."""
    import yaml

    cfg = yaml.safe_load(SMALL_CFG.read_text())
    p = FirstOrderPredictor(config=cfg, weight_path=str(SMALL_WEIGHTS), output=str(tmp_path))
    assert p.config.image_size == 64 and p.cfg["model"]["common_params"]["num_kp"] == \
        cfg["model"]["common_params"]["num_kp"]


@pytest.mark.parametrize("kw,expected", [
    ({}, "vox-256"),
    ({"image_size": 512}, "vox-512"),
    ({"mobile_net": True}, "vox-mobile"),
    ({"mobile_net": True, "image_size": 512}, "vox-mobile"),   # PaddleGAN tests mobile first
    ({"config": "some/firstorder_vox_mobile_256.yaml", "mobile_net": True}, "vox-mobile"),
    ({"config": "my.yaml"}, "vox-256"),
    ({"config": "my.yaml", "image_size": 512}, "vox-512"),
    ({"config": {"model": {}}, "image_size": 384}, "vox-256"),
    ({"config": "vox-512"}, "vox-512"),                        # a preset keeps its own
    ({"config": "vox-mobile"}, "vox-mobile"),
])
def test_official_weights_are_chosen_as_paddlegan_does(kw, expected):
    assert official_weights(AnimateOptions(**kw)) == expected


def test_custom_config_with_mismatched_official_weights_says_why(tmp_path, monkeypatch):
    """A YAML config without --weight_path gets PaddleGAN's choice; when that file does
    not fit the config the message says which weights were chosen and why."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("PPGAN_FOM_HOME", str(home))
    write_random_fomm(home / "vox-mobile.pdparams", "vox-mobile")
    from ppgan_fom.errors import WeightsError
    from ppgan_fom.pipeline import load_animator

    with pytest.raises(WeightsError) as err:
        load_animator(AnimateOptions(config=str(SMALL_CFG), mobile_net=True))
    msg = str(err.value)
    assert "\n" not in msg and "'vox-mobile'" in msg and "pass --weight_path" in msg


# --------------------------------------------------------------------------- devices
def test_xpu_without_an_xpu_build_is_one_line(tmp_path, capsys):
    import paddle

    if paddle.device.is_compiled_with_xpu():
        pytest.skip("this Paddle has XPU support")
    rc = run_demo(["--driving_video", DRIVING, "--source_image", PORTRAIT, "--xpu",
                   "--config", SMALL_CFG, "--weight_path", SMALL_WEIGHTS,
                   "--output", tmp_path])
    err = capsys.readouterr().err
    assert rc == 2
    assert re.fullmatch(r"error: device 'xpu' requested but this PaddlePaddle \S+ build has "
                        r"no XPU support: .*--cpu\)", last_line(err))
    assert not (tmp_path / "result.mp4").exists()


def test_device_selection_uses_the_device_paddle_has(monkeypatch):
    import paddle

    from ppgan_fom.pipeline.models import _engine_kind
    from ppgan_fom.runtime import select_device

    assert select_device("cpu") == "cpu"
    assert select_device(None) == paddle.device.get_device()
    monkeypatch.setattr(paddle.device, "is_compiled_with_xpu", lambda: True)
    monkeypatch.setattr(paddle.device.xpu, "device_count", lambda: 2)
    assert select_device("xpu") == "xpu:0" and select_device("xpu:1") == "xpu:1"
    with pytest.raises(InputError, match=r"only 2 XPU device\(s\) are visible"):
        select_device("xpu:2")
    monkeypatch.setattr(paddle.device.xpu, "device_count", lambda: 0)
    with pytest.raises(InputError, match="no XPU device is visible"):
        select_device("xpu")
    if not paddle.device.is_compiled_with_cuda():
        with pytest.raises(InputError, match="no GPU support: install the CUDA build"):
            select_device("gpu")
    # the static engine (Paddle Inference) runs on CPU/GPU; an XPU runs the eager engine
    assert _engine_kind(AnimateOptions(), "xpu:0") == "eager"
    assert _engine_kind(AnimateOptions(engine="eager"), "cpu") == "eager"
    assert _engine_kind(AnimateOptions(), "cpu") is None
    with pytest.raises(InputError, match="--engine static runs on the CPU and GPUs only"):
        _engine_kind(AnimateOptions(engine="static"), "xpu:0")


# --------------------------------------------------------------------------- docs
def test_docs_cover_every_paddlegan_flag_keyword_and_method():
    rows = [ln for ln in (REPO / "docs" / "paddlegan.md").read_text().splitlines()
            if ln.startswith("| ")]
    for i, (name, _) in enumerate(PADDLEGAN_KEYWORDS, 1):  # the keyword table, in order
        assert any(ln.startswith(f"| {i} | `{name}` |") for ln in rows), name
    for flag in [*PADDLEGAN_VALUE_FLAGS, *PADDLEGAN_SWITCHES]:  # one row per flag
        assert any(ln.startswith(f"| `{flag}` |") for ln in rows), flag
    for method in PADDLEGAN_METHODS:
        assert any(ln.startswith(f"| `{method}(") for ln in rows), method
    assert "docs/paddlegan.md" in (REPO / "README.md").read_text()
    options_doc = (REPO / "docs" / "options.md").read_text()
    import dataclasses
    for f in dataclasses.fields(AnimateOptions):
        assert f"| `{f.name}` |" in options_doc, f"docs/options.md lacks {f.name}"


def test_paddlegan_methods_exist():
    for method in PADDLEGAN_METHODS:
        assert callable(getattr(FirstOrderPredictor, method)), method


# --------------------------------------------------------------------------- commands
@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return short_clip(tmp_path_factory.mktemp("clip") / "drive8.mp4", 8)


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """Offline, with an empty weights cache (conftest sets offline mode)."""
    home = tmp_path / "cache"
    home.mkdir()
    monkeypatch.setenv("PPGAN_FOM_HOME", str(home))
    monkeypatch.setenv("PPGAN_FOM_OFFLINE", "1")
    return home


def _quick_start(clip, source, out):
    """PaddleGAN's quick start (docs/en_US/tutorials/motion_driving.md), paths replaced."""
    return ["--driving_video", clip, "--source_image", source, "--ratio", "0.4",
            "--relative", "--adapt_scale", "--image_size", "512", "--face_enhancement",
            "--multi_person", "--output", out]


def test_quick_start_offline_without_enhancer_weights_is_one_line(tmp_path, clip,
                                                                   empty_cache):
    """The exact quick-start command through applications/tools/first-order-demo.py."""
    cmd = [sys.executable, str(REPO / "applications" / "tools" / "first-order-demo.py"),
           *map(str, _quick_start(clip, PORTRAIT, tmp_path / "out"))]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 2, r.stderr[-2000:]
    line = last_line(r.stderr)
    assert error_lines(r.stderr) == [line]
    assert line.startswith("error: offline (PPGAN_FOM_OFFLINE is set) and weights "
                           "'gpen-512' are not cached")
    assert GPEN_URL in line and str(empty_cache / "GPEN-512.pdparams") in line
    assert "--enhancer_weight_path" in line
    assert "loaded FOMM weights" not in r.stderr  # stopped before any model was built
    assert not (tmp_path / "out" / "result.mp4").exists()


def test_image_size_512_asks_for_paddlegans_512_weights(tmp_path, clip, empty_cache, capsys):
    rc = run_demo(["--driving_video", clip, "--source_image", PORTRAIT, "--image_size",
                   "512", "--relative", "--adapt_scale", "--output", tmp_path])
    line = last_line(capsys.readouterr().err)
    assert rc == 2 and "weights 'vox-512' are not cached" in line
    assert "vox-cpk-512.pdparams" in line and "--weight_path" in line


@pytest.mark.slow
def test_quick_start_runs_with_local_weights(tmp_path, clip, empty_cache, capsys):
    """The quick start, everything local: the FOMM weights PaddleGAN picks for
    ``--image_size 512`` (``vox-cpk-512.pdparams``; here the small test model under that
    name, with its config) and a GPEN checkpoint via ``--enhancer_weight_path``."""
    from dropin_helpers import write_small_gpen

    (empty_cache / "vox-cpk-512.pdparams").write_bytes(SMALL_WEIGHTS.read_bytes())
    gpen = write_small_gpen(tmp_path / "gpen64.pdparams")
    argv = _quick_start(clip, PORTRAIT, tmp_path / "out") + [
        "--config", SMALL_CFG, "--enhancer_weight_path", gpen]
    rc = run_demo(argv)
    err = capsys.readouterr().err
    assert rc == 0, err[-2000:]
    assert "vox-cpk-512.pdparams" in err and "face enhancement: GPEN 64 px" in err
    out = tmp_path / "out" / "result.mp4"
    info = probe_video(out)
    assert (info.width, info.height, info.n_frames) == (256, 256, 8)
    assert info.has_audio


@pytest.mark.slow
def test_mobile_command(tmp_path, clip, empty_cache, capsys):
    """PaddleGAN's lightweight-model command: its mobile YAML and --mobile_net, no
    --weight_path (vox-mobile.pdparams is picked; here random weights of that
    architecture under that name)."""
    write_random_fomm(empty_cache / "vox-mobile.pdparams", "vox-mobile")
    yaml_path = tmp_path / "firstorder_vox_mobile_256.yaml"
    yaml_path.write_text(MOBILE_YAML)
    rc = run_demo(["--driving_video", clip, "--source_image", PORTRAIT, "--config",
                   yaml_path, "--ratio", "0.4", "--relative", "--adapt_scale",
                   "--mobile_net", "--output", tmp_path / "out"])
    err = capsys.readouterr().err
    assert rc == 0, err[-2000:]
    assert "vox-mobile.pdparams" in err and "config firstorder_vox_mobile_256, 256x256" in err
    out = tmp_path / "out" / "result.mp4"
    info = probe_video(out)
    assert (info.width, info.height, info.n_frames, info.has_audio) == (256, 256, 8, True)


@pytest.fixture(scope="module")
def multi_runs(tmp_path_factory, clip):
    """The README's PaddleGAN-style multi-person command with --batch_size 1 and 4."""
    root = tmp_path_factory.mktemp("multi")
    outs = {}
    for b in (1, 4):
        rc = run_demo(["--driving_video", clip, "--source_image", SYNDICS, "--ratio", "0.4",
                       "--relative", "--adapt_scale", "--multi_person", "--batch_size", b,
                       "--config", SMALL_CFG, "--weight_path", SMALL_WEIGHTS,
                       "--output", root, "--filename", f"b{b}.mp4"])
        assert rc == 0
        outs[b] = root / f"b{b}.mp4"
    return outs


@pytest.mark.slow
def test_multi_person_animates_every_face(multi_runs, clip):
    photo = read_image(SYNDICS)
    p = FirstOrderPredictor(config=str(SMALL_CFG), weight_path=str(SMALL_WEIGHTS),
                            multi_person=True, load_models=False)
    boxes = p.face_boxes(photo)
    assert len(boxes) >= 4  # the Syndics: five or six faces
    frames = decoded(multi_runs[1])
    assert frames.shape == (8, 900, 1200, 3)
    for box in boxes:  # every face's disc was replaced
        mask = paste_mask(photo, [box], 0.4)
        diff = np.abs(frames[4].astype(int) - photo.astype(int))[mask]
        assert diff.mean() > 10, box
    outside = ~paste_mask(photo, boxes, 0.4)
    assert np.abs(frames[4].astype(int) - photo.astype(int))[outside].mean() < 2
    durations = stream_durations(multi_runs[1])
    assert durations["audio"] == pytest.approx(durations["video"], abs=0.05)


@pytest.mark.slow
def test_batch_size_gives_the_same_video(multi_runs):
    """``--batch_size 4`` gives batch 1's video: the same frames (decoded: within H.264's
    noise, which amplifies a one-grey-level rounding difference into scattered codec
    decisions), and the animated faces themselves equal within one grey level."""
    a, b = decoded(multi_runs[1]).astype(int), decoded(multi_runs[4]).astype(int)
    assert a.shape == b.shape
    diff = np.abs(a - b)
    assert diff.mean() < 0.5, diff.mean()
    from ppgan_fom import FirstOrderPredictor
    from ppgan_fom.driving import DrivingCrop, driving_frames
    from ppgan_fom.geometry import crop_square
    from ppgan_fom.media import read_image

    src = read_image(REPO / "docs" / "samples" / "syndics_1200x900.jpg")
    drive = [f for _, f in zip(range(8), driving_frames(REPO / "docs" / "samples" /
                                                         "driving_3s.mp4",
                                                         DrivingCrop(None, ""), 64))]
    faces = {}
    for batch in (1, 4):
        p = FirstOrderPredictor(config=str(SMALL / "fom_small64.yaml"),
                                weight_path=str(SMALL / "fom_small64_random.pdparams"),
                                batch_size=batch, relative=True, adapt_scale=True,
                                multi_person=True)
        crops = [crop_square(src, box, 64) for box in p.face_boxes(src)]
        faces[batch] = np.stack(list(p.animate_faces(crops, drive))).astype(int)
    raw = np.abs(faces[1] - faces[4])
    assert raw.max() <= 1 and (raw > 0).mean() < 1e-4, (raw.max(), (raw > 0).mean())


#: The model section of PaddleGAN's configs/firstorder_vox_mobile_256.yaml (values copied
#: as facts; training sections omitted), with its dataset frame shape.
MOBILE_YAML = """\
dataset:
  train:
    name: FirstOrderDataset
    frame_shape: [256, 256, 3]
model:
  name: FirstOrderModelMobile
  mode: generator
  kp_weight_path: None
  gen_weight_path: None
  common_params:
    num_kp: 10
    num_channels: 3
    estimate_jacobian: True
  generator:
    name: FirstOrderGenerator
    kp_detector_cfg:
      temperature: 0.1
      block_expansion: 32
      max_features: 256
      scale_factor: 0.25
      num_blocks: 5
      mobile_net: True
    generator_cfg:
      block_expansion: 32
      max_features: 256
      num_down_blocks: 2
      num_bottleneck_blocks: 6
      estimate_occlusion_map: True
      dense_motion_params:
        block_expansion: 32
        max_features: 256
        num_blocks: 5
        scale_factor: 0.25
      mobile_net: True
"""


# --------------------------------------------------------------------------- methods
@pytest.fixture(scope="module")
def small_predictor():
    return FirstOrderPredictor(config=str(SMALL_CFG), weight_path=str(SMALL_WEIGHTS),
                               batch_size=3, multi_person=True)


def test_paddlegan_methods_on_this_pipeline(small_predictor, clip):
    from ppgan_fom.driving import DrivingCrop, driving_frames
    from ppgan_fom.geometry import crop_square

    p = small_predictor
    photo = p.read_img(str(SYNDICS))
    np.testing.assert_array_equal(photo, read_image(SYNDICS))
    boxes = p.extract_bbox(photo)
    assert boxes.shape[1] == 5 and len(boxes) == len(p.face_boxes(photo))
    sides = boxes[:, 2] - boxes[:, 0]
    np.testing.assert_array_equal(boxes[:, 4], sides * (boxes[:, 3] - boxes[:, 1]))
    # PaddleGAN's IOU: overlap / (sa + sb - overlap), with the areas passed in
    assert p.IOU(0, 0, 10, 10, 100, 5, 0, 15, 10, 100) == pytest.approx(50 / 150)
    assert p.IOU(0, 0, 10, 10, 100, 20, 20, 30, 30, 100) == 0.0
    # make_animation: PaddleGAN's float conventions around the same animation
    face = crop_square(photo, tuple(boxes[0, :4]), 64)
    drive = [f for _, f in zip(range(5), driving_frames(clip, DrivingCrop(None, "t"), 64))]
    got = p.make_animation(face / 255.0, [f / 255.0 for f in drive], p.generator,
                           p.kp_detector, relative=True, adapt_movement_scale=True)
    assert got.shape == (5, 64, 64, 3) and got.dtype == np.float32
    p2 = FirstOrderPredictor(options=p.options.replace(relative=True, adapt_scale=True))
    want = np.stack([f[0] for f in p2.animate_faces([face], drive)])
    assert np.abs(got - want).max() <= 1  # the float face differs from uint8 by < 0.5
    with pytest.raises(ValueError, match="own networks"):
        p.make_animation(face / 255.0, drive, generator=object())
    # find_best_frame_func picks the frame the pipeline's best-frame search picks
    from ppgan_fom.pipeline.reference import reference_keypoints

    state = p.animator.prepare_sources([face])
    _, index = reference_keypoints(p.animator, state, lambda: iter(drive), best_frame=None,
                                   find_best_frame=True)
    assert p.find_best_frame_func(face / 255.0, [f / 255.0 for f in drive]) == index
    # cfg is PaddleGAN's config dict; load_checkpoints builds the networks from it
    from ppgan_fom.config import load_config

    assert load_config(p.cfg).generator == p.config.generator
    gen, kp = p.load_checkpoints(p.cfg, str(SMALL_WEIGHTS))
    assert type(gen) is type(p.generator) and type(kp) is type(p.kp_detector)
    assert p.faceenhancer is None
