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

import json
import re
from pathlib import Path

from .cli import Parser, exit_code, run
from .utils import REPO_ROOT, check_out_path

SOLUTION_TAG, EXERCISE_TAG = "solution", "exercise"
_DEF = re.compile(r"^def\s+(\w+)\s*\(", re.M)   # the names an exercise stub defines


def strip_notebook(nb: dict) -> tuple[dict, int]:
    """A copy of the notebook ``nb`` (its JSON as a dict) without ``solution`` cells or outputs.

    Returns:
        ``(student_nb, removed)``: the new notebook dict and how many solution cells were dropped.

    Raises:
        ValueError: ``nb`` is not a notebook (a dict with a list of cells, each with a ``cell_type``).
    """
    _check_cells(nb, "the notebook")
    cells = []
    for cell in nb["cells"]:
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        cell = {**cell, "metadata": {k: v for k, v in cell.get("metadata", {}).items() if k != "execution"}}
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    return {**nb, "cells": cells}, len(nb["cells"]) - len(cells)


def _check_cells(nb, name: str) -> None:
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError(f"{name} is not a Jupyter notebook: expected a JSON object with a list of \"cells\", got "
                         f"{type(nb).__name__}{' with keys ' + str(sorted(nb)[:5]) if isinstance(nb, dict) else ''}; "
                         f"open it in Jupyter and save it again")
    for i, cell in enumerate(nb["cells"], 1):
        if (not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw")
                or not isinstance(cell.get("metadata", {}), dict)):
            raise ValueError(f"{name}: cell {i} is not a notebook cell (a cell_type code, markdown or raw, and a "
                             f"metadata dict); open the notebook in Jupyter and save it again")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _tags(cell: dict) -> list:
    tags = cell.get("metadata", {}).get("tags", [])
    return tags if isinstance(tags, list) else []


def check_exercises(nb: dict, name: str = "the notebook") -> None:
    """Make sure every ``exercise`` cell has a check after it: a later code cell (not a solution)
    that calls a ``check_...`` function on a name the stub defines, as
    ``st.exercises.check_info_nce(my_info_nce)`` does. Without one, a student's copy would never
    say whether the answer is right.

    Raises:
        ValueError: an exercise without a check, naming the cell and the call to add.
    """
    _check_cells(nb, name)
    cells = nb["cells"]
    for i, cell in enumerate(cells):
        if EXERCISE_TAG not in _tags(cell):
            continue
        defined = _DEF.findall(_source(cell))
        checks = [_source(c) for c in cells[i + 1:] if c["cell_type"] == "code"
                  and not {SOLUTION_TAG, EXERCISE_TAG} & set(_tags(c)) and re.search(r"check_\w+\s*\(", _source(c))]
        if not any(not defined or any(re.search(rf"\b{d}\b", src) for d in defined) for src in checks):
            stub = f" (def {', '.join(defined)})" if defined else ""
            target = defined[0] if defined else "the answer"
            raise ValueError(f"{name}: the exercise cell {i + 1}{stub} has no check after it; add a code cell that "
                             f"calls st.exercises.check_<name>({target}), so that a student's copy says whether "
                             f"the answer is right")


def read_notebook(path: Path) -> dict:
    """A notebook file's JSON, with a clear error when it is not valid JSON or not a notebook."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not a text (UTF-8) file ({e.reason} at byte {e.start}): open it in "
                         f"Jupyter and save it again, or restore it from git") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}): open it in "
                         f"Jupyter and save it again, or restore it from git") from None
    _check_cells(nb, str(path))
    return nb


def write_student_copies(out: str | Path, notebooks: str | Path = REPO_ROOT / "notebooks") -> list[Path]:
    """Write a student copy of every ``notebooks/[0-9]*.ipynb`` into ``out`` (created if needed).

    Args:
        out: output folder, e.g. ``student/``; must not be ``notebooks`` or a folder inside it.
        notebooks: folder of the instructor notebooks.

    Returns:
        The paths written, in notebook order.

    Raises:
        ValueError: ``out`` is a file or inside ``notebooks``; a notebook is not valid JSON, or has
            an exercise without a check (:func:`check_exercises`). Every notebook is checked
            before anything is written.
        FileNotFoundError: no numbered notebooks in ``notebooks``.
    """
    check_out_path(out, "the output folder (--out)", folder=True)
    if not isinstance(notebooks, (str, Path)):
        raise TypeError(f"notebooks must be a folder path, got {type(notebooks).__name__}")
    out, notebooks = Path(out).resolve(), Path(notebooks).resolve()
    if out == notebooks or notebooks in out.parents:
        raise ValueError(f"refusing to write student copies into {out}: that would overwrite or mix with "
                         f"the instructor notebooks in {notebooks}; choose another folder, e.g. --out student/")
    if not notebooks.is_dir():
        raise FileNotFoundError(f"the notebooks folder {notebooks} does not exist or is not a folder; pass the "
                                f"folder of the instructor notebooks (--notebooks notebooks/)")
    sources = sorted(notebooks.glob("[0-9]*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no notebooks named like 01_*.ipynb in {notebooks}")
    read = {src: read_notebook(src) for src in sources}
    for src, nb in read.items():
        check_exercises(nb, str(src))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for src in sources:
        nb, removed = strip_notebook(read[src])
        dst = out / src.name
        dst.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{dst}: {removed} solution cell{'s' * (removed != 1)} removed, outputs cleared")
        written.append(dst)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m sslteach.student``: 0 done, 2 an error (one line on stderr; ``--debug`` shows the traceback)."""
    parser = Parser(
        prog="python -m sslteach.student",
        description="Write student copies of the notebooks: cells tagged 'solution' removed, all outputs "
                    "cleared. The solutions stay only in the instructor notebooks (notebooks/).")
    parser.add_argument("--out", type=Path, default=Path("student"), help="output folder (default: student/)")
    parser.add_argument("--notebooks", type=Path, default=REPO_ROOT / "notebooks",
                        help="folder of the instructor notebooks (default: the repository's notebooks/)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0), or a usage error already printed on one line (2)
        return exit_code(stop)
    return run(parser.prog, lambda: write_student_copies(args.out, args.notebooks), debug=args.debug)


if __name__ == "__main__":
    raise SystemExit(main())
