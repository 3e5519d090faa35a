//! Benchmark for issue 13: SQLite (rusqlite, bundled) vs redb as logferry's local catalog
//! index, which keeps the full history of entries.
//!
//! The parent process runs every case in a child (this binary re-executed with `--case`),
//! so each case starts from a fresh process and reports its own peak RSS (VmHWM).
//! See README.md.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod rdb;
mod sql;

/// One catalog entry, shaped like logferry's.
#[derive(Debug, Clone)]
pub struct Entry {
    pub source: String,
    pub path: String,
    pub name: String,
    pub sha256: [u8; 32],
    pub size: u64,
    pub mtime_ns: i64,
    pub key: String,
    pub compression: &'static str,
    pub stored_size: Option<u64>,
    /// Milliseconds since the epoch.
    pub archived_at: i64,
    pub generation: u64,
}

const T0_MS: i64 = 1_780_000_000_000;
/// Entries per generation (a busy WAL source: ~1,000 per pass).
const PER_GENERATION: u64 = 1000;
/// One entry in this many is a new version of one of HOT_PATHS rewritten logs.
const HOT_EVERY: u64 = 20;
const HOT_PATHS: u64 = 100;

pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn sha_of(seed: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (k, chunk) in out.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&mix(seed.wrapping_mul(4).wrapping_add(k as u64)).to_be_bytes());
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hot_path(k: u64) -> String {
    format!("log/postgresql-{k:02}.log")
}

/// The i-th entry ever recorded: 95% WAL segments archived once each, 5% new versions of
/// 100 rewritten log files (so those have N/2000 versions each).
pub fn entry(i: u64) -> Entry {
    let generation = i / PER_GENERATION + 1;
    let archived_at = T0_MS + generation as i64 * 60_000 + (i % PER_GENERATION) as i64;
    let (path, name, size) = if i % HOT_EVERY == HOT_EVERY - 1 {
        let k = mix(i) % HOT_PATHS;
        let name = format!("postgresql-{k:02}.log");
        (hot_path(k), name, 1_000_000 + mix(i ^ 7) % 1_000_000)
    } else {
        let w = i - i / HOT_EVERY;
        let segno = 0x000A_1BC3u64 + w;
        let name = format!("{:08X}{:08X}{:08X}", 1, segno >> 8, segno & 0xFF);
        (format!("pg_wal/{name}"), name, 16 << 20)
    };
    let sha256 = sha_of(i);
    let key = format!("data/pg/{path}-{}", hex(&sha256));
    Entry {
        source: "pg".to_string(),
        path,
        name,
        sha256,
        size,
        mtime_ns: (archived_at - 30_000) * 1_000_000,
        key,
        compression: "zstd",
        stored_size: Some(size / 3),
        archived_at,
        generation,
    }
}

/// Which engine and settings a case runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Engine {
    Sqlite,
    Redb,
    /// redb with its cache capped at 16 MiB instead of the default 1 GiB.
    RedbSmallCache,
}

impl Engine {
    const ALL: [Engine; 3] = [Engine::Sqlite, Engine::Redb, Engine::RedbSmallCache];

    fn id(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Redb => "redb",
            Engine::RedbSmallCache => "redb16",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite (WAL, sync=FULL)",
            Engine::Redb => "redb (cache 1 GiB default)",
            Engine::RedbSmallCache => "redb (cache 16 MiB)",
        }
    }

    fn parse(s: &str) -> Engine {
        Engine::ALL
            .into_iter()
            .find(|e| e.id() == s)
            .unwrap_or_else(|| panic!("unknown engine {s}"))
    }

    fn file(self, dir: &Path, n: u64) -> PathBuf {
        let ext = if self == Engine::Sqlite {
            "sqlite"
        } else {
            "redb"
        };
        dir.join(format!("catalog-{}-{n}.{ext}", self.id()))
    }
}

/// What a case reports: named values, printed by the child as `name=value` lines.
type Report = Vec<(String, f64)>;

fn vm_hwm_kib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(f64::NAN)
}

/// Drops the file's pages from the OS page cache (clean pages only; no root needed), so an
/// open reads from disk.
fn evict(path: &Path) {
    use std::os::fd::AsRawFd;
    for p in db_files(path) {
        if let Ok(f) = std::fs::File::open(&p) {
            unsafe {
                libc::fdatasync(f.as_raw_fd());
                libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
            }
        }
    }
}

/// Reads the files once so they sit in the OS page cache (a pass a minute after the last
/// one finds them there); the process's own cache still starts empty.
fn warm(path: &Path) {
    for p in db_files(path) {
        let mut f = std::fs::File::open(&p).expect("open db file");
        std::io::copy(&mut f, &mut std::io::sink()).expect("read db file");
    }
}

/// The database file and its side files (SQLite's -wal and -shm).
fn db_files(path: &Path) -> Vec<PathBuf> {
    let mut v = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut s = path.as_os_str().to_owned();
        s.push(suffix);
        let p = PathBuf::from(s);
        if p.exists() {
            v.push(p);
        }
    }
    v
}

fn disk_bytes(path: &Path) -> u64 {
    db_files(path)
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Random indices of existing entries, fixed per size.
fn sample(n: u64, count: usize, salt: u64) -> Vec<u64> {
    (0..count as u64).map(|k| mix(k ^ salt) % n).collect()
}

const LOOKUPS: usize = 1000;
const WINDOWS: usize = 100;
const PASSES: usize = 50;

/// Runs one case in this (child) process.
fn run_case(engine: Engine, op: &str, n: u64, path: &Path) -> Report {
    let mut r: Report = Vec::new();
    match op {
        "load" => {
            for p in db_files(path) {
                let _ = std::fs::remove_file(p);
            }
            let t = monotonic();
            match engine {
                Engine::Sqlite => sql::load(path, n),
                _ => rdb::load(engine, path, n),
            }
            r.push(("secs".into(), t.elapsed().as_secs_f64()));
            r.push(("bytes".into(), disk_bytes(path) as f64));
        }
        "open" => {
            evict(path);
            let t = monotonic();
            match engine {
                Engine::Sqlite => drop(sql::Db::open(path)),
                _ => drop(rdb::Db::open(engine, path)),
            }
            r.push(("secs".into(), t.elapsed().as_secs_f64()));
        }
        "crash" => {
            // Commit one durable pass, then die without closing (as kill -9 would).
            let e: Vec<Entry> = (0..10).map(|k| entry(n + 1_000_000_000 + k)).collect();
            match engine {
                Engine::Sqlite => {
                    let mut db = sql::Db::open(path);
                    db.pass(&e);
                    std::mem::forget(db);
                }
                _ => {
                    let mut db = rdb::Db::open(engine, path);
                    db.pass(&e);
                    std::mem::forget(db);
                }
            }
            unsafe { libc::_exit(0) };
        }
        "pass" => {
            let mut times = Vec::new();
            let mut floor = Vec::new();
            let mut sql_db = None;
            let mut rdb_db = None;
            match engine {
                Engine::Sqlite => sql_db = Some(sql::Db::open(path)),
                _ => rdb_db = Some(rdb::Db::open(engine, path)),
            }
            for p in 0..PASSES as u64 {
                let e: Vec<Entry> = (0..10).map(|k| entry(n + p * 10 + k)).collect();
                let t = monotonic();
                if let Some(db) = sql_db.as_mut() {
                    db.pass(&e);
                }
                if let Some(db) = rdb_db.as_mut() {
                    db.pass(&e);
                }
                times.push(t.elapsed());
                floor.push(fsync_floor(path));
            }
            r.push(("secs".into(), median(times).as_secs_f64()));
            r.push(("fsync_secs".into(), median(floor).as_secs_f64()));
        }
        "lookup" => {
            warm(path);
            let mut q = match engine {
                Engine::Sqlite => Box::new(sql::Db::open(path).reader()) as Box<dyn Queries>,
                _ => Box::new(rdb::Db::open(engine, path).reader()) as Box<dyn Queries>,
            };
            let idx = sample(n, LOOKUPS, 1);
            let probes: Vec<Entry> = idx.iter().map(|&i| entry(i)).collect();
            let t = monotonic();
            for e in &probes {
                assert!(q.latest(&e.source, &e.path).is_some(), "{}", e.path);
            }
            r.push(("latest_us".into(), per(t, LOOKUPS)));
            let t = monotonic();
            for e in &probes {
                assert!(q.latest_by_name(&e.name).is_some(), "{}", e.name);
            }
            r.push(("by_name_us".into(), per(t, LOOKUPS)));
            // Half the content hashes exist, half do not (a new file's content usually does not).
            let shas: Vec<([u8; 32], bool)> = probes
                .iter()
                .enumerate()
                .map(|(k, e)| {
                    if k % 2 == 0 {
                        (e.sha256, true)
                    } else {
                        (sha_of(e.generation + (1 << 40) + k as u64), false)
                    }
                })
                .collect();
            let t = monotonic();
            for (sha, exists) in &shas {
                assert_eq!(q.has_sha(sha), *exists);
            }
            r.push(("sha_us".into(), per(t, LOOKUPS)));
            // History of one rewritten log over the middle half of the archive's time.
            let span = (n / PER_GENERATION + 1) as i64 * 60_000;
            let (since, until) = (T0_MS + span / 4, T0_MS + span * 3 / 4);
            let t = monotonic();
            let mut rows = 0;
            for k in 0..WINDOWS as u64 {
                rows += q.versions("pg", &hot_path(k % HOT_PATHS), since, until);
            }
            r.push(("window_us".into(), per(t, WINDOWS)));
            r.push(("window_rows".into(), rows as f64 / WINDOWS as f64));
        }
        "stream" => {
            warm(path);
            let t = monotonic();
            let (count, total) = match engine {
                Engine::Sqlite => sql::Db::open(path).reader().stream_latest(),
                _ => rdb::Db::open(engine, path).reader().stream_latest(),
            };
            r.push(("secs".into(), t.elapsed().as_secs_f64()));
            r.push(("rows".into(), count as f64));
            r.push(("size_sum".into(), total as f64));
        }
        "noop" => {}
        _ => panic!("unknown op {op}"),
    }
    r.push(("rss_kib".into(), vm_hwm_kib()));
    r
}

/// The disk's floor for a durable commit: write 4 KiB to a file beside the database and
/// fdatasync it (interleaved with the passes, so both see the same disk weather).
fn fsync_floor(path: &Path) -> Duration {
    use std::io::Write;
    let p = path.with_extension("fsync-probe");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&p)
        .expect("probe file");
    let t = monotonic();
    f.write_all(&[0u8; 4096]).expect("write probe");
    f.sync_data().expect("fdatasync probe");
    let d = t.elapsed();
    drop(f);
    let _ = std::fs::remove_file(&p);
    d
}

/// The one place this bench reads the monotonic clock (the crate's house rule, which its
/// clippy.toml enforces, is one such place per program).
#[allow(clippy::disallowed_methods)]
fn monotonic() -> Instant {
    Instant::now()
}

fn per(t: Instant, count: usize) -> f64 {
    t.elapsed().as_secs_f64() * 1e6 / count as f64
}

/// The read queries, over one open read transaction / connection.
pub trait Queries {
    /// Key of the latest entry of (source, path).
    fn latest(&mut self, source: &str, path: &str) -> Option<String>;
    /// Key of the latest entry whose path ends in this file name.
    fn latest_by_name(&mut self, name: &str) -> Option<String>;
    /// Whether any entry references this content.
    fn has_sha(&mut self, sha: &[u8; 32]) -> bool;
    /// All versions of (source, path) archived in [since, until] (full rows read), counted.
    fn versions(&mut self, source: &str, path: &str, since: i64, until: i64) -> usize;
    /// Visits every latest entry in (source, path) order: (count, sum of sizes).
    fn stream_latest(&mut self) -> (u64, u64);
}

fn spawn(engine: Engine, op: &str, n: u64, path: &Path) -> Report {
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new(exe)
        .args(["--case", engine.id(), op, &n.to_string()])
        .arg(path)
        .output()
        .expect("run child");
    if !out.status.success() {
        panic!(
            "case {} {op} {n} failed: {}",
            engine.id(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(f64::NAN)))
        .collect()
}

fn get(r: &Report, k: &str) -> f64 {
    r.iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| *v)
        .unwrap_or(f64::NAN)
}

fn fmt_secs(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

fn fmt_us(us: f64) -> String {
    fmt_secs(us / 1e6)
}

fn fmt_mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--case") {
        let engine = Engine::parse(&args[2]);
        let n: u64 = args[4].parse().expect("n");
        let report = run_case(engine, &args[3], n, Path::new(&args[5]));
        for (k, v) in report {
            println!("{k}={v}");
        }
        return;
    }

    let mut sizes = vec![1_000u64, 100_000, 1_000_000];
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/data");
    let mut engines = Engine::ALL.to_vec();
    let mut keep = false;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sizes" => {
                sizes = it
                    .next()
                    .expect("--sizes N,N,...")
                    .split(',')
                    .map(|s| s.trim().replace('_', "").parse().expect("a size"))
                    .collect()
            }
            "--dir" => dir = PathBuf::from(it.next().expect("--dir PATH")),
            "--engines" => {
                engines = it
                    .next()
                    .expect("--engines sqlite,redb,redb16")
                    .split(',')
                    .map(Engine::parse)
                    .collect()
            }
            "--keep" => keep = true,
            "-h" | "--help" => {
                println!(
                    "usage: catalog-db-bench [--sizes 1000,100000,1000000] [--engines sqlite,redb,redb16] [--dir PATH] [--keep]"
                );
                return;
            }
            other => panic!("unknown argument {other} (try --help)"),
        }
    }
    std::fs::create_dir_all(&dir).expect("create data dir");
    let baseline = get(&spawn(Engine::Sqlite, "noop", 1, &dir), "rss_kib");
    println!("# catalog-db-bench: {}", env!("CARGO_PKG_DESCRIPTION"));
    println!(
        "# rusqlite {} (SQLite {}), redb {}; data dir {}; a child process's RSS before any work: {}",
        sql::RUSQLITE_VERSION,
        rusqlite::version(),
        rdb::REDB_VERSION,
        dir.display(),
        fmt_mib(baseline)
    );
    println!();

    let mut header = "| N | operation |".to_string();
    let mut rule = "|---:|---|".to_string();
    for e in &engines {
        header += &format!(" {} |", e.title());
        rule += "---:|";
    }
    println!("{header}\n{rule}");

    for &n in &sizes {
        let row = |name: &str, cells: Vec<String>| {
            let mut line = format!("| {n} | {name} |");
            for c in &cells {
                line += &format!(" {c} |");
            }
            println!("{line}");
        };
        let mut loads = Vec::new();
        for &e in &engines {
            loads.push(spawn(e, "load", n, &e.file(&dir, n)));
        }
        row(
            "1. bulk load, one transaction: time",
            loads.iter().map(|r| fmt_secs(get(r, "secs"))).collect(),
        );
        row(
            "1. bulk load: peak RSS",
            loads.iter().map(|r| fmt_mib(get(r, "rss_kib"))).collect(),
        );
        row(
            "1. bulk load: file size on disk",
            loads
                .iter()
                .map(|r| {
                    let b = get(r, "bytes");
                    format!("{:.1} MiB ({:.0} B/entry)", b / 1048576.0, b / n as f64)
                })
                .collect(),
        );
        let per_engine = |op: &str| -> Vec<Report> {
            engines
                .iter()
                .map(|&e| spawn(e, op, n, &e.file(&dir, n)))
                .collect()
        };
        let opens = per_engine("open");
        row(
            "2. open cold (pages evicted), clean file",
            opens.iter().map(|r| fmt_secs(get(r, "secs"))).collect(),
        );
        let looks = per_engine("lookup");
        row(
            "4. latest of (source, path), per lookup",
            looks.iter().map(|r| fmt_us(get(r, "latest_us"))).collect(),
        );
        row(
            "4. latest by file name, per lookup",
            looks.iter().map(|r| fmt_us(get(r, "by_name_us"))).collect(),
        );
        row(
            "5. any entry with this sha256 (50% hits), per lookup",
            looks.iter().map(|r| fmt_us(get(r, "sha_us"))).collect(),
        );
        row(
            &format!(
                "6. versions of a path in a window (~{:.0} rows), per query",
                get(&looks[0], "window_rows")
            ),
            looks.iter().map(|r| fmt_us(get(r, "window_us"))).collect(),
        );
        row(
            "4-6. lookups: peak RSS",
            looks.iter().map(|r| fmt_mib(get(r, "rss_kib"))).collect(),
        );
        let streams = per_engine("stream");
        row(
            &format!(
                "7. stream all {:.0} latest in (source, path) order: time",
                get(&streams[0], "rows")
            ),
            streams.iter().map(|r| fmt_secs(get(r, "secs"))).collect(),
        );
        row(
            "7. stream: peak RSS",
            streams.iter().map(|r| fmt_mib(get(r, "rss_kib"))).collect(),
        );
        for (i, r) in streams.iter().enumerate() {
            assert_eq!(
                get(r, "rows"),
                get(&streams[0], "rows"),
                "{}",
                engines[i].id()
            );
        }
        let passes = per_engine("pass");
        row(
            &format!("3. pass: 10 inserts, one durable commit (median of {PASSES})"),
            passes.iter().map(|r| fmt_secs(get(r, "secs"))).collect(),
        );
        row(
            "3. the disk's floor: 4 KiB write + fdatasync, beside each pass (median)",
            passes
                .iter()
                .map(|r| fmt_secs(get(r, "fsync_secs")))
                .collect(),
        );
        let crashed: Vec<Report> = engines
            .iter()
            .map(|&e| {
                let path = e.file(&dir, n);
                spawn(e, "crash", n, &path);
                spawn(e, "open", n, &path)
            })
            .collect();
        row(
            "8. open after a crash (exit without close after a commit)",
            crashed.iter().map(|r| fmt_secs(get(r, "secs"))).collect(),
        );
        row(
            "8. open after a crash: peak RSS",
            crashed.iter().map(|r| fmt_mib(get(r, "rss_kib"))).collect(),
        );
        if !keep {
            for &e in &engines {
                for p in db_files(&e.file(&dir, n)) {
                    let _ = std::fs::remove_file(p);
                }
            }
        }
    }
}
