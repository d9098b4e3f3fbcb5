"""Findings: a notebook's results and verdicts, rendered from the numbers so they cannot go stale.

A notebook's Markdown carries the idea, the formula and the question. What the run *found* is
stated by code, from the measured numbers, with their spread and a stated decision rule::

    probe = {"h": st.Measure([0.595, 0.589, 0.601], what="seeds"),      # one value per seed
             "z": st.Measure([0.521, 0.530, 0.518], what="seeds")}
    st.compare(probe, expect="h > z", source="SimCLR (Chen et al. 2020), Figure 8",
               why_not="the head is trained for minutes, not hours")

renders (as Markdown, in the notebook's output)::

    h vs z: h 59.5 ± 0.6 %, z 52.3 ± 0.6 % (3 seeds). Every run of h is above every run of z:
    h is higher. As SimCLR (Chen et al. 2020), Figure 8 found: reproduced.

**The rule.** Two measurements differ *clearly* when their ranges (lowest to highest run) do not
overlap: every run of one beat every run of the other. Otherwise there is **no clear
difference**, whatever the means say. With 3 runs this is strict (a 1-in-20 chance that three
draws of the same thing come out in that order, in one direction), and a student can check it by
eye on the plotted points.

**Expectations.** ``expect=`` states what the prose or a paper predicts. When the measurement
contradicts it, or cannot decide it, the finding says so plainly and gives ``why_not`` (the
reasons, measured where possible): a paper's result that does not reproduce in the miniature is a
lesson too, never a hidden one. :func:`audit_notebook` (run on every committed notebook by the
tests) fails on a finding that does not hold and is not presented that way, and on a measured
percentage in Markdown that no output prints.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from .utils import check_number

HOLDS, NO_CLEAR, CONTRADICTED = "holds", "no clear difference", "contradicted"
_MARK = "<!-- sslteach-finding status={status} expected={expected} explained={explained} -->"
_MARK_RE = re.compile(r"<!-- sslteach-finding status=(\w[\w ]*?) expected=(\w+) explained=(\w+) -->")


@dataclass
class Measure:
    """One quantity measured several times (seeds, label draws): its values, mean and spread.

    Args:
        values: one number per run (a single number is one run).
        what: what the runs differ by, for the sentence ("seeds", "label draws").
        unit: ``"%"`` shows fractions in [0, 1] as percentages; ``""`` shows plain numbers.
        digits: decimals shown.
    """
    values: list
    what: str = "seeds"
    unit: str = "%"
    digits: int = 1

    def __post_init__(self):
        values = [self.values] if isinstance(self.values, (int, float)) else list(self.values)
        if not values:
            raise ValueError("a Measure needs at least one value (one per run), got none")
        self.values = [check_number(float(v), "every value of a Measure") for v in values]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return sum(self.values) / self.n

    @property
    def std(self) -> float:
        """Sample standard deviation (0 for one run)."""
        if self.n < 2:
            return 0.0
        m = self.mean
        return math.sqrt(sum((v - m) ** 2 for v in self.values) / (self.n - 1))

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def _fmt(self, v: float) -> str:
        return f"{100 * v:.{self.digits}f}" if self.unit == "%" else f"{v:.{self.digits}f}"

    def __str__(self) -> str:
        unit = " %" if self.unit == "%" else (f" {self.unit}" if self.unit else "")
        if self.n == 1:
            return f"{self._fmt(self.mean)}{unit} (1 run)"
        return f"{self._fmt(self.mean)} ± {self._fmt(self.std)}{unit}"

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies within this measurement's range (lowest to highest run)."""
        return self.low <= value <= self.high


def _as_measure(value, what: str) -> Measure:
    return value if isinstance(value, Measure) else Measure(value, what=what)


def clearly_above(a: Measure, b: Measure) -> bool:
    """The decision rule: every run of ``a`` is above every run of ``b`` (the ranges do not overlap)."""
    return a.low > b.high


@dataclass
class Finding:
    """A rendered finding: the sentence and the verdict (it displays as Markdown in a notebook)."""
    text: str
    status: str                     # HOLDS, NO_CLEAR or CONTRADICTED: what the numbers say of `expect`
    expected: bool = False          # whether an expectation (the prose's or a paper's) was tested
    explained: bool = False         # whether a failed expectation comes with its reasons
    data: dict = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        return self.status == HOLDS

    def markdown(self) -> str:
        mark = _MARK.format(status=self.status, expected=self.expected, explained=self.explained)
        return f"{mark}\n{self.text}"

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __str__(self) -> str:
        return self.text


def _names(measures: dict) -> list:
    if not isinstance(measures, dict) or len(measures) < 2:
        raise ValueError(f"compare needs a dict of at least two named measurements, e.g. "
                         f"{{'h': [0.59, 0.60, 0.58], 'z': [0.52, 0.53, 0.51]}}, got {measures!r:.80}")
    return list(measures)


def _verdict(expected_ok: bool | None, decided: bool, expect: str | None, source: str | None,
             why_not: str | None) -> tuple[str, str, bool]:
    """(status, sentence, explained) for an expectation, given whether the numbers decide it."""
    if expect is None:
        return (HOLDS if decided else NO_CLEAR), "", False
    said = f"{source} found" if source else "The expectation was"
    if decided and expected_ok:
        return HOLDS, f" {said} {expect}: **reproduced**.", False
    status = NO_CLEAR if not decided else CONTRADICTED
    verdict = "the numbers cannot tell" if not decided else "the numbers say otherwise"
    why = f" Why it may differ here: {why_not}" if why_not else ""
    return status, f" {said} {expect}: **not reproduced here** ({verdict}).{why}", bool(why_not)


def compare(measures: dict, *, expect: str | None = None, source: str | None = None,
            why_not: str | None = None, label: str | None = None, higher_is_better: bool = True,
            what: str = "seeds") -> Finding:
    """Compare two or more measured quantities and state the result with the decision rule.

    Args:
        measures: ``{"name": Measure or list of per-run values}``; lists become ``Measure(values, what)``.
        expect: the expected order, as ``"a > b"`` (a clearly above b), ``"a > b, c"`` (above each),
            ``"a = b"`` (no clear difference) or ``"a best"`` (clearly above every other); names
            from ``measures``. None: just report which is clearly highest, if any.
        source: who expects it ("SimCLR (Chen et al. 2020), Table 5"), shown in the sentence.
        why_not: the reasons the expectation may not hold in this miniature (measured where
            possible); shown only when it does not hold.
        label: a title for the sentence (default: the names joined by "vs").
        higher_is_better: only for the wording ("higher" vs "lower is better").
        what: what the runs differ by, for lists.

    Returns:
        A :class:`Finding` that renders as Markdown.
    """
    names = _names(measures)
    ms = {n: _as_measure(v, what) for n, v in measures.items()}
    label = label or " vs ".join(names)
    runs = {m.n for m in ms.values()}
    n_txt = f"{runs.pop()} {next(iter(ms.values())).what}" if len(runs) == 1 else "runs as shown"
    parts = ", ".join(f"{n} {ms[n]}" for n in names)
    order = sorted(names, key=lambda n: ms[n].mean, reverse=True)
    top, second = order[0], order[1]
    if clearly_above(ms[top], ms[second]):
        outcome = f"Every run of {top} is above every run of the others: {top} is highest."
    else:
        close = [n for n in order[1:] if not clearly_above(ms[top], ms[n])]
        outcome = (f"The ranges of {top} and {', '.join(close)} overlap: **no clear difference** "
                   f"between them" + (" (the means alone would rank them, but one run can change that)." if close else "."))
    ok, decided = None, True
    if expect is not None:
        ok, decided = _check_expectation(expect, ms)
    status, said, explained = _verdict(ok, decided, expect, source, why_not)
    text = f"**{label}**: {parts} ({n_txt}). {outcome}{said}"
    return Finding(text, status, expected=expect is not None, explained=explained,
                   data={n: ms[n].values for n in names})


def _check_expectation(expect: str, ms: dict) -> tuple[bool, bool]:
    """(agrees, decided) for an expectation string over named measures."""
    expect = expect.strip()
    m = re.fullmatch(r"(.+?)\s*(>|<|=)\s*(.+)", expect)
    best = re.fullmatch(r"(.+?)\s+best", expect)
    if best:
        a = best.group(1).strip()
        _known(a, ms)
        others = [n for n in ms if n != a]
        if all(clearly_above(ms[a], ms[o]) for o in others):
            return True, True
        if any(clearly_above(ms[o], ms[a]) for o in others):
            return False, True
        return False, False
    if not m:
        raise ValueError(f"expect must read 'a > b', 'a < b', 'a = b' or 'a best' with names of the measures "
                         f"({', '.join(ms)}), got {expect!r}")
    a, op, rest = m.group(1).strip(), m.group(2), m.group(3).strip()
    rest = [rest] if rest in ms else [s.strip() for s in rest.split(",")]  # one name may hold a comma
    for n in (a, *rest):
        _known(n, ms)
    if op == "=":
        same = all(not clearly_above(ms[a], ms[b]) and not clearly_above(ms[b], ms[a]) for b in rest)
        return same, True
    hi = (lambda x, y: clearly_above(ms[x], ms[y])) if op == ">" else (lambda x, y: clearly_above(ms[y], ms[x]))
    if all(hi(a, b) for b in rest):
        return True, True
    if any(hi(b, a) for b in rest):
        return False, True
    return False, False


def _known(name: str, ms: dict) -> None:
    if name not in ms:
        raise ValueError(f"{name!r} is not one of the measures ({', '.join(ms)}); use their names in expect")


def within(live: float, shipped: Measure | list, *, label: str, what: str = "seeds") -> Finding:
    """Whether a live single run is an ordinary draw of a longer multi-seed sweep.

    The notebook's own run is one seed; the shipped sweep (``python -m sslteach sweep ...``) ran the
    same settings with several. The rule: the live value lies within the sweep's range widened by
    one standard deviation on each side (a new draw can fall just outside the range of three
    earlier ones by chance; it rarely falls a whole standard deviation beyond it).
    """
    shipped = _as_measure(shipped, what)
    live = check_number(float(live), "live")
    lo, hi = shipped.low - shipped.std, shipped.high + shipped.std
    inside = lo <= live <= hi
    fmt = shipped._fmt
    unit = " %" if shipped.unit == "%" else ""
    text = (f"**{label}**: this run {fmt(live)}{unit}; the shipped sweep {shipped} over {shipped.n} "
            f"{shipped.what} (runs {', '.join(fmt(v) for v in shipped.values)}{unit}). "
            + ("This run is within the sweep's range widened by one standard deviation: an ordinary draw."
               if inside else
               f"This run is **outside** the sweep's range widened by one standard deviation: either an unusual "
               f"draw ({shipped.n} {shipped.what} estimate the spread only roughly), or this machine, its library "
               f"versions or a changed recipe give other numbers than the shipped sweep; running the sweep here "
               f"tells which."))
    return Finding(text, HOLDS if inside else NO_CLEAR, expected=True, explained=not inside, data={"live": live})


def state(text: str, *, holds: bool, expect: str | None = None, source: str | None = None,
          why_not: str | None = None) -> Finding:
    """A finding decided by the notebook's own rule (e.g. a threshold), rendered with the same
    wording for expectations as :func:`compare`. ``text`` states the numbers and the rule."""
    status, said, explained = _verdict(holds, True, expect, source, why_not)
    if expect is None:
        status = HOLDS if holds else CONTRADICTED
    return Finding(f"{text}{said}", status, expected=expect is not None, explained=explained)


# ---- the audit that the tests run on every committed notebook -----------------------------------

_PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?%")
_CITATION = re.compile(r"et al\.|\b(?:19|20)\d\d\b")


def _outputs_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append("".join(out["text"]))
        for kind in ("text/markdown", "text/plain", "text/html"):
            if kind in out.get("data", {}):
                parts.append("".join(out["data"][kind]))
    return "\n".join(parts)


def _sentences(markdown: str) -> list[str]:
    text = re.sub(r"\s+", " ", re.sub(r"\$\$.*?\$\$", " ", markdown, flags=re.S))
    return re.split(r"(?<=[.!?])\s+(?=[A-Z*_(\[`$0-9])", text)


def audit_notebook(path: str | Path) -> list[str]:
    """Problems of a committed notebook's claims, one sentence each (empty: none found).

    1. A rendered finding (output of :func:`compare`, :func:`within`, :func:`state`) whose
       expectation failed, without reasons (``why_not``), i.e. not presented as a non-reproduction.
    2. A percentage in a Markdown cell that no output of the notebook prints, unless its sentence
       cites a paper (an "et al." or a year): measured figures belong in outputs, where a re-run
       updates them.
    """
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = nb.get("cells", [])
    outputs = "\n".join(_outputs_text(c) for c in cells if c.get("cell_type") == "code")
    printed = {m.group(1) for m in _PERCENT.finditer(outputs)} | set(re.findall(r"(?<![\w.])\d+\.\d+", outputs))
    problems = []
    for m in _MARK_RE.finditer(outputs):
        status, expected, explained = m.group(1), m.group(2) == "True", m.group(3) == "True"
        if expected and status != HOLDS and not explained:
            problems.append(f"{Path(path).name}: a finding reads '{status}' for its expectation but gives no "
                            f"reasons: pass why_not= so the notebook presents it as a non-reproduction")
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "markdown":
            continue
        for sentence in _sentences("".join(cell.get("source", ""))):
            if _CITATION.search(sentence):
                continue
            for m in _PERCENT.finditer(sentence):
                if m.group(1) not in printed:
                    problems.append(f"{Path(path).name}, Markdown cell {i}: '{m.group(0)}' in \"{sentence[:90]}\" is "
                                    f"printed by no output: render it from the numbers, or cite the paper it comes from")
    return problems
