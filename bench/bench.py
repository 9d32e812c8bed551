#!/usr/bin/env python3
"""procsup against supervisord (and tini, dumb-init) on the same machine, in the same run.

Run it through bench/run, which installs the tools and builds procsup. Every workload runs
procsup and the other tool alternately (ABAB..., the order swapped each round); each figure is
the median of the rounds and each comparison the median of the ratios taken pair by pair,
because the machine is shared and noisy. Absolute numbers are printed, never asserted.

Parameters are environment variables (see PARAMS below); QUICK=1 picks small ones.
WORKLOADS=cold,status,restart,logs,idle,crash,pid1,health selects workloads (cold includes
the memory figures).
"""
import glob
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.environ.get("RESULTS_DIR", os.path.join(HERE, "results"))
PROCSUP = os.path.abspath(os.environ.get("PROCSUP", os.path.join(ROOT, "build", "procsup")))
QUICK = os.environ.get("QUICK", "0") == "1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MiB = 1024 * 1024

# name: (full, quick, what it is)
PARAMS = {
    "COLD_SERVICES": (200, 200, "services in the cold-start, status and memory workloads"),
    "COLD_ROUNDS": (5, 2, "cold-start rounds per tool"),
    "MEM_SMALL": (50, 50, "the smaller service count for the per-added-service memory"),
    "STATUS_REPS": (30, 10, "status calls per tool, alternating"),
    "KILLS": (20, 6, "SIGKILLs per tool in the restart workload"),
    "UPTIME_BEFORE_KILL_MS": (1200, 1200, "a service's uptime before it is killed"),
    "LOG_BYTES": (1024 * MiB, 256 * MiB, "bytes written in the log workload"),
    "LOG_MAX_SIZE": (64 * MiB, 16 * MiB, "log file size that triggers a rotation"),
    "LOG_ROUNDS": (5, 2, "log-throughput rounds (ceiling, procsup, supervisord each)"),
    "IDLE_SERVICES": (50, 50, "idle services"),
    "IDLE_SECONDS": (60, 10, "length of one idle window"),
    "IDLE_ROUNDS": (3, 1, "idle windows (both supervisors measured in the same window)"),
    "CRASH_SECONDS": (30, 5, "length of one crash-loop run"),
    "CRASH_ROUNDS": (2, 1, "crash-loop runs per tool"),
    "ORPHANS": (2000, 2000, "orphans reaped by PID 1"),
    "PID1_ROUNDS": (5, 2, "PID-1 rounds (procsup, tini, dumb-init each)"),
    "HEALTH_SERVICES": (100, 100, "services with an HTTP health check"),
    "HEALTH_SECONDS": (30, 10, "length of one health-check window"),
    "HEALTH_ROUNDS": (2, 1, "health-check windows"),
    "WORKLOAD_TIMEOUT": (120, 60, "seconds after which any single wait gives up"),
}


def param(name):
    full, quick, _ = PARAMS[name]
    return int(os.environ.get(name, quick if QUICK else full))


def log(msg):
    print(time.strftime("%H:%M:%S ") + msg, flush=True)


# ---------------------------------------------------------------------------------------------
# /proc readers


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime of the process itself


def start_time(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except OSError:
        return None


def context_switches(pid):
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/status"):
        with open(path) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
    return total


def smaps_rollup(pid):
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0] in ("Rss:", "Pss:"):
                out[parts[0][:-1].lower()] = int(parts[1]) * 1024
    return out


def children(pid):
    pids = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(path) as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return pids


def descendants(pid):
    found, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


# ---------------------------------------------------------------------------------------------
# Process bookkeeping: everything this harness starts is registered here and ended on exit.


class Reaper:
    def __init__(self):
        self.procs = []  # Popen objects we started
        self.stray = {}  # pid -> start time, descendants seen under our daemons

    def popen(self, args, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("start_new_session", True)  # ^C reaches us, and we stop them in order
        p = subprocess.Popen(args, **kw)
        self.procs.append(p)
        return p

    def remember_tree(self, pid):
        for d in descendants(pid):
            st = start_time(d)
            if st is not None:
                self.stray[d] = st

    def kill_strays(self):
        for pid, st in list(self.stray.items()):
            if start_time(pid) == st:  # same process, not a reused PID
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            del self.stray[pid]

    def stop(self, p, sig=signal.SIGTERM, timeout=60):
        if p.poll() is None:
            self.remember_tree(p.pid)
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"pid {p.pid} did not exit within {timeout}s of signal {sig}; killing it")
                p.kill()
                p.wait()
        self.kill_strays()

    def cleanup(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                self.stop(p, timeout=30)
        self.kill_strays()


REAPER = Reaper()


def run_timed(args):
    start = time.perf_counter()
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, r


def wait_for(predicate, what, timeout=None, interval=0.002):
    deadline = time.monotonic() + (timeout or param("WORKLOAD_TIMEOUT"))
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"gave up waiting for {what}")


# ---------------------------------------------------------------------------------------------
# The two supervisors behind one interface. A service spec is a dict: command (list),
# restart ("always"|"never"), fast (crash loop: restart without backoff), log (None for the
# tool's default, "null", or {"file", "max", "backups"}), health (URL or None).


def toml_str(s):
    return json.dumps(s)  # a JSON string is a valid TOML basic string


class Procsup:
    name = "procsup"

    def __init__(self, workdir, services):
        self.dir = workdir
        self.sock = os.path.join(workdir, "procsup.sock")
        self.conf = os.path.join(workdir, "procsup.toml")
        self.services = services
        self.proc = None
        lines = ["[supervisor]", 'socket = "procsup.sock"', 'log = "daemon.log"',
                 'log_dir = "logs"', ""]
        for name, s in services.items():
            lines += self.service_lines(name, s)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    @staticmethod
    def service_lines(name, s):
        lines = [f"[services.{name}]", "command = [" + ", ".join(map(toml_str, s["command"])) + "]",
                 f'restart = "{s.get("restart", "always")}"', 'start_seconds = "0s"']
        if s.get("fast"):
            # Quick exits are failed starts; let them repeat at the smallest backoff allowed.
            lines += ['backoff = "1ms"', 'backoff_max = "1ms"', 'start_retries = "unlimited"']
        out = s.get("log")
        if out == "null":
            lines += ['stdout = "null"', 'stderr = "null"']
        elif isinstance(out, dict):
            lines += [f"stdout = {toml_str(out['file'])}", 'stderr = "stdout"',
                      f"log_max_size = {out['max']}", f"log_backups = {out['backups']}"]
        if s.get("health"):
            lines += [f"[services.{name}.health]", f"http = {toml_str(s['health'])}",
                      'interval = "1s"', 'timeout = "1s"', 'start_period = "0s"', "retries = 3",
                      'on_unhealthy = "ignore"']
        return lines + [""]

    def check_config(self):
        r = subprocess.run([PROCSUP, "check-config", "-c", self.conf], capture_output=True,
                           text=True)
        return r.returncode == 0, (r.stdout + r.stderr).strip()

    def start(self):
        out = open(os.path.join(self.dir, "daemon.out"), "w")
        self.proc = REAPER.popen([PROCSUP, "daemon", "-c", self.conf], cwd=self.dir,
                                 stdout=out, stderr=subprocess.STDOUT)
        out.close()

    @property
    def pid(self):
        return self.proc.pid

    def status_cmd(self, names=()):
        return [PROCSUP, "-s", self.sock, "status", *names]

    def states(self):
        r = subprocess.run([PROCSUP, "-s", self.sock, "status", "--json"], capture_output=True)
        if r.returncode != 0:
            return None
        return {s["name"]: s for s in json.loads(r.stdout)["services"]}

    def count_running(self):
        states = self.states() or {}
        return sum(1 for s in states.values() if s["state"] == "running")

    def stop(self):
        if self.proc:
            REAPER.stop(self.proc)


class Supervisord:
    name = "supervisord"

    def __init__(self, workdir, services):
        self.dir = workdir
        self.conf = os.path.join(workdir, "supervisord.conf")
        self.services = services
        self.proc = None
        os.makedirs(os.path.join(workdir, "logs"), exist_ok=True)
        lines = ["[unix_http_server]", "file=%(here)s/supervisor.sock", "",
                 "[supervisord]", "logfile=%(here)s/supervisord.log",
                 "pidfile=%(here)s/supervisord.pid", "childlogdir=%(here)s/logs",
                 "nodaemon=true", "minfds=4096", "user=root", "",
                 "[rpcinterface:supervisor]",
                 "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
                 "", "[supervisorctl]", "serverurl=unix://%(here)s/supervisor.sock", ""]
        for name, s in services.items():
            lines += self.program_lines(name, s)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def program_lines(self, name, s):
        restart = "true" if s.get("restart", "always") == "always" else "false"
        lines = [f"[program:{name}]", "command=" + shlex.join(s["command"]), "startsecs=0",
                 f"autorestart={restart}", "startretries=1000000"]
        out = s.get("log")
        if out == "null":
            lines += ["stdout_logfile=NONE", "stderr_logfile=NONE"]
        elif isinstance(out, dict):
            lines += ["redirect_stderr=true",
                      f"stdout_logfile={os.path.join(self.dir, 'logs', out['file'])}",
                      f"stdout_logfile_maxbytes={out['max']}",
                      f"stdout_logfile_backups={out['backups']}"]
        return lines + [""]

    def start(self):
        out = open(os.path.join(self.dir, "daemon.out"), "w")
        self.proc = REAPER.popen(["supervisord", "-n", "-c", self.conf], cwd=self.dir,
                                 stdout=out, stderr=subprocess.STDOUT)
        out.close()

    @property
    def pid(self):
        return self.proc.pid

    def status_cmd(self, names=()):
        return ["supervisorctl", "-c", self.conf, "status", *names]

    def count_running(self):
        r = subprocess.run(self.status_cmd(), capture_output=True, text=True)
        return sum(1 for line in r.stdout.splitlines()
                   if len(line.split()) > 1 and line.split()[1] == "RUNNING")

    def stop(self):
        if self.proc:
            REAPER.stop(self.proc)


TOOLS = (Procsup, Supervisord)


def sleep_services(n, prefix="s"):
    return {f"{prefix}{i:03d}": {"command": ["sleep", "86400"]} for i in range(1, n + 1)}


def tool_order(round_no):
    return TOOLS if round_no % 2 == 0 else TOOLS[::-1]


class Workdirs:
    def __init__(self):
        self.base = tempfile.mkdtemp(prefix="procsup-bench-")
        self.n = 0
        self.extra = []  # folders made elsewhere (tmpfs), removed with the rest

    def new(self, label):
        self.n += 1
        d = os.path.join(self.base, f"{self.n:03d}-{label}")
        os.makedirs(d)
        return d

    def remove(self):
        for d in self.extra + [self.base]:
            shutil.rmtree(d, ignore_errors=True)


WORK = None


def started(tool_cls, label, services):
    tool = tool_cls(WORK.new(f"{label}-{tool_cls.name}"), services)
    tool.start()
    return tool


def wait_all_running(tool, n):
    return wait_for(lambda: tool.count_running() >= n, f"{tool.name}: {n} services running",
                    interval=0.001)


# ---------------------------------------------------------------------------------------------
# Statistics


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def percentile(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def ratio(a, b):
    if a is None or b is None:
        return None
    if b == 0:
        return float("inf") if a > 0 else None
    return a / b


# ---------------------------------------------------------------------------------------------
# Workloads. Each returns a dict of figures that report() turns into table rows.


def spawn_floor(n):
    """N `sleep`s started one after another by posix_spawn (vfork and exec underneath, in a
    new session), with nothing else: the part of a cold start no supervisor can save."""
    sleep = shutil.which("sleep")
    t0 = time.perf_counter()
    pids = [os.posix_spawn(sleep, ["sleep", "86400"], os.environ, setsid=True)
            for _ in range(n)]
    took = time.perf_counter() - t0
    for pid in pids:
        os.kill(pid, signal.SIGKILL)  # our own children, not yet reaped: the PIDs are theirs
        os.waitpid(pid, 0)
    return took


def w_cold_memory():
    """1 and 4: N services from launch to all running; then the daemon's RSS and PSS."""
    n, small, rounds = param("COLD_SERVICES"), param("MEM_SMALL"), param("COLD_ROUNDS")
    res = {t.name: {"start": [], "rss": [], "pss": [], "pss_small": [], "rss_small": []}
           for t in TOOLS}
    res["floor"] = {"start": []}
    for r in range(rounds):
        res["floor"]["start"].append(spawn_floor(n))
        for cls in tool_order(r):
            for count, key in ((n, ""), (small, "_small")):
                t0 = time.perf_counter()
                tool = started(cls, f"cold{count}", sleep_services(count))
                try:
                    wait_all_running(tool, count)
                    took = time.perf_counter() - t0
                    time.sleep(1.5)  # let start-up garbage settle before reading memory
                    mem = smaps_rollup(tool.pid)
                finally:
                    tool.stop()
                if not key:
                    res[cls.name]["start"].append(took)
                res[cls.name]["rss" + key].append(mem["rss"])
                res[cls.name]["pss" + key].append(mem["pss"])
                log(f"cold/memory round {r + 1}: {cls.name} {count} services"
                    + (f" running after {took * 1000:.1f} ms" if not key else "")
                    + f", RSS {mem['rss'] / MiB:.1f} MiB, PSS {mem['pss'] / MiB:.1f} MiB")
    return res


def w_status():
    """2: one status call (the whole CLI process) for all services and for one."""
    n, reps = param("COLD_SERVICES"), param("STATUS_REPS")
    tools = [started(cls, "status", sleep_services(n)) for cls in TOOLS]
    res = {t.name: {"all": [], "one": []} for t in tools}
    res["floor"] = {"start": []}
    try:
        for t in tools:
            wait_all_running(t, n)
        for rep in range(reps):
            for t in tools if rep % 2 == 0 else tools[::-1]:
                for key, names in (("all", ()), ("one", ("s001",))):
                    took, r = run_timed(t.status_cmd(names))
                    if r.returncode != 0 or b"s001" not in r.stdout:
                        raise RuntimeError(f"{t.name} status failed: rc {r.returncode}")
                    res[t.name][key].append(took)
            # The same binary doing no work: what loading it costs, before any request. Timed
            # after the status calls, so that it is not the one to find the caches cold.
            res["floor"]["start"].append(run_timed([PROCSUP, "version"])[0])
        for t in tools:
            log(f"status: {t.name} all {median(res[t.name]['all']) * 1000:.2f} ms, "
                f"one {median(res[t.name]['one']) * 1000:.2f} ms (median of {reps})")
    finally:
        for t in tools:
            t.stop()
    return res


def the_child(tool, program=b"sleep"):
    for pid in children(tool.pid):
        argv = cmdline(pid)
        if argv and os.path.basename(argv[0]) == program:
            return pid
    return None


def w_restart():
    """3: SIGKILL the service's process; time until its replacement has exec'd."""
    kills, up = param("KILLS"), param("UPTIME_BEFORE_KILL_MS") / 1000
    tools = [started(cls, "restart", {"victim": {"command": ["sleep", "86400"]}})
             for cls in TOOLS]
    res = {t.name: [] for t in tools}
    try:
        pids = {t.name: wait_for(lambda t=t: the_child(t), f"{t.name}: victim") for t in tools}
        born = {t.name: time.monotonic() for t in tools}
        for k in range(kills):
            for t in tools if k % 2 == 0 else tools[::-1]:
                # procsup backs off (by design) when a process dies within 1 s of its start.
                time.sleep(max(0.0, born[t.name] + up - time.monotonic()))
                old = pids[t.name]
                t0 = time.perf_counter()
                os.kill(old, signal.SIGKILL)
                while True:
                    new = the_child(t)
                    if new is not None and new != old:
                        break
                    if time.perf_counter() - t0 > param("WORKLOAD_TIMEOUT"):
                        raise TimeoutError(f"{t.name}: no replacement after SIGKILL")
                    time.sleep(0.001)
                res[t.name].append(time.perf_counter() - t0)
                pids[t.name], born[t.name] = new, time.monotonic()
        for t in tools:
            xs = res[t.name]
            log(f"restart: {t.name} median {median(xs) * 1000:.2f} ms, "
                f"p95 {percentile(xs, 95) * 1000:.2f} ms over {len(xs)} kills")
    finally:
        for t in tools:
            t.stop()
    return res


def log_bytes_in(directory, stem):
    total = 0
    for path in glob.glob(os.path.join(directory, stem + "*")):
        try:
            total += os.stat(path).st_size
        except FileNotFoundError:
            pass  # renamed by a rotation between glob and stat; the next poll sees it
    return total


def timed_write(directory, stem, total, go, cpu_pid, done_proc=None):
    """Starts the writer (by creating `go`) and waits until every byte is in the log files."""
    ticks0 = cpu_ticks(cpu_pid) if cpu_pid else 0
    t0 = time.perf_counter()
    open(go, "w").close()
    wait_for(lambda: log_bytes_in(directory, stem) >= total, f"{total} bytes in {stem}*",
             interval=0.005)
    took = time.perf_counter() - t0
    if done_proc is not None:
        # The ceiling's CPU is cat's own, from its rusage when it is reaped.
        _, _, usage = os.wait4(done_proc.pid, 0)
        done_proc.returncode = 0
        ticks = (usage.ru_utime + usage.ru_stime) * CLK_TCK
    else:
        ticks = cpu_ticks(cpu_pid) - ticks0
    got = log_bytes_in(directory, stem)
    return took, ticks / CLK_TCK, got


def w_logs():
    """5: LOG_BYTES through stdout into a rotated file, against `writer | cat > file`."""
    total, size, rounds = param("LOG_BYTES"), param("LOG_MAX_SIZE"), param("LOG_ROUNDS")
    backups = total // size + 4
    base = log_base(total)
    writer = os.path.join(HERE, "writer.py")
    res = {k: {"gibps": [], "cpu_per_gib": [], "lost": []}
           for k in ("ceiling", "procsup", "supervisord")}
    for r in range(rounds):
        for kind in ["ceiling"] + [c.name for c in tool_order(r)]:
            d = WORK.new(f"logs-{kind}")
            logs = os.path.join(d, "logs")
            if base:
                # The files go to tmpfs, through a symlink the tools follow like any folder.
                real = tempfile.mkdtemp(prefix="procsup-bench-logs-", dir=base)
                WORK.extra.append(real)
                os.symlink(real, logs)
            os.makedirs(os.path.realpath(logs), exist_ok=True)
            ready, go = os.path.join(d, "ready"), os.path.join(d, "go")
            cmd = ["python3", writer, str(total), ready, go]
            if kind == "ceiling":
                with open(os.path.join(logs, "out.log"), "wb") as out:
                    w = REAPER.popen(cmd, stdout=subprocess.PIPE)
                    cat = REAPER.popen(["cat"], stdin=w.stdout, stdout=out)
                w.stdout.close()
                wait_for(lambda: os.path.exists(ready), "writer ready")
                took, cpu, got = timed_write(logs, "out.log", total, go, None, done_proc=cat)
                w.wait(30)
            else:
                spec = {"command": cmd, "restart": "never",
                        "log": {"file": "out.log", "max": size, "backups": backups}}
                cls = Procsup if kind == "procsup" else Supervisord
                tool = cls(d, {"writer": spec})  # in d: the files counted are d/logs/*
                tool.start()
                try:
                    wait_for(lambda: os.path.exists(ready), f"{kind}: writer ready")
                    took, cpu, got = timed_write(logs, "out.log", total, go, tool.pid)
                finally:
                    tool.stop()
            res[kind]["gibps"].append(total / took / (1024 * MiB))
            res[kind]["cpu_per_gib"].append(cpu / (total / (1024 * MiB)) if cpu is not None
                                            else None)
            res[kind]["lost"].append(total - got)
            log(f"logs round {r + 1}: {kind} {total / took / (1024 * MiB):.2f} GiB/s"
                + (f", {cpu:.2f} s CPU" if cpu is not None else "")
                + f", {got} of {total} bytes in the files")
            shutil.rmtree(os.path.realpath(logs), ignore_errors=True)
    return res


def log_base(total):
    """Where the log workload writes: LOG_DIR, else /dev/shm when it has room, else WORK.

    A RAM file system keeps the disk's write-back, which other jobs on a shared machine also
    drive, out of the comparison: what is left is the pipe-to-file path each tool runs."""
    base = os.environ.get("LOG_DIR", "/dev/shm")
    if base == "disk" or not os.path.isdir(base):
        return None
    free = shutil.disk_usage(base).free
    return base if free > 2 * total + 256 * MiB else None


def w_idle():
    """6: IDLE_SERVICES sleeping services; the daemon's CPU ticks and context switches."""
    n, secs, rounds = param("IDLE_SERVICES"), param("IDLE_SECONDS"), param("IDLE_ROUNDS")
    tools = [started(cls, "idle", sleep_services(n)) for cls in TOOLS]
    res = {t.name: {"ticks": [], "switches": []} for t in tools}
    try:
        for t in tools:
            wait_all_running(t, n)
        time.sleep(3)  # past any start-up timer
        for r in range(rounds):
            before = {t.name: (cpu_ticks(t.pid), context_switches(t.pid)) for t in tools}
            time.sleep(secs)
            for t in tools:
                ticks, sw = cpu_ticks(t.pid), context_switches(t.pid)
                res[t.name]["ticks"].append(ticks - before[t.name][0])
                res[t.name]["switches"].append(sw - before[t.name][1])
                log(f"idle window {r + 1} ({secs} s): {t.name} {ticks - before[t.name][0]} "
                    f"CPU ticks, {sw - before[t.name][1]} context switches")
    finally:
        for t in tools:
            t.stop()
    return res


def w_crash():
    """7: a service that exits at once, restarted as fast as each tool allows."""
    secs, rounds = param("CRASH_SECONDS"), param("CRASH_ROUNDS")
    res = {t.name: {"restarts": [], "cpu": [], "ms_per_restart": []} for t in TOOLS}
    for r in range(rounds):
        for cls in tool_order(r):
            d = WORK.new(f"crash-{cls.name}")
            counter = os.path.join(d, "spawns")
            spec = {"command": ["sh", "-c", f"echo >> {counter}; exit 1"], "fast": True,
                    "log": "null"}
            tool = cls(d, {"crasher": spec})
            tool.start()
            try:
                wait_for(lambda: os.path.exists(counter), f"{cls.name}: first spawn")
                t0, ticks0 = time.monotonic(), cpu_ticks(tool.pid)
                spawns0 = os.path.getsize(counter)
                time.sleep(secs)
                ticks = cpu_ticks(tool.pid) - ticks0
                spawns = os.path.getsize(counter) - spawns0
            finally:
                tool.stop()
            cpu = ticks / CLK_TCK
            res[cls.name]["restarts"].append(spawns)
            res[cls.name]["cpu"].append(cpu)
            res[cls.name]["ms_per_restart"].append(cpu * 1000 / spawns if spawns else None)
            log(f"crash loop round {r + 1}: {cls.name} {spawns} restarts in {secs} s, "
                f"{cpu:.2f} s CPU" + (f", {cpu * 1000 / spawns:.3f} ms per restart"
                                      if spawns else ""))
    return res


PID1_TOOLS = {
    "procsup": lambda: [PROCSUP, "run", "--"],
    "tini": lambda: ["tini", "--"],
    "dumb-init": lambda: ["dumb-init"],
}


def w_pid1():
    """8: ORPHANS orphans exit at once in a new PID namespace; time until all are reaped."""
    n, rounds = param("ORPHANS"), param("PID1_ROUNDS")
    probe = os.path.join(HERE, "orphans.py")
    res = {k: [] for k in PID1_TOOLS}
    names = list(PID1_TOOLS)
    for r in range(rounds):
        for name in names[r % 3:] + names[:r % 3]:
            out = os.path.join(WORK.new(f"pid1-{name}"), "result.json")
            args = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
                    *PID1_TOOLS[name](), "python3", probe, str(n), out]
            p = REAPER.popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                p.wait(param("WORKLOAD_TIMEOUT"))
            except subprocess.TimeoutExpired:
                REAPER.stop(p, signal.SIGKILL)
            with open(out) as f:
                result = json.load(f)
            if result["adopted"] != n or result["left"]:
                raise RuntimeError(f"{name}: {result}")
            res[name].append(result["seconds"])
            log(f"pid1 round {r + 1}: {name} reaped {n} orphans in "
                f"{result['seconds'] * 1000:.1f} ms")
    return res


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def w_health():
    """9: HEALTH_SERVICES services, each with a 1-second HTTP check; procsup's CPU %."""
    n, secs, rounds = param("HEALTH_SERVICES"), param("HEALTH_SECONDS"), param("HEALTH_ROUNDS")
    d = WORK.new("health-server")
    port = free_port()
    access = open(os.path.join(d, "access.log"), "w")
    server = REAPER.popen(["python3", "-m", "http.server", "--bind", "127.0.0.1",
                           "--directory", d, str(port)], stdout=access, stderr=access)
    access.close()
    services = sleep_services(n, "h")
    for s in services.values():
        s["health"] = f"http://127.0.0.1:{port}/"
    tool = Procsup(WORK.new("health-procsup"), services)
    ok, why = tool.check_config()
    if not ok:
        REAPER.stop(server)
        return {"skipped": f"procsup does not accept HTTP health checks yet: {why}"}
    res = {"cpu_pct": [], "checks_per_s": []}
    tool.start()
    try:
        wait_for(lambda: sum(1 for s in (tool.states() or {}).values()
                             if s["health"] == "healthy") >= n, "all services healthy",
                 interval=0.2)
        time.sleep(2)
        for r in range(rounds):
            requests0 = count_lines(os.path.join(d, "access.log"))
            ticks0, t0 = cpu_ticks(tool.pid), time.monotonic()
            time.sleep(secs)
            ticks, took = cpu_ticks(tool.pid) - ticks0, time.monotonic() - t0
            requests = count_lines(os.path.join(d, "access.log")) - requests0
            res["cpu_pct"].append(ticks / CLK_TCK / took * 100)
            res["checks_per_s"].append(requests / took)
            log(f"health window {r + 1}: procsup {ticks / CLK_TCK / took * 100:.2f} % of one "
                f"core, {requests / took:.0f} checks/s answered")
    finally:
        tool.stop()
        REAPER.stop(server)
    return res


def count_lines(path):
    with open(path, "rb") as f:
        return sum(1 for line in f if b'"GET ' in line)


WORKLOADS = {
    "cold": w_cold_memory, "status": w_status, "restart": w_restart, "logs": w_logs,
    "idle": w_idle, "crash": w_crash, "pid1": w_pid1, "health": w_health,
}


# ---------------------------------------------------------------------------------------------
# Report: one row per figure. A factor is how many times better procsup does (the other's cost
# over procsup's, or procsup's throughput over the other's), the median of per-pair ratios.


def pair_factors(other, mine, higher_is_better=False):
    pairs = [(o, m) for o, m in zip(other, mine) if o is not None and m is not None]
    if higher_is_better:
        return median([ratio(m, o) for o, m in pairs])
    return median([ratio(o, m) for o, m in pairs])


def row(workload, metric, mine, other, factor, goal="", met=None, other_name="supervisord"):
    return {"workload": workload, "metric": metric, "procsup": mine, "other": other,
            "other_name": other_name, "factor": factor, "goal": goal, "met": met}


def fmt_ms(s):
    return None if s is None else f"{s * 1000:.2f} ms" if s < 1 else f"{s:.2f} s"


def rows_cold(r):
    p, s = r["procsup"], r["supervisord"]
    floor = median(r["floor"]["start"]) if "floor" in r else None
    floor_note = (f" (floor: {param('COLD_SERVICES')} bare spawns of `sleep`, "
                  f"{fmt_ms(floor)})") if floor is not None else ""
    out = [row("1 cold start", f"{param('COLD_SERVICES')} services to all running" + floor_note,
               fmt_ms(median(p["start"])), fmt_ms(median(s["start"])),
               pair_factors(s["start"], p["start"]), "< 100 ms", median(p["start"]) < 0.1)]
    for key, label in (("rss", "RSS"), ("pss", "PSS")):
        out.append(row("4 memory", f"daemon {label}, {param('COLD_SERVICES')} services",
                       f"{median(p[key]) / MiB:.2f} MiB", f"{median(s[key]) / MiB:.2f} MiB",
                       pair_factors(s[key], p[key]),
                       "< 5 MiB PSS" if key == "pss" else "",
                       median(p[key]) < 5 * MiB if key == "pss" else None))
    added = param("COLD_SERVICES") - param("MEM_SMALL")
    per = {t: [(b - a) / added for a, b in zip(r[t]["pss_small"], r[t]["pss"])]
           for t in ("procsup", "supervisord")}
    out.append(row("4 memory", "PSS per added service",
                   f"{median(per['procsup']) / 1024:.1f} KiB",
                   f"{median(per['supervisord']) / 1024:.1f} KiB",
                   pair_factors(per["supervisord"], per["procsup"])))
    return out


def rows_status(r):
    p, s = r["procsup"], r["supervisord"]
    all_f = pair_factors(s["all"], p["all"])
    floor = median(r["floor"]["start"]) if "floor" in r else None
    floor_note = f"; `procsup version` alone: {fmt_ms(floor)}" if floor is not None else ""
    return [row("2 status", f"all {param('COLD_SERVICES')} services (whole CLI process"
                + floor_note + ")",
                fmt_ms(median(p["all"])), fmt_ms(median(s["all"])), all_f,
                "< 3 ms, ≥ 30×", median(p["all"]) < 0.003 and (all_f or 0) >= 30),
            row("2 status", "one service (whole CLI process)", fmt_ms(median(p["one"])),
                fmt_ms(median(s["one"])), pair_factors(s["one"], p["one"]), "< 3 ms",
                median(p["one"]) < 0.003)]


def rows_restart(r):
    p, s = r["procsup"], r["supervisord"]
    p95p, p95s = percentile(p, 95), percentile(s, 95)
    return [row("3 restart after SIGKILL", f"median of {len(p)} kills", fmt_ms(median(p)),
                fmt_ms(median(s)), pair_factors(s, p), "< 2 ms", median(p) < 0.002),
            row("3 restart after SIGKILL", "p95", fmt_ms(p95p), fmt_ms(p95s), ratio(p95s, p95p),
                "< 5 ms", p95p < 0.005)]


def rows_logs(r):
    p, s, c = r["procsup"], r["supervisord"], r["ceiling"]
    of_ceiling = median([ratio(a, b) for a, b in zip(p["gibps"], c["gibps"])])
    sup_of_ceiling = median([ratio(a, b) for a, b in zip(s["gibps"], c["gibps"])])
    cpu_f = pair_factors(s["cpu_per_gib"], p["cpu_per_gib"])
    size = f"{param('LOG_BYTES') / (1024 * MiB):g} GiB"
    return [row("5 log throughput", f"{size} through stdout, rotated (ceiling `cat > file`: "
                f"{median(c['gibps']):.2f} GiB/s)",
                f"{median(p['gibps']):.2f} GiB/s ({of_ceiling * 100:.0f} % of ceiling)",
                f"{median(s['gibps']):.2f} GiB/s ({sup_of_ceiling * 100:.0f} % of ceiling)",
                pair_factors(s["gibps"], p["gibps"], higher_is_better=True),
                "≥ 90 % of ceiling", of_ceiling >= 0.9),
            row("5 log throughput", "supervisor CPU per GiB" + (
                f" (ceiling `cat > file`: {median(c['cpu_per_gib']):.2f} s)"
                if median(c["cpu_per_gib"]) is not None else ""),
                f"{median(p['cpu_per_gib']):.2f} s", f"{median(s['cpu_per_gib']):.2f} s", cpu_f,
                "< 0.3 s, ≥ 3×", median(p["cpu_per_gib"]) < 0.3 and (cpu_f or 0) >= 3),
            row("5 log throughput", "bytes lost (all rounds)", str(sum(p["lost"])),
                str(sum(s["lost"])), None, "0", sum(p["lost"]) == 0)]


def rows_idle(r):
    p, s = r["procsup"], r["supervisord"]
    n, secs = param("IDLE_SERVICES"), param("IDLE_SECONDS")
    return [row("6 idle", f"{n} services, CPU ticks per {secs} s",
                f"{median(p['ticks']):g}", f"{median(s['ticks']):g}",
                pair_factors(s["ticks"], p["ticks"])),
            row("6 idle", f"context switches (wake-ups) per {secs} s",
                f"{median(p['switches']):g}", f"{median(s['switches']):g}",
                pair_factors(s["switches"], p["switches"]), "0", median(p["switches"]) == 0)]


def rows_crash(r):
    p, s = r["procsup"], r["supervisord"]
    secs = param("CRASH_SECONDS")
    return [row("7 crash loop", f"restarts in {secs} s", f"{median(p['restarts']):g}",
                f"{median(s['restarts']):g}", None),
            row("7 crash loop", f"supervisor CPU in {secs} s", f"{median(p['cpu']):.2f} s",
                f"{median(s['cpu']):.2f} s", None),
            row("7 crash loop", "CPU per restart", f"{median(p['ms_per_restart']):.3f} ms",
                f"{median(s['ms_per_restart']):.3f} ms",
                pair_factors(s["ms_per_restart"], p["ms_per_restart"]), "< 0.3 ms",
                median(p["ms_per_restart"]) < 0.3)]


def rows_pid1(r):
    n = param("ORPHANS")
    return [row("8 PID 1", f"reap {n} orphans exiting at once", fmt_ms(median(r["procsup"])),
                fmt_ms(median(r[o])), pair_factors(r[o], r["procsup"]),
                "< 1 s" if o == "tini" else "", median(r["procsup"]) < 1.0 if o == "tini"
                else None, other_name=o)
            for o in ("tini", "dumb-init")]


def rows_health(r):
    if "skipped" in r:
        return [row("9 health checks", r["skipped"], None, None, None, other_name="-")]
    n = param("HEALTH_SERVICES")
    return [row("9 health checks", f"{n} services, 1-s HTTP checks "
                f"({median(r['checks_per_s']):.0f} checks/s answered): daemon CPU",
                f"{median(r['cpu_pct']):.2f} % of one core", "no equivalent", None,
                "< 2 %", median(r["cpu_pct"]) < 2, other_name="-")]


ROWS = {"cold": rows_cold, "status": rows_status, "restart": rows_restart, "logs": rows_logs,
        "idle": rows_idle, "crash": rows_crash, "pid1": rows_pid1, "health": rows_health}


def fmt_factor(f):
    if f is None:
        return "–"
    if f == float("inf"):
        return "∞"
    return f"{f:.1f}×" if f < 100 else f"{f:.0f}×"


def table(rows):
    lines = ["| workload | figure | procsup | other | other's value | procsup better by "
             "| goal for procsup | met |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        met = {True: "yes", False: "**no**", None: ""}[r["met"]]
        lines.append(f"| {r['workload']} | {r['metric']} | {r['procsup'] or '–'} | "
                     f"{r['other_name']} | {r['other'] or '–'} | {fmt_factor(r['factor'])} | "
                     f"{r['goal']} | {met} |")
    return "\n".join(lines)


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/etc/debian_version") as f:
        debian = f.read().strip()
    versions = {}
    for name, args in (("procsup", [PROCSUP, "version"]),
                       ("supervisord", ["supervisord", "--version"]),
                       ("tini", ["tini", "--version"]), ("dumb-init", ["dumb-init", "--version"])):
        r = subprocess.run(args, capture_output=True, text=True)
        versions[name] = (r.stdout or r.stderr).strip().splitlines()[0] if r.returncode == 0 \
            or r.stdout or r.stderr else "?"
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "debian": debian, "python": platform.python_version(), "versions": versions}


def chart(rows, path):
    points = [(f"{r['workload'].split(' ', 1)[1]}: {short_metric(r)}", r["factor"])
              for r in rows if r["factor"] not in (None, float("inf"))]
    infinite = [f"{r['workload'].split(' ', 1)[1]}: {short_metric(r)}" for r in rows
                if r["factor"] == float("inf")]
    if not points or not shutil.which("gnuplot"):
        log("no chart: nothing to plot or no gnuplot")
        return
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "factors.dat")
        with open(data, "w") as f:
            for label, value in points:
                f.write(f'"{label}" {value} "{fmt_factor(value)}"\n')
        title = "procsup better by (other ÷ procsup, median of pairs; log scale; > 1 = better)"
        if infinite:
            title += "\\nnot drawn, procsup at zero: " + ", ".join(infinite)
        script = f"""
set terminal pngcairo size 1200,{260 + 34 * len(points)} font "DejaVu Sans,11"
set output "{path}"
set title "{title}"
set style fill solid 0.8 border -1
set logscale x
set xrange [0.1:*]
set yrange [-0.7:{len(points) - 0.3}]
set ytics nomirror
set grid x
unset key
set arrow from 1, graph 0 to 1, graph 1 nohead lc rgb "red" lw 2
plot "{data}" using (0.1):($0):(0.1):($2):($0-0.35):($0+0.35):ytic(1) \\
     with boxxyerror lc rgb "#3070b0", \\
     "" using ($2):($0):3 with labels left offset 0.5,0
"""
        gp = os.path.join(d, "chart.gp")
        with open(gp, "w") as f:
            f.write(script)
        r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
        if r.returncode != 0:
            log("gnuplot failed: " + r.stderr.strip())


def short_metric(r):
    m = r["metric"].split(" (")[0]
    if r["other_name"] not in ("supervisord", "-"):
        m += f" vs {r['other_name']}"
    return m.replace('"', "'")


def write_results(results, rows, command, elapsed):
    os.makedirs(RESULTS, exist_ok=True)
    info = machine()
    params = {k: param(k) for k in PARAMS}
    with open(os.path.join(RESULTS, "results.json"), "w") as f:
        json.dump({"machine": info, "params": params, "quick": QUICK, "results": results,
                   "rows": rows, "command": command, "seconds": elapsed}, f, indent=1,
                  default=str)
    chart(rows, os.path.join(RESULTS, "chart.png"))
    v = info["versions"]
    md = [f"# procsup benchmark results{' (QUICK mode)' if QUICK else ''}", "",
          f"Command: `{command}` — finished in {elapsed / 60:.1f} min on "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
          f"Machine: {info['nproc']} CPUs ({info['cpu']}), Linux {info['kernel']}, "
          f"Debian {info['debian']}, Python {info['python']}. Tools: {v['procsup']}; "
          f"supervisord {v['supervisord']}; {v['tini']}; {v['dumb-init']}.", "",
          "Each figure is the median of the rounds; \"procsup better by\" is the median of the "
          "ratios taken pair by pair within the run (the other tool's cost over procsup's, or "
          "procsup's throughput over the other's), except p95, which is a ratio of the two "
          "p95s. Absolute times depend on the machine and its load and are not asserted.", "",
          table(rows), "", "![chart](chart.png)", "",
          "Parameters: " + ", ".join(f"{k}={v}" for k, v in params.items()) + "."]
    missed = [f"- {r['workload']}, {r['metric']}: {r['procsup']} (goal {r['goal']})"
              for r in rows if r["met"] is False]
    md += ["", "Goals missed in this run:" if missed else "Every goal was met in this run."]
    md += missed
    with open(os.path.join(RESULTS, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")


def redraw():
    """--redraw: the chart again from results.json, e.g. after a change to its layout."""
    with open(os.path.join(RESULTS, "results.json")) as f:
        rows = json.load(f)["rows"]
    for r in rows:
        r["factor"] = float(r["factor"]) if r["factor"] is not None else None
    chart(rows, os.path.join(RESULTS, "chart.png"))


def main():
    global WORK
    if sys.argv[1:] == ["--redraw"]:
        redraw()
        return
    selected = os.environ.get("WORKLOADS", ",".join(WORKLOADS)).split(",")
    command = os.environ.get("BENCH_COMMAND", " ".join(sys.argv))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    WORK = Workdirs()
    results, rows = {}, []
    t0 = time.monotonic()
    try:
        for name in selected:
            log(f"== workload {name}")
            try:
                results[name] = WORKLOADS[name]()
                rows += ROWS[name](results[name])
            except (RuntimeError, TimeoutError, OSError, KeyError, ValueError) as e:
                log(f"workload {name} failed: {e}; going on with the next")
                REAPER.cleanup()
                rows.append(row(name, f"failed: {e}", None, None, None, other_name="-"))
        elapsed = time.monotonic() - t0
        write_results(results, rows, command, elapsed)
        print(table(rows))
        log(f"done in {elapsed:.0f} s; results in {RESULTS}")
    finally:
        REAPER.cleanup()
        WORK.remove()


if __name__ == "__main__":
    main()
