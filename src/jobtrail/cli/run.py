"""`jobtrail run --name N [--every 1h | --cron EXPR] [--grace 10m] -- CMD ARGS...`: track any
command (a cron line, a script) as a job. The command's output passes through untouched; jobtrail
records started, the exit code and duration, and on failure the redacted tail of its output as the
error (the last lines of stdout and of stderr apart: two pipes have no reliable order between
them). A kill request (`jobtrail kill`) stops the command: SIGTERM, then SIGKILL after a grace.
`jobtrail run` exits with the command's own exit code (128 + N when a signal N ended it).

Tracking never stops the command from running: if the store cannot be reached, the command still
runs and its exit code is still returned.

SIGTERM, SIGINT and SIGHUP reach the command exactly once, as with `timeout` or `dumb-init`:
- Outside the foreground of a terminal (cron, a supervisor, a script), the command runs in a process
  group of its own, so a signal to our group (killpg) does not reach it directly; every signal
  reaches it through us, forwarded to its group. As with `timeout`, a SIGKILL to our group (which
  we cannot forward) no longer reaches it: keep --kill-grace below a supervisor's own.
- In the foreground of a terminal, the command stays in our group so that it keeps the terminal
  (it can read it, Ctrl-Z stops both). The terminal's own signals to the whole group (Ctrl-C)
  are not forwarded; one sent by a process (`kill -INT <our pid>`) is. Who
  sent a signal is read with sigtimedwait (siginfo's si_code): the signals are blocked in every
  thread from the start. Where that cannot be (no sigtimedwait, threads already running), a
  handler forwards all but a SIGINT while we hold the terminal.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import IO, Annotated, Any

import typer

from jobtrail.client import Trail
from jobtrail.durations import parse_duration
from jobtrail.errors import InvalidInput, Killed
from jobtrail.events import normalize

from .context import Cli, guard
from .output_tail import MAX_TAIL_CHARS, OutputTail, redact_argv

__all__ = ["CommandFailed", "run"]

_POLL = 0.05  # seconds between looks at the child and at kill requests
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class CommandFailed(Exception):
    """The recorded error of a command that exited non-zero; its note holds the output's tail."""


def _duration(value: str | None, option: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except InvalidInput as exc:
        raise InvalidInput(f"{option}: {exc}") from None


def _labels(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--label {item!r}: use KEY=VALUE")
        out[key.strip()] = value
    return out


@guard
def run(
    ctx: typer.Context,
    command: Annotated[list[str], typer.Argument(
        metavar="CMD", show_default=False,
        help="The command to run and its arguments (after --).")],
    name: Annotated[str, typer.Option("--name", show_default=False,
                                      help="The job's name, e.g. backups.nightly.")],
    every: Annotated[str | None, typer.Option(
        "--every", show_default=False,
        help="Declare a periodic job expected this often (1h, 6h, 1d).")] = None,
    cron: Annotated[str | None, typer.Option(
        "--cron", show_default=False,
        help='Declare a periodic job on this cron schedule ("0 3 * * *").')] = None,
    grace: Annotated[str | None, typer.Option(
        "--grace", show_default=False,
        help="How long after it is due the periodic job may still succeed before it is late.")] = None,
    down_after: Annotated[str | None, typer.Option(
        "--down-after", show_default=False,
        help="How long without a success before the periodic job is down.")] = None,
    queue: Annotated[str | None, typer.Option("--queue", "-q", show_default=False,
                                              help="The job's queue.")] = None,
    label: Annotated[list[str] | None, typer.Option(
        "--label", "-l", show_default=False, help="KEY=VALUE label; repeatable.")] = None,
    tail: Annotated[int, typer.Option(
        "--tail", min=1, max=1000,
        help="Lines of stdout and of stderr kept as the error on failure.")] = 40,
    kill_grace: Annotated[str, typer.Option(
        "--kill-grace", help="After SIGTERM, how long to wait before SIGKILL.")] = "10s",
) -> None:
    """Run a command and track it as a job; exits with the command's exit code.

    jobtrail run --name backups.nightly --cron "0 3 * * *" -- /srv/backup.sh --full
    """
    if every and cron:
        raise InvalidInput("give --every or --cron, not both")
    if (grace or down_after) and not (every or cron):
        raise InvalidInput("--grace and --down-after need --every or --cron")
    if not command:
        raise InvalidInput("no command given: jobtrail run --name N -- CMD [ARGS]...")
    every_s = _duration(every, "--every")
    grace_s = _duration(grace, "--grace")
    down_s = _duration(down_after, "--down-after")
    stop_grace = _duration(kill_grace, "--kill-grace") or 0.0
    labels = _labels(label)
    # What the store would reject (a name too long, a bad label key) is refused before running.
    normalize({"job_id": "-", "type": "started", "at": time.time(), "name": name, "queue": queue,
               "labels": labels or None}, time.time())
    with _held_signals() as held:  # before the trail starts any thread (see the module docstring)
        cli = Cli.of(ctx)
        trail = cli.trail
        if every_s is not None or cron is not None:
            _declare(cli, trail, name, every=every_s, cron=cron, grace=grace_s, down_after=down_s)
        code = Runner(trail, command, name=name, queue=queue, labels=labels, tail_lines=tail,
                      kill_grace=stop_grace).run(held)
    raise typer.Exit(code)


@contextlib.contextmanager
def _held_signals() -> Iterator[tuple[signal.Signals, ...]]:
    """Block the stop signals in this thread while no other thread runs: threads started later
    inherit the block, so the kernel keeps the signals pending for `sigtimedwait`, which tells who
    sent them. Yields the signals held (none where that cannot be done)."""
    if (not hasattr(signal, "sigtimedwait") or threading.active_count() > 1
            or threading.current_thread() is not threading.main_thread()):
        yield ()
        return
    held = _caught_signals()
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield held
    finally:
        while signal.sigtimedwait(held, 0) is not None:  # came after the command ended
            pass
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def _declare(cli: Cli, trail: Trail, name: str, **spec: Any) -> None:
    try:
        trail.declare_periodic(name, **spec)
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - a tracking failure never stops the command
        cli.err.print(f"jobtrail: could not declare the periodic job: {exc}")


class Runner:
    """One run of one command, tracked through `trail` (see the module docstring)."""

    def __init__(self, trail: Trail, command: list[str], *, name: str, queue: str | None,
                 labels: dict[str, str], tail_lines: int, kill_grace: float) -> None:
        self.trail = trail
        self.command = command
        half = MAX_TAIL_CHARS // 2
        self.tails = {"stdout": OutputTail(tail_lines, half), "stderr": OutputTail(tail_lines, half)}
        self.kill_grace = kill_grace
        self.handle = trail.track(
            name, queue=queue, labels=labels or None,
            args={"command": redact_argv(command)},
            worker=f"{socket.gethostname()}:{os.getpid()}",
        )
        self._signalled: int | None = None
        self._stop_at: float | None = None  # when the child was first asked to stop
        self._proc: subprocess.Popen[bytes] | None = None
        self._own_group = False  # whether the child runs in a process group of its own
        self._early: list[int] = []  # signals that came before the child existed

    def run(self, held: tuple[signal.Signals, ...] = ()) -> int:
        """Run the command; `held`: the stop signals blocked in every thread (_held_signals)."""
        started = time.monotonic()
        self.handle.start()
        self._own_group = not _terminal_foreground()
        with self._forward_signals():
            try:
                with _unblocked(held):  # the child must not inherit the block
                    proc = subprocess.Popen(self.command, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE,
                                            process_group=0 if self._own_group else None)
            except OSError as exc:
                # As env, nohup and timeout: 127 not found, 126 found but cannot be run
                code = 127 if isinstance(exc, FileNotFoundError) else 126
                print(f"jobtrail run: cannot start {self.command[0]!r}: {exc.strerror or exc}",
                      file=sys.stderr)
                self._failed(f"cannot start {self.command[0]!r}: {exc.strerror or exc}")
                return code
            self._proc = proc
            for signum in self._early:
                self._send(signal.Signals(signum))
            pumps = [self._pump(proc.stdout, _binary(sys.stdout), self.tails["stdout"]),
                     self._pump(proc.stderr, _binary(sys.stderr), self.tails["stderr"])]
            killed_at = self._wait(proc, held)
        for pump in pumps:  # a grandchild may hold the pipes open: do not wait for it forever
            pump.join(timeout=2.0)
        code = proc.returncode
        exit_code = code if code >= 0 else 128 - code
        if killed_at is not None or self._signalled is not None:
            why = ("on request" if killed_at is not None
                   else f"by signal {signal.Signals(self._signalled or signal.SIGTERM).name}")
            killed = Killed(f"killed {why}; the command exited with code {exit_code} after "
                            f"{time.monotonic() - started:.1f}s")
            self._note_tail(killed)
            self.handle.fail(killed, kind="killed")
        elif code == 0:
            self.handle.finish(result={"exit_code": 0})
        else:
            self._failed(f"exited with code {exit_code}")
        return exit_code

    def _failed(self, message: str) -> None:
        # Error messages usually go to stderr, so its last line names the failure best.
        last = self.tails["stderr"].last_line() or self.tails["stdout"].last_line()
        exc = CommandFailed(f"{message}: {last}" if last else message)
        self._note_tail(exc)
        self.handle.fail(exc)

    def _note_tail(self, exc: BaseException) -> None:
        for stream, tail in self.tails.items():
            text = tail.text()
            if text:
                exc.add_note(f"--- {stream}, last {tail.line_count(text)} lines ---\n{text}")

    def _wait(self, proc: subprocess.Popen[bytes], held: tuple[signal.Signals, ...]) -> float | None:
        """Wait for the child; on a kill request SIGTERM it. Once it was asked to stop (a kill
        request, or a signal forwarded to it), SIGKILL it after the grace. Returns when the kill
        request was acted on (None if there was none)."""
        requested_at: float | None = None
        while proc.poll() is None:
            if requested_at is None and self.handle.kill_requested:
                requested_at = time.monotonic()
                self._stop_at = self._stop_at or requested_at
                self._send(signal.SIGTERM)
            elif self._stop_at is not None and time.monotonic() - self._stop_at > self.kill_grace:
                self._send(signal.SIGKILL)
            if held:
                info = signal.sigtimedwait(held, _POLL)
                if info is not None:
                    self._stop(info.si_signo, reached=not self._own_group and _from_terminal(info))
            else:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=_POLL)
        return requested_at

    def _stop(self, signum: int, *, reached: bool) -> None:
        """A stop signal came: the run ends killed by it; forward it unless it `reached` the
        child already."""
        self._signalled = signum
        self._stop_at = self._stop_at or time.monotonic()
        if self._proc is None:
            self._early.append(signum)
        elif not reached:
            self._send(signal.Signals(signum))

    def _send(self, sig: signal.Signals) -> None:
        """To the child, and to its group when it has its own (its own children, a pipeline)."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self._own_group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)

    def _pump(self, source: IO[bytes] | None, sink: IO[bytes] | None,
              tail: OutputTail) -> threading.Thread:
        """Copy the child's stream to ours as it comes, keeping the tail. Once our reader has gone
        (a closed pipe, `| head`), the child's end is closed too, so the child meets the closed
        pipe as it would without jobtrail (SIGPIPE) instead of writing on forever."""

        def copy() -> None:
            if source is None:
                return
            fd = source.fileno()
            while chunk := os.read(fd, 65536):
                tail.feed(chunk)
                if sink is not None:
                    try:
                        sink.write(chunk)
                        sink.flush()
                    except BrokenPipeError:
                        break
                    except (OSError, ValueError):
                        pass
            source.close()

        thread = threading.Thread(target=copy, name="jobtrail-run-output", daemon=True)
        thread.start()
        return thread

    @contextlib.contextmanager
    def _forward_signals(self) -> Iterator[None]:
        """Handlers for the stop signals when they are not held (or while the child is started):
        the sender is unknown, so all are forwarded but a SIGINT while the child shares our
        group and we hold the terminal (Ctrl-C then reached it already)."""

        def forward(signum: int, _frame: FrameType | None) -> None:
            self._stop(signum, reached=(signum == signal.SIGINT and not self._own_group
                                        and _terminal_foreground()))

        previous: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in _caught_signals():
                previous[sig] = signal.signal(sig, forward)
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _caught_signals() -> tuple[signal.Signals, ...]:
    """The stop signals not ignored when we started: `nohup` (SIGHUP) and a script's background
    job (SIGINT) leave them ignored, for us and, inherited, for the command."""
    return tuple(sig for sig in _STOP_SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN)


@contextlib.contextmanager
def _unblocked(held: tuple[signal.Signals, ...]) -> Iterator[None]:
    if not held:
        yield
        return
    signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, held)


def _from_terminal(info: signal.struct_siginfo) -> bool:
    """Whether the kernel sent the signal to our terminal's whole foreground group (Ctrl-C; SIGHUP
    when the session's leader exits) rather than a process to us (si_code <= 0: SI_USER, SI_QUEUE,
    ...). A hangup sends SIGHUP to the session's leader alone: if that is us, it is ours only."""
    if info.si_code <= 0:
        return False
    return not (info.si_signo == signal.SIGHUP and os.getsid(0) == os.getpid())


def _terminal_foreground() -> bool:
    """Whether we are in the foreground process group of our controlling terminal (the group its
    Ctrl-C and hangup reach, and the one that may read it)."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:  # no controlling terminal
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


def _binary(stream: Any) -> IO[bytes] | None:
    buffer = getattr(stream, "buffer", None)
    return buffer if buffer is not None else None
