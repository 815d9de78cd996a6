"""Run the embedded engine in a child process, within a time budget.

regopy offers no timeout and no way to interrupt an evaluation, a comprehension over
``numbers.range(1, 1e9)`` runs for hours, and rego-cpp 1.5 crashes on some inputs
(a segmentation fault in its error reporting). So each evaluation runs in a forked
child: the parent waits for its answer until the deadline, then kills it. A timeout,
a crash, or a child that dies without answering is an error (exit 2), never a pass.
The child's stdout and stderr go to /dev/null: rego-cpp prints some errors there
itself, which would corrupt ``--format json`` output.

Where ``os.fork`` does not exist (Windows), the evaluation runs in a daemon thread:
the deadline still holds for the caller, but the thread cannot be stopped and runs on
in the background until it finishes or the process exits.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import select
import signal
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from mlspec.diagnostics import Diagnostic, MlspecError

T = TypeVar("T")

_CHUNK = 1 << 16


def run_bounded(work: Callable[[], T], timeout: float, what: str) -> T:
    """``work()`` in a child process; its value, or MlspecError (exit 2) on failure."""
    if not hasattr(os, "fork"):
        return _run_in_thread(work, timeout, what)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns; coverage cannot see it
        _child(work, read_fd, write_fd)
    os.close(write_fd)
    try:
        payload = _read_until(read_fd, time.monotonic() + timeout)
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise MlspecError(_timeout(what, timeout)) from None
    finally:
        os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    value: T = _answer(payload, status, what)
    return value


def _child(work: Callable[[], Any], read_fd: int, write_fd: int) -> None:
    status = 0
    try:
        os.close(read_fd)
        _silence()
        try:
            answer: tuple[str, Any] = ("ok", work())
        except MlspecError as exc:
            answer = ("error", exc.diagnostic)
        except BaseException:
            answer = ("bug", traceback.format_exc())
        data = pickle.dumps(answer)
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view[:_CHUNK]) :]
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


def _read_until(fd: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            raise TimeoutError
        chunk = os.read(fd, _CHUNK)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


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


def _timeout(what: str, timeout: float) -> Diagnostic:
    message = f"policy evaluation timed out after {timeout:g} s while {what}"
    hint = "a policy is too slow (a large comprehension?); raise --policy-timeout if it is not"
    return Diagnostic("MLS714", message, hint=hint)


def _crashed(what: str, how: str) -> Diagnostic:
    message = f"the Rego engine crashed ({how}) while {what}"
    hint = "this is a rego-cpp bug; run the policies on OPA with --opa-url to find the rule"
    return Diagnostic("MLS718", message, hint=hint)
