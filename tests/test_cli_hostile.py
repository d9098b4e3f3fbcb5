"""Hostile inputs to the command line: every error is one line on stderr, exit code 2, no traceback
(``--debug`` shows it), and arguments are checked before any training. CPU only; no test trains."""
import subprocess
import sys

import pytest
import torch

from sslteach import cli
from sslteach.models import ConvEncoder
from sslteach.checkpoint import checksum_path, save_checkpoint
from sslteach.utils import REPO_ROOT


@pytest.fixture(autouse=True)
def no_training(monkeypatch):
    """Every case here must fail before training starts."""
    monkeypatch.setattr(cli, "pretrain_encoder", lambda *a, **k: pytest.fail("training started"))
    monkeypatch.delenv("SSLTEACH_DEVICE", raising=False)


def one_line_error(argv, capsys) -> str:
    """Run the CLI; assert exit code 2, nothing on stdout, one line on stderr and no traceback."""
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    assert err.count("\n") == 1 and err.endswith("\n") and "Traceback" not in err, err
    return err


def pretrain_args(tmp_path, *flags):
    return ["pretrain", "rotation", "--n-per-class", "2", "--device", "cpu", "--out", str(tmp_path / "r.pt"), *flags]


# ---- pretrain: checked before training ---------------------------------------------------------

@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_without_cuda(tmp_path, capsys):
    err = one_line_error(pretrain_args(tmp_path, "--device", "cuda"), capsys)
    assert err.startswith("python -m sslteach pretrain: error: device 'cuda' was asked for, but PyTorch sees no CUDA")
    assert "use device='cpu'" in err


def test_device_that_is_not_a_device(tmp_path, capsys):
    err = one_line_error(pretrain_args(tmp_path, "--device", "gpu"), capsys)
    assert "device must be 'cpu', 'cuda', 'cuda:<index>' or 'mps'" in err


def test_out_is_an_existing_folder(tmp_path, capsys):
    err = one_line_error(pretrain_args(tmp_path, "--out", str(tmp_path)), capsys)
    assert "--out must be a file path, but" in err and "give a file name inside it" in err


def test_out_below_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    err = one_line_error(pretrain_args(tmp_path, "--out", str(tmp_path / "file" / "r.pt")), capsys)
    assert "is a file, not a folder; choose another path" in err


@pytest.mark.parametrize("flag,value,match", [
    ("--epochs", "0", "argument --epochs: the value must be an integer >= 1, got 0"),
    ("--epochs", "-3", "argument --epochs: the value must be an integer >= 1, got -3"),
    ("--epochs", "2.5", "argument --epochs: expected an integer, got '2.5'"),
    ("--lr", "nan", "argument --lr: the value must be a number > 0, got nan"),
    ("--lr", "-1", "argument --lr: the value must be a number > 0, got -1"),
    ("--batch-size", "0", "argument --batch-size: the value must be an integer >= 1"),
    ("--seed", "-1", "argument --seed: the value must be an integer >= 0"),
    ("--encoder", "vit", "argument --encoder: invalid choice: 'vit'"),
])
def test_bad_numbers_are_usage_errors(tmp_path, capsys, flag, value, match):
    err = one_line_error(pretrain_args(tmp_path, flag, value), capsys)
    assert match in err and err.rstrip().endswith("(see python -m sslteach pretrain --help)")


def test_batch_size_larger_than_the_data(tmp_path, capsys, monkeypatch):
    from sslteach import pretrained
    monkeypatch.setattr(cli, "pretrain_encoder", pretrained.pretrain)
    monkeypatch.setattr(pretrained, "fit", lambda *a, **k: pytest.fail("training started"))
    err = one_line_error(pretrain_args(tmp_path, "--batch-size", "64"), capsys)
    assert "batch_size=64 is larger than the 20 training images" in err and "use a batch_size <= 20" in err


def test_a_flag_of_another_method(tmp_path, capsys):
    err = one_line_error(pretrain_args(tmp_path, "--temperature", "0.5"), capsys)
    assert "--temperature is not a setting of rotation; its settings are" in err


# ---- probe ---------------------------------------------------------------------------------------

def test_probe_a_missing_file(tmp_path, capsys):
    err = one_line_error(["probe", str(tmp_path / "missing.pt"), "--device", "cpu"], capsys)
    assert "missing.pt does not exist; train the model first" in err


def test_probe_a_corrupt_file(tmp_path, capsys):
    enc = ConvEncoder(widths=(8, 16), stem_width=8)
    path = save_checkpoint(tmp_path / "enc.pt", enc, config=enc.config)
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))
    err = one_line_error(["probe", str(path), "--device", "cpu"], capsys)
    assert "is corrupt or was changed" in err and "Delete both files and train again" in err


def test_probe_a_file_that_is_not_a_checkpoint(tmp_path, capsys):
    (tmp_path / "notes.pt").write_text("hello\n")
    err = one_line_error(["probe", str(tmp_path / "notes.pt"), "--device", "cpu"], capsys)
    assert "is not a PyTorch checkpoint" in err


def test_probe_a_file_without_config(tmp_path, capsys):
    path = save_checkpoint(tmp_path / "bare.pt", ConvEncoder())
    err = one_line_error(["probe", str(path), "--device", "cpu"], capsys)
    assert "has no encoder config: it was not written by `python -m sslteach pretrain`" in err


def test_probe_a_folder(tmp_path, capsys):
    err = one_line_error(["probe", str(tmp_path), "--device", "cpu"], capsys)
    assert "is a folder, not a file" in err


def test_probe_bad_labels_per_class(tmp_path, capsys):
    err = one_line_error(["probe", str(tmp_path / "x.pt"), "--labels-per-class", "ten"], capsys)
    assert "expected 'all' or a number of labels per class >= 1, got 'ten'" in err


# ---- notebooks and the command itself ------------------------------------------------------------

def test_notebooks_on_a_missing_path(tmp_path, capsys):
    err = one_line_error(["notebooks", str(tmp_path / "99_none.ipynb")], capsys)
    assert "no notebook file" in err and "99_none.ipynb" in err and "check the path" in err


def test_notebooks_with_tmp_that_is_a_file(tmp_path, capsys):
    nb = tmp_path / "01_x.ipynb"
    nb.write_text("{}")
    (tmp_path / "tmpfile").write_text("x")
    err = one_line_error(["notebooks", str(nb), "--tmp", str(tmp_path / "tmpfile")], capsys)
    assert "--tmp must be a folder" in err


def test_no_command(capsys):
    err = one_line_error([], capsys)
    assert "the following arguments are required: command" in err


def test_unexpected_errors_are_one_line_too(monkeypatch, tmp_path, capsys):
    def broken(args):
        raise KeyError("encoder")

    monkeypatch.setattr(cli, "probe", broken)
    err = one_line_error(["probe", str(tmp_path / "x.pt")], capsys)
    assert "(KeyError; run again with --debug for the traceback)" in err


def test_interrupt_is_one_line(monkeypatch, tmp_path, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "probe", interrupted)
    assert cli.main(["probe", str(tmp_path / "x.pt")]) == 130
    assert capsys.readouterr().err == "python -m sslteach probe: interrupted\n"


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(tmp_path, where):
    argv = ["probe", str(tmp_path / "missing.pt"), "--device", "cpu"]
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cli.main(argv)


def test_python_dash_m_prints_one_line_and_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sslteach", "probe", str(tmp_path / "missing.pt"), "--device", "cpu"],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("python -m sslteach probe: error: checkpoint") and "does not exist" in proc.stderr


def test_sidecar_is_checked_before_the_file_is_read(tmp_path, capsys):
    enc = ConvEncoder(widths=(8, 16), stem_width=8)
    path = save_checkpoint(tmp_path / "enc.pt", enc, config=enc.config)
    checksum_path(path).write_text("0" * 64 + "  enc.pt\n")
    err = one_line_error(["probe", str(path), "--device", "cpu"], capsys)
    assert "expects " + "0" * 64 in err
