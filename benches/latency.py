"""The `wan` and `wal` sections of benches/run.py: logferry against S3 with a real
network's latency, modelled by run.py's DelayProxy (20 ms before each request) in front
of the S3 test server (SeaweedFS from scripts/testbed, on the same cores).

  wan  10,000 small files (1-64 KiB) and 500 WAL-sized files of 16 MiB, logferry at its
       defaults against `rclone copy` at its defaults and (small files) at logferry's
       requests in flight; requests per file counted at the proxy; peak RSS
  wal  `logferry archived --wait` driven as PostgreSQL's archiver drives it (one segment
       at a time while new ones keep coming; then a backlog of `.ready` segments) against
       the bare cost of a signed PUT of the same segment through the same proxy

Kept apart from run.py so that file stays manageable; run.py imports this module and
its Bench calls section_wan / section_wal. Python stdlib only, like run.py.
"""

import datetime
import hashlib
import hmac
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

import run as R  # run.py registers itself under this name before importing us

KiB, MiB = 1 << 10, 1 << 20
SEGMENT = 16 * MiB
DELAY = 0.020
# pgBackRest's published cost of one synchronous `archive-push` of a 16 MiB segment.
PGBACKREST_MS = 190
WAIT = "60s"  # archive_command = 'logferry ... archived --wait 60s %f'


# ------------------------------------------------------------------ helpers


def segment_name(i, timeline=1):
    """The i-th WAL segment name (16 MiB segments: 256 per log id)."""
    return f"{timeline:08X}{i >> 8:08X}{i & 255:08X}"


class Segments:
    """Writes 16 MiB segments of distinct content fast: a random block shared by all,
    its first 64 KiB unique per segment (logferry stores content by sha256, so each
    must differ; nothing compresses, as with real WAL)."""

    def __init__(self, seed):
        self.base = bytearray(random.Random(seed).randbytes(SEGMENT))
        self.seed = seed

    def content(self, i):
        head = random.Random(self.seed * 1_000_003 + i).randbytes(64 * KiB)
        self.base[: len(head)] = head
        return bytes(self.base)

    def write(self, path, i, *, fsync=False, old=False):
        with open(path, "wb") as f:
            f.write(self.content(i))
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        if old:  # for closed_by = "quiet": an hour old
            mt = (int(time.time()) - 3600) * 1_000_000_000
            os.utime(path, ns=(mt, mt))


def p90(xs):
    if len(xs) < 2:
        return xs[0] if xs else None
    return statistics.quantiles(xs, n=10, method="inclusive")[-1]


def ms(x):
    return "" if x is None else f"{x * 1000:.0f}"


def met(ok):
    return "met" if ok else "NOT met"


def s3_opts(endpoint, tb):
    return {
        "aws_endpoint": endpoint,
        "aws_access_key_id": tb["TESTBED_S3_ACCESS_KEY"],
        "aws_secret_access_key": tb["TESTBED_S3_SECRET_KEY"],
        "aws_region": "us-east-1",
        "aws_allow_http": True,
        "aws_virtual_hosted_style_request": False,
    }


def start_proxy(b):
    """The testbed's S3 server and a DelayProxy (recording requests) in front of it;
    also an rclone remote `w:` through the proxy (`t:` stays direct, for clean-up)."""
    tb = b.start_testbed()
    port = urllib.parse.urlsplit(tb["TESTBED_S3_ENDPOINT"]).port
    proxy = R.DelayProxy(port, DELAY, record=True)
    env = dict(b.rclone_env)
    for k, v in list(env.items()):
        if k.startswith("RCLONE_CONFIG_T_"):
            env["RCLONE_CONFIG_W_" + k[len("RCLONE_CONFIG_T_"):]] = v
    env["RCLONE_CONFIG_W_ENDPOINT"] = proxy.endpoint
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1"
    return tb, proxy, env


def rclone(b, env, *args):
    return b.run(["rclone", *args, "--retries", "1", "--low-level-retries", "1"], env=env)


def in_flight(b, cfg):
    """logferry's requests in flight from `check-config --json`: `requests_in_flight`
    when the build has it, else `upload_concurrency`; (value, key, the whole JSON)."""
    res = b.run([R.BIN, "--config", cfg, "check-config", "--json"], timed=False)
    try:
        j = json.loads(res.out)
    except ValueError:
        raise R.CommandFailed([R.BIN, "--config", cfg, "check-config", "--json"], 0,
                              res.out, res.err, why="check-config --json printed no JSON")
    for key in ("requests_in_flight", "upload_concurrency"):
        if isinstance(j.get(key), int):
            return j[key], key, j
    raise R.BenchError("check-config --json has neither requests_in_flight nor "
                       "upload_concurrency (the JSON changed? update benches/latency.py)")


def defaults_fact(key, n, j):
    keys = [f"{key} {n}"]
    for k in ("upload_concurrency", "hash_workers", "multipart_threshold", "part_size"):
        if k != key and k in j:
            v = j[k]
            big = isinstance(v, int) and k in ("multipart_threshold", "part_size")
            keys.append(f"{k} {R.human_bytes(v) if big else v}")
    return ", ".join(keys)


def classify(method, target):
    """A request the proxy saw, by kind; those on data objects (under data/) and on the
    catalog's records (under catalog/) apart."""
    u = urllib.parse.urlsplit(target)
    q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
    if method == "PUT":
        kind = "part" if "partNumber" in q else "PUT"
    elif method == "POST":
        kind = "complete-multipart" if "uploadId" in q else (
            "create-multipart" if "uploads" in q else "POST")
    elif method == "GET":
        kind = "list" if ("list-type" in q or "prefix" in q) else "GET"
    else:
        kind = method
    where = "data " if "/data/" in u.path else "catalog " if "/catalog/" in u.path else ""
    return where + kind


def request_counts(seen):
    counts = {}
    for m, t in seen:
        k = classify(m, t)
        counts[k] = counts.get(k, 0) + 1
    return counts


def counts_text(counts, per=None):
    """Requests by kind; with per (files), the kinds made about once a file or more per
    file, the rest in all."""
    if not per:
        return ", ".join(f"{k} {counts[k]}" for k in sorted(counts))
    each = sorted(k for k in counts if counts[k] * 2 >= per)
    rest = sorted(k for k in counts if counts[k] * 2 < per)
    out = []
    if each:
        out.append("per file: " + ", ".join(f"{k} {counts[k] / per:.2f}" for k in each))
    if rest:
        out.append("in all: " + ", ".join(f"{k} {counts[k]}" for k in rest))
    return "; ".join(out)


class Signer:
    """A SigV4-signed S3 PUT over one kept-alive connection (UNSIGNED-PAYLOAD, path
    style, TCP_NODELAY): the bare cost of putting an object, nothing else."""

    def __init__(self, endpoint, bucket, access, secret, region="us-east-1"):
        u = urllib.parse.urlsplit(endpoint)
        self.host, self.port, self.bucket = u.hostname, u.port, bucket
        self.access, self.secret, self.region = access, secret, region
        self.conn = None

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _auth(self, path, headers):
        amz = headers["x-amz-date"]
        signed = ";".join(sorted(headers))
        canon = "\n".join(["PUT", path, "", "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
                           signed, headers["x-amz-content-sha256"]])
        scope = f"{amz[:8]}/{self.region}/s3/aws4_request"
        sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope,
                         hashlib.sha256(canon.encode()).hexdigest()])
        k = ("AWS4" + self.secret).encode()
        for part in (amz[:8], self.region, "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        return (f"AWS4-HMAC-SHA256 Credential={self.access}/{scope}, "
                f"SignedHeaders={signed}, Signature={sig}")

    def put(self, key, body):
        path = f"/{self.bucket}/" + urllib.parse.quote(key, safe="/-_.~")
        now = datetime.datetime.now(datetime.timezone.utc)
        headers = {"host": f"{self.host}:{self.port}", "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
                   "x-amz-date": now.strftime("%Y%m%dT%H%M%SZ")}
        auth = self._auth(path, headers)
        for attempt in (0, 1):  # a kept-alive connection the server closed: once more
            if self.conn is None:
                self._connect()
            try:
                self.conn.putrequest("PUT", path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers.items():
                    self.conn.putheader(k, v)
                self.conn.putheader("Authorization", auth)
                self.conn.putheader("Content-Length", str(len(body)))
                self.conn.endheaders()
                self.conn.sock.sendall(body)
                r = self.conn.getresponse()
                text = r.read()
                break
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        if r.status != 200:
            raise R.BenchError(f"bare PUT {path}: HTTP {r.status}: {text[:300]!r}")

    def close(self):
        if self.conn is not None:
            self.conn.close()


def parallel_puts(make_signer, items, n):
    """PUTs items [(key, body)] with n in flight, one connection each; seconds taken."""
    local = threading.local()
    signers = []
    lock = threading.Lock()

    def one(item):
        if not hasattr(local, "s"):
            local.s = make_signer()
            with lock:
                signers.append(local.s)
        local.s.put(*item)

    t = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as ex:
        list(ex.map(one, items))
    secs = time.perf_counter() - t
    for s in signers:
        s.close()
    return secs


# ------------------------------------------------------------------ wan


def section_wan(b):
    sec = R.Section("wan", "S3 behind a proxy adding 20 ms per request: small files and "
                           "16 MiB WAL-sized files, against rclone")
    tb, proxy, rc_env = start_proxy(b)
    try:
        return wan_body(b, sec, tb, proxy, rc_env)
    finally:
        proxy.close()
        b.rm(os.path.join(b.work, "wan"))


def wan_body(b, sec, tb, proxy, rc_env):
    bucket = tb["TESTBED_S3_BUCKET"]
    base = os.path.join(b.work, "wan")
    small, wal = os.path.join(base, "small"), os.path.join(base, "wal")
    nsmall, nwal = b.n(10_000, 100), b.n(500, 5)
    R.log(f"wan: generating {nsmall:,} small files of 1–64 KiB")
    small_bytes = b.gen_small_tree(small, nsmall, max(2, min(10, round(10 * b.scale))),
                                   seed=21, sizes=(1 * KiB, 64 * KiB))
    R.log(f"wan: generating {nwal} segments of 16 MiB")
    os.makedirs(wal)
    segs = Segments(seed=61)
    for i in range(nwal):
        segs.write(os.path.join(wal, segment_name(i + 1)), i, old=True)
    wal_bytes = nwal * SEGMENT
    run_id = f"bench-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    opts = s3_opts(proxy.endpoint, tb)
    probe = b.lf_config("wan-probe", state=os.path.join(base, "state-probe"),
                        url=f"s3://{bucket}/{run_id}/probe", src=small, options=opts)
    n, key, j = in_flight(b, probe)
    rows = {
        "lf_small": sec.row("logferry → S3 +20 ms/req, small files", nbytes=small_bytes, nfiles=nsmall),
        "rc_small": sec.row("rclone copy (defaults), small files", nbytes=small_bytes, nfiles=nsmall),
        "rcn_small": sec.row(f"rclone copy --transfers {n} --checkers {n}, small files",
                             nbytes=small_bytes, nfiles=nsmall),
        "lf_wal": sec.row(f"logferry → S3 +20 ms/req, {nwal} x 16 MiB", nbytes=wal_bytes, nfiles=nwal),
        "rc_wal": sec.row(f"rclone copy (defaults), {nwal} x 16 MiB", nbytes=wal_bytes, nfiles=nwal),
    }
    lf_counts = {}
    for i in range(b.runs):
        R.log(f"wan: run {i + 1}/{b.runs}")
        for kind, src, nf in (("small", small, nsmall), ("wal", wal, nwal)):
            prefix = f"{run_id}/lf-{kind}-{i}"
            b.s3_prefixes.append(prefix)
            state = os.path.join(base, f"state-{kind}-{i}")
            cfg = b.lf_config(f"wan-{kind}-{i}", state=state, url=f"s3://{bucket}/{prefix}",
                              src=src, options=opts)
            proxy.take_seen()
            res = b.logferry(cfg, rf"^archived {nf} files", f"logferry {kind}")
            rows[f"lf_{kind}"].add(res)
            lf_counts[kind] = request_counts(proxy.take_seen())
            rows[f"lf_{kind}"].note = counts_text(lf_counts[kind], nf)
            b.rm(state)
            peers = [("rc", [])] + ([("rcn", ["--transfers", str(n), "--checkers", str(n)])]
                                    if kind == "small" else [])
            for tag, flags in peers:
                prefix = f"{run_id}/{tag}-{kind}-{i}"
                b.s3_prefixes.append(prefix)
                res = rclone(b, rc_env, "copy", src, f"w:{bucket}/{prefix}", *flags)
                rows[f"{tag}_{kind}"].add(res)
                rows[f"{tag}_{kind}"].note = counts_text(request_counts(proxy.take_seen()), nf)
                R.log(f"    rclone {tag} {kind}: {res.brief()}")
        t = time.monotonic()
        b.s3_cleanup()
        R.log(f"    deleted this run's objects ({time.monotonic() - t:.1f} s, untimed)")
    wan_report(b, sec, rows, lf_counts, n, key, j, nwal)
    return sec


def wan_report(b, sec, rows, lf_counts, n, key, j, nwal):
    med = {k: r.median for k, r in rows.items()}
    sec.ratio("rclone defaults / logferry, small files", rows["rc_small"], rows["lf_small"],
              "higher: logferry faster (target ≥ 3)")
    sec.ratio(f"rclone at {n} in flight / logferry, small files", rows["rcn_small"],
              rows["lf_small"], "higher: logferry faster (target ≥ 1.3)")
    sec.ratio("rclone defaults / logferry, 16 MiB files", rows["rc_wal"], rows["lf_wal"],
              "higher: logferry faster (target ≥ 1.5)")
    c = lf_counts.get("wal", {})
    data_reqs = sum(v for k, v in c.items() if k.startswith("data "))
    puts = c.get("data PUT", 0)
    one_put = puts == nwal and data_reqs == nwal
    r1, r2, r3 = (med["rc_small"] / med["lf_small"], med["rcn_small"] / med["lf_small"],
                  med["rc_wal"] / med["lf_wal"])
    sec.table("targets", ["target", "measured", "met?"], [
        ["small files: ≥ 3× faster than rclone at its defaults", f"{r1:.2f}×", met(r1 >= 3)],
        [f"small files: ≥ 1.3× faster than rclone at {n} in flight", f"{r2:.2f}×", met(r2 >= 1.3)],
        ["16 MiB files: ≥ 1.5× faster than rclone at its defaults", f"{r3:.2f}×", met(r3 >= 1.5)],
        ["one PUT per 16 MiB file (its data object)", f"{data_reqs / nwal:.2f} data requests per "
         f"file ({counts_text({k: v for k, v in c.items() if k.startswith('data ')})}); "
         f"all requests: {sum(c.values()) / nwal:.2f} per file", met(one_put)],
    ], ["l", "l", "l"])
    for k in ("lf_small", "lf_wal"):
        if rows[k].rss:
            sec.fact(f"logferry peak RSS, {'small files' if k == 'lf_small' else '16 MiB files'}",
                     f"{R.human_bytes(max(rows[k].rss) * KiB)} (max of runs)")
    sec.fact("logferry settings", f"its defaults, from check-config --json: {defaults_fact(key, n, j)}; "
                                  f"rclone's peer at the same in-flight count uses `{key}`")
    sec.fact("rclone defaults", "--transfers 4 --checkers 8, single PUT below 200 MiB; "
                                "--retries 1 --low-level-retries 1")
    sec.fact("network", "a TCP forwarder in the bench before the S3 server waits 20 ms before "
                        "passing on each request (connections pooled as the client pools "
                        "them); requests counted there, per file in the notes (`data`: on "
                        "data objects, `catalog`: on the catalog's records). The forwarder is Python (asyncio, one "
                        "thread) on the same cores: every tool's bytes pass through it")
    sec.fact("server", f"SeaweedFS from scripts/testbed on this machine: it shares the "
                       f"{b.nproc} cores with the tools measured")


# ------------------------------------------------------------------ wal


def log_time(line):
    """The time of a tracing line (`2026-01-01T00:00:00.123456Z  INFO ...`), in seconds."""
    try:
        stamp = line.split(None, 1)[0]
        return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except (IndexError, ValueError):
        return None


def pass_steps(path, offset, marks):
    """The steps of the first pass in the agent's log after `offset`: {step: ms since the
    pass started}; the nudge as `nudge → pass` (ms from SIGUSR1 to the pass's start), and
    `marks` ({what: wall-clock seconds}, the driver's own) on the same scale."""
    with open(path, errors="replace") as f:
        f.seek(offset)
        lines = f.read().splitlines()
    steps, nudged, started = {}, None, None
    for line in lines:
        t = log_time(line)
        if "SIGUSR1" in line and nudged is None:
            nudged = t
        elif "starting a pass" in line and started is None:
            started = t
            if nudged is not None and t is not None:
                steps["nudge → pass"] = (t - nudged) * 1000
        elif " elapsed_ms=" in line and started is not None:
            what = line.split(": ", 1)[-1].split(" elapsed_ms=")[0].strip()
            try:
                steps.setdefault(what, float(line.split(" elapsed_ms=")[1].split()[0]))
            except (IndexError, ValueError):
                pass
        elif "pass finished" in line and started is not None:
            break
    if started is not None:
        steps.update({k: (t - started) * 1000 for k, t in marks.items()})
    return steps


def timeline(passes):
    """The median of each step over the passes, in the order of the first pass."""
    order = []
    for p in passes:
        order += [k for k in p if k not in order]
    out = []
    for k in order:
        xs = [p[k] for p in passes if k in p]
        out.append(f"{k} {statistics.median(xs):.1f}")
    return "; ".join(out)



def section_wal(b):
    sec = R.Section("wal", "archived --wait driven as PostgreSQL drives it: 16 MiB segments "
                           "to S3 behind 20 ms per request, against bare PUTs")
    tb, proxy, rc_env = start_proxy(b)
    agent = None
    try:
        w = WalBench(b, sec, tb, proxy, rc_env)
        agent = w.agent = w.start_agent()
        w.measure()
        w.report()
        return sec
    finally:
        if agent is not None and agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(60)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
        proxy.close()
        b.rm(os.path.join(b.work, "wal"))


class WalBench:
    KEEP = 4  # segments kept in pg_wal after .done (PostgreSQL recycles them at checkpoints)

    def __init__(self, b, sec, tb, proxy, rc_env):
        self.b, self.sec, self.tb, self.proxy, self.rc_env = b, sec, tb, proxy, rc_env
        self.bucket = tb["TESTBED_S3_BUCKET"]
        self.base = os.path.join(b.work, "wal")
        self.pg_wal = os.path.join(self.base, "pg_wal")
        self.status = os.path.join(self.pg_wal, "archive_status")
        os.makedirs(self.status)
        self.state = os.path.join(self.base, "state")
        self.run_id = f"bench-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self.prefix = f"{self.run_id}/lf"
        b.s3_prefixes += [self.run_id]
        # A schedule that never ticks in the run (1 January, 00:00): only nudges drive passes.
        self.cfg = b.lf_config("wal", state=self.state, url=f"s3://{self.bucket}/{self.prefix}",
                               src=self.pg_wal, options=s3_opts(proxy.endpoint, tb),
                               top={"schedule": "0 0 1 1 *"}, source="wal",
                               source_opts={"closed_by": "ready-marker"})
        self.n, self.key, self.j = in_flight(b, self.cfg)
        self.segs = Segments(seed=71)
        self.next = 1
        self.seq = b.n(100, 10)
        self.backlog = b.n(50, 10)
        self.reqs = []
        k = self.backlog
        self.rows = {
            "lf": sec.row("logferry archived --wait 60s, per segment (agent nudged)",
                          nbytes=SEGMENT, note="exit 0 once committed"),
            "bare": sec.row("bare PUT of the same segment", nbytes=SEGMENT,
                            note="SigV4, UNSIGNED-PAYLOAD, a kept-alive connection"),
            "bl_lf": sec.row(f"backlog of {k}: logferry, {k} x archived --wait one after another",
                             nbytes=k * SEGMENT, nfiles=k,
                             note="the first call's pass takes them all"),
            "bl_bare": sec.row(f"backlog of {k}: bare PUTs, {self.n} in flight", nbytes=k * SEGMENT,
                               nfiles=k, note="a kept-alive connection per thread"),
            "bl_rc": sec.row(f"backlog of {k}: rclone copy --transfers {self.n} --checkers {self.n}",
                             nbytes=k * SEGMENT, nfiles=k, note="the same files"),
        }
        self.lf, self.bare = self.rows["lf"].secs, self.rows["bare"].secs
        self.signer = Signer(proxy.endpoint, self.bucket, tb["TESTBED_S3_ACCESS_KEY"],
                             tb["TESTBED_S3_SECRET_KEY"])
        self.agent_log = os.path.join(self.base, "agent.log")
        self.passes = []  # the agent's debug lines for each timed segment, parsed

    def start_agent(self):
        R.log(f"wal: starting the agent (logferry run; {self.key} {self.n})")
        log = open(self.agent_log, "wb")
        # -vv: the agent's debug lines time each step of a pass (see timeline()).
        p = subprocess.Popen([R.BIN, "-vv", "--config", self.cfg, "run"], env=self.b.env,
                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        lock = os.path.join(self.state, "lock")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # its first pass runs at once: wait it out
            if p.poll() is not None:
                raise R.BenchError(f"logferry run exited {p.returncode} at start:\n"
                                   + self.agent_tail())
            st = self.b.run([R.BIN, "--config", self.cfg, "status", "--json"], timed=False,
                            check=False)
            if os.path.exists(lock) and '"started_at"' in st.out:
                return p
            time.sleep(0.2)
        raise R.BenchError("the agent ran no first pass within 60 s:\n" + self.agent_tail())

    def agent_tail(self):
        try:
            with open(self.agent_log, errors="replace") as f:
                return "".join(f.readlines()[-30:])
        except OSError:
            return "(no agent log)"

    def produce(self):
        """One segment as PostgreSQL finishes it: written and fsynced, then its marker."""
        name = segment_name(self.next)
        path = os.path.join(self.pg_wal, name)
        self.segs.write(path, self.next, fsync=True)
        with open(os.path.join(self.status, name + ".ready"), "w"):
            pass
        self.next += 1
        return name, path

    def archive(self, name):
        """archive_command for one segment: `logferry archived --wait 60s NAME`, then
        .ready → .done; returns its seconds."""
        if self.agent.poll() is not None:  # archived --wait would run passes itself
            raise R.BenchError(f"the agent exited ({self.agent.returncode}):\n" + self.agent_tail())
        cmd = [R.BIN, "--config", self.cfg, "archived", "--wait", WAIT, name]
        t = time.perf_counter()
        p = subprocess.run(cmd, env=self.b.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL)
        secs = time.perf_counter() - t
        if p.returncode != 0:
            raise R.CommandFailed(cmd, p.returncode, p.stdout.decode(errors="replace"),
                                  p.stderr.decode(errors="replace") + "\n--- agent log ---\n"
                                  + self.agent_tail())
        os.rename(os.path.join(self.status, name + ".ready"),
                  os.path.join(self.status, name + ".done"))
        return secs

    def recycle(self):
        """Removes .done segments beyond the last KEEP, as PostgreSQL's checkpoints do."""
        done = sorted(f[:-5] for f in os.listdir(self.status) if f.endswith(".done"))
        for name in done[:-self.KEEP] if len(done) > self.KEEP else []:
            os.remove(os.path.join(self.pg_wal, name))
            os.remove(os.path.join(self.status, name + ".done"))

    def measure(self):
        R.log("wal: warm-up segment (untimed)")
        name, _ = self.produce()
        self.archive(name)
        for i in range(self.b.runs):
            R.log(f"wal: run {i + 1}/{self.b.runs}: {self.seq} segments one after another")
            for _ in range(self.seq):
                self.one_segment(i)
            R.log(f"wal: run {i + 1}/{self.b.runs}: a backlog of {self.backlog} segments")
            self.one_backlog(i)
            t = time.monotonic()
            self.b.rclone("delete", f"t:{self.bucket}/{self.run_id}/bare", timed=False)
            R.log(f"    deleted the bare PUTs' objects ({time.monotonic() - t:.1f} s, untimed)")

    def one_segment(self, i):
        name, path = self.produce()
        log_from = os.path.getsize(self.agent_log)
        self.proxy.take_seen()
        began = time.time()
        secs = self.archive(name)
        ended = time.time()
        self.reqs.append(request_counts(self.proxy.take_seen()))
        self.rows["lf"].add(R.Res(secs))
        with open(path, "rb") as f:
            body = f.read()
        t = time.perf_counter()
        self.signer.put(f"{self.run_id}/bare/{i}/{name}", body)
        self.rows["bare"].add(R.Res(time.perf_counter() - t))
        self.proxy.take_seen()
        self.recycle()
        self.passes.append(pass_steps(self.agent_log, log_from, {
            "archived started": began, "archived exited": ended}))
        R.log(f"    {name}: archived --wait {secs * 1000:.0f} ms, bare PUT "
              f"{self.bare[-1] * 1000:.0f} ms, {sum(self.reqs[-1].values())} requests")

    def one_backlog(self, i):
        made = [self.produce() for _ in range(self.backlog)]
        t = time.perf_counter()
        for name, _ in made:  # PostgreSQL: one archive_command after another
            self.archive(name)
        self.rows["bl_lf"].add(R.Res(time.perf_counter() - t))
        items = []
        for name, path in made:
            with open(path, "rb") as f:
                items.append((f"{self.run_id}/bare/{i}/backlog/{name}", f.read()))
        mk = lambda: Signer(self.proxy.endpoint, self.bucket,  # noqa: E731
                            self.tb["TESTBED_S3_ACCESS_KEY"], self.tb["TESTBED_S3_SECRET_KEY"])
        self.rows["bl_bare"].add(R.Res(parallel_puts(mk, items, self.n)))
        del items
        # rclone copy of the same files, at logferry's in-flight count
        src = os.path.join(self.base, "backlog-copy")
        os.makedirs(src)
        for name, path in made:
            os.link(path, os.path.join(src, name))
        res = rclone(self.b, self.rc_env, "copy", src, f"w:{self.bucket}/{self.run_id}/bare/{i}/rc",
                     "--transfers", str(self.n), "--checkers", str(self.n))
        self.rows["bl_rc"].add(R.Res(res.secs, cpu=res.cpu, rss=res.rss))
        self.b.rm(src)
        self.proxy.take_seen()
        R.log(f"    backlog of {self.backlog}: logferry {self.rows['bl_lf'].secs[-1]:.2f} s, "
              f"parallel bare PUTs {self.rows['bl_bare'].secs[-1]:.2f} s, rclone {res.secs:.2f} s")
        self.recycle()

    def report(self):
        sec, b, rows = self.sec, self.b, self.rows
        lf_m, bare_m = rows["lf"].median, rows["bare"].median
        diffs = [lf - bare for lf, bare in zip(self.lf, self.bare)]  # paired, per segment
        added = statistics.median(diffs)
        nseg = len(self.lf)
        sec.table(f"one segment at a time, side by side ({nseg} segments; ms per segment)",
                  ["measurement", "median ms", "p90 ms", "segments/min (median)", "note"], [
                      ["logferry archived --wait 60s", ms(lf_m), ms(p90(self.lf)),
                       f"{60 / lf_m:.0f}", "the agent nudged by SIGUSR1"],
                      ["bare PUT of the same segment", ms(bare_m), ms(p90(self.bare)),
                       f"{60 / bare_m:.0f}", "the floor: one request"],
                      ["added by logferry (per segment, paired)", ms(added), ms(p90(diffs)), "",
                       "the nudge, the scan, the hash and the commit"],
                      ["pgBackRest archive-push (published, not measured here)", f"~{PGBACKREST_MS}",
                       "", f"~{60000 / PGBACKREST_MS:.0f}", "synchronous, one segment"],
                  ], ["l", "r", "r", "r", "l"])
        k = self.backlog
        bl = {x: rows[x].median for x in ("bl_lf", "bl_bare", "bl_rc")}
        sec.table(f"a backlog of {k} .ready segments, side by side (segments/min, of medians)",
                  ["logferry", f"bare PUTs, {self.n} in flight", f"rclone, {self.n} in flight",
                   "logferry / bare PUTs"],
                  [[f"{k * 60 / bl['bl_lf']:.0f}", f"{k * 60 / bl['bl_bare']:.0f}",
                    f"{k * 60 / bl['bl_rc']:.0f}", f"{bl['bl_bare'] / bl['bl_lf'] * 100:.0f} %"]],
                  ["r", "r", "r", "r"])
        rate = bl["bl_bare"] / bl["bl_lf"]
        sec.table("targets", ["target", "measured", "met?"], [
            ["≤ 60 ms added per segment over a bare PUT (median of the paired differences)",
             f"{added * 1000:.0f} ms", met(added <= 0.060)],
            ["backlog: ≥ 80 % of the parallel bare PUTs' rate", f"{rate * 100:.0f} %", met(rate >= 0.8)],
        ], ["l", "l", "l"])
        reqs = {}
        for c in self.reqs:
            for kk, v in c.items():
                reqs[kk] = reqs.get(kk, 0) + v
        sec.fact("requests per segment, one at a time (at the proxy, 20 ms each)",
                 ", ".join(f"{kk} {v / nseg:.2f}" for kk, v in sorted(reqs.items())))
        steps = timeline(self.passes)
        if steps:
            sec.fact("where a pass's time goes, one segment at a time (the agent's -vv lines; "
                     "median ms since the pass started)", steps)
        pid_rss = self.agent_rss()
        if pid_rss:
            sec.fact("agent peak RSS (VmHWM at the end)", R.human_bytes(pid_rss))
        sec.fact("logferry settings", f"defaults, from check-config --json: "
                                      f"{defaults_fact(self.key, self.n, self.j)}; "
                                      "`closed_by = \"ready-marker\"`, a schedule that does "
                                      "not tick during the run, so only the nudges of "
                                      "`archived --wait` (SIGUSR1) drive passes")
        sec.fact("driver", "per segment, as PostgreSQL: write the 16 MiB segment and fsync it, "
                           "then archive_status/<seg>.ready (untimed); time `logferry archived "
                           "--wait 60s <seg>`; rename .ready → .done; segments beyond the last "
                           f"{self.KEEP} .done are removed, as checkpoints recycle them. Then, "
                           "untimed for logferry, one bare PUT of the same bytes from memory")
        sec.fact("pgBackRest", f"~{PGBACKREST_MS} ms per segment for synchronous `archive-push` "
                               f"is its published figure (≈{60000 / PGBACKREST_MS:.0f} segments/min), "
                               "not a measurement on this machine")
        sec.fact("server", f"SeaweedFS from scripts/testbed on this machine: it shares the "
                           f"{b.nproc} cores with logferry and the driver; 20 ms before each "
                           "request in the bench's TCP forwarder")

    def agent_rss(self):
        try:
            with open(f"/proc/{self.agent.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * KiB
        except (OSError, AttributeError, ValueError):
            return None
        return None
