//! Real object stores beyond the conformance suite: faults in front of the S3 server,
//! credentials and missing buckets, the probe, multipart aborts, bounded memory, the
//! GCS read path and per-source / per-host prefixes.

use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use logferry::{
    load_at, load_config, load_latest, open_store, probe, system_hostname, GenerationNo, Store,
};

use crate::common::{
    assert_peak_rss_below, destination_toml, logferry_with_env as logferry, s3_destination_toml,
    sha, testbed, text, unique_prefix, Backend, Env, FaultStore, Hook,
};
use crate::proxy::Proxy;

const SOURCES: &str = "[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n";

/// A workspace archiving to S3 through `endpoint` with `secret`, with `extra` destination keys.
fn s3_env(endpoint: &str, secret: &str, extra: &str) -> Env {
    let toml = format!(
        "state_dir = \"state\"\n{}{SOURCES}",
        s3_destination_toml(endpoint, secret, extra)
    );
    Env::from_toml(tempfile::tempdir().unwrap(), &toml)
}

/// Writes a config archiving `logs/` to S3 through `endpoint` with `secret`.
fn s3_config(env: &Env, endpoint: &str, secret: &str, extra: &str) -> std::path::PathBuf {
    let toml = format!(
        "state_dir = \"state\"\n{}{SOURCES}",
        s3_destination_toml(endpoint, secret, extra)
    );
    write_config(env, &toml)
}

fn write_config(env: &Env, toml: &str) -> std::path::PathBuf {
    let p = env.dir.path().join("logferry.toml");
    std::fs::write(&p, toml).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_down_answers_are_retried_and_the_pass_completes() {
    let proxy = Proxy::start(&testbed("TESTBED_S3_ENDPOINT")).await;
    proxy.faults.slow_down.store(4, Ordering::SeqCst);
    let env = s3_env(&proxy.endpoint(), &testbed("TESTBED_S3_SECRET_KEY"), "");
    env.write("a.log", b"alpha\n");
    env.write("b.log", b"beta\n");
    let r = env.pass().await;
    assert_eq!((r.files_uploaded, r.generation), (2, Some(1)));
    assert_eq!(
        proxy.faults.served.load(Ordering::SeqCst),
        4,
        "every 503 was met by a retry"
    );
    env.assert_objects_match(&env.index().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_are_retried_and_the_pass_completes() {
    let proxy = Proxy::start(&testbed("TESTBED_S3_ENDPOINT")).await;
    proxy.faults.drop.store(3, Ordering::SeqCst);
    let env = s3_env(&proxy.endpoint(), &testbed("TESTBED_S3_SECRET_KEY"), "");
    env.write("a.log", b"alpha\n");
    let r = env.pass().await;
    assert_eq!((r.files_uploaded, r.generation), (1, Some(1)));
    assert_eq!(proxy.faults.served.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_stays_down_exits_3_and_the_next_pass_archives_everything() {
    let proxy = Proxy::start(&testbed("TESTBED_S3_ENDPOINT")).await;
    let env = s3_env(&proxy.endpoint(), &testbed("TESTBED_S3_SECRET_KEY"), "");
    let cfg = s3_config(
        &env,
        &proxy.endpoint(),
        &testbed("TESTBED_S3_SECRET_KEY"),
        "max_retries = 2\nretry_timeout = \"3s\"\n",
    );
    for i in 0..5 {
        env.write(&format!("f{i}.log"), format!("{i}\n").as_bytes());
    }
    let args = ["--run-once"];

    proxy.faults.down.store(1, Ordering::SeqCst);
    let started = Instant::now();
    let o = logferry(&cfg, &args, vec![]).await;
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "bounded retries"
    );
    assert!(
        text(&o).contains("503") || text(&o).to_lowercase().contains("slow"),
        "{}",
        text(&o)
    );

    // The store is back: the next pass archives everything.
    proxy.faults.down.store(0, Ordering::SeqCst);
    let o = logferry(&cfg, &args, vec![]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("archived 5 files"), "{}", text(&o));

    let ls = logferry(&cfg, &["ls", "--json"], vec![]).await;
    let entries: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    let mut paths: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    paths.sort();
    let before = paths.len();
    paths.dedup();
    assert_eq!(
        (before, paths.len()),
        (5, 5),
        "nothing lost, no duplicate entries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_failing_mid_pass_fails_the_pass_and_nothing_is_lost() {
    let proxy = Proxy::start(&testbed("TESTBED_S3_ENDPOINT")).await;
    let env = s3_env(
        &proxy.endpoint(),
        &testbed("TESTBED_S3_SECRET_KEY"),
        "max_retries = 1\nretry_timeout = \"2s\"\n",
    );
    env.write("first.log", b"1\n");
    env.pass().await;
    env.write("second.log", b"2\n");
    env.write("third.log", b"3\n");
    // Let catch-up through (a pooled connection), then fail new connections.
    let faulty = FaultStore::wrap(&env.store);
    let faults = Arc::clone(&proxy.faults);
    *faulty.before_first_data_head.lock().unwrap() = Some(Hook(Box::new(move || {
        faults.down.store(1, Ordering::SeqCst);
    })));
    let store: Store = Arc::<FaultStore>::clone(&faulty);
    let _ = env.pass_with(&store).await;
    proxy.faults.down.store(0, Ordering::SeqCst);
    let r = env.pass().await;
    assert_eq!(r.current_generation, 2);
    let index = env.index().await;
    assert_eq!(index.len(), 3);
    env.assert_objects_match(&index).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_fails_fast_naming_the_fix_and_never_the_secret() {
    let secret = "WRONG-secret-4f9a2c";
    let env = s3_env(&testbed("TESTBED_S3_ENDPOINT"), secret, "");
    env.write("a.log", b"a\n");
    let cfg = s3_config(&env, &testbed("TESTBED_S3_ENDPOINT"), secret, "");
    let started = Instant::now();
    let o = logferry(
        &cfg,
        &["--run-once"],
        vec![("RUST_LOG".into(), "debug".into())],
    )
    .await;
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "a 403 is not retried for minutes"
    );
    let all = text(&o);
    assert!(!all.contains(secret), "the secret leaked into the output");
    assert!(all.contains("hint:"), "{all}");

    let o = logferry(&cfg, &["check-config", "--probe"], vec![]).await;
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let all = text(&o);
    assert!(!all.contains(secret), "{all}");
    assert!(
        all.contains("FAIL write") && all.contains("credentials"),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_bucket_is_named_with_the_fix() {
    let env = Env::new(Backend::Memory);
    let bucket = format!("missing-{}", unique_prefix()).to_ascii_lowercase();
    let toml = format!(
        "state_dir = \"state\"\n{}{SOURCES}",
        s3_destination_toml(
            &testbed("TESTBED_S3_ENDPOINT"),
            &testbed("TESTBED_S3_SECRET_KEY"),
            ""
        )
    )
    .replace(
        &format!("s3://{}/", testbed("TESTBED_S3_BUCKET")),
        &format!("s3://{bucket}/"),
    );
    let cfg = write_config(&env, &toml);
    env.write("a.log", b"a\n");
    let o = logferry(&cfg, &["--run-once"], vec![]).await;
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains(&bucket), "{}", text(&o));
    // (No probe here: SeaweedFS creates a missing bucket on the first PUT by its admin.)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_exits_3_with_a_hint() {
    let env = s3_env(
        "http://127.0.0.1:9",
        "x",
        "max_retries = 1\nretry_timeout = \"2s\"\nconnect_timeout = \"1s\"\n",
    );
    let cfg = s3_config(
        &env,
        "http://127.0.0.1:9",
        "x",
        "max_retries = 1\nretry_timeout = \"2s\"\nconnect_timeout = \"1s\"\n",
    );
    let o = logferry(&cfg, &["check-config", "--probe"], vec![]).await;
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("cannot reach the endpoint"),
        "{}",
        text(&o)
    );
    let o = logferry(&cfg, &["--run-once"], vec![]).await;
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_passes_on_every_real_backend() {
    for backend in [Backend::S3, Backend::Azure, Backend::Gcs, Backend::Local] {
        let env = Env::new(backend);
        let checks = probe(&env.store, &env.config.destination).await;
        let names: Vec<_> = checks.iter().map(|c| c.name).collect();
        let mut expected = vec![
            "write",
            "read",
            "list",
            "conditional create",
            "delete",
            "client-side encryption",
        ];
        if matches!(backend, Backend::S3) {
            expected.insert(4, "encryption");
            expected.extend(["checksum", "object lock"]);
        }
        assert_eq!(names, expected, "{backend:?}");
        assert!(checks.iter().all(|c| c.ok), "{backend:?}: {checks:?}");
        assert!(
            env.keys().await.iter().all(|k| !k.contains("plain")),
            "{backend:?} cleaned up"
        );
        // The same through the encryption layer (whose scratch keys it leaves raw).
        let dir = tempfile::tempdir().unwrap();
        let public = logferry::write_identity(&dir.path().join("id.txt")).unwrap();
        let dest = crate::encryption::encrypted_destination(
            &crate::common::destination_toml(backend),
            &[&public],
            "",
        );
        let toml =
            format!("state_dir = \"state\"\n{dest}[[sources]]\nname = \"app\"\npath = \"logs\"\n");
        let enc = Env::from_toml(dir, &toml);
        let checks = probe(&enc.store, &enc.config.destination).await;
        assert!(
            checks.iter().all(|c| c.ok),
            "{backend:?} encrypted: {checks:?}"
        );
        let client = checks
            .iter()
            .find(|c| c.name == "client-side encryption")
            .unwrap();
        assert!(
            client
                .detail
                .starts_with("age: content encrypted to 1 recipient(s)"),
            "{client:?}"
        );
        // The probe leaves no trace, and makes no archive key before the first pass.
        let raw = logferry::open_store_raw(&enc.config.destination).unwrap();
        let left: Vec<_> = futures::TryStreamExt::try_collect(raw.list(None))
            .await
            .unwrap();
        assert!(left.is_empty(), "{backend:?}: {left:?}");
        assert!(!enc.dir.path().join("state/archive-key.json").exists());
    }
}

#[tokio::test]
async fn probe_says_when_create_only_puts_are_not_honoured() {
    let env = Env::new(Backend::Memory);
    let faulty = FaultStore::wrap(&env.store);
    faulty.ignore_create_mode.store(true, Ordering::SeqCst);
    let store: Store = faulty;
    let checks = probe(&store, &env.config.destination).await;
    let cc = checks
        .iter()
        .find(|c| c.name == "conditional create")
        .unwrap();
    assert!(!cc.ok);
    assert!(cc.detail.contains("ignores If-None-Match"), "{cc:?}");
    assert!(cc
        .hint
        .as_deref()
        .unwrap()
        .contains("one agent per destination prefix"));
}

/// An S3 workspace and its archive's prefix in the test bucket.
pub(crate) fn s3_env_with_prefix() -> (Env, String) {
    env_with_prefix(Backend::S3)
}

/// A workspace on `backend` and its archive's prefix in the bucket (for GCS, the prefix
/// in the S3 test bucket behind the XML proxy).
pub(crate) fn env_with_prefix(backend: Backend) -> (Env, String) {
    let toml = format!(
        "state_dir = \"state\"\n{}{SOURCES}",
        destination_toml(backend)
    );
    let prefix = toml
        .split("://")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .split_once('/')
        .unwrap()
        .1
        .to_string();
    (Env::from_toml(tempfile::tempdir().unwrap(), &toml), prefix)
}

/// Pending multipart uploads under `prefix` in the S3 test bucket, asked with curl's SigV4.
pub(crate) fn pending_multipart_uploads(prefix: &str) -> usize {
    let url = format!(
        "{}/{}?prefix={prefix}&uploads=",
        testbed("TESTBED_S3_ENDPOINT"),
        testbed("TESTBED_S3_BUCKET")
    );
    let o = Command::new("curl")
        .args([
            "-sS",
            "-f",
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "-H",
            "x-amz-content-sha256: UNSIGNED-PAYLOAD",
        ])
        .arg("--user")
        .arg(format!(
            "{}:{}",
            testbed("TESTBED_S3_ACCESS_KEY"),
            testbed("TESTBED_S3_SECRET_KEY")
        ))
        .arg(&url)
        .output()
        .unwrap();
    assert!(o.status.success(), "list multipart uploads: {}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .matches("<Upload>")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_multipart_upload_is_aborted_remotely() {
    failed_multipart_upload_leaves_no_parts(Backend::S3).await
}

/// GCS's XML multipart abort (`DELETE ?uploadId`), through the proxy to the S3 server,
/// whose listing of open uploads shows none left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_multipart_upload_on_gcs_is_aborted_remotely() {
    failed_multipart_upload_leaves_no_parts(Backend::Gcs).await
}

async fn failed_multipart_upload_leaves_no_parts(backend: Backend) {
    let (env, prefix) = env_with_prefix(backend);
    let part = env.config.part_size as usize;
    env.write(
        "big.log",
        &vec![b'x'; env.config.multipart_threshold as usize + part],
    );
    let path = env.path("big.log");
    let faulty = FaultStore::wrap(&env.store);
    // The writer appends while the upload streams: the parts sent no longer match.
    *faulty.before_first_data_head.lock().unwrap() = Some(Hook(Box::new(move || {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"late line\n").unwrap();
    })));
    let store: Store = faulty;
    let r = env.pass_with(&store).await.unwrap();
    assert_eq!((r.files_changing, r.files_uploaded), (1, 0));
    assert_eq!(pending_multipart_uploads(&prefix), 0, "no orphaned parts");
    let r = env.pass().await;
    assert_eq!(r.files_uploaded, 1);
    env.assert_objects_match(&env.index().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_for_a_large_file() {
    let toml = format!(
        "state_dir = \"state\"\nrequests_in_flight = 2\n{}{SOURCES}",
        destination_toml(Backend::S3)
    );
    let env = Env::from_toml(tempfile::tempdir().unwrap(), &toml);
    // 256 MiB of incompressible-ish text, written in chunks so the test stays small.
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(env.path("big.log")).unwrap());
        let mut line = 0u64;
        let mut written = 0usize;
        while written < 256 << 20 {
            let l = format!(
                "2026-11-21T10:00:{:02}Z INFO request id={line:016x} served\n",
                line % 60
            );
            f.write_all(l.as_bytes()).unwrap();
            written += l.len();
            line = line
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
        }
    }
    env.write("small.log", b"small\n");
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(env.path("big.log"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let cfg = write_config(&env, &toml);
    let o = logferry(&cfg, &["--run-once"], vec![]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let st = logferry(&cfg, &["status", "--json"], vec![]).await;
    let runs: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_peak_rss_below(&runs[0], (64 << 20) + 2 * env.config.part_size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_source_prefixes_make_one_archive_each() {
    let dir = tempfile::tempdir().unwrap();
    let base = destination_toml(Backend::S3);
    let templated = base.replacen("\"\n", "/{hostname}/{source}\"\n", 1);
    let toml = format!(
        "state_dir = \"state\"\n{templated}[[sources]]\nname = \"app\"\npath = \"logs/app\"\nmin_age = \"0s\"\n[[sources]]\nname = \"db\"\npath = \"logs/db\"\nmin_age = \"0s\"\n"
    );
    std::fs::create_dir_all(dir.path().join("logs/app")).unwrap();
    std::fs::create_dir_all(dir.path().join("logs/db")).unwrap();
    std::fs::write(dir.path().join("logs/app/a.log"), b"app\n").unwrap();
    std::fs::write(dir.path().join("logs/db/wal.1"), b"db\n").unwrap();
    let cfg = dir.path().join("logferry.toml");
    std::fs::write(&cfg, &toml).unwrap();
    let host = system_hostname().unwrap();

    let o = logferry(&cfg, &["check-config"], vec![]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("/{host}/app")) && text(&o).contains(&format!("/{host}/db")),
        "{}",
        text(&o)
    );

    let o = logferry(&cfg, &["--run-once"], vec![]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("[app] archived 1 files") && out.contains("[db] archived 1 files"),
        "{out}"
    );
    assert!(
        dir.path().join("state/app/status.json").exists()
            && dir.path().join("state/db/status.json").exists()
    );

    let archives = load_config(&cfg, std::iter::empty())
        .unwrap()
        .archives()
        .unwrap();
    for a in &archives {
        let store = open_store(&a.destination).unwrap();
        let index = load_latest(&store).await.unwrap();
        assert_eq!(index.len(), 1);
        assert_eq!(
            index.entries().next().unwrap().source,
            a.sources[0].name,
            "one source per archive"
        );
    }
    let ls = logferry(&cfg, &["ls", "--json"], vec![]).await;
    let entries: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 2);
}

/// The GCS emulator cannot take object_store's writes (XML API), so an archive made on
/// another backend is seeded into it through its JSON upload API; then everything that
/// only reads — rebuilding state, `ls`, a pass with nothing new — is checked on GCS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_reads_an_archive_seeded_through_its_json_api() {
    let src = Env::new(Backend::Memory);
    src.write("app.log.1", b"first\n");
    src.write("app.log.2", b"second\n");
    src.pass().await;
    src.write("app.log.3", b"third\n");
    src.pass().await;

    let endpoint = testbed("TESTBED_GCS_ENDPOINT");
    let bucket = testbed("TESTBED_GCS_BUCKET");
    let prefix = unique_prefix();
    for key in src.keys().await {
        let body = src.get(&key).await;
        let url = format!(
            "{endpoint}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={prefix}/{key}"
        );
        let tmp = src.dir.path().join("upload.bin");
        std::fs::write(&tmp, &body).unwrap();
        let o = Command::new("curl")
            .args([
                "-sS",
                "-f",
                "-X",
                "POST",
                "-H",
                "Content-Type: application/octet-stream",
                "--data-binary",
            ])
            .arg(format!("@{}", tmp.display()))
            .arg(&url)
            .output()
            .unwrap();
        assert!(o.status.success(), "seed {key}: {}", text(&o));
    }

    let gcs_dest = format!(
        "[destination]\nurl = \"gs://{bucket}/{prefix}\"\n[destination.options]\ngoogle_service_account_key = '{{\"gcs_base_url\":\"{endpoint}\",\"disable_oauth\":true,\"client_email\":\"\",\"private_key\":\"\",\"private_key_id\":\"\"}}'\nallow_http = true\n"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    for (name, body) in [
        ("app.log.1", "first\n"),
        ("app.log.2", "second\n"),
        ("app.log.3", "third\n"),
    ] {
        std::fs::write(dir.path().join("logs").join(name), body).unwrap();
    }
    let toml = format!("state_dir = \"state\"\n{gcs_dest}{SOURCES}");
    let env = Env::from_toml(dir, &toml);
    let index = env.index().await;
    assert_eq!((index.generation().get(), index.len()), (2, 3));
    assert_eq!(
        index.get("app", "app.log.3").unwrap().sha256.to_string(),
        sha(b"third\n")
    );
    env.assert_objects_match(&index).await;
    let at1 = load_at(&env.store, GenerationNo(1)).await.unwrap();
    assert_eq!(at1.len(), 2);

    // An empty state dir rebuilds from GCS; the files are already there: nothing to write.
    let r = env.pass().await;
    assert_eq!(
        (
            r.files_unchanged,
            r.files_uploaded,
            r.generation,
            r.current_generation
        ),
        (3, 0, None, 2)
    );

    let cfg = write_config(&env, &toml);
    let ls = logferry(&cfg, &["ls", "--json"], vec![]).await;
    assert_eq!(ls.status.code(), Some(0), "{}", text(&ls));
    let entries: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 3);

    // Restore, fetch and verify read from GCS.
    let to = env.dir.path().join("restored");
    let o = logferry(&cfg, &["restore", "--to", to.to_str().unwrap()], vec![]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for (name, body) in [
        ("app.log.1", "first\n"),
        ("app.log.2", "second\n"),
        ("app.log.3", "third\n"),
    ] {
        assert_eq!(
            std::fs::read_to_string(to.join("app").join(name)).unwrap(),
            body
        );
    }
    let o = logferry(
        &cfg,
        &[
            "restore",
            "--to",
            env.dir.path().join("g1").to_str().unwrap(),
            "--generation",
            "1",
        ],
        vec![],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        !env.dir.path().join("g1/app/app.log.3").exists(),
        "generation 1 predates app.log.3"
    );
    let dest = env.dir.path().join("fetched");
    let o = logferry(
        &cfg,
        &["fetch", "app.log.2", dest.to_str().unwrap()],
        vec![],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "second\n");
    let o = logferry(&cfg, &["verify", "--read-data"], vec![]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_come_from_the_standard_environment_chain() {
    let env = Env::new(Backend::Memory);
    env.write("a.log", b"a\n");
    let toml = format!(
        "state_dir = \"state\"\n{}{SOURCES}",
        s3_destination_toml(&testbed("TESTBED_S3_ENDPOINT"), "unused", "")
    )
    .lines()
    .filter(|l| !l.starts_with("aws_access_key_id") && !l.starts_with("aws_secret_access_key"))
    .collect::<Vec<_>>()
    .join("\n");
    let cfg = write_config(&env, &toml);
    let args = ["--run-once"];
    let creds = vec![
        (
            "AWS_ACCESS_KEY_ID".to_string(),
            testbed("TESTBED_S3_ACCESS_KEY"),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".to_string(),
            testbed("TESTBED_S3_SECRET_KEY"),
        ),
    ];
    let o = logferry(&cfg, &args, creds).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("archived 1 files"), "{}", text(&o));
    let o = logferry(&cfg, &["check-config"], vec![]).await;
    assert!(
        !text(&o).contains(&testbed("TESTBED_S3_SECRET_KEY")),
        "{}",
        text(&o)
    );
}
