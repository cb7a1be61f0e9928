"""The AI Studio-style notebook (docs/notebooks/aistudio_quickstart.ipynb) runs top to
bottom on the CPU with the small test weights: its install cell is skipped (the package is
importable), it picks the CPU, shows the library's log lines, draws a progress bar (a
widget with ipywidgets; tqdm's text bar without them, which ``tqdm(disable=None)`` would
hide in a kernel), writes the video and shows it inline."""

from __future__ import annotations

import json

import pytest

from conftest import optional_import, REPO, SMALL

nbformat = optional_import("nbformat", reason="install the test extra: pip install -e .[test]")
nbclient = optional_import("nbclient", reason="install the test extra: pip install -e .[test]")

WIDGET = "application/vnd.jupyter.widget-view+json"


def _outputs(nb, kind=None):
    for cell in nb.cells:
        if cell.cell_type == "code":
            for out in cell.get("outputs", []):
                if kind is None or out.get("output_type") == kind:
                    yield out


@pytest.mark.slow
@pytest.mark.parametrize("widgets", [True, False], ids=["ipywidgets", "no-ipywidgets"])
def test_aistudio_notebook_executes(tmp_path, monkeypatch, widgets):
    if widgets:
        pytest.importorskip("ipywidgets", reason="ipywidgets draws the progress bar widget")
    nb = nbformat.read(REPO / "docs" / "notebooks" / "aistudio_quickstart.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        "the notebook is committed without outputs"
    path = [str(REPO)]  # the kernel imports this checkout
    if not widgets:  # a kernel where ipywidgets cannot be imported
        block = tmp_path / "no_ipywidgets"
        block.mkdir()
        (block / "ipywidgets.py").write_text("raise ImportError('ipywidgets blocked by the test')\n")
        path.insert(0, str(block))
    monkeypatch.setenv("PYTHONPATH", ":".join(path))
    monkeypatch.setenv("PPGAN_FOM_ROOT", str(REPO))
    monkeypatch.setenv("PPGAN_FOM_NB_WEIGHTS", str(SMALL / "fom_small64_random.pdparams"))
    monkeypatch.setenv("PPGAN_FOM_NB_CONFIG", str(SMALL / "fom_small64.yaml"))
    monkeypatch.setenv("PPGAN_FOM_NB_OUT", str(tmp_path / "out"))
    monkeypatch.delenv("PPGAN_FOM_PROGRESS", raising=False)
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()

    stdout = "".join(o.get("text", "") for o in _outputs(nb, "stream") if o["name"] == "stdout")
    stderr = "".join(o.get("text", "") for o in _outputs(nb, "stream") if o["name"] == "stderr")
    # install cell skipped, this checkout imported; the CPU chosen
    assert f"from {REPO / 'ppgan_fom'}" in stdout
    assert "running on the CPU; face enhancement off (CPU)" in stdout
    # the library's log lines, shown once each by log_to_stderr()
    found = [ln for ln in stderr.splitlines() if "face(s) found in" in ln]
    assert len(found) == 1 and found[0].startswith("INFO ppgan_fom.pipeline.faces: ")
    assert "INFO ppgan_fom.runtime: device cpu" in stderr
    # the progress bar: tqdm.auto's widget, or its text bar on stderr without ipywidgets
    shown = [o for o in _outputs(nb, "display_data") if WIDGET in o.get("data", {})]
    if widgets:
        assert shown, "no progress-bar widget was displayed"
        state = json.dumps(nb.metadata.get("widgets", {}))
        assert "animating" in state and "90/90" in state
    else:
        assert not shown
        assert "animating: 100%" in stderr and "90/90" in stderr
    # the video written and shown inline
    assert (tmp_path / "out" / "result.mp4").is_file()
    assert f"written: {tmp_path / 'out' / 'result.mp4'}" in stdout
    html = [o["data"]["text/html"] for o in _outputs(nb, "execute_result")
            if "text/html" in o.get("data", {})]
    assert any("<video" in h and "data:video/mp4;base64," in h for h in html)
    plain = [o["data"].get("text/plain", "") for o in _outputs(nb, "execute_result")]
    assert not any("Handler" in t for t in plain)  # the logging cell shows nothing itself
