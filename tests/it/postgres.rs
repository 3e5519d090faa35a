//! A real PostgreSQL (Debian's packages, started here on a Unix socket in a temp dir)
//! archiving its WAL through `logferry archived --wait` with the agent running, then a
//! point-in-time recovery of a base backup with `logferry fetch` as restore_command; and
//! a recovery from S3 that must stop, not promote early, while the destination is down.
//! PostgreSQL refuses to run as root, so the servers and logferry run as `postgres`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::common::{s3_destination_toml, testbed};
use crate::proxy::Proxy;

const BIN: &str = env!("CARGO_BIN_EXE_logferry");

fn pg_bin(tool: &str) -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let version = std::fs::read_dir(root)
        .unwrap_or_else(|_| panic!("PostgreSQL server binaries not found under {}: run the suite with scripts/test, which installs Debian's postgresql", root.display()))
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .max()
        .expect("a PostgreSQL version directory");
    root.join(version.to_string()).join("bin").join(tool)
}

/// Runs a command as the postgres user and returns stdout; panics with stderr on failure.
fn as_postgres(cmd: &[&str]) -> String {
    let o = postgres_command(cmd).output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A command run as the postgres user. Its S3 clients (logferry as archive_command and
/// restore_command) get credentials from their config and never probe a metadata address.
fn postgres_command(cmd: &[&str]) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--"])
        .args(cmd)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    c
}

fn chown(p: &Path) {
    assert!(Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(p)
        .status()
        .unwrap()
        .success());
}

struct Pg {
    data: PathBuf,
    sock: PathBuf,
    port: u16,
}

impl Pg {
    fn psql(&self, sql: &str) -> String {
        as_postgres(&[
            pg_bin("psql").to_str().unwrap(),
            "-X",
            "-A",
            "-t",
            "-q",
            "-h",
            self.sock.to_str().unwrap(),
            "-p",
            &self.port.to_string(),
            "-d",
            "postgres",
            "-c",
            sql,
        ])
    }

    fn ctl(&self, action: &str) {
        let args = self.ctl_args(action);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        as_postgres(&args);
    }

    /// `pg_ctl start`, saying whether the server came up.
    fn try_start(&self) -> bool {
        let args = self.ctl_args("start");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        postgres_command(&args).output().unwrap().status.success()
    }

    fn ctl_args(&self, action: &str) -> Vec<String> {
        let log = self.data.join("server.log");
        [
            pg_bin("pg_ctl").to_str().unwrap(),
            "-D",
            self.data.to_str().unwrap(),
            "-l",
            log.to_str().unwrap(),
            "-w",
            "-t",
            "60",
            action,
        ]
        .map(String::from)
        .to_vec()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                pg_bin("pg_ctl").to_str().unwrap(),
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                "immediate",
                "stop",
            ])
            .output();
    }
}

/// The agent under `runuser`, in a process group of its own: `runuser` forwards SIGTERM
/// to the agent but cannot forward SIGKILL, so a kill of `runuser` alone would leave the
/// agent running after the test. It is stopped by its group.
struct Agent(Child);

impl Agent {
    fn signal_group(&self, signal: rustix::process::Signal) {
        let pgid = i32::try_from(self.0.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw);
        if let Some(pgid) = pgid {
            let _ = rustix::process::kill_process_group(pgid, signal);
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(Some(_))) {
            return;
        }
        self.signal_group(rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.0.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.signal_group(rustix::process::Signal::KILL);
        let _ = self.0.wait();
    }
}

/// `logferry run` as `postgres` with this config, its output dropped.
fn start_agent(cfg_s: &str) -> Agent {
    use std::os::unix::process::CommandExt;
    Agent(
        Command::new("runuser")
            .args(["-u", "postgres", "--", BIN, "--config", cfg_s, "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap(),
    )
}

impl Pg {
    /// `pg_basebackup` of this server into `dest`, with `-X wal` (`none`: the archive
    /// must supply the WAL; `stream`: the backup carries its own).
    fn base_backup(&self, dest: &Path, wal: &str) {
        as_postgres(&[
            pg_bin("pg_basebackup").to_str().unwrap(),
            "-D",
            dest.to_str().unwrap(),
            "-h",
            self.sock.to_str().unwrap(),
            "-p",
            &self.port.to_string(),
            "-X",
            wal,
            "-c",
            "fast",
        ]);
    }
}

/// The base backup in `backup` set up to recover through `logferry fetch` with
/// `cfg_s` (plus `extra` settings) on a port of its own; the caller chowns and starts it.
fn recovering(backup: &Path, sock: &Path, cfg_s: &str, extra: &str) -> Pg {
    let replica = Pg {
        data: backup.to_path_buf(),
        sock: sock.to_path_buf(),
        port: free_port(),
    };
    let mut conf = std::fs::OpenOptions::new()
        .append(true)
        .open(backup.join("postgresql.conf"))
        .unwrap();
    writeln!(
        conf,
        "port = {}\narchive_mode = off\nrestore_command = '{BIN} --config {cfg_s} fetch %f %p'{extra}",
        replica.port
    )
    .unwrap();
    drop(conf);
    std::fs::write(backup.join("recovery.signal"), b"").unwrap();
    replica
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn postgresql_archives_through_logferry_and_recovers_to_a_point_in_time() {
    let dir = pg_workspace();
    let root = dir.path();
    // logferry: the WAL directory as a ready-marker source, a local mirror, an agent.
    let (primary, cfg_s) = archiving_cluster(
        root,
        "primary",
        "state_dir = \"state\"\ninterval = \"5s\"\n[destination]\nurl = \"mirror\"\n",
        "60s",
    );
    let agent = start_agent(&cfg_s);
    primary.ctl("start");

    let (backup, target) = before_and_after(&primary, root);

    // Every segment PostgreSQL finished is acknowledged: no .ready left, nothing failed.
    wait_archived(&primary);
    let stats = primary.psql("SELECT archived_count, failed_count FROM pg_stat_archiver");
    let (archived, failed) = stats.split_once('|').unwrap();
    assert!(archived.parse::<u32>().unwrap() >= 3, "{stats}");
    assert_eq!(failed, "0", "archive_command never failed");
    primary.ctl("stop");
    drop(agent);

    // Recover the base backup to the recorded time, with WAL fetched by logferry.
    let replica = recovering(
        &backup,
        &primary.sock,
        &cfg_s,
        &format!("\nrecovery_target_time = '{target}'\nrecovery_target_action = 'promote'"),
    );
    chown(&backup);
    recovered_to_the_target(&replica);
}

/// Table `t`: 1000 rows `before`, then the base backup, 1000 more `before`, the target
/// time, and 500 rows `after`, each step in its own segment. Returns the backup and the
/// target time.
fn before_and_after(primary: &Pg, root: &Path) -> (PathBuf, String) {
    primary.psql("CREATE TABLE t (id int, phase text)");
    primary.psql("INSERT INTO t SELECT g, 'before' FROM generate_series(1, 1000) g");
    primary.psql("SELECT pg_switch_wal()");
    let backup = root.join("backup");
    primary.base_backup(&backup, "none");
    primary.psql("INSERT INTO t SELECT g, 'before' FROM generate_series(1001, 2000) g");
    primary.psql("SELECT pg_switch_wal()");
    std::thread::sleep(Duration::from_millis(1100));
    let target = primary.psql("SELECT now()");
    std::thread::sleep(Duration::from_millis(1100));
    primary.psql("INSERT INTO t SELECT g, 'after' FROM generate_series(1, 500) g");
    primary.psql("SELECT pg_switch_wal()");
    (backup, target)
}

/// Starts the recovering `replica` and waits for it to promote at the target of
/// [`before_and_after`]: every `before` row, no `after` row.
fn recovered_to_the_target(replica: &Pg) {
    replica.ctl("start");
    let deadline = Instant::now() + Duration::from_secs(60);
    while replica.psql("SELECT pg_is_in_recovery()") == "t" {
        assert!(
            Instant::now() < deadline,
            "recovery did not finish: {}",
            replica.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        replica.psql("SELECT count(*) FROM t WHERE phase = 'before'"),
        "2000"
    );
    assert_eq!(
        replica.psql("SELECT count(*) FROM t WHERE phase = 'after'"),
        "0"
    );
}

/// Waits until PostgreSQL has no segment left `.ready` (archive_command said yes to all).
fn wait_archived(pg: &Pg) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pending = std::fs::read_dir(pg.data.join("pg_wal/archive_status"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".ready")
            })
            .count();
        if pending == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{pending} segments still .ready");
        std::thread::sleep(Duration::from_millis(200));
    }
}

// Bug (issue 10): with the bucket unreachable, `fetch` exited 3, which PostgreSQL reads
// as "not in the archive": a recovery to latest stopped at the base backup and promoted,
// with a fraction of the rows, silently. Now the server refuses to start, naming
// logferry's message, and the same recovery completes once the destination is back.
#[test]
fn recovery_stops_while_the_destination_is_down_and_completes_once_it_is_back() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = rt.block_on(Proxy::start(&testbed("TESTBED_S3_ENDPOINT")));
    let dir = pg_workspace();
    let root = dir.path();
    // S3 through a proxy the test can take down; retries cut so a failure is quick.
    let destination = s3_destination_toml(
        &proxy.endpoint(),
        &testbed("TESTBED_S3_SECRET_KEY"),
        "max_retries = 1\nretry_timeout = \"2s\"\nconnect_timeout = \"1s\"\n",
    );
    // No agent: `archived --wait` runs the pass itself.
    let (primary, cfg_s) = archiving_cluster(
        root,
        "primary",
        &format!("state_dir = \"state\"\n{destination}"),
        "60s",
    );
    primary.ctl("start");
    primary.psql("CREATE TABLE t (id int)");
    primary.psql("INSERT INTO t SELECT g FROM generate_series(1, 1000) g");
    // The backup carries its own WAL: it can come up consistent without the archive,
    // which is how an unreachable archive used to go unnoticed.
    let backup = root.join("backup");
    primary.base_backup(&backup, "stream");
    primary.psql("INSERT INTO t SELECT g FROM generate_series(1001, 3000) g");
    primary.psql("SELECT pg_switch_wal()");
    wait_archived(&primary);
    primary.ctl("stop");

    let replica = recovering(&backup, &primary.sock, &cfg_s, "");
    // pg_basebackup copied the primary's log; the replica's own starts empty.
    std::fs::write(backup.join("server.log"), b"").unwrap();
    chown(&backup);

    // Destination down: recovery stops loudly instead of promoting with 1,000 rows.
    proxy.faults.down.store(1, Ordering::SeqCst);
    let started = Instant::now();
    assert!(
        !replica.try_start(),
        "the server came up while the archive was unreachable:\n{}",
        replica.log()
    );
    assert!(started.elapsed() < Duration::from_secs(60), "failed fast");
    let log = replica.log();
    assert!(
        log.contains("logferry: fetch") && log.contains("destination s3://"),
        "logferry's message is in the server log:\n{log}"
    );
    assert!(
        log.contains("could not restore file") && log.contains("exit code 203"),
        "PostgreSQL stopped on fetch's exit code:\n{log}"
    );
    assert!(
        backup.join("recovery.signal").exists(),
        "the server is still one to recover"
    );

    // Destination back: the same recovery completes with every row.
    proxy.faults.down.store(0, Ordering::SeqCst);
    replica.ctl("start");
    let deadline = Instant::now() + Duration::from_secs(60);
    while replica.psql("SELECT pg_is_in_recovery()") == "t" {
        assert!(Instant::now() < deadline, "recovery did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(replica.psql("SELECT count(*) FROM t"), "3000");
    drop(rt);
}

/// A temp dir PostgreSQL can use: world-traversable, owned by `postgres`, with `sock/`
/// for the servers' sockets and `lf/` for logferry's configs, state and mirror.
fn pg_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("sock")).unwrap();
    std::fs::create_dir_all(dir.path().join("lf")).unwrap();
    chown(dir.path());
    dir
}

/// A new cluster `root/name` whose WAL is archived by logferry with `archived --wait
/// WAIT %f`, and logferry's config for it, `root/lf/<name>.toml`: `head` (state dir,
/// schedule, destination) and the cluster's `pg_wal` as a ready-marker source.
fn archiving_cluster(root: &Path, name: &str, head: &str, wait: &str) -> (Pg, String) {
    let pg = Pg {
        data: root.join(name),
        sock: root.join("sock"),
        port: free_port(),
    };
    as_postgres(&[
        pg_bin("initdb").to_str().unwrap(),
        "-D",
        pg.data.to_str().unwrap(),
        "-A",
        "trust",
        "-U",
        "postgres",
    ]);
    let lf = root.join("lf");
    let cfg = lf.join(format!("{name}.toml"));
    std::fs::write(
        &cfg,
        format!(
            "{head}[[sources]]\nname = \"wal\"\npath = \"{}\"\nclosed_by = \"ready-marker\"\n",
            pg.data.join("pg_wal").display()
        ),
    )
    .unwrap();
    chown(&lf);
    let cfg_s = cfg.to_str().unwrap().to_string();
    let mut conf = std::fs::OpenOptions::new()
        .append(true)
        .open(pg.data.join("postgresql.conf"))
        .unwrap();
    writeln!(
        conf,
        "listen_addresses = ''\nunix_socket_directories = '{}'\nport = {}\nwal_level = replica\narchive_mode = on\narchive_command = '{BIN} --config {cfg_s} archived --wait {wait} %f'\narchive_timeout = 0",
        pg.sock.display(),
        pg.port
    )
    .unwrap();
    (pg, cfg_s)
}

// Bug (issue 10): a second cluster archiving into the same archive (or a split brain)
// replaced the first cluster's WAL under the same names: `archived` said yes and
// `fetch` then served the other cluster's bytes. PostgreSQL's archive_command contract:
// never overwrite an archived file with other content. Now the second cluster's
// archive_command fails, naming both sha256s, and the archive keeps the first content.
#[test]
fn a_second_cluster_cannot_overwrite_wal_the_first_one_archived() {
    let dir = pg_workspace();
    let root = dir.path();
    let segment = "000000010000000000000001";
    // Two clusters, each with its own state dir, archiving into one mirror.
    let head = |state: &str| format!("state_dir = \"{state}\"\n[destination]\nurl = \"mirror\"\n");
    let (first, first_cfg) = archiving_cluster(root, "first", &head("state-first"), "20s");
    first.ctl("start");
    first.psql("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g");
    first.psql("SELECT pg_switch_wal()");
    wait_archived(&first);
    first.ctl("stop");
    let listed = as_postgres(&[BIN, "--config", &first_cfg, "ls", "--json"]);
    let entries: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let archived_sha = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == segment)
        .unwrap_or_else(|| panic!("{segment} archived: {listed}"))["sha256"]
        .as_str()
        .unwrap()
        .to_string();

    let (second, second_cfg) = archiving_cluster(root, "second", &head("state-second"), "20s");
    second.ctl("start");
    second.psql("SELECT pg_switch_wal()");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let failed = second.psql("SELECT failed_count, last_failed_wal FROM pg_stat_archiver");
        if failed != "0|" {
            assert!(failed.ends_with(segment), "{failed}");
            break;
        }
        assert!(Instant::now() < deadline, "archive_command never failed");
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = std::fs::read_to_string(second.data.join("server.log")).unwrap();
    assert!(
        log.contains("name conflict") && log.contains(&archived_sha),
        "PostgreSQL's log shows logferry's conflict:\n{log}"
    );
    assert!(
        second
            .data
            .join(format!("pg_wal/archive_status/{segment}.ready"))
            .exists(),
        "PostgreSQL keeps the segment unarchived"
    );
    second.ctl("stop");

    // The archive still serves the first cluster's segment.
    let fetched = root.join("fetched");
    as_postgres(&[
        BIN,
        "--config",
        &second_cfg,
        "fetch",
        segment,
        fetched.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&fetched).unwrap();
    assert_eq!(crate::common::sha(&bytes), archived_sha);
}

/// `keep_base_backups = 2` over three base backups: `expire` takes out the WAL only the
/// oldest backup needed (and its `.backup` file), a recovery from the oldest backup kept
/// still replays to the end, and the oldest WAL is gone (`fetch` says not archived).
#[test]
fn keep_base_backups_expires_the_wal_of_older_backups_and_the_kept_ones_recover() {
    let dir = pg_workspace();
    let root = dir.path();
    let (primary, cfg_s) = archiving_cluster(
        root,
        "primary",
        "state_dir = \"state\"\ninterval = \"5s\"\n[destination]\nurl = \"mirror\"\n[retention]\nkeep_base_backups = 2\ngrace = \"1s\"\n",
        "60s",
    );
    let agent = start_agent(&cfg_s);
    primary.ctl("start");
    primary.psql("CREATE TABLE t (id int, phase text)");
    let mut backups = Vec::new();
    for n in 1..=3 {
        primary.psql(&format!(
            "INSERT INTO t SELECT g, 'b{n}' FROM generate_series(1, 1000) g"
        ));
        primary.psql("SELECT pg_switch_wal()");
        let backup = root.join(format!("backup{n}"));
        primary.base_backup(&backup, "none");
        backups.push(backup);
    }
    primary.psql("INSERT INTO t SELECT g, 'last' FROM generate_series(1, 500) g");
    primary.psql("SELECT pg_switch_wal()");
    // Old segments leave pg_wal at a checkpoint: a file still there is kept anyway.
    primary.psql("CHECKPOINT");
    primary.psql("SELECT pg_switch_wal()");
    primary.psql("CHECKPOINT");
    wait_archived(&primary);
    primary.ctl("stop");
    // A clean stop (runuser hands SIGTERM on), so the state dir is free for `expire`.
    let mut agent = agent;
    assert!(Command::new("kill")
        .args(["-TERM", &agent.0.id().to_string()])
        .status()
        .unwrap()
        .success());
    agent.0.wait().unwrap();
    let first_segment = "000000010000000000000001";
    let fetched = root.join("lf/fetched");
    let fetch = |name: &str| {
        let _ = std::fs::remove_file(&fetched);
        postgres_command(&[
            BIN,
            "--config",
            &cfg_s,
            "fetch",
            name,
            fetched.to_str().unwrap(),
        ])
        .output()
        .unwrap()
    };
    let before = fetch(first_segment);
    assert!(
        before.status.success(),
        "archived before expiry: {}{}",
        String::from_utf8_lossy(&before.stderr),
        as_postgres(&[BIN, "--config", &cfg_s, "ls"])
    );

    // Past the 1s grace period, by hand as an operator would.
    std::thread::sleep(Duration::from_millis(1500));
    let out = postgres_command(&[BIN, "--config", &cfg_s, "expire"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("versions expired"), "{text}");
    let gone = fetch(first_segment);
    assert_eq!(
        gone.status.code(),
        Some(1),
        "the oldest WAL is gone: {gone:?}"
    );
    let listed = as_postgres(&[BIN, "--config", &cfg_s, "ls"]);
    let backup_files: Vec<&str> = listed.lines().filter(|l| l.contains(".backup")).collect();
    assert_eq!(
        backup_files.len(),
        2,
        "the two newest backups' files: {listed}"
    );
    let verify = postgres_command(&[BIN, "--config", &cfg_s, "verify"])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");

    // The oldest backup kept recovers to the end of the archived WAL.
    let backup = backups[1].clone();
    let replica = recovering(
        &backup,
        &primary.sock,
        &cfg_s,
        "\nrecovery_target_action = 'promote'",
    );
    chown(&backup);
    replica.ctl("start");
    let deadline = Instant::now() + Duration::from_secs(60);
    while replica.psql("SELECT pg_is_in_recovery()") == "t" {
        assert!(
            Instant::now() < deadline,
            "recovery did not finish: {}",
            replica.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        replica.psql("SELECT count(*) FROM t"),
        "3500",
        "{}",
        replica.log()
    );
}

// Issue 18: the WAL archive encrypted to a recipient the database host never holds the
// private key of; a recovery host with an empty state dir, given the identity, fetches
// every segment through restore_command and reaches the point in time.
#[test]
fn an_encrypted_archive_recovers_to_a_point_in_time_on_a_host_given_the_identity() {
    let dir = pg_workspace();
    let root = dir.path();
    let id = root.join("lf/restore-identity.txt");
    let public = logferry::write_identity(&id).unwrap();
    let (primary, cfg_s) = archiving_cluster(
        root,
        "primary",
        &format!("state_dir = \"state\"\ninterval = \"5s\"\n[destination]\nurl = \"{}\"\nencryption = \"age\"\nage_recipients = [\"{public}\"]\n", root.join("archive").display()),
        "60s",
    );
    // The recovery host: its own state dir, the identity, no archive key.
    let restore_cfg = root.join("lf/restore.toml");
    std::fs::write(
        &restore_cfg,
        format!(
            "state_dir = \"{}\"\n[destination]\nurl = \"{}\"\nidentity_file = \"{}\"\n[[sources]]\nname = \"wal\"\npath = \"{}\"\nclosed_by = \"ready-marker\"\n",
            root.join("restore-state").display(),
            root.join("archive").display(),
            id.display(),
            primary.data.join("pg_wal").display(),
        ),
    )
    .unwrap();
    chown(&root.join("lf"));
    let agent = start_agent(&cfg_s);
    primary.ctl("start");
    let (backup, target) = before_and_after(&primary, root);
    wait_archived(&primary);
    primary.ctl("stop");
    drop(agent);

    // No segment name, and no byte of the table's text, is readable in the archive.
    for e in walkdir::WalkDir::new(root.join("archive"))
        .into_iter()
        .map(Result::unwrap)
    {
        let name = e.path().display().to_string();
        assert!(!name.contains("00000001000000000000"), "{name}");
        if e.file_type().is_file() {
            let body = std::fs::read(e.path()).unwrap();
            assert!(
                !body.windows(6).any(|w| w == b"before"),
                "{name} holds plaintext"
            );
        }
    }

    let replica = recovering(
        &backup,
        &primary.sock,
        restore_cfg.to_str().unwrap(),
        &format!("\nrecovery_target_time = '{target}'\nrecovery_target_action = 'promote'"),
    );
    chown(&backup);
    recovered_to_the_target(&replica);
}
