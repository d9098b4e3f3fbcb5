"""`python -m sslteach.student`: solution cells removed, outputs cleared, everything else kept."""
import json

import nbformat
import pytest

from sslteach import student


def _notebook(path):
    nb = nbformat.v4.new_notebook()
    exercise = nbformat.v4.new_code_cell("def my_f(x):\n    raise NotImplementedError  # your code here")
    exercise.metadata["tags"] = ["exercise"]
    solution = nbformat.v4.new_code_cell("def my_f(x):\n    return 2 * x")
    solution.metadata["tags"] = ["solution"]
    check = nbformat.v4.new_code_cell("st.exercises.check_f(my_f)", execution_count=3,
                                      outputs=[nbformat.v4.new_output("execute_result", {"text/plain": "✓ right"},
                                                                      execution_count=3)])
    check.metadata["execution"] = {"iopub.status.busy": "2024-01-01T00:00:00"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Title\n\nExercise: write `my_f`."), exercise, solution, check]
    nbformat.write(nb, path)
    return nb


@pytest.fixture
def notebooks(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder / "01_one.ipynb")
    _notebook(folder / "02_two.ipynb")
    (folder / "scratch.ipynb").write_text("not a numbered notebook")  # ignored: not [0-9]*
    return folder


def test_solution_cells_removed_outputs_cleared_rest_kept(notebooks, tmp_path):
    written = student.write_student_copies(tmp_path / "student", notebooks)
    assert [p.name for p in written] == ["01_one.ipynb", "02_two.ipynb"]
    original = json.loads((notebooks / "01_one.ipynb").read_text())
    copy = nbformat.read(written[0], as_version=4)
    nbformat.validate(copy)
    sources = [c.source for c in nbformat.read(notebooks / "01_one.ipynb", as_version=4).cells]
    assert [c.source for c in copy.cells] == sources[:2] + sources[3:]
    assert [c.metadata.get("tags") for c in copy.cells] == [None, ["exercise"], None]
    assert all(c.outputs == [] and c.execution_count is None for c in copy.cells if c.cell_type == "code")
    assert "execution" not in copy.cells[2].metadata
    assert "return 2 * x" not in written[0].read_text()
    # the instructor notebook is untouched
    assert json.loads((notebooks / "01_one.ipynb").read_text()) == original


def test_refuses_to_write_into_notebooks(notebooks):
    for out in (notebooks, notebooks / "student", notebooks / ".." / "notebooks"):
        with pytest.raises(ValueError, match="refusing to write"):
            student.write_student_copies(out, notebooks)
    assert sorted(p.name for p in notebooks.iterdir()) == ["01_one.ipynb", "02_two.ipynb", "scratch.ipynb"]


def test_command_line(notebooks, tmp_path, capsys):
    assert student.main(["--out", str(tmp_path / "out"), "--notebooks", str(notebooks)]) == 0
    assert "1 solution cell removed" in capsys.readouterr().out
    assert student.main(["--out", str(notebooks), "--notebooks", str(notebooks)]) == 2
    err = capsys.readouterr().err
    assert "refusing to write" in err and err.count("\n") == 1  # one line, no traceback
    assert student.main(["--help"]) == 0 and "solution" in capsys.readouterr().out


def test_strip_notebook_counts_removed_cells():
    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["solution"]}, "source": "", "outputs": [],
                     "execution_count": None},
                    {"cell_type": "markdown", "metadata": {}, "source": "text"}], "metadata": {}}
    stripped, removed = student.strip_notebook(nb)
    assert removed == 1 and stripped["cells"] == [{"cell_type": "markdown", "metadata": {}, "source": "text"}]
    assert len(nb["cells"]) == 2  # the input is not modified
