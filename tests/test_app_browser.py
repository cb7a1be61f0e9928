"""The web app in a real browser: the server started on 127.0.0.1 in a subprocess with
the small local weights, driven by headless Chromium (Debian's ``chromium`` through
Playwright's Python API). Uploads, the Animate and Anonymize buttons, downloads, the
one-line error box, the upload limit, two jobs submitted at once, and the temp files.

Screenshots of both tabs are saved under the tests' temp dir (``app_screenshots``), or
in ``$PPGAN_FOM_APP_SCREENSHOTS``.

Needs ``pip install -e ".[app]" playwright`` and ``apt-get install -y chromium`` (never
``playwright install``: the browser is Debian's). Without them the tests skip with the
reason; on CI (``CI`` set) a missing browser fails instead, so that a missing install
step cannot pass unnoticed, unless ``PPGAN_FOM_SKIP_BROWSER=1`` says the machine cannot
have one.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app_helpers import (CLIP_FRAMES, PHOTO, PORTRAIT, REPO, SAMPLE_CLIP, SMALL_MODEL_FLAGS,
                         short_clip_with_tone)
from ppgan_fom.media import probe_video, read_frames

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
#: the test server refuses videos longer than this (the bundled 3 s sample is)
MAX_SECONDS = 2.5
#: and files larger than this (every file the tests upload is smaller)
MAX_MB = 1
JOB_TIMEOUT_MS = 180_000


def _missing() -> str:
    if importlib.util.find_spec("gradio") is None:
        return 'Gradio is not installed (pip install -e ".[app]")'
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (pip install playwright)"
    if not CHROMIUM.is_file():
        return "Debian's chromium is not installed (apt-get install -y chromium)"
    return ""


@pytest.fixture(scope="module", autouse=True)
def _browser_available():
    reason = _missing()
    if reason:
        if os.environ.get("CI") and os.environ.get("PPGAN_FOM_SKIP_BROWSER") != "1":
            pytest.fail(f"{reason}: CI must install it (or set PPGAN_FOM_SKIP_BROWSER=1 "
                        f"where a browser cannot be installed)")
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The app in a subprocess; its log in ``log``; its temp root under ``tmp``."""

    def __init__(self, base: Path):
        self.tmp = base / "srv"
        self.systmp = base / "systmp"
        self.tmp.mkdir()
        self.systmp.mkdir()
        self.log = base / "server.log"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        # the engine cache is the session's (conftest): the small model's graphs are
        # exported once for all the tests
        env = dict(os.environ, TMPDIR=str(self.systmp), PYTHONUNBUFFERED="1",
                   PPGAN_FOM_OFFLINE="1")
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, str(REPO / "applications" / "tools" / "app.py"),
                 "--host", "127.0.0.1", "--port", str(self.port), "--tmp_dir", str(self.tmp),
                 "--max_video_seconds", str(MAX_SECONDS), "--max_upload_mb", str(MAX_MB),
                 *SMALL_MODEL_FLAGS],
                cwd=str(REPO), env=env, stdout=fh, stderr=subprocess.STDOUT)
        deadline = time.time() + 180
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"the app exited with {self.proc.returncode}:\n"
                                     f"{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                self.stop()
                raise AssertionError(f"the app did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.5)

    @property
    def root(self) -> Path:
        [root] = list(self.tmp.iterdir())
        return root

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("app_server"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    where = os.environ.get("PPGAN_FOM_APP_SCREENSHOTS")
    out = Path(where) if where else tmp_path_factory.getbasetemp() / "app_screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    blocked = []

    def only_local(route):
        if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:",
                                         "blob:")):
            route.continue_()
        else:  # the page must work offline: nothing outside this machine is fetched
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium_profile")), executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS, headless=True, accept_downloads=True,
            viewport={"width": 1280, "height": 1000})
        ctx.route("**/*", only_local)
        ctx.blocked = blocked
        yield ctx
        ctx.close()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return short_clip_with_tone(tmp_path_factory.mktemp("clip") / "talk.mp4")


def _open(context, server):
    page = context.new_page()
    page.goto(server.url)
    page.locator("#animate_button").wait_for()
    return page


def _upload(page, elem_id: str, files) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files(files)


def _download(page, link, dest: Path) -> Path:
    with page.expect_download() as info:
        link.click()
    info.value.save_as(dest)
    return dest


def _error(page) -> str:
    return page.locator("#error_box").inner_text().strip()


def _check_video(path: Path, frames: int, size, audio: bool = True) -> None:
    info = probe_video(path)
    assert (info.n_frames, (info.width, info.height), info.has_audio) == (frames, size, audio)
    assert sum(1 for _ in read_frames(path)) == frames


def _animate(page, photo: Path, clip: Path) -> None:
    _upload(page, "source_image", str(photo))
    _upload(page, "driving_video", str(clip))
    page.locator("#face_preview img").wait_for(timeout=JOB_TIMEOUT_MS)
    page.locator("#driving_info").get_by_text("frames").wait_for()


def _result_link(page, elem_id: str, suffix: str):
    return page.locator(f"#{elem_id} a[download$='{suffix}']")


def test_animate_uploads_previews_and_downloads(context, server, clip, shots, tmp_path):
    page = _open(context, server)
    _animate(page, PHOTO, clip)
    count = page.locator("#face_count").inner_text()
    n = int(re.match(r"(\d+) face\(s\) found; all will be animated", count).group(1))
    assert n >= 4, count  # the Syndics: five painted faces
    page.screenshot(path=str(shots / "app_animate_ready.png"), full_page=True)
    page.locator("#animate_button").click()
    # the per-frame progress shows while the job runs
    page.get_by_text(re.compile(r"animating")).first.wait_for(timeout=JOB_TIMEOUT_MS)
    link = _result_link(page, "result_file", ".mp4")
    link.wait_for(timeout=JOB_TIMEOUT_MS)
    assert _error(page) == ""
    assert page.locator("#result_video video").count() == 1
    out = _download(page, link, tmp_path / "animated.mp4")
    _check_video(out, CLIP_FRAMES, (1200, 900))
    page.screenshot(path=str(shots / "app_animate.png"), full_page=True)
    assert list((server.root / "jobs").iterdir()) == []  # nothing of the job is left
    assert context.blocked == []
    page.close()


def test_anonymize_shows_the_report_and_downloads(context, server, clip, shots, tmp_path):
    page = _open(context, server)
    page.get_by_role("tab", name="Anonymize a video").click()
    _upload(page, "anon_video", str(clip))
    _upload(page, "target_faces", [str(PORTRAIT)])
    page.locator("#anon_info").get_by_text("with sound").wait_for()
    page.locator("#anonymize_button").click()
    video_link = _result_link(page, "anon_files", ".mp4")
    video_link.wait_for(timeout=JOB_TIMEOUT_MS)
    assert _error(page) == ""
    assert page.locator("#anon_result video").count() == 1
    out = _download(page, video_link, tmp_path / "anonymized.mp4")
    _check_video(out, CLIP_FRAMES, (256, 256))
    report = json.loads(_download(page, _result_link(page, "anon_files", ".json"),
                                  tmp_path / "report.json").read_text())
    assert report["frames"] == CLIP_FRAMES and report["targets"] == ["source_256x256.png"]
    tracks = report["totals"]["tracks"]
    assert tracks >= 1
    table = page.locator("#anon_report")
    assert "replaced by" in table.inner_text() and "source_256x256.png" in table.inner_text()
    summary = page.locator("#anon_summary").inner_text()
    assert summary.startswith(f"{tracks} face track(s)")
    page.screenshot(path=str(shots / "app_anonymize.png"), full_page=True)
    assert list((server.root / "jobs").iterdir()) == []
    page.close()


def test_bad_upload_shows_one_line_in_the_error_box(context, server, tmp_path):
    bad = tmp_path / "holiday.png"
    bad.write_text("this is a text file, not a picture\n")
    page = _open(context, server)
    _upload(page, "source_image", str(bad))
    box = page.locator("#error_box")
    box.get_by_text("holiday.png").wait_for(timeout=60_000)
    text = _error(page)
    assert text == "not an image (unrecognised format): holiday.png"
    # a press on Animate gives the same line, not a traceback
    _upload(page, "driving_video", str(SAMPLE_CLIP))
    page.locator("#animate_button").click()
    box.get_by_text("holiday.png").wait_for()
    page.wait_for_timeout(500)
    assert "Traceback" not in page.content() and "\n" not in _error(page)
    page.close()


def test_too_long_video_is_refused_with_the_limit(context, server):
    page = _open(context, server)
    _upload(page, "driving_video", str(SAMPLE_CLIP))
    page.locator("#error_box").get_by_text("lasts").wait_for(timeout=60_000)
    assert _error(page) == (f"driving video driving_3s.mp4 lasts 3.0 s; this app accepts "
                            f"videos up to {MAX_SECONDS:g} s (server option "
                            f"--max_video_seconds)")
    page.close()


def test_too_large_upload_is_refused_before_it_is_sent(context, server, tmp_path):
    big = tmp_path / "long_talk.mp4"
    big.write_bytes(os.urandom(int(1.5 * MAX_MB * 2 ** 20)))
    page = _open(context, server)
    _upload(page, "driving_video", str(big))
    page.get_by_text(re.compile(r"exceed the maximum allowed size of 1\.0 Mb.*long_talk\.mp4")
                     ).wait_for(timeout=30_000)
    page.close()
    uploaded = [p.name for p in (server.root / "cache").rglob("*") if p.is_file()]
    assert "long_talk.mp4" not in uploaded


def test_two_jobs_at_once_both_finish_one_after_the_other(context, server, clip, tmp_path):
    pages = [_open(context, server), _open(context, server)]
    photos = [(PHOTO, (1200, 900)), (PORTRAIT, (256, 256))]
    for page, (photo, _) in zip(pages, photos):
        _animate(page, photo, clip)
    log_start = len(server.text())
    for page in pages:  # both pressed before either finishes
        page.locator("#animate_button").click()
    for i, (page, (_, size)) in enumerate(zip(pages, photos)):
        link = _result_link(page, "result_file", ".mp4")
        link.wait_for(timeout=JOB_TIMEOUT_MS)
        assert _error(page) == ""
        _check_video(_download(page, link, tmp_path / f"r{i}.mp4"), CLIP_FRAMES, size)
        page.close()
    events = re.findall(r"job \d+ animate: (started|finished)", server.text()[log_start:])
    assert events == ["started", "finished", "started", "finished"], events


def test_server_stop_removes_its_temp_files(server):
    """Last in this module: SIGTERM stops the server and its temp root is gone."""
    root = server.root
    assert root.is_dir()
    assert server.stop() == 0, server.text()[-2000:]
    assert not root.exists() and list(server.tmp.iterdir()) == []
    assert list(server.systmp.iterdir()) == [], list(server.systmp.iterdir())
