"""What `make run` does when a service exits that nobody asked to stop: the decision, kept pure.

compose's ``restart: unless-stopped`` and a Kubernetes Deployment restart a dead service instead
of stopping the whole system; ``make run`` does the same. Docker restarts with "an ever
increasing delay (double the previous delay, starting at 100ms)" (Docker Engine API,
RestartPolicy) and starts the delay over once a container has stayed up for 10 s. We start at
0.5 s (a Python service needs seconds to start anyway) and count a failure as *quick* when the
service never came up (it had not logged ``service.started``) or stayed up for under 10 s. Up,
not merely running: a fresh interpreter importing a service took 20 to 60 s to fail on a loaded
two-core machine, so a clock started at the process's start would call a service that never
came up a healthy run. A service that fails quickly five times in a row will not get better by
itself (a bad setting, a port in use): the run stops, saying so, instead of restarting forever.

``next_action`` decides from a service's exit history alone; ``tools/run.py`` only watches the
processes, sleeps and starts them.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    first_delay_s: float = 0.5
    max_delay_s: float = 30.0
    steady_s: float = 10.0
    """Up for less than this (or never up) is a quick failure; up longer resets the delay."""
    give_up_after: int = 5
    """Quick failures in a row after which the run stops."""


@dataclass(frozen=True)
class Exit:
    """One run of a service that ended without being asked to (monotonic seconds)."""

    started_at: float
    ended_at: float
    code: int
    """The exit status; negative: killed by that signal (as ``subprocess.Popen`` reports it)."""
    up_at: float | None = None
    """When the service said it was up (``service.started``); None: it never was."""

    @property
    def ran_s(self) -> float:
        return self.ended_at - self.started_at

    @property
    def up_s(self) -> float:
        """How long the service was up before it exited (0 when it never came up)."""
        return self.ended_at - self.up_at if self.up_at is not None else 0.0


@dataclass(frozen=True)
class Restart:
    delay_s: float
    quick_failures: int


@dataclass(frozen=True)
class GiveUp:
    quick_failures: int


def quick_failures_in_a_row(history: Sequence[Exit], policy: RestartPolicy) -> int:
    """How many of the latest exits, counting back from the last, were quick failures."""
    count = 0
    for ended in reversed(history):
        if ended.up_s >= policy.steady_s:
            break
        count += 1
    return count


def next_action(history: Sequence[Exit], policy: RestartPolicy = RestartPolicy()) -> Restart | GiveUp:
    """What to do after the last exit of ``history`` (a service's unrequested exits, oldest first).

    Any exit status restarts, 0 included: nobody asked the service to stop. The delay doubles
    with each quick failure in a row and starts over after a service stayed up.
    """
    if not history:
        raise ValueError("no exit to act on")
    quick = quick_failures_in_a_row(history, policy)
    if quick >= policy.give_up_after:
        return GiveUp(quick)
    doublings = max(quick - 1, 0)
    delay = min(policy.first_delay_s * 2**doublings, policy.max_delay_s)
    return Restart(delay, quick)


def describe_exit(code: int) -> str:
    """``exit code 1`` or ``killed by SIGKILL``: how an operator reads an exit status."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def restart_report(service: str, last: Exit, action: Restart | GiveUp, policy: RestartPolicy) -> str:
    """The line `make run` prints about an exit: what happened and what comes next."""
    how_long = (
        f"up for {last.up_s:.1f} s"
        if last.up_at is not None
        else f"{last.ran_s:.1f} s after its start, never up"
    )
    what = f"{service} exited ({describe_exit(last.code)}), {how_long}"
    if isinstance(action, Restart):
        streak = (
            f", quick failure {action.quick_failures} of {policy.give_up_after}"
            if action.quick_failures
            else ""
        )
        return f"{what}; restarting in {action.delay_s:g} s{streak}"
    return (
        f"{what}; it failed {action.quick_failures} times in a row, each before it had been up "
        f"{policy.steady_s:g} s: stopping everything. See its log lines above."
    )
