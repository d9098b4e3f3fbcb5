"""Hostile student code in the checking engine (sslteach.checking), driven through the exercise checks:
endless loops, slow and sleeping functions, swallowed timeouts, exit() and Ctrl-C. Each check must
come back on its own with a plain sentence, and leave no timer or signal handler behind. The budgets
are tiny (tenths of a second), so every test is quick."""
import re
import signal
import threading
import time

import pytest

import sslteach as st
from sslteach.checking import CheckResult

HAS_ALARM = hasattr(signal, "setitimer") and hasattr(signal, "SIGALRM")
needs_alarm = pytest.mark.skipif(not HAS_ALARM, reason="needs SIGALRM (Linux, macOS)")

CHECKS = ["knn_accuracy", "grayscale", "brightness", "info_nce", "alignment", "uniformity", "rotate_batch",
          "masked_mse", "sgns_loss", "extract_features"]


def check(name):
    return getattr(st.exercises, f"check_{name}")


def spin(*args):
    while True:  # the student's endless loop
        pass


@pytest.fixture
def own_handler():
    """A SIGALRM handler of our own, so the tests can see that each check puts it back."""
    if not HAS_ALARM:
        yield None
        return
    def handler(signum, frame):
        raise AssertionError("the test's own SIGALRM handler ran: a check left a timer behind")
    previous = signal.signal(signal.SIGALRM, handler)
    yield handler
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def assert_alarm_restored(handler):
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is handler


@needs_alarm
@pytest.mark.parametrize("name", CHECKS)
def test_an_endless_loop_is_stopped_and_reported(name, own_handler):
    # before: the check ran the student's loop forever
    result = check(name)(spin, timeout=0.05)
    assert isinstance(result, CheckResult) and not result.passed
    assert result.message.startswith("✗ too slow: your function took more than 50 ms on input 1 of "), result.message
    assert re.search(r"it was running `(while True:.*|pass)` \(line \d+\)", result.message)  # where it was stuck
    assert "the package's function takes" in result.message and "Hint: look for a Python loop" in result.message
    assert result.args is not None                                              # fn(*result.args) reproduces it
    assert_alarm_restored(own_handler)


@needs_alarm
def test_a_sleeping_function_is_stopped_at_the_first_input(own_handler):
    calls = []

    def sleepy(z1, z2, tau):
        calls.append(1)
        time.sleep(30)
        return st.info_nce(z1, z2, tau)

    result = st.exercises.check_info_nce(sleepy, timeout=0.1)
    assert not result.passed and "took more than 100 ms on input 1 of 7 (N=8, D=16, tau=0.5)" in result.message
    assert "time.sleep(30)" in result.message and len(calls) == 1             # the other 6 never ran
    assert_alarm_restored(own_handler)


@needs_alarm
def test_a_slow_function_stops_the_check_once_the_budget_is_used(own_handler):
    # before: a 3-second function took 7 x 3 s to check; now the budget covers all inputs together
    calls = []

    def slow_but_right(z1, z2, tau):
        calls.append(1)
        time.sleep(0.06)
        return st.info_nce(z1, z2, tau)

    result = st.exercises.check_info_nce(slow_but_right, timeout=0.1)
    assert not result.passed and result.message.startswith("✗ too slow: your function took ")
    assert len(calls) < 7
    assert f"input {len(calls)} of 7" in result.message
    assert_alarm_restored(own_handler)


@needs_alarm
def test_a_swallowed_timeout_still_ends_the_check(own_handler):
    def swallows(z1, z2, tau):
        try:
            while True:
                pass
        except Exception:  # catches the check's TimeoutError, then loops again
            while True:
                pass

    result = st.exercises.check_info_nce(swallows, timeout=0.05)
    assert not result.passed and "too slow" in result.message
    assert_alarm_restored(own_handler)


@needs_alarm
def test_ctrl_c_in_the_student_function_propagates_and_clears_the_alarm(own_handler):
    def interrupted(z1, z2, tau):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        st.exercises.check_info_nce(interrupted, timeout=5)
    assert_alarm_restored(own_handler)


@needs_alarm
def test_a_right_answer_leaves_no_alarm_behind(own_handler):
    assert st.exercises.check_alignment(lambda z1, z2: st.alignment(z1, z2), timeout=30).passed
    assert_alarm_restored(own_handler)


def slow_each_call(z1, z2, tau):
    time.sleep(0.05)
    return st.info_nce(z1, z2, tau)


def test_in_another_thread_the_time_is_measured_afterwards():
    # no SIGALRM outside the main thread: the function runs to its end, and the check then says so
    results = []
    worker = threading.Thread(target=lambda: results.append(st.exercises.check_info_nce(slow_each_call,
                                                                                         timeout=0.08)))
    worker.start()
    worker.join()
    message = results[0].message
    assert not results[0].passed and message.startswith("✗ too slow: your function took ")
    assert "more than the 80 ms a check allows (it could not be stopped earlier here" in message
    assert "of 7" in message and "input 7 of 7" not in message


@needs_alarm
def test_a_running_outer_timer_is_left_alone(own_handler):
    signal.setitimer(signal.ITIMER_REAL, 60)  # e.g. pytest-timeout's
    try:
        result = st.exercises.check_info_nce(slow_each_call, timeout=0.08)
        assert not result.passed and "could not be stopped earlier here" in result.message
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 60          # still running, untouched
        assert signal.getsignal(signal.SIGALRM) is own_handler
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def test_exit_in_the_student_function_is_reported_not_raised():
    def quits(z1, z2, tau):
        raise SystemExit(3)

    result = st.exercises.check_info_nce(quits)
    assert not result.passed and "your function raised SystemExit on input 1 of 7" in result.message


def test_no_limit_with_timeout_none():
    assert st.exercises.check_uniformity(lambda z: st.uniformity(z), timeout=None).passed


@pytest.mark.parametrize("timeout,error", [(0, ValueError), (-1, ValueError), (float("nan"), ValueError),
                                           (True, TypeError), ("10", TypeError)])
def test_bad_timeout_is_refused(timeout, error):
    with pytest.raises(error, match=r"timeout must be a number > 0.*None for no limit"):
        st.exercises.check_uniformity(lambda z: st.uniformity(z), timeout=timeout)
