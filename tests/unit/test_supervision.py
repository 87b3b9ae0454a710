"""`make run`'s restart decisions (careline_platform.supervision), from a service's exit history."""

from __future__ import annotations

import pytest

from careline_platform.supervision import (
    Exit,
    GiveUp,
    Restart,
    RestartPolicy,
    describe_exit,
    next_action,
    restart_report,
)

POLICY = RestartPolicy(first_delay_s=0.5, max_delay_s=30.0, steady_s=10.0, give_up_after=5)
NEVER = -1.0
STARTUP_S = 40.0  # a slow start (a loaded machine) does not count as being up


def runs(*up: float, code: int = 1) -> list[Exit]:
    """Consecutive runs, each up for ``up`` seconds after a slow start (``NEVER``: not up at all)."""
    history, t = [], 0.0
    for seconds in up:
        up_at = t + STARTUP_S if seconds != NEVER else None
        ended = t + STARTUP_S + max(seconds, 0.0)
        history.append(Exit(t, ended, code, up_at))
        t = ended
    return history


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        pytest.param(runs(3600), Restart(0.5, 0), id="a-long-run-restarts-at-the-first-delay"),
        pytest.param(runs(2), Restart(0.5, 1), id="first-quick-failure"),
        pytest.param(runs(2, 2), Restart(1.0, 2), id="second-doubles"),
        pytest.param(runs(2, 2, 2), Restart(2.0, 3), id="third-doubles-again"),
        pytest.param(runs(2, 2, 2, 2), Restart(4.0, 4), id="fourth"),
        pytest.param(runs(2, 2, 2, 2, 2), GiveUp(5), id="fifth-quick-failure-gives-up"),
        pytest.param(runs(2, 2, 2, 2, 600, 2), Restart(0.5, 1), id="a-run-that-lasted-resets-the-streak"),
        pytest.param(runs(2, 2, 2, 2, 600), Restart(0.5, 0), id="a-long-run-after-failures"),
        pytest.param(runs(9.9, 9.9, 9.9, 9.9, 9.9), GiveUp(5), id="up-just-under-steady-counts"),
        pytest.param(runs(10, 10, 10, 10, 10), Restart(0.5, 0), id="up-for-steady-s-is-not-quick"),
        pytest.param(runs(*[NEVER] * 5), GiveUp(5), id="never-up-however-long-it-ran"),
        pytest.param(runs(NEVER, 2, NEVER, 2), Restart(4.0, 4), id="never-up-and-briefly-up-both-count"),
    ],
)
def test_next_action_from_the_history(history: list[Exit], expected: Restart | GiveUp) -> None:
    assert next_action(history, POLICY) == expected


def test_any_exit_status_restarts_even_zero_as_unless_stopped_does() -> None:
    for code in (0, 1, -9, -15):
        assert isinstance(next_action(runs(100, code=code), POLICY), Restart)


def test_the_delay_is_capped() -> None:
    policy = RestartPolicy(first_delay_s=10.0, max_delay_s=15.0, give_up_after=100)
    assert next_action(runs(*[1] * 10), policy) == Restart(15.0, 10)


def test_no_history_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        next_action([], POLICY)


def test_exit_statuses_read_as_an_operator_would() -> None:
    assert describe_exit(1) == "exit code 1"
    assert describe_exit(0) == "exit code 0"
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(-200) == "killed by signal 200"


def test_the_report_names_the_service_the_status_and_the_next_delay() -> None:
    last = Exit(0.0, 31.5, -9, up_at=30.0)
    line = restart_report("conversation", last, Restart(1.0, 2), POLICY)
    assert line == (
        "conversation exited (killed by SIGKILL), up for 1.5 s; restarting in 1 s, quick failure 2 of 5"
    )
    steady = restart_report("billing", Exit(0, 100, 0, up_at=5), Restart(0.5, 0), POLICY)
    assert steady == "billing exited (exit code 0), up for 95.0 s; restarting in 0.5 s"


def test_giving_up_says_so_plainly() -> None:
    line = restart_report("billing", Exit(0.0, 25.0, 78), GiveUp(5), POLICY)
    assert line.startswith(
        "billing exited (exit code 78), 25.0 s after its start, never up; it failed 5 times in a row"
    )
    assert "stopping everything" in line
