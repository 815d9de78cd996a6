"""Run the embedded engine in a child process, within a time budget.

regopy offers no timeout and no way to interrupt an evaluation, a comprehension over
``numbers.range(1, 1e9)`` runs for hours, and rego-cpp 1.5 crashes on some inputs
(a segmentation fault in its error reporting). So each evaluation runs in a forked
child that holds its own budget of CPU time: an interval timer whose SIGPROF ends it,
even deep inside rego-cpp. CPU time rather than wall time, because the evaluation
shares the machine with the compile it runs beside (and with whatever else runs): the
budget means the same on a busy machine as on an idle one. The parent still kills a
child that outlives ``WALL_FACTOR`` times the budget (it cannot: it only computes). A
timeout, a crash, or a child that dies without answering is an error (exit 2), never a
pass. The child's stdout and stderr go to /dev/null: rego-cpp prints
some errors there itself, which would corrupt ``--format json`` output.

`start_bounded` forks and returns at once, so the caller can work while the child
evaluates (`mlspec compile` compiles meanwhile); `result()` waits for the answer. The
child writes its answer to an unlinked temporary file, never into a pipe: a pipe would
make a child that has finished wait for a parent that is busy elsewhere. The parent
forks from its main thread and starts no threads.

Where ``os.fork`` does not exist (Windows), the evaluation runs in a daemon thread when
its result is asked for: the deadline still holds for the caller, but the thread cannot
be stopped and runs on in the background until it finishes or the process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import faulthandler
import os
import pickle
import select
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from typing import IO, Any, Generic, TypeVar

from mlspec.diagnostics import Diagnostic, MlspecError

T = TypeVar("T")

WALL_FACTOR = 4  # the parent's guard, in multiples of the CPU budget (plus _GRACE)
_GRACE = 1.0
_POLL = 0.005


def run_bounded(work: Callable[[], T], timeout: float, what: str) -> T:
    """``work()`` in a child process; its value, or MlspecError (exit 2) on failure."""
    return start_bounded(work, timeout, what).result()


class Bounded(Generic[T]):
    """``work()`` started in a child process; ``result()`` is its value, or raises."""

    def __init__(self, work: Callable[[], T], timeout: float, what: str) -> None:
        self._timeout, self._what = timeout, what
        self._kill_at = time.monotonic() + WALL_FACTOR * timeout + _GRACE
        self._answer: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by result()
        self._pid = os.fork()
        if self._pid == 0:  # pragma: no cover - the child never returns
            _child(work, self._answer, timeout)
        self._value: tuple[bool, Any] | None = None
        _UNFINISHED.add(self)

    def cancel(self) -> None:
        """Stop the child, if it runs still (nobody will ask for its result)."""
        if self._value is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            self._value = self._collect()

    def result(self) -> T:
        if self._value is None:
            self._value = self._collect()
        ok, value = self._value
        if not ok:
            raise value
        answer: T = value
        return answer

    def _collect(self) -> tuple[bool, Any]:
        try:
            status, killed = _wait(self._pid, self._kill_at)
            if killed or _out_of_time(status):
                raise MlspecError(_timeout(self._what, self._timeout, wall=killed))
            self._answer.seek(0)
            return True, _answer(self._answer.read(), status, self._what)
        except (MlspecError, RuntimeError) as exc:
            return False, exc
        finally:
            self._answer.close()
            _UNFINISHED.discard(self)


_UNFINISHED: set[Bounded[Any]] = set()  # strong references: each is reaped, at the latest at exit


@atexit.register
def _cancel_unfinished() -> None:
    """A run that ends early (an error while compiling) leaves no evaluation behind."""
    for bounded in list(_UNFINISHED):
        bounded.cancel()


class _InThread(Generic[T]):
    """Where there is no fork: the work runs in a thread when its value is asked for."""

    def __init__(self, work: Callable[[], T], timeout: float, what: str) -> None:
        self._work, self._timeout, self._what = work, timeout, what

    def result(self) -> T:
        return _run_in_thread(self._work, self._timeout, self._what)

    def cancel(self) -> None:
        """Nothing runs before `result`."""


def start_bounded(work: Callable[[], T], timeout: float, what: str) -> Bounded[T] | _InThread[T]:
    """Start ``work()`` now, in a child process that ends itself after ``timeout``."""
    if not hasattr(os, "fork"):
        return _InThread(work, timeout, what)
    return Bounded(work, timeout, what)


def _wait(pid: int, kill_at: float) -> tuple[int, bool]:
    """The child's wait status, and whether it had to be killed for outliving ``kill_at``."""
    status = _status_before(pid, kill_at)
    if status is None:
        os.kill(pid, signal.SIGKILL)
        return os.waitpid(pid, 0)[1], True
    return status, False


def _status_before(pid: int, deadline: float) -> int | None:
    """The child's wait status if it ends before ``deadline``. A pidfd becomes readable
    when the child ends (Linux); elsewhere, poll."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return _poll_status(pid, deadline)
    try:
        if not select.select([pidfd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            return None
    finally:
        os.close(pidfd)
    return os.waitpid(pid, 0)[1]


def _poll_status(pid: int, deadline: float) -> int | None:
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() >= deadline:
            return None
        time.sleep(_POLL)


def _out_of_time(status: int) -> bool:
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGPROF


def _child(work: Callable[[], Any], answer: IO[bytes], timeout: float) -> None:
    status = 0
    try:
        _silence()
        signal.signal(signal.SIGPROF, signal.SIG_DFL)  # a handler would only set a flag
        signal.setitimer(signal.ITIMER_PROF, timeout)
        try:
            result: tuple[str, Any] = ("ok", work())
        except MlspecError as exc:
            result = ("error", exc.diagnostic)
        except BaseException:
            result = ("bug", traceback.format_exc())
        answer.write(pickle.dumps(result))
        answer.flush()
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _silence() -> None:
    faulthandler.disable()  # a crash is reported by the parent, not dumped here
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)


def _answer(payload: bytes, status: int, what: str) -> Any:
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        raise MlspecError(_crashed(what, f"killed by {name}"))
    if not payload:
        raise MlspecError(_crashed(what, f"exited with status {os.waitstatus_to_exitcode(status)}"))
    kind, value = pickle.loads(payload)  # our own child's answer
    if kind == "ok":
        return value
    if kind == "error":
        raise MlspecError(value)
    raise RuntimeError(f"the policy engine failed while {what}:\n{value}")


def _run_in_thread(work: Callable[[], T], timeout: float, what: str) -> T:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="mlspec-policy", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise MlspecError(_timeout(what, timeout))
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def _timeout(what: str, timeout: float, wall: bool = False) -> Diagnostic:
    spent = f"{WALL_FACTOR * timeout + _GRACE:g} s" if wall else f"{timeout:g} s of CPU time"
    message = f"policy evaluation timed out after {spent} while {what}"
    hint = "a policy is too slow (a large comprehension?); raise --policy-timeout if it is not"
    return Diagnostic("MLS714", message, hint=hint)


def _crashed(what: str, how: str) -> Diagnostic:
    message = f"the Rego engine crashed ({how}) while {what}"
    hint = "this is a rego-cpp bug; run the policies on OPA with --opa-url to find the rule"
    return Diagnostic("MLS718", message, hint=hint)
