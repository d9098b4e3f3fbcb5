"""Hostile inputs to ``make student`` (``python -m sslteach.student``): broken notebooks and bad output
folders fail with one clear line (exit code 2) before anything is written."""
import json

import nbformat
import pytest

from sslteach import student


def code(source, tags=()):
    cell = nbformat.v4.new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def write(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nbformat.write(nb, path)
    return path


GOOD = [code("def my_f(x):\n    raise NotImplementedError", ["exercise"]),
        code("def my_f(x):\n    return 2 * x", ["solution"]),
        code("st.exercises.check_f(my_f)")]


@pytest.fixture
def folder(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    write(nbs / "01_good.ipynb", GOOD)
    return nbs


def one_line_error(argv, capsys) -> str:
    assert student.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("python -m sslteach.student: error: ")
    return err


def test_an_exercise_without_a_check(folder, tmp_path, capsys):
    write(folder / "02_bad.ipynb", GOOD[:2])  # the stub and its solution, but no check
    with pytest.raises(ValueError, match=r"02_bad.ipynb: the exercise cell 1 \(def my_f\) has no check after it; "
                                         r"add a code cell that calls st.exercises.check_<name>\(my_f\)"):
        student.write_student_copies(tmp_path / "out", folder)
    assert not (tmp_path / "out").exists()  # nothing written: every notebook is checked first
    err = one_line_error(["--out", str(tmp_path / "out"), "--notebooks", str(folder)], capsys)
    assert "has no check after it" in err


def test_a_check_inside_the_solution_does_not_count(folder, tmp_path):
    write(folder / "02_bad.ipynb", [GOOD[0], code("def my_f(x):\n    return 2 * x\nst.exercises.check_f(my_f)",
                                                  ["solution"])])
    with pytest.raises(ValueError, match="has no check after it"):
        student.write_student_copies(tmp_path / "out", folder)


def test_a_check_of_another_function_does_not_count(folder, tmp_path):
    write(folder / "02_bad.ipynb", [GOOD[0], code("st.exercises.check_g(my_g)")])
    with pytest.raises(ValueError, match=r"\(def my_f\) has no check"):
        student.write_student_copies(tmp_path / "out", folder)


def test_invalid_json(folder, tmp_path, capsys):
    (folder / "02_broken.ipynb").write_text('{"cells": [}')
    with pytest.raises(ValueError, match=r"02_broken.ipynb is not valid JSON \(Expecting value at line 1, column 12\): "
                                         r"open it in Jupyter and save it again"):
        student.write_student_copies(tmp_path / "out", folder)
    assert "is not valid JSON" in one_line_error(["--out", str(tmp_path / "out"), "--notebooks", str(folder)], capsys)


def test_json_that_is_not_a_notebook(folder, tmp_path):
    (folder / "02_list.ipynb").write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match=r"is not a Jupyter notebook: expected a JSON object with a list of \"cells\""):
        student.write_student_copies(tmp_path / "out", folder)
    (folder / "02_list.ipynb").write_text(json.dumps({"cells": [{"source": "x"}]}))
    with pytest.raises(ValueError, match=r"cell 1 is not a notebook cell"):
        student.write_student_copies(tmp_path / "out", folder)


def test_a_notebook_that_is_not_text(folder, tmp_path):
    (folder / "02_binary.ipynb").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ValueError, match=r"is not a text \(UTF-8\) file"):
        student.write_student_copies(tmp_path / "out", folder)


def test_out_is_a_file(folder, tmp_path, capsys):
    (tmp_path / "out").write_text("x")
    with pytest.raises(ValueError, match=r"the output folder \(--out\) must be a folder, but .*out is a file"):
        student.write_student_copies(tmp_path / "out", folder)
    err = one_line_error(["--out", str(tmp_path / "out"), "--notebooks", str(folder)], capsys)
    assert "choose another folder" in err


def test_out_below_a_file(folder, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"file is a file, not a folder"):
        student.write_student_copies(tmp_path / "file" / "out", folder)


def test_a_missing_notebooks_folder(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match=r"does not exist or is not a folder; pass the folder"):
        student.write_student_copies(tmp_path / "out", tmp_path / "nope")
    err = one_line_error(["--out", str(tmp_path / "out"), "--notebooks", str(tmp_path / "nope")], capsys)
    assert "does not exist" in err


def test_strip_notebook_refuses_what_is_not_a_notebook():
    with pytest.raises(ValueError, match="is not a Jupyter notebook"):
        student.strip_notebook({"worksheets": []})


def test_debug_shows_the_traceback(folder, tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(ValueError, match="must be a folder"):
        student.main(["--out", str(tmp_path / "out"), "--notebooks", str(folder), "--debug"])


def test_unknown_flag_is_one_line(capsys):
    err = one_line_error(["--output", "x"], capsys)
    assert "unrecognized arguments: --output x" in err


def test_the_real_notebooks_pass_the_checks(tmp_path):
    written = student.write_student_copies(tmp_path / "student")
    assert written and all(p.is_file() for p in written)
