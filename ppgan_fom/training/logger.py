"""Per-step loss logs: a CSV file (always) and VisualDL scalars (when installed)."""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Dict, List, Mapping, Optional

logger = logging.getLogger(__name__)

__all__ = ["CsvLog", "ScalarLogger"]


class CsvLog:
    """Append rows to a CSV; on resume, rows after ``resume_step`` are dropped first so the
    file reads as one uninterrupted run.

    Args:
        path: CSV file.
        columns: column names (the first should be ``step``).
        resume_step: keep existing rows with ``step <= resume_step`` (None: start afresh).
    """

    def __init__(self, path: Path, columns: List[str], resume_step: Optional[int] = None):
        self.path = Path(path)
        self.columns = list(columns)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept: List[Dict[str, str]] = []
        if resume_step is not None and self.path.is_file():
            with open(self.path, newline="") as f:
                for row in csv.DictReader(f):
                    try:
                        if int(float(row.get("step", "inf"))) <= resume_step:
                            kept.append(row)
                    except ValueError:
                        continue
        self._file = open(self.path, "w", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=self.columns, extrasaction="ignore")
        self._writer.writeheader()
        for row in kept:
            self._writer.writerow(row)
        self._file.flush()

    def write(self, row: Mapping[str, object]) -> None:
        self._writer.writerow({k: _fmt(v) for k, v in row.items()})
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def _fmt(v: object) -> object:
    return f"{v:.6g}" if isinstance(v, float) else v


class ScalarLogger:
    """``losses.csv`` plus, if ``visualdl`` is importable and enabled, a VisualDL log in
    ``<dir>/visualdl`` (view with ``visualdl --logdir <dir>/visualdl``)."""

    def __init__(self, directory: Path, columns: List[str], resume_step: Optional[int] = None,
                 visualdl: bool = True, filename: str = "losses.csv"):
        self.csv = CsvLog(Path(directory) / filename, columns, resume_step)
        self._vdl = None
        if visualdl:
            try:
                from visualdl import LogWriter  # type: ignore
            except ImportError:
                logger.info("visualdl is not installed; losses go to %s only", self.csv.path)
            else:
                self._vdl = LogWriter(logdir=str(Path(directory) / "visualdl"))

    def log(self, step: int, values: Mapping[str, object]) -> None:
        self.csv.write({"step": step, **values})
        if self._vdl is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)) and k != "step":
                    self._vdl.add_scalar(tag=f"train/{k}", step=step, value=float(v))

    def close(self) -> None:
        self.csv.close()
        if self._vdl is not None:
            self._vdl.close()
