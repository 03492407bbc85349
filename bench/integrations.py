"""What does a framework integration cost in throughput? Tasks/s of a trivial task with and without
jobtrail, same worker command, same run (goal: the integration keeps ≥ 95 % of the throughput).

Per round and variant (the order alternates between rounds): the publisher sends `--jobs` trivial
tasks to a fresh queue (timed: publish tasks/s), then a worker subprocess drains it. With
jobtrail, publisher and worker report to a real `jobtrail serve` (SQLite) over HTTP, and every
task must then be recorded. Celery variants: *plain* (no integration), *jobtrail* (as shipped),
*buffered* (the hooks only: events stay in the client's buffer until the round ends).

What the Celery numbers mean (measured inside the worker, from the start of the first task after
`--warmup` tasks to the end of the last; the warm-up holds a fresh worker's one-time costs):
- worker tasks/s: wall time. It includes whatever else runs on the machine, notably the
  `jobtrail serve` that ingests the events on the same cores (usually on another machine in a
  deployment), so its ratio is the pessimistic one;
- worker tasks per CPU-second: the worker process's CPU, every thread (the signal hooks in the
  main thread, jobtrail's writer and kill-poller threads), not the server's: what the
  integration costs the worker itself;
- µs of CPU per task by thread (from /proc), and the garbage collector's share.
Ratios are given of the median rounds and per round (each tracked run against the plain run of
the same round, its neighbour in time, hence under the most similar load).

    .venv/bin/python bench/integrations.py --framework celery --jobs 4000 --rounds 5

One function per framework (`FRAMEWORKS`); the broker is Redis (`--redis`, a database this script
flushes). The module is also the worker's app: `celery -A integrations worker` imports it with
JT_BENCH_* set. RQ: see `bench_rq`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GOAL = 0.95  # jobtrail tasks/s ÷ plain tasks/s
WORKER_TIMEOUT = 300.0  # seconds for a worker to drain one round
PINS: dict[str, set[int]] = {}
"""`--pin`: the CPUs of the measured side ("measured": this process, which publishes, and the
workers with their horses) and of the jobtrail server ("server"). In a deployment the server runs
elsewhere; on one small machine its ingest would otherwise take CPU from the worker it measures."""


def _pinned(side: str) -> Callable[[], None] | None:
    """A `preexec_fn` that pins a child process (and what it forks) to `side`'s CPUs."""
    cpus = PINS.get(side)
    return None if cpus is None else (lambda: os.sched_setaffinity(0, cpus))


@dataclass(frozen=True)
class Env:
    """What every framework's bench gets: where to report, the broker, the scratch folder."""

    jobtrail_url: str
    redis_url: str
    scratch: Path
    tasks: int
    rounds: int
    pool: str
    warmup: int = 0


Row = list[Any]


# ---- shared: a jobtrail server, worker subprocesses ------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def jobtrail_server(scratch: Path) -> Iterator[str]:
    """`jobtrail serve` over a new SQLite file on a free loopback port (no tokens: loopback)."""
    db = scratch / "bench-integrations.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    jobtrail = Path(sys.executable).with_name("jobtrail")  # the venv's command
    proc = subprocess.Popen([str(jobtrail), "--url", f"sqlite:///{db}", "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=_pinned("server"))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("jobtrail serve did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def run_worker(args: list[str], env: dict[str, str], out: Path) -> dict[str, Any]:
    """Start a worker, wait until it wrote its timing to `out`, stop it; the timing."""
    log = out.with_suffix(".log")
    with log.open("wb") as sink:
        proc = subprocess.Popen(args, env=env, cwd=HERE, stdout=sink, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_pinned("measured"))
    try:
        deadline = time.monotonic() + WORKER_TIMEOUT
        while not out.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the worker did not finish the round; its log:\n{log.read_text()[-4000:]}")
            time.sleep(0.1)
        time.sleep(0.1)  # the file is written in one call; let it land
        return dict(json.loads(out.read_text()))
    finally:
        _stop(proc)


def count_recorded(jobtrail_url: str, queue: str, expected: int) -> int:
    """How many of a round's jobs the server holds as succeeded (waiting up to 30 s for them)."""
    from jobtrail import Trail

    with Trail(jobtrail_url) as trail:
        deadline = time.monotonic() + 30
        while True:
            n = trail.jobs(queue=queue, state="succeeded").count()
            if n >= expected or time.monotonic() > deadline:
                return n
            time.sleep(0.5)


# ---- Celery ------------------------------------------------------------------------------------


def thread_cpu() -> dict[str, float]:
    """CPU seconds (user + system) of each live thread of this process, by thread name, from
    /proc (Linux); threads that are not Python's own are named by their native id."""
    import threading

    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(task.name), f"native-{task.name}")
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def _timing_hooks(total: int, warmup: int, out: Path) -> None:
    """In the worker (both variants alike): from the start of the first task after `warmup`
    tasks to the end of the last one, wall and CPU time, and the CPU each thread used (the
    task's main thread vs jobtrail's threads). The warm-up tasks carry the one-time costs of
    a fresh worker (first connections, lazy imports, caches), which are not per-task costs."""
    import gc

    from celery import signals

    state: dict[str, Any] = {"n": 0, "first": 0.0, "cpu": 0.0, "threads": {}}
    collections = {"gen2": 0, "gen2_s": 0.0, "all_s": 0.0, "t": 0.0}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if not state["first"]:
            return
        if phase == "start":
            collections["t"] = time.process_time()
            return
        spent = time.process_time() - collections["t"]
        collections["all_s"] += spent
        if info["generation"] == 2:
            collections["gen2"] += 1
            collections["gen2_s"] += spent

    gc.callbacks.append(on_gc)

    def prerun(**_: Any) -> None:
        if state["n"] == warmup and not state["first"]:
            state["first"], state["cpu"] = time.perf_counter(), time.process_time()
            state["threads"] = thread_cpu()

    def postrun(**_: Any) -> None:
        state["n"] += 1
        if state["n"] == total:
            seconds = time.perf_counter() - state["first"]
            cpu = time.process_time() - state["cpu"]  # every thread of the worker process
            before = state["threads"]
            threads = {k: v - before.get(k, 0.0) for k, v in thread_cpu().items()}
            out.write_text(json.dumps({"tasks": total - warmup, "seconds": seconds, "cpu": cpu,
                                       "threads": threads, "gc": collections}))

    signals.task_prerun.connect(prerun, weak=False)
    signals.task_postrun.connect(postrun, weak=False)


def celery_app(broker: str, queue: str) -> Any:
    from celery import Celery

    app = Celery("bench_integrations", broker=broker)
    app.conf.update(task_default_queue=queue, task_ignore_result=True,
                    broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)
    app.task(name="bench.noop")(noop)
    return app


def noop(book_id: int) -> None:
    """The trivial task: an argument (so resources and args are recorded), no work."""


VARIANTS = ("plain", "jobtrail", "buffered")
"""plain: no integration; jobtrail: the integration sending to the server as it goes; buffered:
the integration with its events kept in the client's buffer until the round ends (the hooks' own
cost, without the sending thread's or the server's share of the CPU)."""


def _settings(variant: str) -> Any:
    from jobtrail import Settings

    settings = Settings.from_env()
    if variant != "buffered":
        return settings
    from dataclasses import replace

    return replace(settings, flush_interval=3600.0, heartbeat_interval=7200.0, batch_size=10**9,
                   buffer_size=10**8)


def bench_celery(env: Env) -> list[Row]:
    import redis

    from jobtrail import Trail
    from jobtrail.integrations import celery as jt_celery

    results: dict[str, dict[str, list[float]]] = {
        v: {"publish": [], "worker": [], "cpu": [], "main": [], "ours": []} for v in VARIANTS}
    recorded: dict[str, list[str]] = {v: [] for v in VARIANTS[1:]}
    publishers = {v: Trail(env.jobtrail_url, settings=_settings(v)) for v in VARIANTS[1:]}
    for i in range(env.rounds):
        for variant in VARIANTS if i % 2 == 0 else VARIANTS[::-1]:
            redis.Redis.from_url(env.redis_url).flushdb()
            queue = f"bench-{uuid.uuid4().hex[:8]}"
            app = celery_app(env.redis_url, queue)
            integration = jt_celery.setup(app, publishers[variant]) if variant != "plain" else None
            task = app.tasks["bench.noop"]
            t0 = time.perf_counter()
            for n in range(env.tasks):
                task.delay(n)
            results[variant]["publish"].append(env.tasks / (time.perf_counter() - t0))
            if integration is not None:
                integration.disconnect()
            app.close()
            out = env.scratch / f"celery-{variant}-{i}.json"
            out.unlink(missing_ok=True)
            worker_env = dict(os.environ, JT_BENCH_BROKER=env.redis_url, JT_BENCH_CELERY_QUEUE=queue,
                              JT_BENCH_TASKS=str(env.tasks), JT_BENCH_OUT=str(out),
                              JT_BENCH_WARMUP=str(env.warmup),
                              JT_BENCH_TRACK=variant,
                              JOBTRAIL_URL=env.jobtrail_url,
                              PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
            timing = run_worker([sys.executable, "-m", "celery", "-A", "integrations", "worker",
                                 "--pool", env.pool, "--concurrency", "1", "-Q", queue,
                                 "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                                 "--without-heartbeat", "-n", f"{queue}@%h"], worker_env, out)
            results[variant]["worker"].append(timing["tasks"] / timing["seconds"])
            results[variant]["cpu"].append(timing["tasks"] / timing["cpu"])
            per_task = {name: cpu / timing["tasks"] * 1e6 for name, cpu in timing["threads"].items()}
            results[variant]["main"].append(per_task.get("MainThread", 0.0))
            results[variant]["ours"].append(sum(v for k, v in per_task.items() if k.startswith("jobtrail")))
            split = ", ".join(f"{name} {cpu / timing['tasks'] * 1e6:,.0f}"
                              for name, cpu in sorted(timing["threads"].items()) if cpu > 0)
            gcs = timing["gc"]
            split += (f"; garbage collector {gcs['all_s'] / timing['tasks'] * 1e6:,.0f}, of which "
                      f"{gcs['gen2']} full collections {gcs['gen2_s'] / timing['tasks'] * 1e6:,.0f}")
            if variant != "plain":
                publishers[variant].flush(60)
                n = count_recorded(env.jobtrail_url, queue, env.tasks)
                recorded[variant].append(f"{n:,}/{env.tasks:,}")
            print(f"… round {i + 1}/{env.rounds} {variant}: "
                  f"publish {results[variant]['publish'][-1]:,.0f}/s, "
                  f"worker {results[variant]['worker'][-1]:,.0f}/s, "
                  f"{results[variant]['cpu'][-1]:,.0f}/CPU-s (µs of CPU per task by thread: {split})",
                  file=sys.stderr)
    for trail in publishers.values():
        trail.close()
    rows: list[Row] = []
    labels = {"worker": f"celery worker ({env.pool}), tasks/s",
              "cpu": f"celery worker ({env.pool}), tasks per CPU-second",
              "publish": "celery publish, tasks/s"}
    for variant in VARIANTS[1:]:
        for side in ("worker", "cpu", "publish"):
            plain, tracked = median(results["plain"][side]), median(results[variant][side])
            ratio = tracked / plain
            pairs = paired(results[variant][side], results["plain"][side])
            rows.append([f"{labels[side]}: {variant}", tracked, plain, ratio, f"≥ {GOAL}",
                         ratio >= GOAL, pairs + (f"; recorded {', '.join(recorded[variant])}"
                                                 if side == "worker" else "")])
        # Where the CPU goes (lower is better): the worker's main thread, which runs the tasks
        # and the signal hooks, and jobtrail's own threads (writer, kill poller, heartbeats).
        main, plain_main = median(results[variant]["main"]), median(results["plain"]["main"])
        rows.append([f"µs of CPU per task, main thread: {variant}", main, plain_main,
                     main / plain_main, "", None, paired(results[variant]["main"],
                                                         results["plain"]["main"])])
        rows.append([f"µs of CPU per task, jobtrail's threads: {variant}",
                     median(results[variant]["ours"]), 0.0, median(results[variant]["ours"]) / plain_main,
                     "", None, "ratio: share of the plain main thread's CPU"])
    return rows


def paired(tracked: list[float], plain: list[float]) -> str:
    """The ratio of each round's tracked run to the same round's plain run (neighbours in time,
    so under the most similar load), and their median."""
    ratios = [t / p for t, p in zip(tracked, plain, strict=True) if p]
    return f"per round {', '.join(f'{r:.2f}' for r in ratios)} (median {median(ratios):.3f})"


if "JT_BENCH_CELERY_QUEUE" in os.environ:  # `celery -A integrations worker` in a bench round
    app = celery_app(os.environ["JT_BENCH_BROKER"], os.environ["JT_BENCH_CELERY_QUEUE"])
    _timing_hooks(int(os.environ["JT_BENCH_TASKS"]), int(os.environ["JT_BENCH_WARMUP"]),
                  Path(os.environ["JT_BENCH_OUT"]))
    if os.environ.get("JT_BENCH_TRACK") in ("jobtrail", "buffered"):
        from jobtrail import Trail
        from jobtrail.integrations import celery as jt_celery

        buffered = os.environ["JT_BENCH_TRACK"] == "buffered"
        jt_celery.setup(app, Trail(settings=_settings(os.environ["JT_BENCH_TRACK"])),
                        worker_heartbeat_interval=3600.0 if buffered else 10.0)  # a beat sends



# ---- RQ ----------------------------------------------------------------------------------------


if os.environ.get("JT_BENCH_RQ") == "1":  # `rq worker --worker-class integrations.…` in a round
    import rq as _rq

    from jobtrail.integrations import rq as _jt_rq

    def _write_split() -> None:
        """At the worker's death: the CPU seconds of its main process and of the horses it
        reaped, for the bench to tell them apart, and the horses' system time and minor page
        faults (copy-on-write faults are where a fork's cost shows)."""
        import resource

        me, horses = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                            resource.RUSAGE_CHILDREN))
        Path(os.environ["JT_BENCH_RQ_OUT"]).write_text(json.dumps(
            {"main": me.ru_utime + me.ru_stime, "horses": horses.ru_utime + horses.ru_stime,
             "horses_sys": horses.ru_stime, "faults": horses.ru_minflt, "main_faults": me.ru_minflt}))

    class PlainRqWorker(_rq.Worker):
        """rq's worker, loaded from this module: like the tracked one, its main process has the
        task's module imported, so neither variant's forked horse imports it per job."""

        def register_death(self) -> None:
            super().register_death()
            _write_split()

    class TrackedRqWorker(_jt_rq.Worker):
        """jobtrail's worker, loaded from this module (see PlainRqWorker); JT_BENCH_KILL_POLL sets
        its kill-request polling interval (seconds, 0: off)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("kill_poll", float(os.environ.get("JT_BENCH_KILL_POLL", "2")))
            super().__init__(*args, **kwargs)

        def register_death(self) -> None:
            super().register_death()
            _write_split()


REDIS_CLAIM = "jobtrail-test:claimed"
"""The key by which tests/integrations/conftest.py claims a Redis database: the RQ rounds claim
theirs the same way, so a concurrent test run never flushes it (nor it theirs)."""


def _rq_span(connection: Any, queue: Any) -> float:
    """Seconds from the first job's start to the last one's end, by RQ's own timestamps."""
    from rq.job import Job

    ids = queue.finished_job_registry.get_job_ids()
    jobs = [j for j in Job.fetch_many(ids, connection=connection) if j is not None]
    start = min(j.started_at for j in jobs if j.started_at is not None)
    end = max(j.ended_at for j in jobs if j.ended_at is not None)
    return float((end - start).total_seconds())


def bench_rq(env: Env) -> list[Row]:
    """Per round and variant: enqueue with `rq.Queue` or the recording `Queue` (timed), then drain
    with `rq worker --burst`, `--worker-class` rq's or jobtrail's (a horse forked per job; both
    loaded from this module, so both main processes have the task's module imported); worker
    tasks/s from RQ's own started_at/ended_at of the jobs, so startup and the final flush are out."""
    import redis
    import rq

    from jobtrail import Trail
    from jobtrail.integrations import rq as jt_rq

    results: dict[str, dict[str, list[float]]] = {
        v: {"publish": [], "worker": [], "cpu": [], "main": [], "horses": [], "horses_sys": [],
            "faults": [], "main_faults": []} for v in ("plain", "jobtrail")}
    recorded: list[str] = []
    connection = redis.Redis.from_url(env.redis_url)
    owner = uuid.uuid4().hex
    if not connection.set(REDIS_CLAIM, owner, nx=True, ex=3600):
        raise SystemExit(f"{env.redis_url} is claimed by a test run; pass another --redis database")
    publisher_trail = Trail(env.jobtrail_url)
    command = Path(sys.executable).with_name("rq")
    # Untimed warm-up: the publisher's HTTP client and writer thread, the task's import.
    warm = jt_rq.Queue("bench-warmup", connection=connection, trail=publisher_trail)
    for n in range(20):
        warm.enqueue("integrations.noop", n)
    publisher_trail.flush(30)

    split_file = env.scratch / "rq-split.json"

    def drain(variant: str, name: str) -> dict[str, float]:
        """Drain queue `name` with a burst worker; the CPU seconds it and its horses used, in
        all ("total") and as the worker reported them ("main", "horses", "horses_sys"), and the
        minor page faults of the horses ("faults") and of the main process ("main_faults")."""
        worker_class = f"integrations.{'Tracked' if variant == 'jobtrail' else 'Plain'}RqWorker"
        worker_env = dict(os.environ, JOBTRAIL_URL=env.jobtrail_url, JT_BENCH_RQ="1",
                          JT_BENCH_RQ_OUT=str(split_file),
                          PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
        split_file.unlink(missing_ok=True)
        cpu0 = _children_cpu()
        subprocess.run([str(command), "worker", "--burst", "--url", env.redis_url, "--path",
                        str(HERE), "--worker-class", worker_class, "--logging_level", "WARNING",
                        name], env=worker_env, cwd=HERE, check=True, timeout=WORKER_TIMEOUT,
                       stdout=subprocess.DEVNULL, preexec_fn=_pinned("measured"))
        split = json.loads(split_file.read_text())
        return {"total": _children_cpu() - cpu0, **split}

    # A worker's start and stop (imports, the Trail, the final flush) cost CPU once, not per task.
    empties = {v: [drain(v, "bench-empty") for _ in range(3)] for v in results}
    fixed = {v: {k: median([e[k] for e in runs]) for k in runs[0]} for v, runs in empties.items()}
    for i in range(env.rounds):
        for variant in ("plain", "jobtrail") if i % 2 == 0 else ("jobtrail", "plain"):
            connection.flushdb()
            connection.set(REDIS_CLAIM, owner, ex=3600)  # keep the database ours between rounds
            name = f"bench-{uuid.uuid4().hex[:8]}"
            queue = (jt_rq.Queue(name, connection=connection, trail=publisher_trail)
                     if variant == "jobtrail" else rq.Queue(name, connection=connection))
            t0 = time.perf_counter()
            for n in range(env.tasks):
                queue.enqueue("integrations.noop", n)
            results[variant]["publish"].append(env.tasks / (time.perf_counter() - t0))
            used = drain(variant, name)
            cpu = used["total"] - fixed[variant]["total"]
            if len(queue.finished_job_registry) != env.tasks:
                raise SystemExit(f"rq finished {len(queue.finished_job_registry)} of {env.tasks}")
            results[variant]["worker"].append(env.tasks / _rq_span(connection, queue))
            results[variant]["cpu"].append(cpu / env.tasks * 1000)
            for part in ("main", "horses", "horses_sys", "faults", "main_faults"):  # ms per task
                scale = 1 if "faults" in part else 1000  # (faults: a count)
                results[variant][part].append((used[part] - fixed[variant][part]) / env.tasks * scale)
            if variant == "jobtrail":
                publisher_trail.flush(30)
                n = count_recorded(env.jobtrail_url, name, env.tasks)
                recorded.append(f"{n:,}/{env.tasks:,}")
            print(f"… round {i + 1}/{env.rounds} rq {variant}: "
                  f"publish {results[variant]['publish'][-1]:,.0f}/s, "
                  f"worker {results[variant]['worker'][-1]:,.0f}/s, "
                  f"{results[variant]['cpu'][-1]:.2f} ms CPU per task (main process "
                  f"{results[variant]['main'][-1]:.2f}, horses {results[variant]['horses'][-1]:.2f}, "
                  f"of which system {results[variant]['horses_sys'][-1]:.2f}; "
                  f"{results[variant]['faults'][-1]:,.0f} page faults per horse, "
                  f"{results[variant]['main_faults'][-1]:,.0f} per task in the main process)",
                  file=sys.stderr)
    publisher_trail.close()
    connection.flushdb()
    connection.close()
    rows: list[Row] = []
    for side in ("worker", "publish"):
        plain, tracked = median(results["plain"][side]), median(results["jobtrail"][side])
        ratio = tracked / plain
        pairs = paired(results["jobtrail"][side], results["plain"][side])
        rows.append([f"rq {side} (fork per job)" if side == "worker" else "rq enqueue", tracked,
                     plain, ratio, f"≥ {GOAL}", ratio >= GOAL,
                     f"{pairs}; recorded {', '.join(recorded)}" if side == "worker"
                     else f"{pairs}; queued events"])
    # CPU is steadier than wall time on a shared machine: lower is better, so the goal flips.
    plain, tracked = median(results["plain"]["cpu"]), median(results["jobtrail"]["cpu"])
    rows.append(["rq worker CPU ms per task (main + horses, start/stop excluded)", tracked, plain,
                 tracked / plain, "≤ 1.05", tracked / plain <= 1.05,
                 f"rusage of the worker; {paired(results['jobtrail']['cpu'], results['plain']['cpu'])}"])
    for part, what in (("main", "main process"), ("horses", "horses"),
                       ("horses_sys", "horses' system time")):
        plain, tracked = median(results["plain"][part]), median(results["jobtrail"][part])
        rows.append([f"rq worker CPU ms per task, {what}", tracked, plain, tracked / plain, "", None,
                     paired(results["jobtrail"][part], results["plain"][part])])
    for part, what in (("faults", "per horse"), ("main_faults", "per task, main process")):
        plain, tracked = median(results["plain"][part]), median(results["jobtrail"][part])
        rows.append([f"rq minor page faults {what}", tracked, plain, tracked / plain, "", None,
                     paired(results["jobtrail"][part], results["plain"][part])])
    return rows


def _children_cpu() -> float:
    """User + system CPU seconds of this process's waited-for descendants (a worker and the
    horses it reaped)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


FRAMEWORKS: dict[str, Callable[[Env], list[Row]]] = {"celery": bench_celery, "rq": bench_rq}


def median(xs: list[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2]


def main() -> None:
    from _common import DATA, context, fmt, met, parser, table

    p = parser(__doc__.split("\n\n")[0], backend=False, jobs=2000)
    p.add_argument("--framework", choices=sorted(FRAMEWORKS), action="append",
                   help="which framework(s) (default: all)")
    p.add_argument("--rounds", type=int, default=3, help="rounds per variant (default 3)")
    p.add_argument("--pool", default="solo", help="worker pool (celery: solo or prefork)")
    p.add_argument("--warmup", type=int, default=200,
                   help="celery: first tasks of each worker left out of its timing (default 200)")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/15",
                   help="broker; this database is flushed (default redis://127.0.0.1:6379/15)")
    p.add_argument("--pin", action="store_true",
                   help="publisher and workers on CPU 0, the jobtrail server on the others (as if "
                        "it ran on another machine; Redis is not pinned)")
    args = p.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise SystemExit("--pin needs at least 2 CPUs")
        PINS.update(measured={cpus[0]}, server=set(cpus[1:]))
        os.sched_setaffinity(0, PINS["measured"])
    context(tasks=args.jobs, rounds=args.rounds, pool=args.pool, warmup=args.warmup,
            pin="worker CPU 0, server the rest" if args.pin else "no")
    rows: list[Row] = []
    with jobtrail_server(DATA) as url:
        env = Env(url, args.redis, DATA, args.jobs, args.rounds, args.pool, args.warmup)
        for name in args.framework or sorted(FRAMEWORKS):
            rows += FRAMEWORKS[name](env)
    table(
        f"Throughput of a trivial task with and without jobtrail, {args.rounds} rounds × "
        f"{args.jobs:,} tasks (median round, tasks/s)",
        ["side", "with jobtrail", "without", "ratio", "goal", "met", "recorded by jobtrail"],
        [[r[0], fmt(r[1]), fmt(r[2]), f"{r[3]:.3f}", r[4], "" if r[5] is None else met(r[5]), r[6]]
         for r in rows],
    )


if __name__ == "__main__":
    main()
