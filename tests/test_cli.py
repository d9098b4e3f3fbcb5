import json

import pytest
import torch

from sslteach import cli
from sslteach.models import build_encoder
from sslteach.pretrained import RECIPES
from sslteach.train import load_checkpoint


def test_help_documents_every_command(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert all(cmd in out for cmd in ("pretrain", "probe", "notebooks"))


@pytest.mark.parametrize("method", cli.METHODS)
def test_pretrain_writes_a_checkpoint_that_probe_reads(method, tmp_path, capsys):
    out = tmp_path / f"{method}.pt"
    cli.main(["pretrain", method, "--epochs", "1", "--n-per-class", "4", "--batch-size", "8",
              "--device", "cpu", "--out", str(out)])
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["method"] == method and ckpt["seed"] == 0 and ckpt["command"].startswith("python -m sslteach")
    assert len(ckpt["history"]["loss"]) == 1 and 0 <= ckpt["metrics"]["all"] <= 1
    # flags left out keep the method's classroom recipe (sslteach.pretrained.RECIPES)
    assert ckpt["recipe"] == {**RECIPES[method], "epochs": 1, "n_per_class": 4, "batch_size": 8}
    encoder = build_encoder(**ckpt["config"])
    load_checkpoint(out, encoder)
    if method == "rotation":
        cli.main(["probe", str(out), "--labels-per-class", "2", "--device", "cpu"])
        assert "2/class" in capsys.readouterr().out


def test_pretrain_encoder_flag_swaps_the_recipes_encoder(tmp_path):
    out = tmp_path / "r18.pt"
    cli.main(["pretrain", "rotation", "--encoder", "resnet18", "--epochs", "1", "--n-per-class", "2",
              "--batch-size", "8", "--device", "cpu", "--out", str(out)])
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["recipe"]["encoder"] == {"name": "resnet18"} and ckpt["config"]["name"] == "resnet18"
    load_checkpoint(out, build_encoder(**ckpt["config"]))
    with pytest.raises(SystemExit):  # argparse: invalid choice
        cli.main(["pretrain", "rotation", "--encoder", "vit", "--out", str(tmp_path / "v.pt")])


def test_pretrain_rejects_a_flag_of_another_method(tmp_path):
    with pytest.raises(SystemExit, match="--temperature is not a setting of rotation"):
        cli.main(["pretrain", "rotation", "--temperature", "0.5", "--out", str(tmp_path / "r.pt")])


def test_probe_rejects_a_foreign_checkpoint(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save({"model": {}}, path)
    with pytest.raises(SystemExit, match="not written by"):
        cli.main(["probe", str(path)])


def test_notebooks_command_reports_each_wall_time(tmp_path, capsys):
    nb = tmp_path / "01_tiny.ipynb"
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                                         "outputs": [], "source": "print(1 + 1)"}],
                              "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                          "language": "python"}},
                              "nbformat": 4, "nbformat_minor": 5}))
    assert cli.main(["notebooks", str(nb), "--mode", "quick", "--tmp", str(tmp_path / "out")]) == 0
    assert "01_tiny.ipynb" in capsys.readouterr().out and (tmp_path / "out" / "01_tiny.ipynb").exists()
