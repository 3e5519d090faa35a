//! The WAL path's pass, which goes ahead of its catch-up listing: the requests a pass of
//! one new segment makes, and the cases the listing is there for: another writer's
//! generation committed before the listing (caught up with, nothing lost), one committed
//! after it (the create-only commit refuses to overwrite it, the next pass catches up),
//! and a destination emptied between two passes of one agent (noticed before any record
//! trusts content there: what it lost is put back).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use logferry::{Error, Store};

use crate::cli::{code, stderr, Workspace};
use crate::common::{sha, Env, FaultStore, Hook};

const BIN: &str = env!("CARGO_BIN_EXE_logferry");

/// A workspace archiving `logs` as PostgreSQL's pg_wal (`.ready` markers) to `mirror`.
fn wal_env() -> Env {
    let env = Env::with_sources(
        crate::common::Backend::Local,
        "[[sources]]\nname = \"wal\"\npath = \"logs\"\nclosed_by = \"ready-marker\"\n",
    );
    std::fs::create_dir_all(env.logs().join("archive_status")).unwrap();
    env
}

/// Segment `n`: its bytes, then its `.ready` marker, as PostgreSQL writes them.
fn segment(logs: &Path, n: u32) -> String {
    let name = format!("0000000100000000{n:08X}");
    std::fs::write(logs.join(&name), format!("segment {n}\n").repeat(64)).unwrap();
    std::fs::write(logs.join(format!("archive_status/{name}.ready")), b"").unwrap();
    name
}

/// A second writer of `env`'s archive (its own state dir and source), as a config file
/// for the binary.
fn second_writer(env: &Env) -> std::path::PathBuf {
    let dir = env.dir.path().join("other");
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::write(dir.join("logs/other.log"), b"the other writer's file\n").unwrap();
    let cfg = dir.join("logferry.toml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir = {:?}\n[destination]\nurl = {:?}\n[[sources]]\nname = \"other\"\npath = {:?}\nmin_age = \"0s\"\n",
            dir.join("state"),
            env.dir.path().join("mirror"),
            dir.join("logs"),
        ),
    )
    .unwrap();
    cfg
}

fn run_second_writer(cfg: &Path) {
    let o = Command::new(BIN)
        .arg("--config")
        .arg(cfg)
        .arg("--run-once")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "the second writer's pass: {}", stderr(&o));
}

/// What a pass of one new segment asks of the destination, once the archive exists: the
/// catch-up LIST (sent while the segment is read and stored), the segment's PUT, the
/// create-only commit, its version record and the published mark. Nothing else: no
/// HEAD, no second LIST, no read of a generation.
#[tokio::test]
async fn a_pass_of_one_wal_segment_makes_one_list_and_four_puts() {
    let env = wal_env();
    segment(&env.logs(), 1);
    assert_eq!(env.pass().await.generation, Some(1));
    for n in 2..=4 {
        segment(&env.logs(), n);
        let counting = FaultStore::wrap(&env.store);
        let store: Store = Arc::<FaultStore>::clone(&counting);
        let r = env.pass_with(&store).await.unwrap();
        assert_eq!((r.files_new, r.generation), (1, Some(n as u64)), "{r:?}");
        let (requests, writes) = (
            counting.requests.load(Ordering::SeqCst),
            counting.writes.load(Ordering::SeqCst),
        );
        assert_eq!(
            (requests - writes, writes),
            (1, 4),
            "segment {n}: one LIST; the data PUT, the commit, the record, the mark"
        );
        assert_eq!(counting.data_puts.load(Ordering::SeqCst), 1);
    }
    env.assert_objects_match(&env.index().await).await;
}

/// Another writer commits the next generation after this host's last pass and before its
/// next one: the pass, which went ahead of its listing, sees the newer generation when
/// the listing comes back, drops what it staged, catches up and commits on top of it.
#[tokio::test]
async fn a_generation_committed_before_the_listing_is_caught_up_with() {
    let env = wal_env();
    let first = segment(&env.logs(), 1);
    assert_eq!(env.pass().await.generation, Some(1));
    run_second_writer(&second_writer(&env));

    let second = segment(&env.logs(), 2);
    let r = env.pass().await;
    assert_eq!((r.files_new, r.generation), (1, Some(3)), "{r:?}");
    let index = env.index().await;
    for (source, path) in [
        ("wal", &first),
        ("wal", &second),
        ("other", &"other.log".into()),
    ] {
        assert!(
            index.get(source, path).is_some(),
            "{source}/{path} is recorded"
        );
    }
    env.assert_objects_match(&index).await;
}

/// Another writer commits the generation this pass is about to commit, after the pass's
/// listing: the create-only commit fails with a conflict naming the generation, nothing
/// is overwritten, and the next pass catches up and records the segment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_committed_after_the_listing_is_a_reported_conflict() {
    let env = wal_env();
    segment(&env.logs(), 1);
    assert_eq!(env.pass().await.generation, Some(1));
    let other = second_writer(&env);

    let seg = segment(&env.logs(), 2);
    let racing = FaultStore::wrap(&env.store);
    *racing.before_first_manifest_put.lock().unwrap() =
        Some(Hook(Box::new(move || run_second_writer(&other))));
    let store: Store = Arc::<FaultStore>::clone(&racing);
    match env.pass_with(&store).await {
        Err(Error::CommitConflict { generation: 2, key }) => {
            assert!(key.contains("manifests/"), "{key}")
        }
        other => panic!("expected a commit conflict on generation 2, got {other:?}"),
    }
    let index = env.index().await;
    assert!(
        index.get("other", "other.log").is_some(),
        "the other commit stands"
    );
    assert!(
        index.get("wal", &seg).is_none(),
        "not recorded by the lost race"
    );

    let r = env.pass().await;
    assert_eq!((r.files_new, r.generation), (1, Some(3)), "{r:?}");
    let index = env.index().await;
    assert_eq!(
        index.get("wal", &seg).unwrap().sha256.to_string(),
        sha(&std::fs::read(env.logs().join(&seg)).unwrap())
    );
    assert!(index.get("other", "other.log").is_some());
    env.assert_objects_match(&index).await;
}

/// The running agent archives a segment; then the destination is emptied behind its
/// back and the next segment comes. The agent's next pass must not record on top of
/// what is gone: its listing shows the generation absent, it rebuilds from the (empty)
/// destination and puts back what it still has, so every object the new generation
/// names is there.
#[test]
fn an_agent_notices_a_destination_emptied_between_two_passes() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("pg_wal/archive_status")).unwrap();
    let cfg = ws.config(
        "state_dir = \"state\"\nschedule = \"0 0 0 1 1 * 2099\"\n[destination]\nurl = \"mirror\"\n[[sources]]\nname = \"wal\"\npath = \"pg_wal\"\nclosed_by = \"ready-marker\"\n",
    );
    let log = std::fs::File::create(ws.path("agent.log")).unwrap();
    let agent = Stopped(
        Command::new(BIN)
            .arg("--config")
            .arg(&cfg)
            .arg("run")
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let (lock, status) = (ws.path("state/lock"), ws.path("state/status.json"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&lock).unwrap_or_default().trim() != agent.0.id().to_string()
        || !status.exists()
    {
        assert!(
            Instant::now() < deadline,
            "the agent never ran its first pass"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Answered once the commit and the seen records are written; the pass then writes its
    // version records and, last, records itself in status.json: waited for here.
    let archived = |name: &str| {
        let before = std::fs::read(&status).unwrap();
        let o = ws.run(&["archived", "--wait", "30s", name]);
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::fs::read(&status).unwrap() == before {
            assert!(Instant::now() < deadline, "the pass was never recorded");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let first = segment(&ws.path("pg_wal"), 1);
    archived(&first);
    std::fs::remove_dir_all(ws.path("mirror")).unwrap();
    std::fs::create_dir(ws.path("mirror")).unwrap();

    let second = segment(&ws.path("pg_wal"), 2);
    archived(&second);
    let verify = ws.run(&["verify"]);
    let ls = ws.run(&["ls"]);
    drop(agent);
    let said = std::fs::read_to_string(ws.path("agent.log")).unwrap();
    assert!(said.contains("rebuilding"), "the agent says why: {said}");
    assert_eq!(
        code(&verify),
        0,
        "every object named is there: {}",
        stderr(&verify)
    );
    let listed = String::from_utf8_lossy(&ls.stdout).into_owned();
    assert!(
        listed.contains(&first) && listed.contains(&second),
        "both segments are archived: {listed}"
    );
}

/// The agent, stopped (SIGTERM, then waited for) however the test ends.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}
