//! Retention: what `expire` takes out and what it must never touch. Time is a clock
//! offset from real now (passes and expiries run "days later"), never a fixed date, and
//! nothing sleeps. The cases taking `Backend` run in the conformance suite on every
//! backend; the fault cases run on the in-memory store, where a kill can be injected at
//! every write.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use logferry::{
    all_versions, check_at, expire, expire_if_due, fetch_inline, list_generations, load_kept,
    load_latest, manifest_key, run_once, verify, Clock, Error, ExpireOptions, ExpireReport,
    GenerationNo, Kind, ReadData, RunReport, Store,
};

use object_store::ObjectStoreExt;

use crate::common::{destination_toml, Backend, Env, FaultStore};

const DAY: Duration = Duration::from_secs(86_400);

/// Real now, `days` later.
pub(crate) struct Later(pub f64);

impl Clock for Later {
    fn now(&self) -> SystemTime {
        SystemTime::now() + DAY.mul_f64(self.0)
    }
}

/// A workspace whose archive keeps versions as `retention` says, with a reused-names
/// source `app`.
pub(crate) fn env(b: Backend, retention: &str) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "state_dir = \"state\"\n{}{retention}\n[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\nnames = \"reused\"\n",
        destination_toml(b)
    );
    Env::from_toml(dir, &toml)
}

async fn pass_at(env: &Env, day: f64) -> RunReport {
    run_once(&env.config, &env.store, &Later(day))
        .await
        .expect("pass runs")
}

async fn expire_at(env: &Env, store: &Store, day: f64) -> logferry::Result<ExpireReport> {
    expire(&env.config, store, &Later(day), ExpireOptions::default()).await
}

/// (path, content) of every version the archive lists.
async fn versions(env: &Env) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for v in all_versions(&env.store).await.unwrap().unwrap_or_default() {
        let body = env.get(&v.key).await;
        out.insert((v.path.clone(), String::from_utf8_lossy(&body).into_owned()));
    }
    out
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

async fn assert_verify_clean(env: &Env) {
    let r = verify(&env.store, ReadData::All, None, 4, &|_| {})
        .await
        .unwrap();
    assert!(
        r.missing.is_empty()
            && r.corrupt.is_empty()
            && r.orphaned.is_empty()
            && r.missing_generations.is_empty()
            && r.damaged_generations.is_empty(),
        "verify after expiry: {r:?}"
    );
}

/// Day 0: three files; day 10 and day 50: `app.log.1` takes new content (the day-50
/// content is the day-0 one again) and `gone.log` is deleted locally.
async fn history(env: &Env) {
    env.write("app.log.1", b"A");
    env.write("gone.log", b"g");
    env.write("here.log", b"h");
    pass_at(env, 0.0).await;
    env.write("app.log.1", b"B");
    env.remove("gone.log");
    pass_at(env, 10.0).await;
    env.write("app.log.1", b"A");
    pass_at(env, 50.0).await;
}

/// keep_for 30 days, expiry at day 60: the day-0 and day-10 versions go, except what a
/// file still present holds (`here.log`) and content archived again later (`A`); verify
/// is clean; a point-in-time read inside the window works, before it is refused.
pub(crate) async fn expiry_takes_out_what_the_rules_let_go(b: Backend) {
    let env = env(b, "[retention]\nkeep_for = \"30d\"\n");
    history(&env).await;
    assert_eq!(
        versions(&env).await,
        set(&[
            ("app.log.1", "A"),
            ("app.log.1", "B"),
            ("gone.log", "g"),
            ("here.log", "h")
        ]),
        "A twice is one object: listed once here"
    );
    let before = env.keys().await;
    let r = expire_at(&env, &env.store, 60.0).await.unwrap();
    assert_eq!(r.versions_expired, 3, "{r:?}");
    assert_eq!(r.kept_present, 1, "here.log: {r:?}");
    assert_eq!((r.objects_deleted, r.generations_removed), (2, 0), "{r:?}");
    let committed = r.committed.expect("an expiry commits a checkpoint");
    let g = fetch_inline(&env.store, committed).await.unwrap();
    assert_eq!(g.kind, Kind::Full);
    assert_eq!(g.expiry.as_ref().unwrap().count, 3);
    assert_eq!(
        versions(&env).await,
        set(&[("app.log.1", "A"), ("here.log", "h")])
    );
    let after = env.keys().await;
    let gone: Vec<&String> = before.iter().filter(|k| !after.contains(k)).collect();
    assert_eq!(gone.len(), 2, "{gone:?}");
    assert!(gone
        .iter()
        .all(|k| k.contains("gone.log") || k.contains("app.log.1")));
    assert_verify_clean(&env).await;
    env.assert_objects_match_decoded().await;
    // Inside the window (day 40) and before it (day 20).
    check_at(&env.store, Later(40.0).now()).await.unwrap();
    let e = check_at(&env.store, Later(20.0).now()).await.unwrap_err();
    assert!(matches!(e, Error::OutsideRetention { .. }), "{e}");
    assert!(
        e.to_string().contains("outside the retention window"),
        "{e}"
    );
    // Generation 2 (day 10) still loads, less what expired: `here.log` and `A` are
    // there, B and gone.log are not.
    let two = load_kept(&env.store, GenerationNo(2)).await.unwrap();
    let mut paths: Vec<&str> = two.entries().map(|e| e.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["here.log"], "app.log.1 held B then, which expired");
    // A second expiry with nothing new to take out commits nothing.
    let again = expire_at(&env, &env.store, 60.5).await.unwrap();
    assert_eq!(
        (again.committed, again.objects_deleted),
        (None, 0),
        "{again:?}"
    );
    // A pass after it is a no-op, and the state the next pass builds on has no expired
    // version in it.
    let p = pass_at(&env, 61.0).await;
    assert_eq!((p.files_uploaded, p.generation), (0, None), "{p:?}");
    assert_eq!(load_latest(&env.store).await.unwrap().len(), 2);
}

/// A later expiry moves the floor: manifests older than the checkpoint a read at the
/// window start needs are removed, and verify does not call them missing.
pub(crate) async fn expiry_removes_generations_older_than_the_window(b: Backend) {
    let env = env(b, "[retention]\nkeep_for = \"30d\"\n");
    history(&env).await;
    expire_at(&env, &env.store, 60.0).await.unwrap();
    env.write("app.log.1", b"C");
    pass_at(&env, 90.0).await;
    let r = expire_at(&env, &env.store, 100.0).await.unwrap();
    assert!(r.generations_removed >= 3, "{r:?}");
    let listed = list_generations(&env.store, None).await.unwrap();
    assert!(listed[0] >= GenerationNo(4), "{listed:?}");
    assert_verify_clean(&env).await;
    assert_eq!(
        versions(&env).await,
        set(&[("app.log.1", "C"), ("here.log", "h")])
    );
    let e = load_kept(&env.store, GenerationNo(2)).await.unwrap_err();
    assert!(matches!(e, Error::OutsideRetention { .. }), "{e}");
    env.assert_objects_match_decoded().await;
}

/// Objects younger than the grace period stay, whether expired versions or orphans (an
/// upload of a pass in flight); an expiry after the grace period takes them.
pub(crate) async fn nothing_younger_than_the_grace_period_is_deleted(b: Backend) {
    let env = env(b, "[retention]\nkeep_for = \"30d\"\ngrace = \"45d\"\n");
    history(&env).await;
    let orphan = "data/app/inflight.log-00".to_string();
    env.store
        .put(&orphan.as_str().into(), Bytes::from_static(b"x").into())
        .await
        .unwrap();
    let r = expire_at(&env, &env.store, 40.0).await.unwrap();
    assert!(r.committed.is_some(), "{r:?}");
    assert_eq!(r.objects_deleted, 0, "all are younger than 45 days: {r:?}");
    assert_eq!(r.kept_young, 3, "two expired objects and the orphan: {r:?}");
    assert!(env.keys().await.contains(&orphan));
    let r = expire_at(&env, &env.store, 60.0).await.unwrap();
    assert_eq!(r.objects_deleted, 3, "{r:?}");
    assert!(!env.keys().await.contains(&orphan));
    assert_verify_clean(&env).await;
}

/// A writer that commits the next generation first wins: the expiry fails with the
/// commit conflict and deletes nothing; a later one expires on top of it.
#[tokio::test]
async fn a_writer_that_commits_first_wins_and_expiry_deletes_nothing() {
    let env = env(Backend::Memory, "[retention]\nkeep_for = \"30d\"\n");
    history(&env).await;
    // The other writer's generation: a checkpoint of the same state, as generation 4.
    let newest = *list_generations(&env.store, None)
        .await
        .unwrap()
        .last()
        .unwrap();
    let state = load_latest(&env.store).await.unwrap();
    let mut other = fetch_inline(&env.store, newest).await.unwrap();
    other.generation = newest.next();
    other.kind = Kind::Full;
    other.base = other.generation;
    other.runs.clear();
    other.entries = state.entries().cloned().collect();
    let faults = FaultStore::wrap(&env.store);
    *faults.before_first_manifest_put_object.lock().unwrap() =
        Some((manifest_key(other.generation), Bytes::from(other.encode())));
    let store: Store = faults;
    let before = env.keys().await;
    let e = expire_at(&env, &store, 60.0).await.unwrap_err();
    assert!(matches!(e, Error::CommitConflict { .. }), "{e}");
    let mut after = env.keys().await;
    after.retain(|k| *k != manifest_key(other.generation).to_string());
    assert_eq!(before, after, "nothing deleted");
    let r = expire_at(&env, &env.store, 60.0).await.unwrap();
    assert_eq!(r.committed, Some(other.generation.next()), "{r:?}");
    assert_verify_clean(&env).await;
}

/// Killed after any number of writes, the next expiry finishes the work: the archive
/// ends as an uninterrupted expiry leaves it, and nothing kept is lost.
#[tokio::test]
async fn an_expiry_killed_at_any_write_is_finished_by_the_next() {
    let reference = {
        let env = env(Backend::Memory, "[retention]\nkeep_for = \"30d\"\n");
        history(&env).await;
        expire_at(&env, &env.store, 60.0).await.unwrap();
        (versions(&env).await, env.keys().await.len())
    };
    let mut k = 0;
    loop {
        let env = env(Backend::Memory, "[retention]\nkeep_for = \"30d\"\n");
        history(&env).await;
        let faults = FaultStore::wrap(&env.store);
        *faults.writes_left.lock().unwrap() = Some(k);
        let store: Store = faults;
        let killed = expire_at(&env, &store, 60.0).await;
        // The state dir's scratch index and ledger are what a killed process leaves.
        let r = expire_at(&env, &env.store, 60.5).await.unwrap();
        assert_eq!(versions(&env).await, reference.0, "killed after {k} writes");
        assert_eq!(
            env.keys().await.len(),
            reference.1,
            "killed after {k} writes: {r:?}"
        );
        assert_verify_clean(&env).await;
        env.assert_objects_match_decoded().await;
        if killed.is_ok() {
            break;
        }
        k += 1;
    }
    assert!(k >= 4, "the kill was tried at {k} writes only");
}

/// The agent's and `--run-once`'s expiry runs once per `retention.interval`.
#[tokio::test]
async fn an_expiry_after_a_pass_runs_once_per_interval() {
    let env = env(
        Backend::Memory,
        "[retention]\nkeep_for = \"30d\"\ninterval = \"1d\"\n",
    );
    history(&env).await;
    let first = expire_if_due(&env.config, &env.store, &Later(60.0))
        .await
        .unwrap();
    assert!(first.is_some_and(|r| r.versions_expired == 3));
    assert!(expire_if_due(&env.config, &env.store, &Later(60.5))
        .await
        .unwrap()
        .is_none());
    assert!(expire_if_due(&env.config, &env.store, &Later(61.1))
        .await
        .unwrap()
        .is_some());
    let none = env_no_rules();
    assert!(expire_if_due(&none.config, &none.store, &Later(60.0))
        .await
        .unwrap()
        .is_none());
}

fn env_no_rules() -> Env {
    env(Backend::Memory, "")
}

/// Without a rule nothing expires, however old; `--before` by hand takes out what is
/// older, and a dry run says what would go and removes nothing.
#[tokio::test]
async fn without_rules_nothing_expires_and_a_dry_run_removes_nothing() {
    let env = env_no_rules();
    history(&env).await;
    let r = expire_at(&env, &env.store, 9000.0).await.unwrap();
    assert_eq!((r.versions_expired, r.committed), (0, None), "{r:?}");
    let before = env.keys().await;
    let t = Later(20.0).now();
    let dry = expire(
        &env.config,
        &env.store,
        &Later(60.0),
        ExpireOptions::new(true, Some(t)),
    )
    .await
    .unwrap();
    assert_eq!(
        (dry.versions_expired, dry.objects_deleted),
        (3, 2),
        "{dry:?}"
    );
    assert_eq!(env.keys().await, before, "a dry run removes nothing");
    let r = expire(
        &env.config,
        &env.store,
        &Later(60.0),
        ExpireOptions::new(false, Some(t)),
    )
    .await
    .unwrap();
    assert_eq!((r.versions_expired, r.objects_deleted), (3, 2), "{r:?}");
    assert_verify_clean(&env).await;
}

/// `logferry expire` as an operator meets it: no rule says so, a dry run says what
/// would go, a real run commits the expiry, a read before the window exits 1 naming it,
/// and a bad `--before` exits 2.
#[test]
fn expire_on_the_command_line() {
    use crate::cli::{code, stderr, stdout, Workspace};
    let ws = Workspace::new();
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    std::fs::remove_file(ws.path("logs/a.log.1")).unwrap();
    let o = ws.run(&["expire"]);
    assert_eq!(code(&o), 0);
    assert!(
        stderr(&o).contains("no retention is configured"),
        "{}",
        stderr(&o)
    );
    let o = ws.run(&["expire", "--before", "yesterday"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--before `yesterday`"),
        "{}",
        stderr(&o)
    );
    let future = logferry::rfc3339(SystemTime::now() + DAY);
    let o = ws.run(&["expire", "--dry-run", "--before", &future]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("1 versions expired; would remove 0 objects"),
        "the object is younger than the grace period: {}",
        stdout(&o)
    );
    let o = ws.run(&["expire", "--before", &future, "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r[0]["versions_expired"], 1, "{r}");
    assert_eq!(r[0]["kept_young"], 1, "{r}");
    assert!(r[0]["committed"].is_u64(), "{r}");
    let o = ws.run(&["ls"]);
    assert!(
        !stdout(&o).contains("a.log.1") && stdout(&o).contains("a.log.2"),
        "{}",
        stdout(&o)
    );
    let past = logferry::rfc3339(SystemTime::now() - DAY);
    let to = ws.path("restored");
    let o = ws.run(&["restore", "--to", to.to_str().unwrap(), "--at", &past]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("outside the retention window"),
        "{}",
        stderr(&o)
    );
    let o = ws.run(&["ls", "--generation", "1"]);
    assert_eq!(
        code(&o),
        0,
        "generation 1 is inside the window: {}",
        stderr(&o)
    );
    let o = ws.run(&["status"]);
    assert!(
        stdout(&o).contains("retention: last expiry"),
        "{}",
        stdout(&o)
    );
    let o = ws.run(&["verify"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
}
