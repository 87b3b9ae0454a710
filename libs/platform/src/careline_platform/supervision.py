"""What `make run` does when a service exits that nobody asked to stop: the decision, kept pure.

compose's ``restart: unless-stopped`` and a Kubernetes Deployment restart a dead service instead
of stopping the whole system; ``make run`` does the same. Docker restarts with "an ever
increasing delay (double the previous delay, starting at 100ms)" and resets the delay once a
container has stayed up for 10 s (Docker Engine API, RestartPolicy). We start at 0.5 s (a
Python service needs seconds to start anyway) and count a run as *quick* when it lasted under
30 s: a fresh interpreter that imports a service takes up to 10 s to start on a loaded two-core
machine, so Docker's 10 s would count a service that fails during start-up as a healthy run.
A service that fails quickly five times in a row will not get better by itself (a bad setting,
a port in use): the run stops, saying so, instead of restarting it forever.

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
    quick_run_s: float = 30.0
    """A run shorter than this is a quick failure; a longer one resets the delay."""
    give_up_after: int = 5
    """Quick failures in a row after which the run stops."""


@dataclass(frozen=True)
class Exit:
    """One run of a service that ended without being asked to (monotonic seconds)."""

    started_at: float
    ended_at: float
    code: int
    """The exit status; negative: killed by that signal (as ``subprocess.Popen`` reports it)."""

    @property
    def ran_s(self) -> float:
        return self.ended_at - self.started_at


@dataclass(frozen=True)
class Restart:
    delay_s: float
    quick_failures: int


@dataclass(frozen=True)
class GiveUp:
    quick_failures: int


def quick_failures_in_a_row(history: Sequence[Exit], policy: RestartPolicy) -> int:
    """How many of the latest exits, counting back from the last, came after a quick run."""
    count = 0
    for ended in reversed(history):
        if ended.ran_s >= policy.quick_run_s:
            break
        count += 1
    return count


def next_action(history: Sequence[Exit], policy: RestartPolicy = RestartPolicy()) -> Restart | GiveUp:
    """What to do after the last exit of ``history`` (a service's unrequested exits, oldest first).

    Any exit status restarts, 0 included: nobody asked the service to stop. The delay doubles
    with each quick failure in a row and starts over after a run that lasted.
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
    what = f"{service} exited ({describe_exit(last.code)}) after {last.ran_s:.1f} s"
    if isinstance(action, Restart):
        streak = (
            f", quick failure {action.quick_failures} of {policy.give_up_after}"
            if action.quick_failures
            else ""
        )
        return f"{what}; restarting in {action.delay_s:g} s{streak}"
    return (
        f"{what}; it failed {action.quick_failures} times in a row, each within "
        f"{policy.quick_run_s:g} s of starting: stopping everything. See its log lines above."
    )
