//! A WORM archive on the S3 test server (SeaweedFS): a bucket created with Object Lock
//! and a default retention, archived into through a proxy that records every request,
//! so the tests see the checksum headers that were sent, what the probe says of the
//! bucket, and that a retained object is reported locked rather than deleted.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::TryStreamExt;
use logferry::{delete_object, probe, Deletion};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{noise, testbed, unique_prefix, Env};

/// A signed request to the S3 test server with curl's SigV4; gives the status and body.
fn s3_curl(
    method: &str,
    path_and_query: &str,
    headers: &[&str],
    body: Option<&str>,
) -> (u16, String) {
    let mut c = Command::new("curl");
    c.args(["-sS", "--noproxy", "*", "--max-time", "10", "-X", method])
        .args(["--aws-sigv4", "aws:amz:us-east-1:s3"])
        .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
        .arg("--user")
        .arg(format!(
            "{}:{}",
            testbed("TESTBED_S3_ACCESS_KEY"),
            testbed("TESTBED_S3_SECRET_KEY")
        ))
        .args(["-w", "\n%{http_code}"]);
    for h in headers {
        c.args(["-H", h]);
    }
    if let Some(b) = body {
        c.args(["--data-binary", b]);
    }
    let o = c
        .arg(format!(
            "{}/{path_and_query}",
            testbed("TESTBED_S3_ENDPOINT")
        ))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", &out));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// A new bucket with Object Lock on and a default COMPLIANCE retention of one day.
fn lock_bucket() -> String {
    let bucket = format!("worm-{}", unique_prefix().replace(['t', '-'], ""));
    let bucket = bucket[..bucket.len().min(40)].to_string();
    let (code, body) = s3_curl(
        "PUT",
        &bucket,
        &["x-amz-bucket-object-lock-enabled: true"],
        None,
    );
    assert_eq!(code, 200, "create {bucket}: {body}");
    let config = r#"<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>"#;
    let (code, body) = s3_curl("PUT", &format!("{bucket}?object-lock="), &[], Some(config));
    assert_eq!(code, 200, "object lock on {bucket}: {body}");
    bucket
}

/// A proxy in front of the S3 test server that keeps every byte the client sent.
pub(crate) async fn recording_proxy() -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let upstream: SocketAddr = testbed("TESTBED_S3_ENDPOINT")
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&sent);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let server = TcpStream::connect(upstream).await.unwrap();
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = async {
                    let mut buf = vec![0u8; 64 << 10];
                    while let Ok(n) = cr.read(&mut buf).await {
                        if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        record.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    let _ = sw.shutdown().await;
                };
                let down = async {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                    let _ = cw.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    (addr, sent)
}

/// How many request headers named `name` the recorded bytes hold.
fn header_count(sent: &Mutex<Vec<u8>>, name: &str) -> usize {
    let text = String::from_utf8_lossy(&sent.lock().unwrap()).to_ascii_lowercase();
    text.matches(&format!("\r\n{name}:")).count()
}

/// A workspace archiving into `bucket` through `endpoint`; `extra` joins `[destination]`.
fn env_in(bucket: &str, endpoint: &str, extra: &str) -> Env {
    let toml = format!(
        "state_dir = \"state\"\npart_size = \"5MiB\"\nmultipart_threshold = \"5MiB\"\n[destination]\nurl = \"s3://{bucket}/{}\"\n{extra}[destination.options]\naws_endpoint = \"{endpoint}\"\naws_access_key_id = \"{}\"\naws_secret_access_key = \"{}\"\naws_region = \"us-east-1\"\naws_allow_http = true\naws_virtual_hosted_style_request = false\n[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n",
        unique_prefix(),
        testbed("TESTBED_S3_ACCESS_KEY"),
        testbed("TESTBED_S3_SECRET_KEY"),
    );
    Env::from_toml(tempfile::tempdir().unwrap(), &toml)
}

async fn data_keys(store: &logferry::Store) -> Vec<Path> {
    let prefix = Path::from("data");
    let metas: Vec<_> = store.list(Some(&prefix)).try_collect().await.unwrap();
    metas.into_iter().map(|m| m.location).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_lock_bucket_takes_checksummed_puts_and_keeps_what_they_wrote() {
    let bucket = lock_bucket();
    // The server checks the checksum it is sent: a wrong one is refused.
    let wrong = "x-amz-checksum-sha256: 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let (code, body) = s3_curl("PUT", &format!("{bucket}/wrong"), &[wrong], Some("hello"));
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("BadDigest"), "{body}");
    let (addr, sent) = recording_proxy().await;
    let env = env_in(&bucket, &format!("http://{addr}"), "");
    env.write("small.log", b"one line\n");
    env.write("big.log", &noise(11 << 20, 0));
    let r = env.pass().await;
    assert_eq!(r.files_uploaded, 2, "{r:?}");
    env.assert_objects_match_decoded().await;
    // One create of the multipart upload, three parts, and the single puts (the small
    // file, the generation, the catalog's objects) each carry a SHA-256 the server checks.
    assert_eq!(header_count(&sent, "x-amz-checksum-algorithm"), 1);
    let checksummed = header_count(&sent, "x-amz-checksum-sha256");
    let puts = String::from_utf8_lossy(&sent.lock().unwrap())
        .matches("PUT /")
        .count();
    assert!(checksummed >= 4, "{checksummed} checksum headers");
    assert_eq!(checksummed, puts, "every PUT carries its checksum");

    // The catalog's derived objects (the published mark) are overwritten each pass: on
    // a versioned, locked bucket that adds a version beside the retained one.
    env.write("next.log", b"another line\n");
    let r = env.pass().await;
    assert_eq!(r.files_uploaded, 1, "{r:?}");
    env.assert_objects_match_decoded().await;

    let keys = data_keys(&env.store).await;
    assert_eq!(keys.len(), 3);
    let soon = SystemTime::now() + Duration::from_secs(23 * 3600);
    for key in &keys {
        match delete_object(&env.store, key).await.unwrap() {
            Deletion::Locked { until: Some(t) } => assert!(t.time() > soon, "{key}: {t}"),
            other => panic!("{key}: {other:?}"),
        }
        env.store.head(key).await.expect("a locked object stays");
    }
    let missing = Path::from("data/app/never.log-00");
    assert_eq!(
        delete_object(&env.store, &missing).await.unwrap(),
        Deletion::Absent
    );

    let checks = probe(&env.store, &env.config.destination).await;
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
    let said = |name: &str| {
        checks
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.detail.clone())
            .unwrap()
    };
    assert!(
        said("object lock").starts_with("enabled, default retention COMPLIANCE 1 day:"),
        "{checks:?}"
    );
    assert!(said("checksum").starts_with("puts carry x-amz-checksum-sha256"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checksum_none_sends_no_checksum_and_an_unlocked_object_is_deleted() {
    let (addr, sent) = recording_proxy().await;
    let env = env_in(
        &testbed("TESTBED_S3_BUCKET"),
        &format!("http://{addr}"),
        "checksum = \"none\"\n",
    );
    env.write("small.log", b"one line\n");
    env.write("big.log", &noise(6 << 20, 0));
    assert_eq!(env.pass().await.files_uploaded, 2);
    assert_eq!(header_count(&sent, "x-amz-checksum-sha256"), 0);
    assert_eq!(header_count(&sent, "x-amz-checksum-algorithm"), 0);
    for key in data_keys(&env.store).await {
        assert_eq!(
            delete_object(&env.store, &key).await.unwrap(),
            Deletion::Deleted
        );
        assert!(matches!(
            env.store.head(&key).await,
            Err(object_store::Error::NotFound { .. })
        ));
    }
    let checks = probe(&env.store, &env.config.destination).await;
    let lock = checks.iter().find(|c| c.name == "object lock").unwrap();
    assert_eq!(lock.detail, "not enabled on this bucket");
    let sum = checks.iter().find(|c| c.name == "checksum").unwrap();
    assert!(sum
        .detail
        .starts_with("off (destination.checksum = \"none\")"));
}

/// Expiry on an Object Lock bucket: the expired version's object is reported "locked
/// until T" (the bucket's default retention), stays, and the run succeeds; nothing
/// loops on it as a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_reports_locked_objects_and_succeeds() {
    use crate::retention::Later;
    let bucket = lock_bucket();
    let mut env = env_in(&bucket, &testbed("TESTBED_S3_ENDPOINT"), "");
    env.config.sources[0].keep.keep_for = Some(Duration::from_secs(30 * 86_400));
    env.write("gone.log", b"expires\n");
    logferry::run_once(&env.config, &env.store, &Later(0.0))
        .await
        .unwrap();
    env.remove("gone.log");
    let opts = logferry::ExpireOptions::default();
    for day in [60.0, 61.5] {
        let r = logferry::expire(&env.config, &env.store, &Later(day), opts)
            .await
            .unwrap();
        assert_eq!(r.objects_deleted, 0, "{r:?}");
        assert_eq!(r.locked.len(), 1, "{r:?}");
        let until = r.locked[0].until.expect("the retain-until date");
        assert!(until.time() > SystemTime::now(), "{until}");
    }
    assert_eq!(
        data_keys(&env.store).await.len(),
        1,
        "the locked object stays"
    );
}
