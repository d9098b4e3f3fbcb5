import json
import os
import subprocess
import sys

import pytest
import torch

from sslteach import cli
from sslteach.models import build_encoder
from sslteach.recipes import RECIPES
from sslteach.checkpoint import load_checkpoint


def test_help_documents_every_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(cmd in out for cmd in ("pretrain", "probe", "notebooks"))


@pytest.mark.parametrize("method", cli.METHODS)
def test_pretrain_writes_a_checkpoint_that_probe_reads(method, tmp_path, capsys):
    out = tmp_path / f"{method}.pt"
    assert cli.main(["pretrain", method, "--epochs", "1", "--n-per-class", "4", "--batch-size", "8",
                     "--device", "cpu", "--out", str(out)]) == 0
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["method"] == method and ckpt["seed"] == 0
    # the command that ran, from main's argv (not from sys.argv, which is pytest's here)
    assert ckpt["command"] == f"python -m sslteach pretrain {method} --epochs 1 --n-per-class 4 --batch-size 8 " \
                              f"--device cpu --out {out}"
    assert ckpt["args"]["epochs"] == 1 and "argv" not in ckpt["args"] and "debug" not in ckpt["args"]
    assert len(ckpt["history"]["loss"]) == 1 and 0 <= ckpt["metrics"]["all"] <= 1
    # flags left out keep the method's classroom recipe (sslteach.recipes.RECIPES)
    assert ckpt["recipe"] == {**RECIPES[method], "epochs": 1, "n_per_class": 4, "batch_size": 8}
    encoder = build_encoder(**ckpt["config"])
    load_checkpoint(out, encoder)
    if method == "rotation":
        assert cli.main(["probe", str(out), "--labels-per-class", "2", "--device", "cpu"]) == 0
        assert "2/class" in capsys.readouterr().out


def test_pretrain_encoder_flag_swaps_the_recipes_encoder(tmp_path):
    out = tmp_path / "r18.pt"
    cli.main(["pretrain", "rotation", "--encoder", "resnet18", "--epochs", "1", "--n-per-class", "2",
              "--batch-size", "8", "--device", "cpu", "--out", str(out)])
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["recipe"]["encoder"] == {"name": "resnet18"} and ckpt["config"]["name"] == "resnet18"
    load_checkpoint(out, build_encoder(**ckpt["config"]))
    assert cli.main(["pretrain", "rotation", "--encoder", "vit", "--out", str(tmp_path / "v.pt")]) == 2


def test_pretrain_rejects_a_flag_of_another_method(tmp_path, capsys):
    assert cli.main(["pretrain", "rotation", "--temperature", "0.5", "--out", str(tmp_path / "r.pt")]) == 2
    assert "--temperature is not a setting of rotation" in capsys.readouterr().err


def test_probe_rejects_a_foreign_checkpoint(tmp_path, capsys):
    path = tmp_path / "plain.pt"
    torch.save({"model": {}}, path)
    assert cli.main(["probe", str(path), "--device", "cpu"]) == 2
    assert "not written by" in capsys.readouterr().err


def test_notebooks_command_reports_each_wall_time(tmp_path, capsys):
    nb = tmp_path / "01_tiny.ipynb"
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                                         "outputs": [], "source": "print(1 + 1)"}],
                              "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                          "language": "python"}},
                              "nbformat": 4, "nbformat_minor": 5}))
    assert cli.main(["notebooks", str(nb), "--mode", "quick", "--tmp", str(tmp_path / "out")]) == 0
    assert "01_tiny.ipynb" in capsys.readouterr().out and (tmp_path / "out" / "01_tiny.ipynb").exists()


def test_set_passes_any_recipe_setting_and_sweep_lists_and_runs(tmp_path, capsys):
    out = tmp_path / "moco.pt"
    assert cli.main(["pretrain", "moco", "--epochs", "1", "--n-per-class", "2", "--batch-size", "8", "--set",
                     "queue_size=16", "--set", "momentum=0.9", "--device", "cpu", "--out", str(out)]) == 0
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["recipe"]["queue_size"] == 16 and ckpt["recipe"]["momentum"] == 0.9 and ckpt["method"] == "moco"
    assert cli.main(["pretrain", "moco", "--set", "queue_size", "--out", str(out)]) == 2
    assert "expected name=value" in capsys.readouterr().err
    assert cli.main(["sweep", "--list"]) == 0
    assert "simclr-ablations" in capsys.readouterr().out
    assert cli.main(["sweep", "no-such-experiment"]) == 2
    assert "no experiment named 'no-such-experiment'" in capsys.readouterr().err


SMALL = ["--epochs", "2", "--n-per-class", "4", "--batch-size", "8", "--device", "cpu"]   # 5 steps an epoch


def test_resume_continues_an_interrupted_pretrain_to_the_same_weights(tmp_path, monkeypatch, capsys):
    import sslteach.recipes as recipes
    full = tmp_path / "full.pt"
    assert cli.main(["pretrain", "simclr", *SMALL, "--out", full]) == 0
    assert not (tmp_path / "full.state.pt").exists()                   # finished: nothing left to resume
    real, calls = recipes.simclr_step, []

    def interrupted(*args, **kwargs):                                  # Ctrl-C at the first step of epoch 2
        step = real(*args, **kwargs)

        def counting(model, batch):
            calls.append(1)
            if len(calls) == 6:
                raise KeyboardInterrupt
            return step(model, batch)
        return counting

    monkeypatch.setattr(recipes, "simclr_step", interrupted)
    part = tmp_path / "part.pt"
    assert cli.main(["pretrain", "simclr", *SMALL, "--out", part]) == 130
    assert (tmp_path / "part.state.pt").is_file() and not part.exists()
    monkeypatch.setattr(recipes, "simclr_step", real)
    assert cli.main(["pretrain", "simclr", *SMALL, "--out", part, "--resume"]) == 0
    a, b = torch.load(full, weights_only=True), torch.load(part, weights_only=True)
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])   # bit for bit
    assert a["history"]["loss"] == b["history"]["loss"]
    capsys.readouterr()
    assert cli.main(["pretrain", "simclr", *SMALL, "--out", tmp_path / "new.pt", "--resume"]) == 2
    assert "no checkpoint at" in capsys.readouterr().err


def test_torchrun_pretrain_trains_two_processes_and_one_writes(tmp_path):
    out = tmp_path / "two.pt"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "sslteach", "pretrain", "simclr", "--epochs", "1", "--n-per-class", "4",
                           "--batch-size", "16", "--out", str(out)], capture_output=True, text=True, env=env,
                          timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("saved ") == 1 and "2 processes" in proc.stdout      # rank 0 alone reports
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["processes"] == 2 and ckpt["recipe"]["batch_size"] == 16
    assert sorted(p.name for p in tmp_path.iterdir()) == ["two.pt", "two.pt.sha256"]
