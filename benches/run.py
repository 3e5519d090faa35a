#!/usr/bin/env python3
"""logferry benchmark: speed and memory next to the tools an operator would compare with.

    python3 benches/run.py [--scale 1.0] [--runs 3] [--only noop,first,...] [--workdir DIR]
                           [--history-dir DIR] [--keep] [--no-build]

Sections (sizes at --scale 1; --scale multiplies file counts and big-file sizes, while
small log files stay 1-4 KiB each, which is what makes them "small"; wan's small files
stay 1-64 KiB, and WAL segments stay 16 MiB while their number scales):

  noop     no-op pass over 100,000 small files already archived, against rsync -a,
           rclone copy (local) and the stat-walk floor (find -printf)
  first    first archive of those files into an empty destination, against rsync, rclone;
           logferry's peak RSS against the documented bound (64 MiB + 4 x
           multipart_threshold)
  bulk     2 GiB of new log text in 16 files, plain and zstd-3, each also age-encrypted
           (one recipient, a key made by `logferry keygen`), against sha256sum, openssl,
           Python's hashlib, the zstd CLI and `openssl enc -chacha20`; the encrypted
           mirrors are checked for plaintext file names and text
  s3       10,000 small files and 4 x 512 MiB to SeaweedFS (scripts/testbed), against
           rclone copy to the same server
  rss      peak RSS archiving one 4 GiB file and one 4 KiB file, against the
           documented bound 64 MiB + 4 x multipart_threshold
  history  the catalog at any age, side by side at 1,000, 100,000 and 1,000,000 entries,
           each archive followed by 50 real passes of 4 new files (generations, runs and
           folds): rebuild of an empty state dir from the remote, no-op pass and a pass
           adding 10 files (time, peak RSS), and `fetch NAME`, `restore NAME` (when the
           build has it) and `restore --include NAME` of an old and a recent file with an
           empty state dir (requests, time, peak RSS, direct and with 20 ms per request,
           as in fetch). Up to 100,000 entries the archive is made by
           real passes (the bulk pass: first archive of N small files, peak RSS against
           the bound; then the files are deleted locally); at 1,000,000 it is a synthetic
           format-2 archive, migrated by the first real pass on it (measured apart: it
           writes a format-3 checkpoint and the version record of every entry)
  fetch    `fetch` of one file and `restore --include` of it with an empty state dir, as
           the deltas after the last checkpoint grow (10, 100 and 999, the most before a
           pass checkpoints, at 1,000 entries; 1,000 deltas at 100,000 and 1,000,000
           entries; synthetic format-2 manifests, as written before format 3: no version
           records, the deltas a chain; one entry per delta): requests
           per command and time, direct and through a proxy adding 20 ms per request, to
           a read-only S3 endpoint in the bench serving a local mirror
  wan      through a proxy adding 20 ms per request to SeaweedFS: 10,000 small files
           (1-64 KiB) against rclone copy at its defaults and at logferry's requests in
           flight (`requests_in_flight` from check-config --json, else
           `upload_concurrency`), and 500 WAL-sized files of 16 MiB against rclone at its
           defaults; requests per file counted at the proxy (the target: one PUT per
           16 MiB file), peak RSS of each logferry run (benches/latency.py)
  wal      `logferry archived --wait 60s SEG` driven as PostgreSQL's archiver drives it,
           against the agent (`logferry run`, only nudges drive its passes) and S3 behind
           the same proxy: 100 segments of 16 MiB one after another (written, .ready,
           archived, .done), each beside a bare signed PUT of the same bytes (median and
           p90 per segment, the difference), then a backlog of 50 .ready segments against
           parallel bare PUTs and rclone copy at logferry's in-flight count
           (segments/min); pgBackRest's published ~190 ms per segment beside it
           (benches/latency.py)

Needs: python3 (stdlib only), cargo, and root for apt-get (rsync, rclone, zstd) and for
dropping the page cache. Everything happens in a scratch dir that is removed at the end
(--keep keeps it); S3 objects written under bench-* prefixes are deleted afterwards.

At scale 1 expect roughly 25 minutes on 2 cores (estimated from smaller scales; fetch adds
about 3.5 minutes and 2 GiB of RAM for its 1,000,000-entry checkpoint; history takes about
10 minutes, 8 of them at 1,000,000 entries, whose migration pass and reads peak at about
2.2 GiB of RAM, and up to ~5 GiB in /dev/shm, where it works when that is a tmpfs with room:
--history-dir elsewhere; wan adds about 10 minutes per run with upload_concurrency 4, most
of it rclone and the 500 x 16 MiB files, and wal about 2 minutes per run), about
12 GiB free in the scratch dir's file system, and SeaweedFS's data dir (.testbed/) growing
by up to ~25 GiB during a wan run (8 GiB per tool; each run's objects are deleted and the
volumes vacuumed after it). Do not run scripts/test meanwhile: it
stops the test servers when it ends.

Progress goes to stderr; the tables and, at the end, a Markdown block for BENCHMARKS.md
go to stdout. The machine this runs on may be noisy: compare the medians and the ratios
measured in one run, not absolute times across runs.
"""

import argparse
import asyncio
import datetime
import email.utils
import hashlib
import http.server
import json
import math
import multiprocessing
import os
import platform
import random
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape as xml_escape

sys.modules.setdefault("run", sys.modules[__name__])  # latency.py imports this file as `run`
import latency  # noqa: E402  (the wan and wal sections, in benches/latency.py)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, "target", "release", "logferry")
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
SECTIONS = ["noop", "first", "bulk", "s3", "rss", "history", "fetch", "wan", "wal"]
T0 = time.monotonic()

# The defaults whose memory bound the rss section checks (README: "Big files").
PART_SIZE = 8 * MiB
# The memory bound (README "Memory and tuning"): 64 MiB + 4 x multipart_threshold.
MULTIPART_THRESHOLD = 32 * MiB
BOUND_TEXT = f"64 MiB + 4 x multipart_threshold {MULTIPART_THRESHOLD // MiB} MiB"
RSS_CONSTANT = 64 * MiB

# The history section's archive: after its N entries, this many real passes of this many
# new small files each (one generation each, so runs fold); above the real sizes, a real
# generation 1 of a few files, a synthetic format-2 checkpoint and format-2 deltas before.
HISTORY_PASSES = 50
HISTORY_PASS_FILES = 4
HISTORY_SEED_FILES = 10
HISTORY_V2_DELTAS = 20


# ------------------------------------------------------------------ output helpers


def log(msg):
    el = time.monotonic() - T0
    print(f"[{int(el // 60):02d}:{el % 60:04.1f}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


class CommandFailed(BenchError):
    def __init__(self, cmd, rc, stdout, stderr, why=None):
        self.cmd, self.rc = cmd, rc
        tail = lambda s: "\n".join((s or "").rstrip().splitlines()[-40:])  # noqa: E731
        msg = f"command failed ({why or f'exit code {rc}'}):\n  $ {shlex.join(str(c) for c in cmd)}"
        if stderr and stderr.strip():
            msg += "\n--- stderr (last 40 lines) ---\n" + tail(stderr)
        if stdout and stdout.strip():
            msg += "\n--- stdout (last 40 lines) ---\n" + tail(stdout)
        super().__init__(msg)


class Res:
    """One timed command: wall seconds, peak RSS (KiB), CPU seconds (user + sys)."""

    def __init__(self, secs, rss=None, cpu=None, out="", err=""):
        self.secs, self.rss, self.cpu, self.out, self.err = secs, rss, cpu, out, err
        self.summary = None

    def brief(self):
        s = f"{self.secs:.3f} s"
        if self.cpu is not None:
            s += f" (CPU {self.cpu:.2f} s)"
        if self.rss is not None:
            s += f", peak RSS {self.rss:,} KiB"
        return s


def fmt_s(x):
    if x is None:
        return ""
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def fmt_num(x, digits=3):
    if x is None:
        return ""
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    return f"{x:.{max(0, digits - 1 - mag)}f}"


def human_bytes(n):
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def text_table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    out = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths)),
           "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                             for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


def md_table(headers, rows, align):
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
    return "\n".join(out)


# ------------------------------------------------------------------ results


class Row:
    """One measured thing: its samples (seconds, peak RSS in KiB) over the runs."""

    def __init__(self, label, nbytes=None, nfiles=None, note=""):
        self.label, self.nbytes, self.nfiles, self.note = label, nbytes, nfiles, note
        self.secs, self.rss, self.cpu = [], [], []

    def add(self, res):
        self.secs.append(res.secs)
        if res.rss is not None:
            self.rss.append(res.rss)
        if res.cpu is not None:
            self.cpu.append(res.cpu)

    @property
    def median(self):
        return statistics.median(self.secs) if self.secs else None

    @property
    def gibps(self):
        m = self.median
        return self.nbytes / GiB / m if (self.nbytes and m) else None

    @property
    def files_per_s(self):
        m = self.median
        return self.nfiles / m if (self.nfiles and m) else None

    def cells(self):
        spread = ""
        if len(self.secs) > 1:
            spread = f"{fmt_s(min(self.secs))}–{fmt_s(max(self.secs))}"
        rss = ""
        if self.rss:
            rss = f"{int(statistics.median(self.rss)):,}"
            if len(self.rss) > 1 and max(self.rss) != min(self.rss):
                rss += f" (max {max(self.rss):,})"
        cpu = fmt_s(statistics.median(self.cpu)) if self.cpu else ""
        return [self.label, fmt_s(self.median), spread, cpu,
                fmt_num(self.gibps) if self.gibps else "",
                f"{self.files_per_s:,.0f}" if self.files_per_s else "",
                rss, self.note]


ROW_HEADERS = ["measurement", "median s", "min–max s", "CPU s", "GiB/s", "files/s",
               "peak RSS KiB (median)", "note"]
ROW_ALIGN = ["l", "r", "r", "r", "r", "r", "r", "l"]


class Section:
    def __init__(self, name, title):
        self.name, self.title = name, title
        self.rows, self.ratios, self.facts, self.notes = {}, [], [], []
        self.tables = []  # (title, headers, rows, align): side-by-side views of the rows

    def table(self, title, headers, rows, align):
        self.tables.append((title, headers, rows, align))

    def row(self, label, **kw):
        if label not in self.rows:
            self.rows[label] = Row(label, **kw)
        return self.rows[label]

    def ratio(self, name, num, den, meaning, invert=False):
        """num/den of two rows' medians (or of two numbers)."""
        a = num.median if isinstance(num, Row) else num
        b = den.median if isinstance(den, Row) else den
        value = (a / b) if (a is not None and b) else None
        self.ratios.append((name, value, meaning))

    def fact(self, name, value):
        self.facts.append((name, value))

    def print_text(self):
        print(f"\n== {self.name}: {self.title}")
        print(text_table(ROW_HEADERS[:-1] + ["note"], [r.cells() for r in self.rows.values()]))
        if self.ratios:
            print("\nratios (of medians, same run):")
            print(text_table(["ratio", "value", "meaning"],
                             [(n, fmt_num(v) if v is not None else "n/a", m) for n, v, m in self.ratios]))
        for title, headers, rows, _ in self.tables:
            print(f"\n{title}:")
            print(text_table(headers, rows))
        if self.facts:
            print()
            for n, v in self.facts:
                print(f"  {n}: {v}")
        for n in self.notes:
            print(f"  note: {n}")
        sys.stdout.flush()

    def markdown(self):
        out = [f"### `{self.name}`: {self.title}", "",
               md_table(ROW_HEADERS, [r.cells() for r in self.rows.values()], ROW_ALIGN)]
        if self.ratios:
            out += ["", md_table(["ratio", "value", "meaning"],
                                 [(n, fmt_num(v) if v is not None else "n/a", m)
                                  for n, v, m in self.ratios], ["l", "r", "l"])]
        for title, headers, rows, align in self.tables:
            out += ["", f"{title}:", "", md_table(headers, rows, align)]
        if self.facts:
            out += [""] + [f"- {n}: {v}" for n, v in self.facts]
        if self.notes:
            out += [""] + [f"- Note: {n}" for n in self.notes]
        return "\n".join(out)


# ------------------------------------------------------------------ S3 reader and delay proxy
#
# The fetch section reads an archive over HTTP without the shared SeaweedFS: a read-only
# S3 endpoint (path style: ListObjectsV2, GET with Range, HEAD) serving a local mirror
# directory, and a TCP forwarder in front of it that waits before passing on each request.


class S3Reader:
    """Serves dirpath as bucket `bucket` on 127.0.0.1 (a free port), read-only; counts the
    requests it answers by kind (list, get, head, other). Signatures are not checked."""

    PAGE = 1000  # keys per ListObjectsV2 page, as S3's default max-keys

    def __init__(self, dirpath, bucket="bench"):
        self.dir, self.bucket = dirpath, bucket
        self.counts = {}
        self.lock = threading.Lock()
        reader = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real endpoint

            def setup(self):
                super().setup()
                # Headers and body go out in separate writes: without this, Nagle's
                # algorithm and the client's delayed ACK add ~40 ms to every response.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *a):
                pass

            def do_GET(self):
                reader.answer(self, head=False)

            def do_HEAD(self):
                reader.answer(self, head=True)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def take_counts(self):
        with self.lock:
            c, self.counts = self.counts, {}
        return c

    def count(self, kind):
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    @staticmethod
    def reply(h, code, body=b"", headers=(), head=False):
        h.send_response(code)
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def answer(self, h, head):
        u = urllib.parse.urlsplit(h.path)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        parts = urllib.parse.unquote(u.path).lstrip("/").split("/", 1)
        if parts[0] != self.bucket:
            self.count("other")
            return self.reply(h, 404, b"<Error><Code>NoSuchBucket</Code></Error>", head=head)
        key = parts[1] if len(parts) > 1 else ""
        if not key and q.get("list-type") == "2":
            self.count("list")
            return self.list(h, q)
        self.count("head" if head else "get")
        path = os.path.join(self.dir, key)
        if not key or ".." in key.split("/") or not os.path.isfile(path):
            return self.reply(h, 404, b"<Error><Code>NoSuchKey</Code></Error>",
                              [("Content-Type", "application/xml")], head=head)
        st = os.stat(path)
        size = st.st_size
        meta = [("ETag", f'"{st.st_ino:x}-{st.st_mtime_ns:x}-{size:x}"'),
                ("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True)),
                ("Accept-Ranges", "bytes")]
        start, end, code = 0, size, 200
        m = re.match(r"bytes=(\d*)-(\d*)$", h.headers.get("Range", "") or "")
        if m and size:
            if m.group(1):
                start = int(m.group(1))
                end = min(size, int(m.group(2)) + 1) if m.group(2) else size
            else:
                start = max(0, size - int(m.group(2)))
            code = 206
            meta.append(("Content-Range", f"bytes {start}-{end - 1}/{size}"))
        h.send_response(code)
        for k, v in meta:
            h.send_header(k, v)
        h.send_header("Content-Length", str(end - start))
        h.end_headers()
        if head:
            return
        with open(path, "rb") as f:
            f.seek(start)
            left = end - start
            while left:
                b = f.read(min(left, MiB))
                if not b:
                    break
                h.wfile.write(b)
                left -= len(b)

    def keys(self, prefix):
        """Every key under prefix, sorted (walks only the prefix's directory)."""
        top = os.path.join(self.dir, prefix.rsplit("/", 1)[0]) if "/" in prefix else self.dir
        out = []
        for d, _, files in os.walk(top):
            for f in files:
                k = os.path.relpath(os.path.join(d, f), self.dir).replace(os.sep, "/")
                if k.startswith(prefix):
                    out.append(k)
        return sorted(out)

    def list(self, h, q):
        prefix, delim = q.get("prefix", ""), q.get("delimiter", "")
        after = max(q.get("start-after", ""), q.get("continuation-token", ""))
        limit = min(self.PAGE, int(q.get("max-keys", self.PAGE)))
        contents, prefixes, last, truncated = [], [], None, False
        for k in self.keys(prefix):
            if k <= after:
                continue
            cp = None
            if delim:
                i = k.find(delim, len(prefix))
                cp = k[: i + len(delim)] if i >= 0 else None
            if cp is not None and prefixes and prefixes[-1] == cp:
                continue
            if len(contents) + len(prefixes) >= limit:
                truncated = True
                break
            if cp is not None:
                prefixes.append(cp)
                last = cp + "\uffff"
            else:
                st = os.stat(os.path.join(self.dir, k))
                contents.append((k, st))
                last = k
        x = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
             f"<Name>{self.bucket}</Name><Prefix>{xml_escape(prefix)}</Prefix>",
             f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount><MaxKeys>{limit}</MaxKeys>",
             f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"]
        if truncated:
            x.append(f"<NextContinuationToken>{xml_escape(last)}</NextContinuationToken>")
        for k, st in contents:
            lm = datetime.datetime.fromtimestamp(st.st_mtime, datetime.timezone.utc)
            x.append(f"<Contents><Key>{xml_escape(k)}</Key><LastModified>"
                     f"{lm.strftime('%Y-%m-%dT%H:%M:%S.')}{lm.microsecond // 1000:03d}Z</LastModified>"
                     f'<ETag>"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"</ETag>'
                     f"<Size>{st.st_size}</Size><StorageClass>STANDARD</StorageClass></Contents>")
        for p in prefixes:
            x.append(f"<CommonPrefixes><Prefix>{xml_escape(p)}</Prefix></CommonPrefixes>")
        x.append("</ListBucketResult>")
        self.reply(h, 200, "".join(x).encode(), [("Content-Type", "application/xml")])


class DelayProxy:
    """A TCP forwarder on 127.0.0.1 (a free port) to upstream_port that waits `delay`
    seconds before passing on each HTTP request it sees on a client connection (request
    line and headers parsed, then the body streamed after them: Content-Length or
    chunked; an `Expect: 100-continue` goes up with the head, so the server's interim
    answer flows back at once); responses flow back at once. Connections stay open as
    the client pools them; `requests` counts the request lines seen, and `seen` holds
    (method, target) of each while `record` is true."""

    BUF = 4 * MiB  # stream buffers: a 16 MiB body is passed on in few, large writes

    def __init__(self, upstream_port, delay, record=False):
        self.upstream, self.delay = upstream_port, delay
        self.requests = 0
        self.record, self.seen = record, []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def start():
            self.server = await asyncio.start_server(self.client, "127.0.0.1", 0, limit=self.BUF)
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()

        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(start(), self.loop)
        if not ready.wait(10):
            raise BenchError("the delay proxy did not start")

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def close(self):
        async def stop():
            self.server.close()
            # The pooled client connections too, so that none outlives the loop.
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.server.wait_closed()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def take_requests(self):
        n, self.requests = self.requests, 0
        return n

    def take_seen(self):
        """(method, target) of the requests seen since the last call (with record)."""
        s, self.seen = self.seen, []
        self.requests = 0
        return s

    @staticmethod
    async def copy_body(head, reader, writer):
        """Passes on the body that follows head: Content-Length bytes, or chunks."""
        m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
        if m:
            left = int(m.group(1))
            while left:
                b = await reader.read(min(left, DelayProxy.BUF))
                if not b:
                    raise asyncio.IncompleteReadError(b"", left)
                writer.write(b)
                left -= len(b)
                await writer.drain()
        elif re.search(rb"\r\ntransfer-encoding:[^\r]*chunked", head, re.I):
            while True:
                line = await reader.readuntil(b"\r\n")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                writer.write(line)
                if size == 0:  # the last chunk, then trailers up to an empty line
                    while True:
                        t = await reader.readuntil(b"\r\n")
                        writer.write(t)
                        if t == b"\r\n":
                            break
                    await writer.drain()
                    return
                writer.write(await reader.readexactly(size + 2))
                await writer.drain()

    async def client(self, creader, cwriter):
        try:
            ureader, uwriter = await asyncio.open_connection("127.0.0.1", self.upstream,
                                                             limit=self.BUF)
        except OSError:
            cwriter.close()
            return

        async def requests_up():
            try:
                while True:
                    try:
                        head = await creader.readuntil(b"\r\n\r\n")
                    except asyncio.IncompleteReadError as e:
                        if e.partial:
                            uwriter.write(e.partial)
                        break
                    self.requests += 1
                    if self.record:
                        line = head.split(b"\r\n", 1)[0].decode(errors="replace").split(" ")
                        self.seen.append((line[0], line[1] if len(line) > 1 else ""))
                    await asyncio.sleep(self.delay)
                    uwriter.write(head)
                    await uwriter.drain()
                    await self.copy_body(head, creader, uwriter)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                pass
            finally:
                uwriter.close()

        async def responses_down():
            try:
                while True:
                    b = await ureader.read(self.BUF)
                    if not b:
                        break
                    cwriter.write(b)
                    await cwriter.drain()
            except OSError:
                pass
            finally:
                cwriter.close()

        try:
            await asyncio.gather(requests_up(), responses_down())
        except asyncio.CancelledError:  # close(): end quietly, the writers are closed
            pass


# ------------------------------------------------------------------ log text generation
#
# Realistic log text: timestamps, levels, a handful of message templates with varying ids
# and numbers, so it compresses like real logs (roughly 4-6x with zstd -3), and every file
# has distinct content (logferry deduplicates identical content by hash).


def _log_lines(rng, t, nbytes):
    """Lines of log text from time t until at least nbytes; returns (text, t)."""
    rnd, rbits, rr = rng.random, rng.getrandbits, rng.randrange
    out, size, sec, pre = [], 0, -1, ""
    while size < nbytes:
        t += rnd() * 0.004
        s = int(t)
        if s != sec:
            sec, pre = s, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s))
        ms = int((t - s) * 1000)
        k = rbits(3)
        if k < 4:
            line = (f"{pre}.{ms:03d}Z INFO  http: request method=GET path=/api/v1/orders/{rr(1000000)} "
                    f"status=200 bytes={rr(90000)} duration_ms={rr(900)} request_id={rbits(64):016x}\n")
        elif k == 4:
            line = (f"{pre}.{ms:03d}Z DEBUG cache: lookup key=user:{rr(100000)}:profile "
                    f"hit={'true' if rbits(1) else 'false'} ttl_s={rr(3600)}\n")
        elif k == 5:
            line = (f"{pre}.{ms:03d}Z INFO  db: query table=orders rows={rr(500)} duration_ms={rr(250)} "
                    f"conn={rr(64)} txn={rbits(32):08x}\n")
        elif k == 6:
            line = (f"{pre}.{ms:03d}Z WARN  http: slow request path=/api/v1/users/{rr(100000)}/sessions "
                    f"duration_ms={1000 + rr(9000)} request_id={rbits(64):016x}\n")
        else:
            line = (f"{pre}.{ms:03d}Z ERROR upstream: timeout service=payments attempt={1 + rr(5)} "
                    f"request_id={rbits(64):016x} err=\"context deadline exceeded\"\n")
        out.append(line)
        size += len(line)
    return "".join(out), t


def _exact_text(rng, t, nbytes):
    """Exactly nbytes of log text ending in a newline."""
    text, _ = _log_lines(rng, t, nbytes)
    text = text[:nbytes]
    return text[:-1] + "\n" if text else text


def _gen_small_dir(args):
    """Worker: one directory of small log files (1-4 KiB unless the task names a size
    range), mtimes an hour or more ago."""
    dirpath, prefix, count, seed, mtime_base = args[:5]
    lo, hi = args[5] if len(args) > 5 else (1 * KiB, 4 * KiB)
    rng = random.Random(seed)
    os.makedirs(dirpath, exist_ok=True)
    total = 0
    t = 1.79e9 + rng.random() * 1e6
    for k in range(count):
        size = rng.randint(lo, hi)
        text = _exact_text(rng, t, size)
        t += 300
        path = os.path.join(dirpath, f"{prefix}.{k:05d}")
        with open(path, "w") as f:
            f.write(text)
        mt = (mtime_base - (count - k) * 7) * 1_000_000_000
        os.utime(path, ns=(mt, mt))
        total += len(text)
    return total


CHUNK_BYTES = 4 * MiB


def _gen_chunk(args):
    seed, t = args
    text, _ = _log_lines(random.Random(seed), t, CHUNK_BYTES)
    return text.encode()


# ------------------------------------------------------------------ the benchmark


class Bench:
    def __init__(self, args):
        self.args = args
        self.scale = args.scale
        self.runs = args.runs
        self.only = args.only
        self.sections = []
        self.nproc = os.cpu_count() or 1
        self.pool = None
        self.s3_prefixes = []  # (tool, prefix) written, deleted at cleanup
        self.cache_drop_ok = None
        self.testbed = None
        self.small_tree = None  # (path, files, bytes), shared by noop and first
        base = args.workdir or tempfile.gettempdir()
        os.makedirs(base, exist_ok=True)
        self.work = tempfile.mkdtemp(prefix="logferry-bench-", dir=base)
        self.history_work = None  # the history section's dir, on a tmpfs when one fits
        self.timefile = os.path.join(self.work, ".time")
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("LOGFERRY_") and k != "RUST_LOG"}
        self.rclone_env = dict(self.env)
        self.rclone_env.pop("AWS_CA_BUNDLE", None)  # rclone 1.60 fails at once with it set
        self.rclone_env["RCLONE_CONFIG"] = "/dev/null"

    # ---- running commands

    def run(self, cmd, *, timed=True, cwd=None, env=None, stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL, check=True):
        """Runs cmd (under /usr/bin/time when timed); returns a Res. Any non-zero exit
        raises CommandFailed with the command and its output."""
        cmd = [str(c) for c in cmd]
        argv = ["/usr/bin/time", "-f", TIME_FORMAT, "-o", self.timefile] + cmd if timed else cmd
        t = time.perf_counter()
        try:
            p = subprocess.run(argv, cwd=cwd, env=env if env is not None else self.env,
                               stdout=stdout, stderr=subprocess.PIPE, stdin=stdin)
        except FileNotFoundError as e:
            raise BenchError(f"cannot run {shlex.join(cmd)}: {e}") from None
        secs = time.perf_counter() - t
        out = p.stdout.decode(errors="replace") if isinstance(p.stdout, bytes) else ""
        err = p.stderr.decode(errors="replace") if p.stderr else ""
        if check and p.returncode != 0:
            raise CommandFailed(cmd, p.returncode, out, err)
        res = Res(secs, out=out, err=err)
        if timed:
            res.rss, res.cpu = read_time_file(self.timefile, cmd)
        return res

    def sh(self, cmd, **kw):
        """Untimed helper command."""
        return self.run(cmd, timed=False, **kw)

    def logferry(self, config, expect, what):
        """One `logferry --run-once`; checks the summary line; returns a Res with .summary."""
        res = self.run([BIN, "--config", config, "--run-once"])
        out, err = res.out, res.err
        summary = next((ln for ln in out.splitlines()
                        if ln.startswith(("archived ", "nothing new"))), None)
        if summary is None or not re.search(expect, summary) or "FAILED" in summary:
            raise CommandFailed([BIN, "--config", config, "--run-once"], 0, out, err,
                                why=f"{what}: expected a summary matching {expect!r}")
        log(f"    {what}: {res.brief()} — {summary}")
        res.summary = summary
        return res

    def rm(self, *paths):
        for p in paths:
            if os.path.lexists(p):
                self.sh(["rm", "-rf", "--one-file-system", p])

    @staticmethod
    def inode_settle():
        """Seconds until inodes freed now are no longer skipped by ext4's allocator."""
        try:
            with open("/proc/sys/vm/dirty_expire_centisecs") as f:
                return int(f.read()) / 100 + 1
        except (OSError, ValueError):
            return 31

    def drop_caches(self):
        """sync, then drop the page cache (root only); rewarm sources afterwards."""
        self.sh(["sync"])
        try:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
            self.cache_drop_ok = True
            return True
        except OSError as e:
            if self.cache_drop_ok is None:
                log(f"WARNING: cannot drop the page cache ({e}); results after deletions may be slow")
            self.cache_drop_ok = False
            return False

    @staticmethod
    def rewarm(path):
        """Reads every file under path so the source is in the page cache again."""
        buf = bytearray(MiB)
        for root, _, files in os.walk(path):
            for name in files:
                with open(os.path.join(root, name), "rb", buffering=0) as f:
                    while f.readinto(buf):
                        pass

    def get_pool(self):
        if self.pool is None:
            self.pool = multiprocessing.get_context("fork").Pool(self.nproc)
        return self.pool

    # ---- data

    def n(self, count, minimum=1):
        return max(minimum, round(count * self.scale))

    def gen_small_tree(self, path, nfiles, ndirs, seed, sizes=(1 * KiB, 4 * KiB)):
        """nfiles small log files (sizes: a byte range) over ndirs directories; returns
        total bytes."""
        mtime_base = int(time.time()) - 3600
        per, extra = divmod(nfiles, ndirs)
        tasks = []
        for d in range(ndirs):
            c = per + (1 if d < extra else 0)
            if c:
                tasks.append((os.path.join(path, f"svc-{d:03d}"), f"app-{d:03d}.log",
                              c, seed * 100003 + d, mtime_base, sizes))
        t = time.monotonic()
        total = sum(self.get_pool().map(_gen_small_dir, tasks, chunksize=1))
        log(f"  generated {nfiles:,} files ({human_bytes(total)}) in {ndirs} dirs under "
            f"{path} in {time.monotonic() - t:.1f} s")
        return total

    def gen_big_file(self, path, nbytes, seed):
        """One log file of exactly nbytes, an hour old."""
        nchunks = nbytes // CHUNK_BYTES + 1
        t0 = 1.79e9 + (seed % 1000) * 1e5
        # one chunk of 4 MiB covers ~32k lines at ~2 ms apart
        tasks = [(seed * 1_000_003 + i, t0 + i * 65.0) for i in range(nchunks)]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        written = 0
        with open(path, "wb") as f:
            for b in self.get_pool().imap(_gen_chunk, tasks):
                b = b[: nbytes - written]
                f.write(b)
                written += len(b)
                if written >= nbytes:
                    break
            if written and not b.endswith(b"\n"):
                f.seek(-1, os.SEEK_CUR)
                f.write(b"\n")
        mt = (int(time.time()) - 3600) * 1_000_000_000
        os.utime(path, ns=(mt, mt))
        return written

    def gen_big_files(self, dirpath, count, each, seed, name):
        t = time.monotonic()
        paths = []
        for i in range(count):
            p = os.path.join(dirpath, name.format(i=i))
            self.gen_big_file(p, each, seed + i)
            paths.append(p)
        log(f"  generated {count} x {human_bytes(each)} of log text in {dirpath} "
            f"in {time.monotonic() - t:.1f} s")
        return paths

    def get_small_tree(self):
        if self.small_tree is None:
            path = os.path.join(self.work, "tree", "src")
            nfiles = self.n(100_000, 100)
            ndirs = max(2, min(100, round(100 * self.scale)))
            log(f"generating the small-file tree: {nfiles:,} files of 1–4 KiB")
            nbytes = self.gen_small_tree(path, nfiles, ndirs, seed=1)
            self.small_tree = (path, nfiles, nbytes)
        return self.small_tree

    # ---- configs

    def lf_config(self, name, *, state, url, src, options=None, compression=None,
                  min_age=None, top=None, source="app", source_opts=None, dest=None):
        q = json.dumps
        lines = [f"state_dir = {q(state)}"]
        lines += [f"{k} = {q(v) if isinstance(v, str) else v}" for k, v in (top or {}).items()]
        lines += ["", "[destination]", f"url = {q(url)}"]
        if compression:
            lines += [f"compression = {q(compression)}", "compression_level = 3"]
        # more [destination] keys (strings and lists of strings: JSON is valid TOML there)
        lines += [f"{k} = {q(v)}" for k, v in (dest or {}).items()]
        if options:
            lines += ["", "[destination.options]"]
            lines += [f"{k} = {q(v) if isinstance(v, str) else str(v).lower()}"
                      for k, v in options.items()]
        lines += ["", "[[sources]]", f"name = {q(source)}", f"path = {q(src)}"]
        if min_age:
            lines.append(f"min_age = {q(min_age)}")
        lines += [f"{k} = {q(v)}" for k, v in (source_opts or {}).items()]
        path = os.path.join(self.work, "configs", name + ".toml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    # ---- setup

    def ensure_tools(self):
        want = {"rsync": "rsync", "rclone": "rclone", "zstd": "zstd"}
        if not set(self.only) & {"noop", "first", "bulk", "s3", "wan", "wal"}:
            want = {}  # rss, history and fetch compare with no other tool
        if not os.path.exists("/usr/bin/time"):
            want["/usr/bin/time"] = "time"
        for tool in ("openssl", "sha256sum", "find"):
            if not shutil.which(tool):
                want[tool] = {"openssl": "openssl", "sha256sum": "coreutils",
                              "find": "findutils"}[tool]
        missing = sorted({pkg for tool, pkg in want.items()
                          if not (os.path.exists(tool) if tool.startswith("/") else shutil.which(tool))})
        if not missing:
            return
        log(f"installing {' '.join(missing)} with apt-get")
        env = dict(self.env, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "--no-install-recommends"] + missing
        try:
            self.sh(cmd, env=env)
        except CommandFailed:
            log("  apt-get install failed; running apt-get update first")
            self.sh(["apt-get", "update"], env=env)
            self.sh(cmd, env=env)

    def build(self):
        if self.args.no_build:
            if not os.path.exists(BIN):
                raise BenchError(f"--no-build, but {BIN} does not exist")
            log(f"using the existing {BIN} (--no-build)")
            return
        log("cargo build --release")
        p = subprocess.run(["cargo", "build", "--release"], cwd=REPO, env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise CommandFailed(["cargo", "build", "--release"], p.returncode,
                                p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))
        if not os.path.exists(BIN):
            raise BenchError(f"cargo build succeeded but {BIN} is missing")

    def start_testbed(self):
        if self.testbed:
            return self.testbed
        log("scripts/testbed up")
        self.sh([os.path.join(REPO, "scripts", "testbed"), "up"], cwd=REPO)
        env = {}
        with open(os.path.join(REPO, ".testbed", "env")) as f:
            for line in f:
                m = re.match(r"\s*export\s+(\w+)=(.*)$", line.strip())
                if m:
                    env[m.group(1)] = m.group(2).strip().strip("'\"")
        need = ["TESTBED_S3_ENDPOINT", "TESTBED_S3_BUCKET", "TESTBED_S3_ACCESS_KEY",
                "TESTBED_S3_SECRET_KEY"]
        if any(k not in env for k in need):
            raise BenchError(f".testbed/env lacks one of {need}")
        self.testbed = env
        self.rclone_env.update({
            "RCLONE_CONFIG_T_TYPE": "s3",
            "RCLONE_CONFIG_T_PROVIDER": "SeaweedFS",
            "RCLONE_CONFIG_T_ACCESS_KEY_ID": env["TESTBED_S3_ACCESS_KEY"],
            "RCLONE_CONFIG_T_SECRET_ACCESS_KEY": env["TESTBED_S3_SECRET_KEY"],
            "RCLONE_CONFIG_T_ENDPOINT": env["TESTBED_S3_ENDPOINT"],
            "RCLONE_CONFIG_T_REGION": "us-east-1",
            "RCLONE_CONFIG_T_FORCE_PATH_STYLE": "true",
        })
        log(f"  S3 endpoint {env['TESTBED_S3_ENDPOINT']}, bucket {env['TESTBED_S3_BUCKET']}")
        return env

    def rclone(self, *args, timed=True):
        return self.run(["rclone", *args, "--retries", "1", "--low-level-retries", "1"],
                        env=self.rclone_env, timed=timed)

    def s3_delete(self, prefix):
        """Deletes everything under bucket/prefix (untimed)."""
        bucket = self.testbed["TESTBED_S3_BUCKET"]
        self.rclone("delete", f"t:{bucket}/{prefix}", timed=False)

    # ---- sections

    def section_noop(self):
        sec = Section("noop", "no-op pass over already-archived small files")
        src, nfiles, nbytes = self.get_small_tree()
        base = os.path.join(self.work, "noop")
        mirror, state = os.path.join(base, "mirror"), os.path.join(base, "state")
        rs_dst, rc_dst = os.path.join(base, "rsync-dst"), os.path.join(base, "rclone-dst")
        cfg = self.lf_config("noop", state=state, url=mirror, src=src)
        log(f"noop: initial archive and mirrors of {nfiles:,} files (untimed setup)")
        self.logferry(cfg, rf"^archived {nfiles} files", "logferry first archive")
        self.sh(["rsync", "-a", src + "/", rs_dst + "/"])
        self.rclone("copy", src, rc_dst, timed=False)
        rows = {
            "lf": sec.row("logferry --run-once (no-op)", nfiles=nfiles),
            "rsync": sec.row("rsync -a src/ dst/ (no-op)", nfiles=nfiles),
            "rclone": sec.row("rclone copy src dst (no-op)", nfiles=nfiles),
            "find": sec.row("find src -printf '%s %T@ %i\\n' (stat-walk floor)", nfiles=nfiles),
        }
        cmds = {
            "rsync": (["rsync", "-a", src + "/", rs_dst + "/"], self.env),
            "rclone": (["rclone", "copy", src, rc_dst, "--retries", "1", "--low-level-retries", "1"],
                       self.rclone_env),
            "find": (["find", src, "-printf", "%s %T@ %i\\n"], self.env),
        }
        log("noop: warm-up (one untimed no-op of each)")
        self.logferry(cfg, r"^nothing new", "logferry warm-up")
        for k, (cmd, env) in cmds.items():
            self.run(cmd, env=env, stdout=subprocess.DEVNULL, timed=False)
        lf_pass_ms = []
        for i in range(self.runs):
            log(f"noop: run {i + 1}/{self.runs}")
            res = self.logferry(cfg, rf"^nothing new: {nfiles} files unchanged", "logferry no-op")
            rows["lf"].add(res)
            m = re.search(r" in (\d+) ms", res.summary)
            if m:
                lf_pass_ms.append(int(m.group(1)))
            for k, (cmd, env) in cmds.items():
                res = self.run(cmd, env=env, stdout=subprocess.DEVNULL)
                rows[k].add(res)
                log(f"    {k}: {res.brief()}")
        sec.ratio("logferry / find", rows["lf"], rows["find"],
                  "no-op pass vs the stat walk floor (lower is better)")
        sec.ratio("rclone / logferry", rows["rclone"], rows["lf"], "higher: logferry faster")
        sec.ratio("rsync / logferry", rows["rsync"], rows["lf"], "higher: logferry faster")
        sec.fact("tree", f"{nfiles:,} files, {human_bytes(nbytes)}, page cache warm")
        if lf_pass_ms:
            med = statistics.median(lf_pass_ms) / 1000
            sec.fact("logferry's own pass time (summary line, median)",
                     f"{med:.3f} s of {rows['lf'].median:.3f} s wall "
                     f"(rest: process start, config, store setup, status write)")
        self.rm(base)
        return sec

    def section_first(self):
        sec = Section("first", "first archive of the small files into an empty destination")
        src, nfiles, nbytes = self.get_small_tree()
        base = os.path.join(self.work, "first")
        mirror, state = os.path.join(base, "mirror"), os.path.join(base, "state")
        rs_dst, rc_dst = os.path.join(base, "rsync-dst"), os.path.join(base, "rclone-dst")
        cfg = self.lf_config("first", state=state, url=mirror, src=src)
        rows = {
            "lf": sec.row("logferry --run-once (empty mirror and state)", nbytes=nbytes, nfiles=nfiles),
            "rsync": sec.row("rsync -a src/ dst/ (empty dst)", nbytes=nbytes, nfiles=nfiles),
            "rclone": sec.row("rclone copy src dst (empty dst)", nbytes=nbytes, nfiles=nfiles),
        }

        def reset():
            self.rm(base)
            os.makedirs(base)
            dropped = self.drop_caches()
            self.rewarm(src)
            # ext4 without a journal skips inodes freed in the last dirty_expire interval
            # when it allocates new ones (each skip reads the inode table), so the tool
            # that runs first after the delete creates files far slower: wait it out.
            time.sleep(self.inode_settle())
            return dropped

        log("first: delete destinations, sync, drop caches, rewarm the source")
        reset()
        for i in range(self.runs):
            log(f"first: run {i + 1}/{self.runs}")
            self.sh(["sync"])
            rows["lf"].add(self.logferry(cfg, rf"^archived {nfiles} files", "logferry first archive"))
            self.sh(["sync"])
            res = self.run(["rsync", "-a", src + "/", rs_dst + "/"])
            rows["rsync"].add(res)
            log(f"    rsync: {res.brief()}")
            self.sh(["sync"])
            res = self.rclone("copy", src, rc_dst)
            rows["rclone"].add(res)
            log(f"    rclone: {res.brief()}")
            t = time.monotonic()
            reset()
            log(f"    deleted the destinations, synced, dropped caches, rewarmed the source, "
                f"waited out the freed-inode window ({time.monotonic() - t:.1f} s, untimed)")
        bound = RSS_CONSTANT + 4 * MULTIPART_THRESHOLD
        peak = max(rows["lf"].rss) * KiB
        sec.ratio("logferry peak RSS / bound (max of runs)", peak, bound,
                  f"{human_bytes(peak)} vs {BOUND_TEXT} = {human_bytes(bound)}: "
                  f"{'within' if peak <= bound else 'OVER'} the bound")
        sec.ratio("logferry / rsync", rows["lf"], rows["rsync"], "lower is better")
        sec.ratio("rclone / logferry", rows["rclone"], rows["lf"], "higher: logferry faster")
        sec.fact("tree", f"{nfiles:,} files, {human_bytes(nbytes)}")
        if self.cache_drop_ok:
            sec.notes.append("before each run the destinations were deleted, then `sync; echo 3 > "
                             "/proc/sys/vm/drop_caches`, then the source was read once so it is in "
                             "the page cache (the tools are timed writing, not reading a cold disk); "
                             "`sync` before each tool")
        else:
            sec.notes.append("the page cache could NOT be dropped (not root?): file creation after "
                             "deleting large trees may be slow on this kind of disk; treat with care")
        sec.notes.append("rclone verifies each copy with a checksum (MD5) by default, rsync does "
                         "not; logferry sha256-hashes every file (it must, to name the object)")
        self.rm(base)
        return sec

    def section_bulk(self):
        sec = Section("bulk", "new log text in big files: throughput against hashing and "
                              "compression floors")
        base = os.path.join(self.work, "bulk")
        src = os.path.join(base, "src")
        count = 16
        each = max(64 * KiB, round(2 * GiB * self.scale / count))
        log(f"bulk: generating {count} x {human_bytes(each)}")
        paths = self.gen_big_files(src, count, each, seed=7000, name="app.log.{i:02d}")
        total = sum(os.path.getsize(p) for p in paths)
        mirror, state = os.path.join(base, "mirror"), os.path.join(base, "state")
        cfg_plain = self.lf_config("bulk-plain", state=state, url=mirror, src=src)
        cfg_zstd = self.lf_config("bulk-zstd", state=state, url=mirror, src=src, compression="zstd")
        # Client-side encryption: one age recipient, a key pair made once per bench run.
        keyfile = os.path.join(self.work, "bulk-age.key")
        self.rm(keyfile)
        kg = self.sh([BIN, "keygen", "--output", keyfile])
        recipient = next((w for w in kg.out.split() if w.startswith("age1")), None)
        if recipient is None:
            raise CommandFailed([BIN, "keygen", "--output", keyfile], 0, kg.out, kg.err,
                                why="keygen printed no age1... public key")
        enc = {"encryption": "age", "age_recipients": [recipient]}
        cfg_enc = self.lf_config("bulk-enc", state=state, url=mirror, src=src, dest=enc)
        cfg_zstd_enc = self.lf_config("bulk-zstd-enc", state=state, url=mirror, src=src,
                                      compression="zstd", dest=enc)
        n = self.nproc
        sha_ni = "sha_ni" in open("/proc/cpuinfo").read()
        chacha = subprocess.run(["openssl", "enc", "-list"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL).stdout.decode(errors="replace")
        chacha = "-chacha20" in chacha.split()
        r = {
            "plain": sec.row("logferry, plain (hash + copy)", nbytes=total),
            "zstd": sec.row("logferry, compression = \"zstd\" level 3", nbytes=total),
            "enc": sec.row("logferry, encrypted (age)", nbytes=total,
                           note="encryption = \"age\", 1 recipient"),
            "zstd_enc": sec.row("logferry, zstd-3 + encrypted (age)", nbytes=total,
                                note="compressed, then age-encrypted"),
            "sha256sum": sec.row("sha256sum (coreutils)", nbytes=total),
            "openssl": sec.row("openssl dgst -sha256 (1 process)", nbytes=total),
        }
        if sha_ni:
            r["openssl_nosha"] = sec.row("openssl dgst -sha256, SHA-NI masked (1 process)",
                                         nbytes=total, note="OPENSSL_ia32cap=:~0x20000000")
        r["python"] = sec.row("python3 hashlib.sha256, in-process (1 thread)", nbytes=total,
                              note="time inside the interpreter, 1 MiB reads")
        r["openssl_par"] = sec.row(f"openssl dgst -sha256 ({n} processes)", nbytes=total)
        r["zstd_cli"] = sec.row("zstd -3 -T1 -c FILE > /dev/null, each file (1 process)", nbytes=total)
        r["zstd_par"] = sec.row(f"zstd -3 -T1 ({n} processes)", nbytes=total)
        if chacha:  # a cipher floor (ChaCha20 alone, no Poly1305 tag), when openssl has it
            r["chacha"] = sec.row("openssl enc -chacha20 -in FILE -out /dev/null, each file "
                                  "(1 process)", nbytes=total, note="stream cipher only, no MAC")
            r["chacha_par"] = sec.row(f"openssl enc -chacha20 ({n} processes)", nbytes=total,
                                      note="stream cipher only, no MAC")
        chacha_args = ["-K", "00" * 32, "-iv", "00" * 16]
        groups = [paths[j::n] for j in range(n)]
        pyhash = ("import hashlib,sys,time\nbuf=bytearray(1<<20);mv=memoryview(buf)\n"
                  "t=time.perf_counter()\nfor p in sys.argv[1:]:\n"
                  "    h=hashlib.sha256()\n    with open(p,'rb',buffering=0) as f:\n"
                  "        while True:\n            k=f.readinto(buf)\n            if not k: break\n"
                  "            h.update(mv[:k])\n"
                  "print(time.perf_counter()-t)\n")

        def par(cmds, env=None):
            """Runs cmds at once; a Res of the wall time, the largest peak RSS, total CPU."""
            t = time.perf_counter()
            procs = []
            for j, c in enumerate(cmds):
                tf = f"{self.timefile}.{j}"
                procs.append((c, tf, subprocess.Popen(
                    ["/usr/bin/time", "-f", TIME_FORMAT, "-o", tf] + c, env=env or self.env,
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
            rss, cpu = 0, 0.0
            for c, tf, p in procs:
                _, err = p.communicate()
                if p.returncode != 0:
                    raise CommandFailed(c, p.returncode, "", err.decode(errors="replace"))
                r_, c_ = read_time_file(tf, c)
                rss, cpu = max(rss, r_), cpu + c_
            return Res(time.perf_counter() - t, rss, cpu)

        # What an encrypted mirror must not show: the files' names (in object paths or in
        # any object's bytes) and a line of their text. Checked after each first run.
        names = [os.path.basename(p) for p in paths]
        with open(paths[0], "rb") as f:
            line = f.readline().rstrip(b"\n")[:60]
        probes = [pr for pr in (b"app.log.", line) if pr]
        plaintext, stored_enc = {}, {}
        self.rm(mirror, state)
        self.sh(["sync"])
        for i in range(self.runs):
            log(f"bulk: run {i + 1}/{self.runs}")
            for key, cfg in (("plain", cfg_plain), ("zstd", cfg_zstd),
                             ("enc", cfg_enc), ("zstd_enc", cfg_zstd_enc)):
                r[key].add(self.logferry(cfg, rf"^archived {count} files", f"logferry {key}"))
                if key == "zstd" and i == 0:
                    stored = sum(os.path.getsize(os.path.join(d, f))
                                 for d, _, fs in os.walk(os.path.join(mirror, "data")) for f in fs)
                    sec.fact("zstd-3 stored size (logferry)",
                             f"{human_bytes(stored)} of {human_bytes(total)} "
                             f"({total / stored:.2f}x)")
                if i == 0:
                    plaintext[key] = self.plaintext_in(mirror, names, probes)
                    if key in ("enc", "zstd_enc"):
                        stored = sum(os.path.getsize(os.path.join(d, f))
                                     for d, _, fs in os.walk(mirror) for f in fs)
                        stored_enc[key] = (stored, count_files(mirror))
                self.rm(mirror, state)
                self.sh(["sync"])
            r["sha256sum"].add(self.run(["sha256sum", *paths], stdout=subprocess.DEVNULL))
            r["openssl"].add(self.run(["openssl", "dgst", "-sha256", *paths], stdout=subprocess.DEVNULL))
            if sha_ni:
                r["openssl_nosha"].add(self.run(["openssl", "dgst", "-sha256", *paths],
                                                env=dict(self.env, OPENSSL_ia32cap=":~0x20000000"),
                                                stdout=subprocess.DEVNULL))
            res = self.run([sys.executable, "-c", pyhash, *paths])
            res.secs = float(res.out.split()[-1])  # in-process time, without interpreter start
            r["python"].add(res)
            r["openssl_par"].add(par([["openssl", "dgst", "-sha256", *g] for g in groups if g]))
            tot = Res(0.0, 0, 0.0)
            for p in paths:
                res = self.run(["zstd", "-q", "-3", "-T1", "-c", p], stdout=subprocess.DEVNULL)
                tot.secs, tot.cpu, tot.rss = tot.secs + res.secs, tot.cpu + res.cpu, max(tot.rss, res.rss)
            r["zstd_cli"].add(tot)
            r["zstd_par"].add(par([["zstd", "-q", "-3", "-T1", "-c", *g] for g in groups if g]))
            if chacha:
                tot = Res(0.0, 0, 0.0)
                for p in paths:
                    res = self.run(["openssl", "enc", "-chacha20", *chacha_args, "-in", p,
                                    "-out", "/dev/null"])
                    tot.secs, tot.cpu, tot.rss = tot.secs + res.secs, tot.cpu + res.cpu, max(tot.rss, res.rss)
                r["chacha"].add(tot)
                loop = ('for f; do openssl enc -chacha20 ' + " ".join(chacha_args)
                        + ' -in "$f" -out /dev/null || exit 1; done')
                r["chacha_par"].add(par([["sh", "-c", loop, "sh", *g] for g in groups if g]))
            log("    " + ", ".join(f"{k} {v.secs[-1]:.2f} s" for k, v in r.items()))
        sec.ratio("logferry plain GiB/s ÷ openssl sha256 GiB/s (1 process)",
                  r["plain"].gibps, r["openssl"].gibps,
                  f"logferry hashes on every core ({n}, hash_workers), so > 1 is possible")
        sec.ratio(f"logferry plain GiB/s ÷ openssl sha256 GiB/s ({n} processes)",
                  r["plain"].gibps, r["openssl_par"].gibps, "all cores hashing: the real floor")
        sec.ratio("logferry zstd GiB/s ÷ zstd CLI GiB/s (-T1, 1 process)",
                  r["zstd"].gibps, r["zstd_cli"].gibps,
                  f"logferry compresses on every core ({n}, hash_workers)")
        sec.ratio(f"logferry zstd GiB/s ÷ zstd CLI GiB/s ({n} processes)",
                  r["zstd"].gibps, r["zstd_par"].gibps, "all cores compressing")
        cpu = lambda k: statistics.median(r[k].cpu) if r[k].cpu else None  # noqa: E731
        sec.ratio("logferry encrypted / plain (GiB/s)", r["enc"].gibps, r["plain"].gibps,
                  "what age encryption keeps of the plain rate (1 = free)")
        sec.ratio("logferry zstd-3 + encrypted / zstd-3 (GiB/s)", r["zstd_enc"].gibps,
                  r["zstd"].gibps, "what age encryption keeps of the compressed rate")
        sec.ratio("logferry encrypted / plain (CPU s)", cpu("enc"), cpu("plain"),
                  "CPU time with encryption against without")
        sec.ratio("logferry zstd-3 + encrypted / zstd-3 (CPU s)", cpu("zstd_enc"), cpu("zstd"),
                  "CPU time with encryption against without (it encrypts the compressed bytes)")
        if chacha:
            sec.ratio(f"logferry encrypted GiB/s ÷ openssl chacha20 GiB/s ({n} processes)",
                      r["enc"].gibps, r["chacha_par"].gibps,
                      "all cores encrypting (openssl: no MAC, no hashing, no writes)")
        for key in ("enc", "zstd_enc"):
            if key in stored_enc:
                stored, nobj = stored_enc[key]
                sec.fact(f"{r[key].label}: mirror size",
                         f"{human_bytes(stored)} in {nobj} objects for {human_bytes(total)} "
                         f"({stored / total:.3f} of the source)")
        def shown(key):
            hits = plaintext.get(key)
            if hits is None:
                return "not checked"
            if not hits:
                return "none"
            return f"{len(hits)} objects (e.g. {hits[0]})"
        sec.fact("plaintext in the mirror (file names in object paths, or `app.log.` or the "
                 "first file's first line in any object's bytes; after run 1 of each)",
                 "; ".join(f"{k}: {shown(k)}" for k in ("plain", "zstd", "enc", "zstd_enc"))
                 + ". plain and zstd show them (the check works); the encrypted runs must not")
        sec.fact("data", f"{count} files, {human_bytes(total)} of log text, page cache warm; "
                         f"the mirror is deleted and `sync`ed after each logferry run")
        flags = "yes" if sha_ni else "no"
        sec.fact("SHA-NI", f"CPU has sha_ni: {flags}. openssl uses it when present (see the "
                           "masked row); python's hashlib is OpenSSL-backed "
                           "(`_hashlib`) so uses it too; coreutils sha256sum here is its own "
                           "portable C (not linked to libcrypto): no SHA-NI; logferry's `sha2` "
                           "crate detects SHA-NI at run time")
        self.rm(base)
        return sec

    @staticmethod
    def plaintext_in(top, names, probes):
        """The files under top whose path holds one of names, or whose bytes hold one of
        probes (read in 1 MiB blocks with an overlap); relative paths, sorted."""
        hits = []
        keep = max(len(p) for p in probes) - 1
        for d, _, fs in os.walk(top):
            for f in fs:
                p = os.path.join(d, f)
                rel = os.path.relpath(p, top)
                if any(nm in rel for nm in names):
                    hits.append(rel)
                    continue
                tail = b""
                with open(p, "rb", buffering=0) as fh:
                    while True:
                        b = fh.read(MiB)
                        if not b:
                            break
                        buf = tail + b
                        if any(pr in buf for pr in probes):
                            hits.append(rel)
                            break
                        tail = buf[-keep:] if keep else b""
        return sorted(hits)

    def section_s3(self):
        sec = Section("s3", "upload to SeaweedFS (scripts/testbed) against rclone")
        tb = self.start_testbed()
        bucket = tb["TESTBED_S3_BUCKET"]
        base = os.path.join(self.work, "s3")
        small = os.path.join(base, "small")
        big = os.path.join(base, "big")
        nsmall = self.n(10_000, 50)
        log(f"s3: generating {nsmall:,} small files")
        small_bytes = self.gen_small_tree(small, nsmall, max(2, min(10, round(10 * self.scale))), seed=11)
        each = max(64 * KiB, round(512 * MiB * self.scale))
        log(f"s3: generating 4 x {human_bytes(each)}")
        self.gen_big_files(big, 4, each, seed=9000, name="db-{i}.log")
        big_bytes = 4 * each
        run_id = f"bench-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        opts = {
            "aws_endpoint": tb["TESTBED_S3_ENDPOINT"],
            "aws_access_key_id": tb["TESTBED_S3_ACCESS_KEY"],
            "aws_secret_access_key": tb["TESTBED_S3_SECRET_KEY"],
            "aws_region": "us-east-1",
            "aws_allow_http": True,
            "aws_virtual_hosted_style_request": False,
        }
        rows = {
            "lf_small": sec.row("logferry → S3, small files", nbytes=small_bytes, nfiles=nsmall),
            "rc_small": sec.row("rclone copy → S3, small files", nbytes=small_bytes, nfiles=nsmall),
            "lf_big": sec.row(f"logferry → S3, 4 x {human_bytes(each)}", nbytes=big_bytes),
            "rc_big": sec.row(f"rclone copy → S3, 4 x {human_bytes(each)}", nbytes=big_bytes),
        }
        for i in range(self.runs):
            log(f"s3: run {i + 1}/{self.runs}")
            for kind, src, nf in (("small", small, nsmall), ("big", big, 4)):
                prefix = f"{run_id}/lf-{kind}-{i}"
                self.s3_prefixes.append(prefix)
                state = os.path.join(base, f"state-{kind}-{i}")
                cfg = self.lf_config(f"s3-{kind}-{i}", state=state,
                                     url=f"s3://{bucket}/{prefix}", src=src, options=opts)
                rows[f"lf_{kind}"].add(self.logferry(cfg, rf"^archived {nf} files", f"logferry {kind}"))
                self.rm(state)
                prefix = f"{run_id}/rc-{kind}-{i}"
                self.s3_prefixes.append(prefix)
                res = self.rclone("copy", src, f"t:{bucket}/{prefix}")
                rows[f"rc_{kind}"].add(res)
                log(f"    rclone {kind}: {res.brief()}")
            t = time.monotonic()
            self.s3_cleanup()
            log(f"    deleted this run's objects ({time.monotonic() - t:.1f} s, untimed)")
        bound = RSS_CONSTANT + 4 * MULTIPART_THRESHOLD
        peak = max(rows["lf_big"].rss) * KiB
        sec.fact("logferry peak RSS, big files", f"{human_bytes(peak)} (bound {human_bytes(bound)}: "
                 f"{'within' if peak <= bound else 'OVER'})")
        sec.ratio("rclone / logferry, small files", rows["rc_small"], rows["lf_small"],
                  "higher: logferry faster")
        sec.ratio("rclone / logferry, big files", rows["rc_big"], rows["lf_big"],
                  "higher: logferry faster")
        sec.fact("server", f"SeaweedFS at {tb['TESTBED_S3_ENDPOINT']} on this machine (shares "
                           f"the {self.nproc} cores), a unique prefix per run and tool")
        sec.fact("settings", f"logferry defaults (hash_workers {os.cpu_count()}, requests_in_flight 32, part_size "
                             f"{PART_SIZE // MiB} MiB); rclone defaults (--transfers 4, --checkers 8, "
                             "5 MiB chunks, 4 per file, multipart from 200 MiB; it MD5s a big "
                             "file before uploading it), --retries 1 --low-level-retries 1")
        self.rm(base)
        return sec

    def s3_cleanup(self):
        # Deletes every object; SeaweedFS's filer still shows the emptied prefixes as
        # (object-less) common prefixes in delimiter listings.
        while self.s3_prefixes:
            self.s3_delete(self.s3_prefixes[-1])
            self.s3_prefixes.pop()
        self.s3_vacuum()

    def s3_vacuum(self):
        """SeaweedFS keeps deleted objects' bytes in its volume files until a vacuum: a
        wan run writes ~25 GB, so without one the disk fills within the section."""
        with open(os.path.join(REPO, ".testbed", "weed.port")) as f:
            master = f.read().split()[1]
        weed = os.path.join(REPO, ".testbed", "weed", "bin", "weed")
        script = os.path.join(self.work, "weed-vacuum.txt")
        with open(script, "w") as f:
            f.write("lock\nvolume.vacuum -garbageThreshold 0.0001\nunlock\n")
        with open(script) as f:
            self.sh([weed, "shell", f"-master=127.0.0.1:{master}"], cwd=REPO, stdin=f)

    def section_rss(self):
        sec = Section("rss", "peak RSS of one pass, one big and one tiny file, local mirror")
        base = os.path.join(self.work, "rss")
        size = max(64 * KiB, round(4 * GiB * self.scale))
        big_src, tiny_src = os.path.join(base, "big"), os.path.join(base, "tiny")
        log(f"rss: generating 1 x {human_bytes(size)}")
        self.gen_big_files(big_src, 1, size, seed=31, name="huge.log")
        os.makedirs(tiny_src)
        with open(os.path.join(tiny_src, "tiny.log"), "w") as f:
            f.write(_exact_text(random.Random(5), 1.79e9, 4 * KiB))
        mt = (int(time.time()) - 3600) * 1_000_000_000
        os.utime(os.path.join(tiny_src, "tiny.log"), ns=(mt, mt))
        bound = RSS_CONSTANT + 4 * MULTIPART_THRESHOLD
        rows = {
            "big": sec.row(f"logferry, 1 file of {human_bytes(size)}", nbytes=size),
            "tiny": sec.row("logferry, 1 file of 4 KiB"),
        }
        mirror, state = os.path.join(base, "mirror"), os.path.join(base, "state")
        for i in range(self.runs):
            log(f"rss: run {i + 1}/{self.runs}")
            for k, src in (("big", big_src), ("tiny", tiny_src)):
                cfg = self.lf_config(f"rss-{k}", state=state, url=mirror, src=src,
                                     top={"multipart_threshold": f"{MULTIPART_THRESHOLD // MiB}MiB",
                                          "part_size": f"{PART_SIZE // MiB}MiB"})
                rows[k].add(self.logferry(cfg, r"^archived 1 files", f"logferry {k}"))
                self.rm(mirror, state)
                self.sh(["sync"])
        for k in ("big", "tiny"):
            peak = max(rows[k].rss) * KiB
            sec.ratio(f"peak RSS / bound, {k} (max of runs)", peak, bound,
                      f"{human_bytes(peak)} vs {human_bytes(bound)}: "
                      f"{'within' if peak <= bound else 'OVER'} the bound")
        sec.fact("bound", f"{BOUND_TEXT} = {human_bytes(bound)} (the defaults, set "
                          "explicitly in the config)")
        self.rm(base)
        return sec

    def section_history(self):
        sec = Section("history", "the catalog at any age: rebuild, passes, fetch and restore "
                                 "as the archive grows")
        sizes = sorted({self.n(1000, 100), self.n(100_000, 1000), self.n(1_000_000, 10_000)})
        real_max = self.n(100_000, 1000)  # larger archives are written synthetically
        env = self.s3_env()
        passes, reads = [], []
        for n in sizes:
            t = time.monotonic()
            self.history_size(sec, n, n > real_max, env, passes, reads)
            log(f"history: {n:,} entries done in {time.monotonic() - t:.0f} s")
        mib = lambda row: f"{max(row.rss) / 1024:.0f}" if row and row.rss else ""  # noqa: E731
        med = lambda row: fmt_s(row.median) if row else ""  # noqa: E731
        sec.table("passes, side by side (median s; peak RSS in MiB, max of runs)",
                  ["entries", "made by", "bulk pass s", "bulk RSS", "migration s",
                   "migration RSS", f"pass +{HISTORY_PASS_FILES} s (build)", "rebuild s",
                   "rebuild RSS", "no-op s", "no-op RSS", "+10 files s", "+10 files RSS",
                   "state dir"],
                  [[f"{p['entries']:,}", p["how"], med(p["bulk"]), mib(p["bulk"]),
                    med(p["migration"]), mib(p["migration"]), med(p["build"]),
                    med(p["rebuild"]), mib(p["rebuild"]), med(p["noop"]), mib(p["noop"]),
                    med(p["add10"]), mib(p["add10"]), p["state"]]
                   for p in passes], ["r", "l"] + ["r"] * 12)
        sec.table("reads with an empty state dir, side by side (requests per command; "
                  "median s; ms added/req = (time +20 ms/req - direct) / requests; peak RSS "
                  "max of runs)",
                  ["entries", "file", "command", "requests", "direct s", "+20 ms/req s",
                   "ms added/req", "peak RSS MiB"],
                  reads, ["r", "l", "l"] + ["r"] * 5)
        bound = RSS_CONSTANT + 4 * MULTIPART_THRESHOLD
        sec.fact("bound", f"{BOUND_TEXT} = {human_bytes(bound)} (README \"Memory and tuning\"; it "
                          "covers files in flight, the index is extra)")
        sec.fact("archive", f"N entries, then {HISTORY_PASSES} real passes of "
                            f"{HISTORY_PASS_FILES} new small files each (each a generation; the "
                            "runs fold 8 at a time, so folds exist). Up to "
                            f"{real_max:,} entries the N files are made and archived by one real "
                            "pass (the bulk pass: empty state, empty mirror), then deleted "
                            "locally as logrotate would; above, generation 1 is a real pass of "
                            f"{HISTORY_SEED_FILES} files, rewritten as format 2, then a synthetic "
                            f"format-2 full checkpoint (generation 2) and {HISTORY_V2_DELTAS} "
                            "synthetic format-2 deltas (entries whose objects do not exist), and the "
                            "first real pass on that (the migration pass, empty state dir) writes a "
                            "format-3 checkpoint and the version record of every entry; the other "
                            "figures are measured after it")
        sec.fact("measurements", "rebuild: state dir deleted, a pass with nothing new (it loads "
                                 "the archive from the mirror and rehashes the "
                                 f"{HISTORY_PASSES * HISTORY_PASS_FILES} recent local files); "
                                 "no-op: the same with the state warm; +10 files: a pass archiving "
                                 "10 new files (a new generation each run); reads: "
                                 "`logferry fetch NAME DEST`, `logferry restore NAME --to DIR` "
                                 "(when the build has it: from the version records) and "
                                 "`logferry restore --to DIR --include NAME` (a glob on the "
                                 "latest index, which it loads whole) with an empty state dir, "
                                 "through the bench's "
                                 "read-only S3 endpoint serving the mirror, direct and through the "
                                 "proxy adding 20 ms per request (see the fetch section), of an old "
                                 "file (archived by the bulk pass / generation 1, in the checkpoint) "
                                 "and a recent one (archived by the middle one of the real passes, "
                                 "in a run); the fetched bytes are checked against the file's sha256")
        tmpfs = self.history_work and self.history_work.startswith("/dev/shm")
        sec.fact("file system", "mirror, sources and state dirs on a tmpfs (/dev/shm), so that "
                 "the figures are logferry's work, not this disk's (ext4 with `discard`: "
                 "deleting the archives' small files takes ~4 ms each)" if tmpfs else
                 f"mirror, sources and state dirs in {self.history_work}")
        return sec

    def history_base(self):
        """Where the history section works: --history-dir, else /dev/shm when it is a tmpfs
        with room for the largest archive (its mirror holds one version record per entry,
        and deleting a million small files that were written back to this machine's ext4,
        mounted with `discard`, takes about 4 ms each), else the scratch dir."""
        if self.history_work:
            return self.history_work
        need = max(256 * MiB, 8 * GiB * self.n(1_000_000, 10_000) / 1_000_000)
        where = self.args.history_dir
        if where is None:
            try:
                st = os.statvfs("/dev/shm")
                with open("/proc/mounts") as f:
                    tmpfs = any(ln.split()[1:3] == ["/dev/shm", "tmpfs"] for ln in f)
                if tmpfs and st.f_bavail * st.f_frsize >= need:
                    where = "/dev/shm"
            except OSError:
                pass
        if where is None:
            self.history_work = os.path.join(self.work, "history")
            os.makedirs(self.history_work)
            log(f"  history: working in the scratch dir (no tmpfs with {human_bytes(need)} free)")
        else:
            os.makedirs(where, exist_ok=True)
            self.history_work = tempfile.mkdtemp(prefix="logferry-bench-history-", dir=where)
            log(f"  history: working in {self.history_work}")
        return self.history_work

    def history_size(self, sec, n, synthetic, env, passes, reads):
        """One archive size of the history section: builds it, measures, removes it."""
        base = os.path.join(self.history_base(), f"n{n}")
        src = os.path.join(base, "src")
        mirror, state = os.path.join(base, "mirror"), os.path.join(base, "state")
        mdir = os.path.join(mirror, "manifests")
        cfg = self.lf_config(f"history-{n}", state=state, url=mirror, src=src)
        tag = f"{n:,} entries"
        rng = random.Random(n)
        fig = {"entries": None, "how": "", "bulk": None, "build": None, "migration": None,
               "rebuild": None, "noop": None, "add10": None, "state": ""}
        targets = []  # (label, name, sha256)
        bound = RSS_CONSTANT + 4 * MULTIPART_THRESHOLD

        def sha_of(path):
            with open(path, "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()

        bulk = os.path.join(src, "bulk")
        nbulk = HISTORY_SEED_FILES if synthetic else n
        log(f"history: {tag} ({'synthetic, migrated' if synthetic else 'real passes'})")
        self.gen_small_tree(bulk, nbulk, max(1, min(100, nbulk // 1000)), seed=21 + n)
        old = os.path.join(bulk, "svc-000", "app-000.log.00000")
        targets.append(("old", os.path.basename(old), sha_of(old)))
        row = sec.row(f"{tag}: bulk pass, {nbulk:,} small files into an empty mirror "
                      f"(empty state)", nfiles=nbulk)
        row.add(self.logferry(cfg, rf"^archived {nbulk} files", f"bulk pass ({nbulk:,} files)"))
        if not synthetic:
            fig["bulk"] = row
            fig["how"] = "real passes"
            peak = max(row.rss) * KiB
            sec.ratio(f"{tag}: peak RSS of the bulk pass / bound", peak, bound,
                      f"first archive of {nbulk:,} small files: {human_bytes(peak)} vs "
                      f"{human_bytes(bound)}: {'within' if peak <= bound else 'OVER'} the bound")
        self.rm(bulk)  # rotated away locally; the archive keeps them

        def add_files(d, count, what):
            os.makedirs(d)
            mt = (int(time.time()) - 3600) * 1_000_000_000
            shas = {}
            for k in range(count):
                nm = f"{os.path.basename(d)}-{k}.log"
                p = os.path.join(d, nm)
                with open(p, "w") as f:
                    f.write(_exact_text(rng, 1.8e9 + rng.random() * 1e7, rng.randint(KiB, 4 * KiB)))
                os.utime(p, ns=(mt, mt))
                shas[nm] = sha_of(p)
            res = self.logferry(cfg, rf"^archived {count} files", what)
            return res, shas

        first_pass = 0
        if synthetic:
            fig["how"] = "synthetic + migration"
            g1 = self.as_format2(mirror, nbulk)
            self.rm(state)
            t = time.monotonic()
            cpath = os.path.join(mdir, "00000000000000000002.json")
            write_synthetic_checkpoint(cpath, g1, n - nbulk)
            write_synthetic_deltas(mdir, g1, 0, HISTORY_V2_DELTAS)
            log(f"  wrote a format-2 checkpoint of {n:,} entries ({human_bytes(os.path.getsize(cpath))}) "
                f"and {HISTORY_V2_DELTAS} format-2 deltas ({time.monotonic() - t:.1f} s)")
            row = sec.row(f"{tag}: migration pass, first on the format-2 archive (empty state), "
                          f"+{HISTORY_PASS_FILES} files", nfiles=HISTORY_PASS_FILES)
            res, shas = add_files(os.path.join(src, "recent", "p00"), HISTORY_PASS_FILES,
                                  "migration pass")
            row.add(res)
            fig["migration"] = row
            newest = sorted(os.listdir(mdir))[-1]
            desc = manifest_desc(os.path.join(mdir, newest))
            nrec = count_files(os.path.join(mirror, "catalog", "names"))
            total = n + HISTORY_V2_DELTAS + HISTORY_PASS_FILES
            row.note = f"wrote {newest}: {desc}; {nrec:,} version records"
            sec.fact(f"{tag}: migration pass", f"{res.brief()}; wrote {newest} ({desc}), "
                                               f"{nrec:,} version records for {total:,} entries; "
                                               f"catalog/: {catalog_desc(os.path.join(mirror, 'catalog'))}")
            if nrec != total:
                sec.notes.append(f"{tag}: the migration pass left {nrec:,} version records for "
                                 f"{total:,} entries")
            first_pass = 1
        build = sec.row(f"{tag}: pass adding {HISTORY_PASS_FILES} files (the build's "
                        f"{HISTORY_PASSES - first_pass} passes)", nfiles=HISTORY_PASS_FILES)
        t = time.monotonic()
        mid = HISTORY_PASSES // 2
        for i in range(first_pass, HISTORY_PASSES):
            res, shas = add_files(os.path.join(src, "recent", f"p{i:02d}"), HISTORY_PASS_FILES,
                                  f"build pass {i + 1}/{HISTORY_PASSES}")
            build.add(res)
            if i == mid:
                nm = sorted(shas)[0]
                targets.append(("recent", nm, shas[nm]))
        fig["build"] = build
        log(f"  {HISTORY_PASSES - first_pass} build passes in {time.monotonic() - t:.1f} s")
        entries = n + HISTORY_PASSES * HISTORY_PASS_FILES + (HISTORY_V2_DELTAS if synthetic else 0)
        fig["entries"] = entries

        rebuild = sec.row(f"{tag}: rebuild (state dir deleted; nothing new)",
                          nfiles=HISTORY_PASSES * HISTORY_PASS_FILES)
        for i in range(self.runs):
            self.rm(state)
            self.sh(["sync"])
            rebuild.add(self.logferry(cfg, r"^nothing new", f"rebuild {i + 1}/{self.runs}"))
        fig["rebuild"] = rebuild
        ssize = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(state) for f in fs)
        fig["state"] = human_bytes(ssize)
        noop = sec.row(f"{tag}: no-op pass (state warm)", nfiles=HISTORY_PASSES * HISTORY_PASS_FILES)
        self.logferry(cfg, r"^nothing new", "warm-up")
        for i in range(self.runs):
            noop.add(self.logferry(cfg, r"^nothing new", f"no-op {i + 1}/{self.runs}"))
        fig["noop"] = noop
        add10 = sec.row(f"{tag}: pass adding 10 files", nfiles=10)
        for i in range(self.runs):
            res, _ = add_files(os.path.join(src, f"new-{i}"), 10, f"+10 files {i + 1}/{self.runs}")
            add10.add(res)
            newest = sorted(os.listdir(mdir))[-1]
            add10.note = f"wrote {newest}: {manifest_desc(os.path.join(mdir, newest))}"
        fig["add10"] = add10
        entries += 10 * self.runs
        gens = len([x for x in os.listdir(mdir) if x.split(".")[0].isdigit()])
        ckpts = sum(1 for x in sorted(os.listdir(mdir))
                    if x.endswith(".json") and manifest_kind(os.path.join(mdir, x)) == "full")
        sec.fact(f"{tag}: archive measured", f"{entries - 10 * self.runs:,} entries before the "
                 f"+10 runs; after them {gens} generations ({ckpts} full); catalog/: "
                 f"{catalog_desc(os.path.join(mirror, 'catalog'))}; "
                 f"state dir after a rebuild {human_bytes(ssize)}")

        reader = S3Reader(mirror)
        proxy = DelayProxy(reader.port, 0.020)
        cmds = ("fetch", "restore-name", "restore") if self.restore_takes_name() \
            else ("fetch", "restore")
        titles = {"fetch": "fetch NAME", "restore": "restore --include NAME",
                  "restore-name": "restore NAME"}
        try:
            for which, name, sha in targets:
                r = self.read_case(sec, f"{tag}, {which} file {name}", name, sha, reader, proxy,
                                   base, src, env, cmds=cmds)
                for cmd in cmds:
                    rows = (r["rows"][(cmd, False)], r["rows"][(cmd, True)])
                    reads.append([f"{n:,}", f"{which} ({name})", titles[cmd],
                                  f"{r['reqs'][cmd]} ({r['brk'][cmd]})", fmt_s(rows[0].median),
                                  fmt_s(rows[1].median), r["per"](cmd),
                                  f"{max(rows[0].rss + rows[1].rss) / 1024:.0f}"])
                    if cmd != "restore" and r["reqs"][cmd] > 3:
                        sec.notes.append(f"{tag}: `{titles[cmd]}` of the {which} file made "
                                         f"{r['reqs'][cmd]} requests ({r['brk'][cmd]}), more "
                                         "than the 3 the catalog design aims at")
        finally:
            t = time.monotonic()
            proxy.close()
            reader.close()
            log(f"  closed the endpoint and proxy ({time.monotonic() - t:.1f} s)")
        if fig["migration"] is not None:
            m = fig["migration"]
            sec.fact(f"{tag}: migration pass peak RSS", f"{human_bytes(max(m.rss) * KiB)} "
                     f"({fmt_s(m.median)} s)")
        passes.append(fig)
        t = time.monotonic()
        self.rm(base)
        log(f"  removed {base} ({time.monotonic() - t:.1f} s)")

    def section_fetch(self):
        sec = Section("fetch", "fetch and restore of one file, fresh host, as the delta chain "
                               "grows; direct and with 20 ms per request")
        delay = 0.020
        base = os.path.join(self.work, "fetch")
        src = os.path.join(base, "src")
        name = "000000010000000000000001"  # a WAL segment name; the one real file
        os.makedirs(src)
        with open(os.path.join(src, name), "w") as f:
            f.write(_exact_text(random.Random(13), 1.8e9, 16 * KiB))
        mt = (int(time.time()) - 3600) * 1_000_000_000
        os.utime(os.path.join(src, name), ns=(mt, mt))
        with open(os.path.join(src, name), "rb") as f:
            want_sha = hashlib.sha256(f.read()).hexdigest()
        sizes = sorted({self.n(1000, 100), self.n(100_000, 1000), self.n(1_000_000, 10_000)})
        ds = sorted({self.n(10), self.n(100), self.n(1000)})
        # Every delta count at the smallest archive; the longest chain at the larger ones. A
        # pass writes a checkpoint once the deltas hold max(entries, 1,000) entries, so one
        # file per delta caps the chain at max(entries, 1,000) - 1 deltas.
        cases = {n: sorted({min(d, max(n, 1000) - 1) for d in (ds if n == sizes[0] else ds[-1:])})
                 for n in sizes}
        env = self.s3_env()
        table = []
        for n in sizes:
            mirror = os.path.join(base, f"mirror-{n}")
            state = os.path.join(base, "state")
            log(f"fetch: archive of {n:,} entries")
            cfg = self.lf_config(f"fetch-mirror-{n}", state=state, url=mirror, src=src)
            self.logferry(cfg, r"^archived 1 files", "logferry first archive")
            self.rm(state)
            mdir = os.path.join(mirror, "manifests")
            g1 = self.as_format2(mirror, 1)
            t = time.monotonic()
            cpath = os.path.join(mdir, "00000000000000000002.json")
            write_synthetic_checkpoint(cpath, g1, n - 1)
            csize = os.path.getsize(cpath)
            log(f"  wrote the checkpoint (generation 2): {n:,} entries, {human_bytes(csize)} "
                f"({time.monotonic() - t:.1f} s)")
            reader = S3Reader(mirror)
            proxy = DelayProxy(reader.port, delay)
            try:
                written = 0
                for d in cases[n]:
                    write_synthetic_deltas(mdir, g1, written, d - written)
                    written = d
                    table.append(self.fetch_case(sec, n, d, csize, name, want_sha, reader, proxy,
                                                 base, src, env))
            finally:
                proxy.close()
                reader.close()
            self.rm(mirror)
        sec.table("side by side (requests counted per command; times are medians)",
                  ["deltas", "entries", "checkpoint", "fetch requests", "fetch direct s",
                   "fetch +20 ms/req s", "fetch ms added/req", "restore requests",
                   "restore direct s", "restore +20 ms/req s", "restore ms added/req"],
                  table, ["r"] * 11)
        sec.fact("ms added/req", "(time with 20 ms per request - direct time) / requests: 20 when "
                                 "the requests go one after another, less when they overlap")
        sec.fact("archive", "format 2, as written before format 3 (no version records, no "
                            "runs: the deltas are a chain): "
                            "one real file (16 KiB) archived by a pass (generation 1, rewritten as "
                            "format 2 and its catalog/ objects removed), a synthetic "
                            "full checkpoint of N entries written directly (generation 2, the real "
                            "entry and N-1 entries of objects that do not exist), then D synthetic "
                            "deltas of one entry each (one per WAL segment, as `archived --wait` "
                            "makes them)")
        sec.fact("commands", f"`logferry fetch {name} DEST` and `logferry restore --to DIR "
                             f"--include {name}`, each with an empty state dir (a fresh host); "
                             "the fetched bytes are checked against the file's sha256")
        sec.fact("endpoint", "a read-only S3 endpoint in the bench (Python http.server, path style: "
                             "ListObjectsV2 in pages of 1,000 keys, GET with Range, HEAD) serving the "
                             "mirror directory, because the shared SeaweedFS belongs to other work; "
                             "its own cost is in the direct times")
        sec.fact("20 ms per request", "a TCP forwarder in the bench between logferry and that "
                                      "endpoint: it parses the HTTP requests on each client "
                                      "connection and waits 20 ms before passing each one on "
                                      "(connections stay pooled); requests are counted by the "
                                      "endpoint (list/get/head) and by the forwarder (request lines), "
                                      "and the two counts must agree; the forwarder's own "
                                      "hop and timer add a little over 20 ms (ms added/req)")
        self.rm(base)
        return sec

    def section_wan(self):
        return latency.section_wan(self)

    def section_wal(self):
        return latency.section_wal(self)

    def s3_env(self):
        """The environment for logferry against the bench's own endpoint: no proxies."""
        env = {k: v for k, v in self.env.items()
               if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
               and not k.startswith("AWS_")}
        env["NO_PROXY"] = env["no_proxy"] = "*"
        return env

    def as_format2(self, mirror, nentries):
        """Makes the archive of one real pass (generation 1, a full checkpoint of nentries)
        look written before format 3: version 2, no catalog/ objects; returns generation 1
        (for write_synthetic_checkpoint / write_synthetic_deltas, which write its version)."""
        mdir = os.path.join(mirror, "manifests")
        names = sorted(os.listdir(mdir))
        if names != ["00000000000000000001.json"]:
            raise BenchError(f"expected one manifest 00000000000000000001.json in {mdir}, "
                             f"found {names} (manifest layout changed? update benches/run.py)")
        g1path = os.path.join(mdir, names[0])
        with open(g1path) as f:
            g1 = json.load(f)
        if g1.get("kind") != "full" or len(g1.get("entries", [])) != nentries:
            raise BenchError(f"unexpected generation 1: kind {g1.get('kind')}, "
                             f"{len(g1.get('entries', []))} entries")
        g1["version"] = 2
        g1.pop("runs", None)
        with open(g1path, "w") as f:
            json.dump(g1, f, separators=(",", ":"))
        self.rm(os.path.join(mirror, "catalog"))
        return g1

    def fetch_case(self, sec, n, d, csize, name, want_sha, reader, proxy, base, src, env):
        label = f"{d:,} delta{'s' if d != 1 else ''}, {n:,} entries"
        r = self.read_case(sec, label, name, want_sha, reader, proxy, base, src, env)
        rows, reqs, per = r["rows"], r["reqs"], r["per"]
        return [f"{d:,}", f"{n:,}", human_bytes(csize), reqs["fetch"],
                fmt_s(rows[("fetch", False)].median), fmt_s(rows[("fetch", True)].median),
                per("fetch"), reqs["restore"], fmt_s(rows[("restore", False)].median),
                fmt_s(rows[("restore", True)].median), per("restore")]

    def restore_takes_name(self):
        """Whether this build has `restore NAME` (one file from its version records)."""
        if not hasattr(self, "_restore_name"):
            p = subprocess.run([BIN, "restore", "--help"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=self.env)
            self._restore_name = "[NAME]" in p.stdout.decode(errors="replace")
        return self._restore_name

    def read_case(self, sec, label, name, want_sha, reader, proxy, base, src, env,
                  cmds=("fetch", "restore")):
        """`fetch NAME`, `restore --include NAME` ("restore") and `restore NAME`
        ("restore-name"), those of cmds, with an empty state dir, direct and through the
        delay proxy, --runs times each; returns the rows, the requests per command (of
        the last run), their breakdown and the ms added per request."""
        titles = {"fetch": "fetch", "restore": "restore --include",
                  "restore-name": "restore NAME"}
        rows = {(cmd, via): sec.row(f"{titles[cmd]} {'+20 ms/req' if via else 'direct'}, {label}")
                for cmd in cmds for via in (False, True)}
        reqs, brks = {}, {}
        for i in range(self.runs):
            for cmd in cmds:
                for via in (False, True):
                    ep = proxy.endpoint if via else reader.endpoint
                    state = os.path.join(base, "state-empty")
                    out = os.path.join(base, "out")
                    self.rm(state, out)
                    cfg = self.lf_config("fetch-s3", state=state, url="s3://bench", src=src, options={
                        "aws_endpoint": ep, "aws_access_key_id": "bench",
                        "aws_secret_access_key": "bench-secret", "aws_region": "us-east-1",
                        "aws_allow_http": True, "aws_virtual_hosted_style_request": False})
                    if cmd == "fetch":
                        argv = [BIN, "--config", cfg, "fetch", name, out]
                        got = out
                    elif cmd == "restore":
                        argv = [BIN, "--config", cfg, "restore", "--to", out, "--include", name]
                        got = None
                    else:
                        argv = [BIN, "--config", cfg, "restore", name, "--to", out]
                        got = None
                    reader.take_counts()
                    proxy.take_requests()
                    res = self.run(argv, env=env)
                    counts, seen = reader.take_counts(), proxy.take_requests()
                    total = sum(counts.values())
                    if via and seen != total:
                        raise BenchError(f"{cmd}: the proxy saw {seen} requests, the endpoint "
                                         f"answered {total}")
                    if cmd != "fetch":  # wherever restore puts it (<dir>/<source>/...)
                        found = [os.path.join(dp, f) for dp, _, fs in os.walk(out) for f in fs]
                        got = found[0] if len(found) == 1 else got
                    try:
                        with open(got, "rb") as f:
                            ok = hashlib.sha256(f.read()).hexdigest() == want_sha
                    except (OSError, TypeError):
                        ok = False
                    if not ok:
                        raise CommandFailed(argv, 0, res.out, res.err,
                                            why=f"{cmd} did not write {name} with its content")
                    rows[(cmd, via)].add(res)
                    brk = ", ".join(f"{counts[k]} {k}" for k in ("list", "get", "head", "other")
                                    if counts.get(k))
                    rows[(cmd, via)].note = f"{total} requests ({brk})"
                    reqs[cmd], brks[cmd] = total, brk
                    log(f"    {titles[cmd]} {'+20 ms' if via else 'direct'}, {label}: {res.brief()}, "
                        f"{total} requests ({brk})")
        self.rm(os.path.join(base, "state-empty"), os.path.join(base, "out"))
        def per(cmd):
            """ms added per request, or "noise" when the direct times alone spread wider
            than what the delay added (a long load, where 20 ms per request is lost)."""
            direct, delayed = rows[(cmd, False)], rows[(cmd, True)]
            added = delayed.median - direct.median
            if not reqs[cmd]:
                return ""
            if added < 0 or (len(direct.secs) > 1 and max(direct.secs) - min(direct.secs) > added):
                return "noise"
            return fmt_num(1000 * added / reqs[cmd], 2)
        return {"rows": rows, "reqs": reqs, "brk": brks, "per": per}

    # ---- driver

    def header(self):
        def version(cmd):
            try:
                out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=self.rclone_env).stdout.decode(errors="replace")
                first = out.strip().splitlines()[0] if out.strip() else "?"
                return " ".join(first.replace("*", "").split())
            except OSError:
                return "not installed"
        cpu = "?"
        try:
            with open("/proc/cpuinfo") as f:
                cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
        except OSError:
            pass
        try:
            commit = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode().strip()
        except OSError:
            commit = "?"
        return [
            ("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
            ("logferry", f"{commit} (target/release/logferry)"),
            ("machine", f"{cpu}, {self.nproc} cores, {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') // GiB} GiB RAM, "
                        f"Linux {platform.release()}"),
            ("scale / runs", f"--scale {self.scale} --runs {self.runs} (medians of {self.runs})"),
            ("tools", "; ".join(version(c) for c in (["rsync", "--version"], ["rclone", "version"],
                                                     ["zstd", "--version"], ["openssl", "version"],
                                                     ["sha256sum", "--version"]))),
            ("scratch", self.work),
        ]

    def main(self):
        log(f"scratch dir {self.work}")
        self.ensure_tools()
        self.build()
        hdr = self.header()
        for k, v in hdr:
            log(f"{k}: {v}")
        for name in SECTIONS:
            if name not in self.only:
                continue
            t = time.monotonic()
            log(f"=== section {name}")
            sec = getattr(self, f"section_{name}")()
            log(f"=== section {name} done in {time.monotonic() - t:.0f} s")
            sec.print_text()
            self.sections.append(sec)
        total = time.monotonic() - T0
        print("\n\n----- BEGIN Markdown for BENCHMARKS.md -----")
        print("## logferry benchmarks (`python3 benches/run.py`)\n")
        for k, v in hdr:
            if k != "scratch":
                print(f"- {k}: {v}")
        print(f"- whole run: {total / 60:.1f} min\n")
        print("Times are wall-clock medians; peak RSS from `/usr/bin/time -f %M`. "
              "Ratios compare medians taken in the same run.\n")
        for sec in self.sections:
            print(sec.markdown())
            print()
        print("----- END Markdown for BENCHMARKS.md -----")
        log(f"done in {total / 60:.1f} min")

    def cleanup(self):
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
        if self.s3_prefixes and self.testbed:
            log("deleting the S3 objects written by this run")
            try:
                self.s3_cleanup()
            except BenchError as e:
                log(f"WARNING: could not delete S3 prefixes {self.s3_prefixes}: {e}")
        extra = [self.history_work] if self.history_work and \
            not self.history_work.startswith(self.work + os.sep) else []
        for d in [self.work] + extra:
            if self.args.keep:
                log(f"kept the scratch dir {d} (--keep)")
            elif os.path.isdir(d):
                log(f"removing the scratch dir {d}")
                subprocess.run(["rm", "-rf", "--one-file-system", d])


TIME_FORMAT = "%M %U %S"


def read_time_file(path, cmd):
    """(peak RSS KiB, CPU seconds) from /usr/bin/time -f TIME_FORMAT -o path."""
    with open(path) as f:
        lines = [ln for ln in f.read().split("\n") if ln.strip()]
    try:
        rss, user, sys_ = lines[-1].split()
        return int(rss), float(user) + float(sys_)
    except (IndexError, ValueError):
        raise BenchError(f"/usr/bin/time wrote no usage for {shlex.join(cmd)}: {lines}") from None


def count_files(top):
    """Files under top (0 when it does not exist)."""
    return sum(len(fs) for _, _, fs in os.walk(top))


def catalog_desc(top):
    """What a mirror's catalog/ holds: each folder's object count, and its files."""
    if not os.path.isdir(top):
        return "absent"
    out = []
    for x in sorted(os.listdir(top)):
        p = os.path.join(top, x)
        out.append(f"{x}/ {count_files(p):,} objects" if os.path.isdir(p) else x)
    return ", ".join(out) or "empty"


def manifest_kind(path):
    """A manifest's kind, reading only its start (the fields before the entries)."""
    with open(path, "rb") as f:
        head = f.read(4096).decode(errors="replace")
    m = re.search(r'"kind":"(\w+)"', head)
    return m.group(1) if m else None


def manifest_desc(path):
    """Size, format, kind, runs and entries of a manifest file, for a note."""
    size = os.path.getsize(path)
    if not path.endswith(".json"):
        return f"{size:,} bytes (not JSON: {os.path.basename(path)})"
    with open(path) as f:
        g = json.load(f)
    runs = g.get("runs") or []
    return (f"{human_bytes(size)}, format {g.get('version')}, {g.get('kind')}, "
            f"{len(g.get('entries', []))} entries"
            + (f", {len(runs)} runs (levels {','.join(str(r.get('level')) for r in runs)})"
               if runs else ""))


def write_synthetic_checkpoint(path, g1, nsynth):
    """Generation 2 as a full checkpoint: generation 1's entries plus nsynth entries of
    files under old/ that no longer exist locally (their objects do not exist either; no
    pass looks at them, `verify` would report them missing)."""
    now = time.time()
    created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    rng = random.Random(4242)
    source = g1["entries"][0]["source"]
    items = [(e["source"], e["path"], json.dumps(e, separators=(",", ":"))) for e in g1["entries"]]
    mtime0 = 1_700_000_000_000_000_000
    archived = g1["created_at"]
    for i in range(nsynth):
        path_ = f"old/d{i // 1000:04d}/app-{i // 1000:04d}.log.{i % 1000:03d}"
        sha = f"{rng.getrandbits(256):064x}"
        size = 1024 + rng.getrandbits(12)
        items.append((source, path_,
            f'{{"source":"{source}","path":"{path_}","size":{size},"mtime_ns":{mtime0 + i * 60_000_000_000},'
            f'"sha256":"{sha}","key":"data/{source}/{path_}-{sha}","archived_at":"{archived}",'
            f'"generation":1}}'))
    items.sort()  # (source, path) order, as logferry writes them
    parts = [it[2] for it in items]
    head = {"version": g1["version"], "generation": 2, "kind": "full", "base": 2,
            "created_at": created, "report": None}
    body = json.dumps(head, separators=(",", ":"))[:-1] + ',"entries":['
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(body)
        f.write(",".join(parts))
        f.write("]}")
    os.rename(tmp, path)


def write_synthetic_deltas(mdir, g1, done, count):
    """Generations 3 + done .. 2 + done + count as deltas on the checkpoint at generation 2,
    one entry each (a new WAL segment under wal/; its object does not exist)."""
    source = g1["entries"][0]["source"]
    t0 = time.time()
    for k in range(done, done + count):
        gen = 3 + k
        now = t0 + k * 0.001
        created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        path_ = f"wal/00000002{k >> 8:08X}{k & 255:08X}"  # timeline 2: no name clash
        sha = hashlib.sha256(path_.encode()).hexdigest()
        entry = {"source": source, "path": path_, "size": 16 * MiB,
                 "mtime_ns": 1_800_000_000_000_000_000 + k * 60_000_000_000, "sha256": sha,
                 "key": f"data/{source}/{path_}-{sha}", "archived_at": created, "generation": gen}
        g = {"version": g1["version"], "generation": gen, "kind": "delta", "base": 2,
             "created_at": created, "report": None, "entries": [entry]}
        with open(os.path.join(mdir, f"{gen:020d}.json"), "w") as f:
            f.write(json.dumps(g, separators=(",", ":")))


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Sections: " + ", ".join(SECTIONS) + ". See the top of this file for what each measures.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplies file counts and big-file sizes (default 1.0)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per measurement; medians (default 3)")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help="comma-separated sections to run (default: all)")
    ap.add_argument("--workdir", help="where to make the scratch dir (default: the temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch dir")
    ap.add_argument("--history-dir",
                    help="where the history section works (default: /dev/shm when it is a "
                         "tmpfs with room, else the scratch dir)")
    ap.add_argument("--no-build", action="store_true",
                    help="use the existing target/release/logferry instead of building it")
    a = ap.parse_args(argv)
    a.only = [s.strip() for s in a.only.split(",") if s.strip()]
    bad = [s for s in a.only if s not in SECTIONS]
    if bad:
        ap.error(f"unknown section(s) {', '.join(bad)}; choose from {', '.join(SECTIONS)}")
    if a.scale <= 0 or a.runs < 1:
        ap.error("--scale must be > 0 and --runs >= 1")
    return a


def main(argv):
    args = parse_args(argv)
    bench = Bench(args)
    try:
        bench.main()
        return 0
    except BenchError as e:
        log(f"FAILED: {e}")
        if not args.keep:
            log("(rerun with --keep to keep the scratch dir, configs and state for a look)")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        bench.cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
