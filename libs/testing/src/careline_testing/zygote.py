"""Service processes forked from one warm interpreter, so a test pays Python's imports once.

Starting the four services as ``python -m careline_<name>`` costs about 16 CPU-seconds, almost
all of it importing (FastStream, PyMongo, pydantic, the SDKs, the crisis patterns). The e2e
suite starts a few dozen such sets and restarts services inside tests, so on two cores the
imports alone were about half of ``make test``.

A zygote is a child of the test process that imports every service package once and then, for
each request, forks. Its fork runs exactly what ``python -m careline_<name>`` runs
(``runpy.run_module`` of the package's ``__main__``) with the environment, log file and new
session a :class:`subprocess.Popen` would have given it. The zygote never starts a thread, an
event loop or a connection, so forking it is safe: everything a service opens, it opens after
the fork.

The service must still be a child of the test process, so tests can ``waitpid`` it for its exit
code exactly as with ``Popen``. The zygote forks twice and lets the middle process exit; the
service is then reparented to the nearest "child subreaper" (Linux ``PR_SET_CHILD_SUBREAPER``),
which :func:`become_subreaper` makes of the test process. Where that is unavailable (not
Linux), :func:`zygote_supported` says so and the harness starts services with ``Popen``.

Protocol, over the zygote's stdin and stdout: one JSON line per request,
``{"package", "env", "log_path"}``; one JSON line per answer, ``{"pid"}`` or ``{"error"}``.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import runpy
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
READY = "zygote.ready"


def zygote_supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def become_subreaper() -> None:
    """Make this process adopt its orphaned descendants (the zygote's forks), so it can wait them."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


class ForkedProcess:
    """The part of :class:`subprocess.Popen` the harness uses, for a process it did not spawn itself
    but adopted (a subreaper waits its orphaned descendants like children)."""

    def __init__(self, pid: int, args: list[str]) -> None:
        self.pid = pid
        self.args = args
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(0.01)
        return code


class Zygote:
    """The test side: starts the zygote process and asks it for forks of ``packages``."""

    def __init__(self, packages: tuple[str, ...]) -> None:
        self.packages = packages
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self.spawned: list[ForkedProcess] = []

    def start(self) -> None:
        become_subreaper()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "careline_testing.zygote", *self.packages],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        line = self._read_line()
        if line.strip() != READY:
            raise RuntimeError(f"the service zygote did not start: {line!r}")

    def _read_line(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        line = self._proc.stdout.readline().decode()
        if not line:
            raise RuntimeError(f"the service zygote exited ({self._proc.wait()})")
        return line

    def spawn(self, package: str, env: dict[str, str], log_path: Path) -> ForkedProcess:
        if package not in self.packages:
            raise ValueError(f"the zygote did not import {package}; it has {', '.join(self.packages)}")
        with open(log_path, "ab"):  # exists on return, as with Popen (the fork opens it later)
            pass
        with self._lock:
            if self._proc is None:
                self.start()
            assert self._proc is not None and self._proc.stdin is not None
            request = {"package": package, "env": env, "log_path": str(log_path)}
            self._proc.stdin.write(json.dumps(request).encode() + b"\n")
            self._proc.stdin.flush()
            answer = json.loads(self._read_line())
        if "error" in answer:
            raise RuntimeError(f"the service zygote could not fork {package}: {answer['error']}")
        child = ForkedProcess(int(answer["pid"]), [sys.executable, "-m", package])
        child.poll()  # a ChildProcessError here means this process did not adopt it
        self.spawned.append(child)
        return child

    def kill_leftovers(self) -> int:
        """SIGKILL every fork still running (a failed test's replacement process, say): once the
        test process exits, a leftover would run on forever, its broker gone. Returns how many."""
        left = [child for child in self.spawned if child.poll() is None]
        for child in left:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait(10)
        self.spawned.clear()
        return len(left)

    def stop(self) -> None:
        self.kill_leftovers()
        if self._proc is None:
            return
        assert self._proc.stdin is not None
        self._proc.stdin.close()  # end of requests: the zygote exits
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None


# --- the zygote process ----------------------------------------------------------------------


def _run_service(package: str, env: dict[str, str], log_path: str) -> None:
    """In the fork: become what ``Popen([python, -m, package], env=env, stdout=log,
    stderr=STDOUT, start_new_session=True)`` would have started, then run it. Never returns."""
    code = 1
    try:
        os.setsid()
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, 1 << 16)
        # as a fresh interpreter has them (Python itself ignores SIGPIPE and raises on SIGINT)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        os.environ.clear()
        os.environ.update(env)
        sys.argv = [package]
        runpy.run_module(package, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _fork(request: dict[str, Any]) -> int:
    """Fork twice: the middle process reports the service's pid and exits, orphaning it."""
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:  # the middle process
        os.close(read_end)
        service = os.fork()
        if service == 0:
            os.close(write_end)
            _run_service(request["package"], request["env"], request["log_path"])
        os.write(write_end, str(service).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        pid = int(answer.read() or b"0")
    os.waitpid(middle, 0)
    if pid <= 0:
        raise RuntimeError("the middle process did not report the service's pid")
    return pid


def serve(packages: list[str], requests: IO[bytes], answers: IO[bytes]) -> None:
    for package in packages:
        app = importlib.import_module(f"{package}.app")  # the service's whole import graph
        prefork = getattr(app, "prefork", None)
        if callable(prefork):  # what every process of the service loads, loaded once, shared
            prefork()
    if threading.active_count() != 1:  # forking a process with threads copies only one of them
        raise RuntimeError(f"an import started a thread: {threading.enumerate()}")
    answers.write(READY.encode() + b"\n")
    answers.flush()
    for line in requests:
        try:
            answer: dict[str, Any] = {"pid": _fork(json.loads(line))}
        except Exception as exc:
            answer = {"error": repr(exc)}
        answers.write(json.dumps(answer).encode() + b"\n")
        answers.flush()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to pytest, which stops us
    serve(sys.argv[1:], sys.stdin.buffer, sys.stdout.buffer)
