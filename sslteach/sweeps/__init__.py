"""Multi-seed experiments behind the notebooks' comparisons, run by a package command.

A notebook has 5 minutes on a laptop CPU: enough for one seed of each experiment, not for the three
that a conclusion needs. So each comparison a notebook concludes from is also an *experiment*
here, run over several seeds (or label draws) by

    python -m sslteach sweep tau            # writes data/results/tau.json

and shipped as a small results file with the exact command, seeds, package and torch versions,
device and time. The notebook loads it with :func:`load_sweep`, plots it beside its own live
single-seed run, states the comparison with :func:`sslteach.findings.compare`, and checks that the
live run is an ordinary draw (:func:`sslteach.findings.within`).

One file per notebook registers its experiments (``contrastive.py`` for notebook 03, ...). An
experiment is a function ``run(condition, seed, quick, device) -> {"metric": value}``.
"""
from __future__ import annotations

import datetime
import importlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from ..data import DataError, SHA256, data_file, sha256sum
from ..findings import Measure
from ..utils import check_number, data_dir, get_device

MODULES = ("contrastive", "rotation", "autoencoder", "words", "finetune", "siamese")   # one per notebook, 03-08


@dataclass
class Experiment:
    """A registered multi-seed experiment (see :func:`experiment`)."""
    name: str
    notebook: str
    description: str
    conditions: tuple
    run: Callable
    seeds: tuple = (0, 1, 2)
    what: str = "seeds"                       # what the runs differ by: "seeds" or "label draws"
    settings: dict = field(default_factory=dict)


EXPERIMENTS: dict[str, Experiment] = {}


def experiment(name: str, notebook: str, description: str, conditions, *, seeds=(0, 1, 2),
               what: str = "seeds", settings: dict | None = None):
    """Register ``run(condition, seed, quick, device) -> {metric: float}`` as the experiment ``name``."""
    def register(run: Callable) -> Callable:
        EXPERIMENTS[name] = Experiment(name, notebook, description, tuple(conditions), run, tuple(seeds),
                                       what, dict(settings or {}))
        return run
    return register


def _load_all() -> None:
    for module in MODULES:
        importlib.import_module(f"{__name__}.{module}")


def experiments() -> dict[str, Experiment]:
    """Every registered experiment, by name."""
    _load_all()
    return EXPERIMENTS


def get(name: str) -> Experiment:
    found = experiments()
    if name not in found:
        raise ValueError(f"no experiment named {name!r}; the experiments are {', '.join(sorted(found))} "
                         f"(python -m sslteach sweep --list describes them)")
    return found[name]


def results_path(name: str) -> Path:
    return data_dir() / "results" / f"{name}.json"


def run_sweep(name: str, seeds=None, *, quick: bool = False, device: torch.device | str | None = None,
              out: str | Path | None = None, conditions=None, progress: bool = True, command: str | None = None) -> Path:
    """Run every condition of an experiment for every seed and write the results file.

    Args:
        name: a registered experiment (:func:`experiments`).
        seeds: default the experiment's (three).
        quick: tiny settings, only to check that the experiment runs (the file records it).
        device: default :func:`sslteach.utils.get_device`.
        out: the JSON file (default ``data/results/<name>.json``; a quick run defaults to a temporary
            folder so that it never replaces a shipped file).
        conditions: a subset of the experiment's conditions (default all).
        progress: print one line per run.
        command: recorded as the command that made the file (the CLI passes its own).

    Returns:
        The path written. Its sha256 must be registered in :data:`sslteach.registry.SHA256` (the line
        to add is printed) before :func:`load_sweep` reads it from ``data/``.
    """
    exp = get(name)
    seeds = list(exp.seeds if seeds is None else seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed, e.g. --seeds 0 1 2")
    seeds = [check_number(s, "every seed", low=0, integer=True) for s in seeds]
    conditions = list(exp.conditions if conditions is None else conditions)
    unknown = [c for c in conditions if c not in exp.conditions]
    if unknown:
        raise ValueError(f"{name} has no condition {', '.join(map(repr, unknown))}; its conditions are "
                         f"{', '.join(map(repr, exp.conditions))}")
    device = get_device(device)
    if out is None:
        out = (Path(os.environ.get("TMPDIR", "/tmp")) / "sslteach-sweeps" / f"{name}.json") if quick else results_path(name)
    out = Path(out)
    if out.is_dir():
        raise ValueError(f"out must be a file path (e.g. {out / (name + '.json')}), got the folder {out}")
    results, seconds, start = {}, {}, time.perf_counter()
    for condition in conditions:
        for seed in seeds:
            t = time.perf_counter()
            metrics = exp.run(condition, seed, quick, device)
            dt = time.perf_counter() - t
            for metric, value in metrics.items():
                results.setdefault(condition, {}).setdefault(metric, []).append(float(value))
            seconds.setdefault(condition, []).append(round(dt, 1))
            if progress:
                shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
                print(f"{name} | {condition} | seed {seed}: {shown} ({dt:.0f} s)", flush=True)
    from .. import __version__
    record = dict(name=name, notebook=exp.notebook, description=exp.description,
                  command=command or f"python -m sslteach sweep {name} --seeds {' '.join(map(str, seeds))}"
                  + (" --quick" if quick else ""),
                  seeds=seeds, what=exp.what, conditions=conditions, settings=exp.settings, quick=quick,
                  results=results, seconds=seconds, total_seconds=round(time.perf_counter() - start, 1),
                  sslteach_version=__version__, torch_version=str(torch.__version__), device=str(device),
                  threads=torch.get_num_threads(), machine=platform.machine(), python=sys.version.split()[0],
                  date=datetime.date.today().isoformat())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, out)
    if progress:
        print(f"wrote {out} ({record['total_seconds']:.0f} s); to ship it, register in sslteach.registry.SHA256:\n"
              f'    "results/{name}.json": "{sha256sum(out)}",')
    return out


@dataclass
class Sweep:
    """A results file read back: ``sweep.measure(condition, metric)`` is a :class:`~sslteach.findings.Measure`."""
    record: dict

    @property
    def conditions(self) -> list:
        return list(self.record["results"])

    def metrics(self, condition: str) -> list:
        return list(self._row(condition))

    def _row(self, condition: str) -> dict:
        if condition not in self.record["results"]:
            raise KeyError(f"the {self.record['name']} sweep has no condition {condition!r}; it has "
                           f"{', '.join(map(repr, self.conditions))}")
        return self.record["results"][condition]

    def measure(self, condition: str, metric: str, unit: str = "%", digits: int = 1) -> Measure:
        row = self._row(condition)
        if metric not in row:
            raise KeyError(f"the {self.record['name']} sweep measured no {metric!r} for {condition!r}; it "
                           f"measured {', '.join(map(repr, row))}")
        return Measure(row[metric], what=self.record.get("what", "seeds"), unit=unit, digits=digits)

    def describe(self) -> str:
        r = self.record
        minutes = r["total_seconds"] / 60
        return (f"shipped sweep '{r['name']}': {len(r['seeds'])} {r.get('what', 'seeds')} ({', '.join(map(str, r['seeds']))}) "
                f"of {len(r['results'])} conditions, {minutes:.0f} min on {r['device']} ({r['threads']} threads), "
                f"sslteach {r['sslteach_version']}, torch {r['torch_version']}, {r['date']}; made by `{r['command']}`")


def load_sweep(name: str, path: str | Path | None = None) -> Sweep:
    """The shipped results of an experiment (``data/results/<name>.json``, sha256 checked), or ``path``.

    ``$SSLTEACH_RESULTS`` names a folder to read ``<name>.json`` from instead (unchecked): for trying
    a notebook against a sweep run here, e.g. the quick runs in ``/tmp/sslteach-sweeps``.
    """
    if path is None and os.environ.get("SSLTEACH_RESULTS"):
        path = Path(os.environ["SSLTEACH_RESULTS"]) / f"{name}.json"
    if path is None:
        key = f"results/{name}.json"
        if key not in SHA256:
            raise DataError(f"no shipped results for {name!r} (data/{key} is not registered in sslteach.registry.SHA256): "
                            f"run `python -m sslteach sweep {name}` and register the printed line")
        path = data_file(key)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results file at {path}: run `python -m sslteach sweep {name} --out {path}`")
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(f"{path} is not a results file (invalid JSON: {e}); run the sweep again") from e
    if not isinstance(record, dict) or "results" not in record or record.get("name") != name:
        raise DataError(f"{path} is not the results file of {name!r}; run `python -m sslteach sweep {name}` again")
    return Sweep(record)
