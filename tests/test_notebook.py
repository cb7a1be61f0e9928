"""The quick-start notebook runs top to bottom (with the small test weights)."""

from __future__ import annotations

import pytest

from conftest import REPO, SMALL, optional_import

EXTRA = "install the test extra: pip install -e .[test]"


@pytest.mark.slow
def test_quickstart_notebook_executes(tmp_path, monkeypatch):
    nbformat = optional_import("nbformat", reason=EXTRA)
    nbclient = optional_import("nbclient", reason=EXTRA)
    nb_path = REPO / "docs" / "notebooks" / "quickstart.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    monkeypatch.setenv("PPGAN_FOM_ROOT", str(REPO))
    monkeypatch.setenv("PPGAN_FOM_NB_WEIGHTS", str(SMALL / "fom_small64_random.pdparams"))
    monkeypatch.setenv("PPGAN_FOM_NB_CONFIG", str(SMALL / "fom_small64.yaml"))
    monkeypatch.setenv("PPGAN_FOM_NB_OUT", str(tmp_path / "out"))
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    texts = [o.get("text", "") for c in nb.cells if c.cell_type == "code"
             for o in c.get("outputs", []) if o.get("output_type") == "stream"]
    joined = "\n".join(texts)
    assert "written:" in joined and (tmp_path / "out" / "result.mp4").is_file()
    assert "8 (256, 256, 3) uint8" in joined
