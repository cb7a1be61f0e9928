"""The sample media of ``../shared/media``, from the repository alone.

Every file of ``../shared/media`` that a test reads is either a byte-identical copy in
the repository (``docs/samples/``, ``tests/data/media/``) or is made here, once per test
session, from those copies exactly as ``../shared/media/SOURCES.md`` describes it (the
truncated files are prefixes of the samples). :data:`SHA256` holds the digests of the
``../shared`` originals; ``tests/test_test_data.py`` checks every file against them.

The 58 s driving clip (2.1 MB) is not copied: :func:`long_driving_clip` loops the 3 s
sample (stream copy, no re-encoding) into a 60 s clip of 1800 frames, which is what the
tests need from it (a run that is still going when it is interrupted, memory against
length, a long file read to its end).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Dict, Optional

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "docs" / "samples"
DATA_MEDIA = Path(__file__).resolve().parent / "data" / "media"

#: ../shared/media name -> its byte-identical copy in the repository
COPIES: Dict[str, Path] = {
    "single_face_fom_source_256x256.png": SAMPLES / "source_256x256.png",
    "multi_face_syndics_1200x900.jpg": SAMPLES / "syndics_1200x900.jpg",
    "driving_fom_dv_256x256_3s.mp4": SAMPLES / "driving_3s.mp4",
    "multi_face_two_people_1126x661.jpg": DATA_MEDIA / "multi_face_two_people_1126x661.jpg",
    "single_face_astronaut_512x512.png": DATA_MEDIA / "single_face_astronaut_512x512.png",
    "no_face_grass_780x519.jpg": DATA_MEDIA / "no_face_grass_780x519.jpg",
}

#: sha256 of the ../shared/media originals (the generated bad files equal them too,
#: except the faststart one, whose header bytes depend on the muxer's version)
SHA256 = {
    "single_face_fom_source_256x256.png":
        "c98a2362e54af8f70d3c43fd6e01059f4603e8491113fb9aa82a49fc57e3cc99",
    "multi_face_syndics_1200x900.jpg":
        "e64bfa99498ff37f85703cce0da2984f8921d07ec2225e92e50dcd151ad586de",
    "driving_fom_dv_256x256_3s.mp4":
        "df2caef95f1ace514f51c769e6b17f362a3c60c0492640da68e9272ee56c54d7",
    "multi_face_two_people_1126x661.jpg":
        "536b29cd513fb618e4d5aa79d51a279948daa804ce359463449cce5f9dc68aa7",
    "single_face_astronaut_512x512.png":
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    "no_face_grass_780x519.jpg":
        "223249440b2ffd799acd7bcd248d80cbc6afe25aec8d313b1f30d35ece42e7e4",
    "bad_truncated_no_moov.mp4":
        "2e023ba4fccfe6e6e23c465003b6cd3cb046f7c3c7151e3b3772397411644015",
    "bad_truncated.png": "5965082c7dc9e7e1dcf5f00453210eea3064267c882058ecb8365f72abe007b2",
    "bad_not_an_image.png": "32cf2da4481cc6ae69207192b819b411b5def97cf39be3ca8d268755c93488a5",
}

LONG_LOOPS = 20  # 20 x 90 frames


def _ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error",
                    "-y", *args], check=True)


def _prefix(name: str, size: int) -> Callable[[Path], None]:
    def make(out: Path) -> None:
        out.write_bytes(COPIES[name].read_bytes()[:size])
    return make


def _not_an_image(out: Path) -> None:
    out.write_text("This is a plain-text file, not a PNG image. Used as a bad-input test case.\n")


def _truncated_faststart(out: Path) -> None:
    """The 3 s clip remuxed with its index in front, cut to 31000 bytes: the header
    claims 90 frames; the cut falls inside the 41st frame's data, so 40 decode."""
    import av

    full = out.with_name("faststart_full.mp4")
    _ffmpeg("-i", str(COPIES["driving_fom_dv_256x256_3s.mp4"]), "-c", "copy",
            "-movflags", "+faststart", str(full))
    with av.open(str(full)) as c:
        packets = [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size]
    start, size = packets[40]
    assert start < 31000 < start + size, f"31000 is not inside frame 41 ({start}+{size})"
    out.write_bytes(full.read_bytes()[:31000])
    full.unlink()


GENERATED: Dict[str, Callable[[Path], None]] = {
    "bad_truncated_no_moov.mp4": _prefix("driving_fom_dv_256x256_3s.mp4", 32768),
    "bad_truncated.png": _prefix("single_face_fom_source_256x256.png", 4096),
    "bad_not_an_image.png": _not_an_image,
    "bad_truncated_faststart.mp4": _truncated_faststart,
}

_dir: Optional[Path] = None


def _workdir() -> Path:
    global _dir
    if _dir is None:
        _dir = Path(tempfile.mkdtemp(prefix="ppgan_fom_media-"))
    return _dir


def cleanup() -> None:
    """Remove the files made in this session (called when the session ends)."""
    global _dir
    if _dir is not None:
        shutil.rmtree(_dir, ignore_errors=True)
        _dir = None


def sample_media(name: str) -> Path:
    """Path of ``../shared/media/<name>``'s content from the repository: the in-repo
    copy, or the file made from it (once per session). Treat it as read-only."""
    if name in COPIES:
        return COPIES[name]
    if name not in GENERATED:
        raise KeyError(f"{name}: not a sample of ../shared/media that the repository "
                       f"holds or can make (see tests/sample_media.py)")
    out = _workdir() / name
    if not out.exists():
        tmp = out.with_name(f".{name}.part")
        GENERATED[name](tmp)
        tmp.replace(out)
    return out


def long_driving_clip() -> Path:
    """A 60 s, 1800-frame 256x256 talking head (the 3 s sample looped 20 times, stream
    copy, 30 fps), made once per session."""
    out = _workdir() / "driving_long_1800.mp4"
    if not out.exists():
        listing = _workdir() / "loop.txt"
        clip = COPIES["driving_fom_dv_256x256_3s.mp4"]
        listing.write_text("".join(f"file '{clip}'\n" for _ in range(LONG_LOOPS)))
        tmp = out.with_name(".driving_long.part.mp4")
        _ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(tmp))
        tmp.replace(out)
    return out
