"""Student copies of the notebooks: solution cells removed, outputs cleared (``make student``).

Solutions live in one place: the code cells tagged ``solution`` in the instructor notebooks in
``notebooks/``. There they run, so each exercise's check (:mod:`sslteach.exercises`) prints ✓ and
nbval verifies it. A coding exercise is three cells: the stub tagged ``exercise``
(``def my_info_nce(z1, z2, tau): raise NotImplementedError``), the answer tagged ``solution``
(defining the same name), and the check (``st.exercises.check_info_nce(my_info_nce)``). This module
copies every ``notebooks/[0-9]*.ipynb`` to an output folder without the ``solution`` cells and with
all outputs cleared, so a student's copy runs top to bottom and each check says "not written yet"
until the stub is filled in. It never writes into ``notebooks/`` itself.

Usage::

    python -m sslteach.student --out student/        # what `make student` runs
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .utils import REPO_ROOT

SOLUTION_TAG = "solution"


def strip_notebook(nb: dict) -> tuple[dict, int]:
    """A copy of the notebook ``nb`` (its JSON as a dict) without ``solution`` cells or outputs.

    Returns:
        ``(student_nb, removed)``: the new notebook dict and how many solution cells were dropped.
    """
    cells = []
    for cell in nb["cells"]:
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        cell = {**cell, "metadata": {k: v for k, v in cell.get("metadata", {}).items() if k != "execution"}}
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    return {**nb, "cells": cells}, len(nb["cells"]) - len(cells)


def write_student_copies(out: str | Path, notebooks: str | Path = REPO_ROOT / "notebooks") -> list[Path]:
    """Write a student copy of every ``notebooks/[0-9]*.ipynb`` into ``out`` (created if needed).

    Args:
        out: output folder, e.g. ``student/``; must not be ``notebooks`` or a folder inside it.
        notebooks: folder of the instructor notebooks.

    Returns:
        The paths written, in notebook order.
    """
    out, notebooks = Path(out).resolve(), Path(notebooks).resolve()
    if out == notebooks or notebooks in out.parents:
        raise ValueError(f"refusing to write student copies into {out}: that would overwrite or mix with "
                         f"the instructor notebooks in {notebooks}; choose another folder, e.g. --out student/")
    sources = sorted(notebooks.glob("[0-9]*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no notebooks named like 01_*.ipynb in {notebooks}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sources:
        nb, removed = strip_notebook(json.loads(src.read_text(encoding="utf-8")))
        dst = out / src.name
        dst.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{dst}: {removed} solution cell{'s' * (removed != 1)} removed, outputs cleared")
        written.append(dst)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sslteach.student",
        description="Write student copies of the notebooks: cells tagged 'solution' removed, all outputs "
                    "cleared. The solutions stay only in the instructor notebooks (notebooks/).")
    parser.add_argument("--out", type=Path, default=Path("student"), help="output folder (default: student/)")
    parser.add_argument("--notebooks", type=Path, default=REPO_ROOT / "notebooks",
                        help="folder of the instructor notebooks (default: the repository's notebooks/)")
    args = parser.parse_args(argv)
    try:
        write_student_copies(args.out, args.notebooks)
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
