"""The page (Gradio): layout, stable element ids, and the events that call the jobs.

Element ids the tests (and anyone automating the page) rely on: ``source_image``,
``driving_video``, ``animate_button``, ``result_video``, ``anon_video``,
``target_faces``, ``anonymize_button``, ``anon_result``, ``error_box``; and
``face_preview``, ``face_count``, ``result_file``, ``anon_files``, ``anon_report``,
``anon_summary``. Every event that runs a model shares one queue slot
(``concurrency_id="models"``, limit 1): jobs of several users run one after the other.
"""

from __future__ import annotations

import logging
from typing import Callable, List, Optional

from ..anonymize import AnonymizeOptions
from ..errors import FomError, InputError
from ..options import AnimateOptions
from .choices import (ANIMATE_CHOICES, ANIMATE_DEFAULTS, LABELS, OPTIONAL_ANIMATE,
                      OPTIONAL_ANONYMIZE, available, field_help)
from .jobs import (AppContext, animate_job, anonymize_job, check_faces, check_video,
                   preview_faces)
from .messages import error_message
from .samples import sample_clip, sample_faces, sample_photo

logger = logging.getLogger(__name__)

__all__ = ["build_ui", "MODELS_QUEUE", "CSS"]

#: The queue slot every model-running event shares.
MODELS_QUEUE = "models"

CSS = """
#error_box { color: #b00020; font-weight: 600; }
#error_box:empty { display: none; }
"""


def _anonymize_optional() -> List[str]:
    have = set(available(AnonymizeOptions, OPTIONAL_ANONYMIZE)) | set(
        available(AnimateOptions, OPTIONAL_ANONYMIZE))
    return [n for n in OPTIONAL_ANONYMIZE if n in have]


def _help(name: str) -> str:
    for cls in (AnonymizeOptions, AnimateOptions):
        if name in available(cls, [name]):
            return field_help(cls, name)
    return ""


def build_ui(ctx: AppContext, keep_seconds: Optional[int] = None):
    """The page as a ``gradio.Blocks`` (not launched). ``keep_seconds``: uploads older
    than this are deleted by Gradio (``delete_cache``)."""
    import gradio as gr

    def fail(exc: BaseException) -> str:
        if not isinstance(exc, FomError):  # a bug or the system: the traceback goes to the log
            logger.error("job failed", exc_info=exc)
        return error_message(exc, ctx.workspace.root)

    def listener(progress) -> Callable[[str, int, Optional[int]], None]:
        return lambda desc, done, total: progress((done, total), desc=desc, unit="frames")

    # -- event handlers: plain values in, plain values out; errors to error_box
    def on_photo(photo: Optional[str], multi_person: bool):
        if not photo:
            return None, "", ""
        try:
            p = preview_faces(ctx, photo, multi_person)
            return p.image, p.caption, ""
        except Exception as exc:
            return None, "", fail(exc)

    def on_video(video: Optional[str], what: str):
        if not video:
            return "", ""
        try:
            return check_video(ctx.limits, video, what), ""
        except Exception as exc:
            return "", fail(exc)

    def on_faces(faces: Optional[List[str]]):
        if not faces:
            return ""
        try:
            check_faces(ctx.limits, faces)
            return ""
        except Exception as exc:
            return fail(exc)

    anim_names = [*ANIMATE_CHOICES, *available(AnimateOptions, OPTIONAL_ANIMATE)]
    anon_names = _anonymize_optional()

    def on_animate(photo, driving, *values, progress=gr.Progress()):
        try:
            if not photo:
                raise InputError("add a photo with one or more faces first")
            if not driving:
                raise InputError("add a driving video first (or pick the sample below)")
            r = animate_job(ctx, photo, driving, dict(zip(anim_names, values)),
                            listener(progress))
            info = f"{r.frames} frames, done in {r.seconds:.0f} s"
            return str(r.video), str(r.video), info, ""
        except Exception as exc:
            return None, None, "", fail(exc)

    def on_anonymize(video, faces, *values, progress=gr.Progress()):
        empty = (None, None, None, "")
        try:
            if not video:
                raise InputError("add a video to anonymize first")
            if not faces:
                raise InputError("add at least one replacement face first (or pick a sample "
                               "below)")
            r = anonymize_job(ctx, video, faces, dict(zip(anon_names, values)),
                              listener(progress))
            table = {"headers": r.columns, "data": r.rows}
            return (str(r.video), [str(r.video), str(r.report_path)], table, r.summary, "")
        except Exception as exc:
            return (*empty, fail(exc))

    described = ctx.models.describe()
    limits = ctx.limits
    with gr.Blocks(title="ppgan-fom", delete_cache=(keep_seconds, keep_seconds)
                   if keep_seconds else None, analytics_enabled=False) as demo:
        gr.Markdown(
            "## ppgan-fom: animate a photo, anonymize a video\n"
            f"Model {described['config']} ({described['image_size']} px faces), face "
            f"detector {described['detector']}. Files up to {limits.max_upload_mb:g} MB, "
            f"videos up to {limits.max_video_seconds:g} s. Everything runs on this "
            "server; jobs run one at a time.")
        error_box = gr.Markdown("", elem_id="error_box")
        with gr.Tabs():
            with gr.Tab("Animate a photo", id="animate", elem_id="tab_animate"):
                with gr.Row():
                    with gr.Column():
                        source_image = gr.File(label="1. Photo with one or more faces",
                                               file_types=["image"], elem_id="source_image")
                        face_preview = gr.Image(label="Faces found (green: will be animated)",
                                                interactive=False, elem_id="face_preview",
                                                height=300, format="png")
                        face_count = gr.Markdown("", elem_id="face_count")
                    with gr.Column():
                        driving_video = gr.Video(label="2. Driving video (a face that talks "
                                                       "or moves)", sources=["upload"],
                                                 elem_id="driving_video", height=300)
                        driving_info = gr.Markdown("", elem_id="driving_info")
                        photo, clip = sample_photo(), sample_clip()
                        if photo and clip:
                            gr.Examples([[str(photo), str(clip)]], [source_image, driving_video],
                                        label="Sample: a painting and a talking head",
                                        cache_examples=False)
                with gr.Accordion("Options", open=True):
                    anim_controls = []
                    with gr.Row():
                        for name in anim_names:
                            info = field_help(AnimateOptions, name)
                            if name == "ratio":
                                anim_controls.append(gr.Slider(
                                    0.1, 1.0, ANIMATE_DEFAULTS[name], step=0.05,
                                    label=LABELS[name], info=info, elem_id=name))
                            else:
                                anim_controls.append(gr.Checkbox(
                                    ANIMATE_DEFAULTS.get(name, False),
                                    label=LABELS.get(name, name), info=info, elem_id=name))
                animate_button = gr.Button("Animate", variant="primary",
                                           elem_id="animate_button")
                with gr.Row():
                    result_video = gr.Video(label="Result", interactive=False,
                                            elem_id="result_video", height=360)
                    with gr.Column():
                        result_file = gr.File(label="Download", interactive=False,
                                              elem_id="result_file")
                        result_info = gr.Markdown("", elem_id="result_info")
            with gr.Tab("Anonymize a video", id="anonymize", elem_id="tab_anonymize"):
                with gr.Row():
                    with gr.Column():
                        anon_video = gr.Video(label="1. Video to anonymize", sources=["upload"],
                                              elem_id="anon_video", height=300)
                        anon_info = gr.Markdown("", elem_id="anon_info")
                    with gr.Column():
                        target_faces = gr.File(
                            label="2. Replacement face(s)", file_count="multiple",
                            file_types=["image"], elem_id="target_faces")
                        gr.Markdown("Images of faces that belong to nobody (generated faces, "
                                    "for example). With several, the people of the video get "
                                    "them in turn.")
                        faces = sample_faces()
                        if clip and faces:
                            gr.Examples([[str(clip), [str(f)]] for f in faces],
                                        [anon_video, target_faces],
                                        label="Samples: the talking head with a portrait, "
                                              "or with a painted face",
                                        cache_examples=False)
                anon_controls = []
                if anon_names:
                    with gr.Row():
                        anon_controls = [gr.Checkbox(False, label=LABELS.get(n, n),
                                                     info=_help(n), elem_id=f"anon_{n}")
                                         for n in anon_names]
                anonymize_button = gr.Button("Anonymize", variant="primary",
                                             elem_id="anonymize_button")
                with gr.Row():
                    anon_result = gr.Video(label="Anonymized video", interactive=False,
                                           elem_id="anon_result", height=360)
                    with gr.Column():
                        anon_files = gr.File(label="Download: video and JSON report",
                                             file_count="multiple", interactive=False,
                                             elem_id="anon_files")
                        anon_summary = gr.Markdown("", elem_id="anon_summary")
                anon_report = gr.Dataframe(label="Face tracks", interactive=False,
                                           elem_id="anon_report", wrap=True)

        models = dict(concurrency_id=MODELS_QUEUE, concurrency_limit=1)
        multi = anim_controls[anim_names.index("multi_person")]
        for trigger in (source_image.change, multi.change):
            trigger(on_photo, [source_image, multi], [face_preview, face_count, error_box],
                    show_progress="minimal", **models)
        driving_video.change(lambda v: on_video(v, "driving video"), driving_video,
                             [driving_info, error_box], show_progress="hidden")
        anon_video.change(lambda v: on_video(v, "video"), anon_video, [anon_info, error_box],
                          show_progress="hidden")
        target_faces.change(on_faces, target_faces, error_box, show_progress="hidden")
        animate_button.click(on_animate, [source_image, driving_video, *anim_controls],
                             [result_video, result_file, result_info, error_box],
                             show_progress_on=[result_video], **models)
        anonymize_button.click(on_anonymize, [anon_video, target_faces, *anon_controls],
                               [anon_result, anon_files, anon_report, anon_summary, error_box],
                               show_progress_on=[anon_result], **models)
    return demo
