import math

import pytest
import torch

from sslteach import cli
from sslteach.checkpoint import CheckpointError, checksum_path, load_checkpoint, save_checkpoint
from sslteach.textpretrain import (QUICK_TEXT_RECIPE, TEXT_RECIPES, StepLoader, load_language_model, pretrain_text,
                                   text_recipe)


@pytest.fixture(scope="module")
def runs():
    """One quick run of each objective, shared by the tests below (a few seconds each)."""
    torch.set_num_threads(2)
    return {o: pretrain_text(o, quick=True, progress=False, device="cpu") for o in TEXT_RECIPES}


@pytest.mark.parametrize("objective", ["mlm", "gpt"])
def test_quick_run_has_finite_losses_and_the_held_out_metrics(runs, objective):
    run = runs[objective]
    losses = run.history.step["loss"]
    assert len(losses) == QUICK_TEXT_RECIPE["steps"] and all(math.isfinite(v) for v in losses)
    info = run.info
    assert info["objective"] == objective and info["seed"] == 0 and info["device"] == "cpu" and info["quick"]
    assert info["recipe"] == text_recipe(objective, quick=True) and info["torch_version"] == str(torch.__version__)
    assert run.model.cfg.causal == (objective == "gpt")           # gpt causal, mlm bidirectional
    assert run.model.cfg.vocab_size == run.tokenizer.vocab_size and run.model.cfg.max_len == run.recipe["seq_len"]
    m = info["metrics"]
    if objective == "mlm":
        assert set(m) == {"masked_token_accuracy", "most_frequent_token_accuracy"}
        assert all(0 <= v <= 1 for v in m.values())
    else:
        assert set(m) == {"perplexity", "unigram_perplexity", "bigram_perplexity"}
        assert all(1 < v < 10 * run.tokenizer.vocab_size for v in m.values())
    assert info["held_out_rows"] == QUICK_TEXT_RECIPE["eval_rows"] and info["train_rows"] >= run.recipe["batch_size"]


def test_the_same_seed_trains_the_same_model(runs):
    again = pretrain_text("gpt", quick=True, progress=False, device="cpu")
    assert again.history.step["loss"] == runs["gpt"].history.step["loss"]
    assert again.info["metrics"] == runs["gpt"].info["metrics"]


@pytest.mark.parametrize("objective", ["mlm", "gpt"])
def test_save_then_load_gives_the_same_logits_and_tokens(runs, objective, tmp_path):
    run = runs[objective]
    path = run.save(tmp_path / f"{objective}.pt", note="kept")
    assert checksum_path(path).is_file()                           # sha256 beside it, as every checkpoint
    model, tokenizer = load_language_model(path)
    text = "The committee said that the city [MASK] the plan ."
    assert tokenizer.encode(text) == run.tokenizer.encode(text) and tokenizer.vocab_size == run.tokenizer.vocab_size
    ids = torch.tensor([run.tokenizer.encode(text)])               # (1, T)
    with torch.no_grad():
        assert torch.equal(model(ids), run.model.cpu().eval()(ids))
    ckpt = load_checkpoint(path)
    assert ckpt["objective"] == objective and ckpt["recipe"] == run.recipe and ckpt["note"] == "kept"
    assert ckpt["metrics"] == run.info["metrics"]


def test_unknown_objective_and_bad_overrides_fail_before_any_work():
    with pytest.raises(ValueError, match=r"objective must be one of \('mlm', 'gpt'\).*got 'bert'"):
        pretrain_text("bert")
    with pytest.raises(ValueError, match="'gpt' has no setting mask_p; its settings are"):
        pretrain_text("gpt", mask_p=0.2)                           # masking is the mlm's
    with pytest.raises(ValueError, match="'mlm' has no setting epochs"):
        pretrain_text("mlm", epochs=3)                             # text recipes count steps
    with pytest.raises(ValueError, match="steps"):
        pretrain_text("mlm", steps=0)
    with pytest.raises(TypeError, match="batch_size"):
        pretrain_text("gpt", batch_size="8")
    with pytest.raises(ValueError, match="warmup_steps=10 must be less than steps=10"):
        pretrain_text("gpt", steps=10, warmup_steps=10)
    with pytest.raises(ValueError, match="divisible by n_heads"):
        pretrain_text("gpt", d_model=100, n_heads=3)
    with pytest.raises(ValueError, match="kind must be one of"):
        pretrain_text("mlm", kind="bpe")
    with pytest.raises(ValueError, match="corpora must be"):
        pretrain_text("mlm", corpora=("reddit",))
    with pytest.raises(ValueError, match="mask_p"):
        pretrain_text("mlm", mask_p=1.5)


def test_load_language_model_refuses_a_file_without_a_language_model(tmp_path):
    path = save_checkpoint(tmp_path / "encoder.pt", torch.nn.Linear(2, 2), config={"name": "conv"})
    with pytest.raises(CheckpointError, match="holds no language model"):
        load_language_model(path)
    with pytest.raises(FileNotFoundError):
        load_language_model(tmp_path / "missing.pt")


def test_step_loader_gives_exactly_its_steps_across_passes():
    rows = torch.arange(10 * 4).view(10, 4)                        # 10 rows: 3 batches of 3 a pass
    batches = list(StepLoader(rows, batch_size=3, steps=7, seed=0))
    assert len(batches) == 7 and all(b.shape == (3, 4) for b in batches)
    again = list(StepLoader(rows, batch_size=3, steps=7, seed=0))
    assert all(torch.equal(b, c) for b, c in zip(batches, again))  # the same order for the same seed
    assert not torch.equal(torch.cat(batches[:3]), torch.cat(batches[3:6]))  # the second pass is reshuffled
    with pytest.raises(ValueError, match="batch_size=11 is larger than the 10 rows"):
        StepLoader(rows, batch_size=11, steps=1)


def test_cli_pretrain_gpt_quick_writes_a_checkpoint_that_loads(tmp_path, capsys):
    out = tmp_path / "gpt.pt"
    assert cli.main(["pretrain", "gpt", "--quick", "--device", "cpu", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "perplexity" in printed and "bigram" in printed and "unigram" in printed and f"saved {out}" in printed
    model, tokenizer = load_language_model(out)
    assert model.cfg.causal and model.cfg.vocab_size == tokenizer.vocab_size
    ckpt = load_checkpoint(out)
    assert ckpt["command"] == f"python -m sslteach pretrain gpt --quick --device cpu --out {out}"
    assert ckpt["args"]["quick"] is True and "argv" not in ckpt["args"] and ckpt["objective"] == "gpt"


def test_cli_pretrain_text_rejects_image_flags_and_unknown_settings(tmp_path, capsys):
    out = str(tmp_path / "x.pt")
    assert cli.main(["pretrain", "mlm", "--quick", "--epochs", "2", "--out", out]) == 2
    assert "--epochs is not a setting of mlm" in capsys.readouterr().err
    assert cli.main(["pretrain", "gpt", "--quick", "--set", "mask_p=0.2", "--out", out]) == 2
    assert "--mask-p is not a setting of gpt" in capsys.readouterr().err
    assert cli.main(["pretrain", "gpt", "--quick", "--encoder", "resnet18", "--out", out]) == 2
    assert "--encoder is for the image methods" in capsys.readouterr().err
    assert cli.main(["pretrain", "mlm", "--quick", "--set", "steps=0", "--out", out]) == 2
    assert "steps" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()
