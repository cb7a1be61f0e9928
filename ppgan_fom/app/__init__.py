"""The web app (Gradio): animate a photo and anonymize a video in the browser
(docs/app.md). Start it with ``python applications/tools/app.py`` or ``ppgan-fom-app``.

Everything but :mod:`.ui` and :mod:`.server` works without Gradio: the jobs
(:mod:`.jobs`) take paths and values and return results, so they are tested and usable
without a browser.

Modules: :mod:`.limits` (upload limits), :mod:`.workspace` (temp files),
:mod:`.models` (models loaded once per process), :mod:`.choices` (per-job options),
:mod:`.preview` (numbered faces), :mod:`.report_view` (the anonymization report as a
table), :mod:`.messages` (one-line errors), :mod:`.samples` (bundled media),
:mod:`.jobs`, :mod:`.ui` (the page), :mod:`.server` (start and stop).
"""
