"""The engine behind the exercise checks: run a student's function, compare, answer in plain words.

:mod:`sslteach.exercises` holds one ``check_<name>(fn)`` per exercise; each hands this module its
inputs and the package's own function. :func:`run_check` calls both on every input, compares the
answers (type, shape, dtype, NaN, values; inputs must not be changed in place) and returns a
:class:`CheckResult` that prints one plain sentence. A wrong or crashing answer is reported, never
raised.

The student's function gets a time budget, ``timeout=10`` seconds for all the inputs of a check
together. In the main thread of Linux or macOS (where Jupyter runs cells) a SIGALRM timer stops
the function when the budget runs out, so an endless loop cannot hang the notebook; the check
then stops at that input and says how long the package takes there. Where no such timer can be
set (Windows, another thread, or a SIGALRM timer already running, e.g. pytest-timeout's) the
function runs to its end and the time is measured afterwards: a slow answer is still reported,
but an endless loop cannot be interrupted there.
"""
from __future__ import annotations

import math
import numbers
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import torch

from .utils import check_number

TIMEOUT = 10.0  # seconds a check gives the student's function, all its inputs together


@dataclass(repr=False)
class CheckResult:
    """What a check found; prints as one plain sentence, and is truthy when the answer is right."""
    passed: bool
    message: str
    args: tuple | None = None   # the input it failed on: ``fn(*result.args)`` reproduces it
    expected: Any = None        # the package's answer on that input
    got: Any = None             # the student's answer on that input

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return self.message

    __str__ = __repr__


def _clone(args: tuple) -> tuple:
    return tuple(a.clone() if torch.is_tensor(a) else a for a in args)


def _fmt(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _describe(got) -> str:
    if got is None:
        return "None (did you forget `return`?)"
    if torch.is_tensor(got):
        return f"a tensor of shape {tuple(got.shape)}, dtype {got.dtype}"
    return f"{type(got).__name__} {got!r}"[:80]


def _compare(exp, got) -> tuple[str, str] | None:
    """None when ``got`` matches ``exp``, else (headline, detail) in plain words."""
    if isinstance(exp, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(exp):
            return "wrong type", f"expected a tuple of {len(exp)} values, got {_describe(got)}"
        for j, (e, g) in enumerate(zip(exp, got), 1):
            problem = _compare(e, g)
            if problem:
                return problem[0], f"output {j} of {len(exp)}: {problem[1]}"
        return None
    if isinstance(exp, float):                              # a plain number, e.g. an accuracy
        if torch.is_tensor(got) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            return "wrong type", f"expected a number, got {_describe(got)}"
        if math.isnan(got):
            return "NaN in your answer", f"expected {exp:.4f}, got nan"
        return None if abs(got - exp) <= 1e-6 else ("differs", f"expected {exp:.4f}, got {got:.4f}")
    if not torch.is_tensor(got):
        return "wrong type", f"expected a tensor of shape {tuple(exp.shape)}, got {_describe(got)}"
    if got.shape != exp.shape:
        scalar = " (a scalar: use .mean(), .sum() or .squeeze())" if exp.ndim == 0 else ""
        return "wrong shape", f"expected shape {tuple(exp.shape)}{scalar}, got {tuple(got.shape)}"
    if got.dtype != exp.dtype:
        return "wrong dtype", f"expected {exp.dtype}, got {got.dtype}"
    if got.requires_grad and not exp.requires_grad:
        return "still tracks gradients", "compute it under `with torch.no_grad():` (frozen features)"
    got = got.detach().cpu()
    if exp.is_floating_point():
        for name, bad in (("NaN", torch.isnan(got) & ~torch.isnan(exp)),
                          ("inf", torch.isinf(got) & ~torch.isinf(exp))):
            if bad.any():
                return _where(f"{name} in your answer", bad, exp, got)
        wrong = ~torch.isclose(got, exp, rtol=1e-4, atol=1e-5)
    else:
        wrong = got != exp
    return _where("differs", wrong, exp, got) if wrong.any() else None


def _where(headline: str, wrong: torch.Tensor, exp: torch.Tensor, got: torch.Tensor) -> tuple[str, str]:
    if exp.ndim == 0:
        return headline, f"expected {_fmt(exp.item())}, got {_fmt(got.item())}"
    idx = tuple(wrong.nonzero()[0].tolist())
    return headline, (f"{int(wrong.sum())} of {wrong.numel()} values are wrong; the first at index "
                      f"{idx}: expected {_fmt(exp[idx].item())}, got {_fmt(got[idx].item())}")


def _student_line(err: BaseException) -> tuple[str, int] | None:
    """(code, line number) of the deepest frame outside torch and this module (the student's code)."""
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if f.filename != __file__ and "/torch/" not in f.filename and f.line]
    return (frames[-1].line.strip(), frames[-1].lineno) if frames else None


def _crash_site(err: BaseException) -> str:
    site = _student_line(err)
    return f" (at `{site[0]}`, line {site[1]})" if site else ""


def _secs(seconds: float) -> str:
    if seconds < 1e-3:
        return "under 1 ms"
    return f"{1000 * seconds:.0f} ms" if seconds < 1 else f"{seconds:.3g} s"


class _TooSlow(TimeoutError):
    """Raised inside the student's function when the check's time budget runs out."""


class _Alarm:
    """``with _Alarm(seconds):`` raises :class:`_TooSlow` in the block once ``seconds`` have passed.

    Uses SIGALRM, so only in the main thread, where ``signal.setitimer`` exists, and when no other
    ITIMER_REAL timer is running (that one is left alone); ``armed`` is False otherwise and the
    caller measures the time afterwards. The timer is cleared and the previous handler restored on
    leaving the block, also on an exception or a KeyboardInterrupt.
    """

    def __init__(self, seconds: float | None):
        self.seconds, self.active, self.fired = seconds, False, False
        self.armed = (seconds is not None and hasattr(signal, "setitimer") and hasattr(signal, "SIGALRM")
                      and threading.current_thread() is threading.main_thread()
                      and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))

    def _handler(self, signum, frame):
        if self.active:  # not once the block is left: a late signal does nothing
            self.fired = True
            raise _TooSlow(f"stopped after {_secs(self.seconds)}")

    def __enter__(self) -> "_Alarm":
        if self.armed:
            self.previous = signal.signal(signal.SIGALRM, self._handler)
            self.active = True
            # at the deadline, then every 0.1 s: code that swallows one TimeoutError meets the next
            signal.setitimer(signal.ITIMER_REAL, max(self.seconds, 1e-3), 0.1)
        return self

    def __exit__(self, *exc) -> bool:
        if self.armed:
            self.active = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous if self.previous is not None else signal.SIG_DFL)
        return False


def _too_slow(where: str, i: int, call: float, spent: float, timeout: float, reference: float,
              stopped: _TooSlow | None, alarm: _Alarm, slow_hint: str) -> str:
    """The sentence for a function that used up the check's time budget."""
    took = f"more than {_secs(timeout)}" if stopped else _secs(spent)
    took += f" on {where}" if i == 1 else f" in all by {where} ({_secs(call)} on that one)"
    if stopped:
        site = _student_line(stopped)
        why = f"; it was running `{site[0]}` (line {site[1]}) when the check stopped it" if site else ""
    elif alarm.fired:
        why = (f", more than the {_secs(timeout)} a check allows (it caught the TimeoutError that should "
               f"have stopped it: avoid a bare `except:` or `except Exception:`)")
    elif alarm.armed:
        why = f", more than the {_secs(timeout)} a check allows"
    else:
        why = (f", more than the {_secs(timeout)} a check allows (it could not be stopped earlier here: "
               f"that needs the main thread on Linux or macOS)")
    return (f"✗ too slow: your function took {took}{why}; the package's function takes "
            f"{_secs(reference)} on that input. Hint: {slow_hint}")


def run_check(fn: Callable, reference: Callable, cases: list, name: str, hint: str,
              timeout: float | None = TIMEOUT, slow_hint: str = "look for a Python loop over rows or "
              "elements: one tensor operation on the whole batch does the same work far faster") -> CheckResult:
    """Call ``fn`` and ``reference`` on every ``(description, args)`` case; stop at the first problem,
    or once ``fn`` has used up ``timeout`` seconds (None: no limit) over all the cases."""
    if not callable(fn):
        return CheckResult(False, f"✗ expected your function, e.g. check_{name}(my_{name}), got "
                                  f"{_describe(fn)}: pass the function itself, without calling it")
    if timeout is not None:
        timeout = check_number(timeout, "timeout", low=0, low_open=True, hint="the seconds a check gives "
                               "your function for all its inputs together; None for no limit")
    label, n = getattr(fn, "__name__", "your function"), len(cases)
    retry = f"\n  Try that input: r = st.exercises.check_{name}({label}); {label}(*r.args)"
    spent = 0.0                                             # seconds fn has used so far
    for i, (desc, args) in enumerate(cases, 1):
        where = f"input {i} of {n} ({desc})"
        start = time.perf_counter()
        expected = reference(*_clone(args))
        ref_seconds, given = time.perf_counter() - start, _clone(args)
        outcome = None                                      # None: returned; else what stopped it
        alarm = _Alarm(None if timeout is None else timeout - spent)
        start = time.perf_counter()
        try:
            with alarm:
                got = fn(*given)
        except _TooSlow as err:
            outcome = err
        except NotImplementedError:
            outcome = "stub"
        except (Exception, SystemExit) as err:  # any bug of the student's, reported, never raised
            outcome = err
        call = time.perf_counter() - start
        spent += call
        if isinstance(outcome, _TooSlow) or (timeout is not None and spent > timeout):
            stopped = outcome if isinstance(outcome, _TooSlow) else None
            message = _too_slow(where, i, call, spent, timeout, ref_seconds, stopped, alarm, slow_hint)
            return CheckResult(False, message + f"\n  Time that input: r = st.exercises.check_{name}({label}); "
                                                f"%time {label}(*r.args)", args=args, expected=expected)
        if outcome == "stub":
            return CheckResult(False, "✗ not written yet: replace `raise NotImplementedError` in the "
                                      "cell above with your code, run that cell, then this one again")
        if outcome is not None:
            return CheckResult(False, f"✗ your function raised {type(outcome).__name__} on {where}"
                                      f"{_crash_site(outcome)}: {outcome}{retry}", args=args, expected=expected)
        try:
            problem = _compare(expected, got)
        except Exception as err:  # an answer too odd to compare (a numpy array of objects, ...)
            problem = ("unreadable answer", f"{_describe(got)} ({type(err).__name__}: {err})")
        if problem is None and not all(torch.equal(a, b) for a, b in zip(given, args) if torch.is_tensor(a)):
            problem = ("changed its input", "your function modified an input tensor in place (an op "
                       "ending in `_`, or `x[...] = ...`); work on a copy or use out-of-place ops")
        if problem:
            return CheckResult(False, f"✗ {problem[0]} on {where}: {problem[1]}{retry}\n  Hint: {hint}",
                               args=args, expected=expected, got=got)
    return CheckResult(True, f"✓ right on all {n} inputs: {label} agrees with sslteach")


def seeded(seed: int = 0) -> tuple[torch.Generator, Callable, Callable]:
    """A seeded generator and randn / rand shortcuts on it (float32, CPU)."""
    g = torch.Generator().manual_seed(seed)
    return (g, lambda *shape: torch.randn(*shape, generator=g), lambda *shape: torch.rand(*shape, generator=g))
