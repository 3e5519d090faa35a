//! How much a pass does at once: a WAL segment goes up in one PUT and a file above
//! `multipart_threshold` in parts (requests counted at a recording proxy in front of the
//! S3 test server); more requests are in flight than there are hashing workers, never
//! more than `requests_in_flight`, and hundreds of small files are in flight together
//! (a store whose puts wait for each other); a pass of many small files and a few big
//! ones keeps its peak RSS under the bound the README states; and the old key
//! `upload_concurrency` still sets `requests_in_flight`, with a warning.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use logferry::Store;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

use crate::common::{
    assert_peak_rss_below, destination_toml, logferry, s3_destination_toml, testbed, text, Backend,
    Env,
};
use crate::proxy::Proxy;
use crate::worm::recording_proxy;

const MIB: usize = 1 << 20;

/// Bytes that do not repeat (so nothing compresses or deduplicates by accident).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The request lines (`PUT /bucket/key?query`) in what a client sent.
fn request_lines(sent: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(sent);
    text.split("\r\n")
        .filter(|l| l.ends_with(" HTTP/1.1"))
        .filter_map(|l| {
            let at = ["GET /", "PUT /", "POST /", "HEAD /", "DELETE /"]
                .iter()
                .filter_map(|m| l.find(m))
                .min()?;
            Some(l[at..].trim_end_matches(" HTTP/1.1").to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wal_segment_goes_up_in_one_put_and_a_larger_file_in_parts() {
    let (addr, sent) = recording_proxy().await;
    let dest = s3_destination_toml(
        &format!("http://{addr}"),
        &testbed("TESTBED_S3_SECRET_KEY"),
        "",
    );
    let toml = format!(
        "state_dir = \"state\"\n{dest}[[sources]]\nname = \"wal\"\npath = \"logs\"\nmin_age = \"0s\"\n"
    );
    let env = Env::from_toml(tempfile::tempdir().unwrap(), &toml);
    env.write("000000010000000000000001", &noise(1, 16 * MIB));
    // 40 MiB: above the default threshold of 32 MiB, five parts of 8 MiB.
    env.write("big.log", &noise(2, 40 * MIB));
    let cfg = env.dir.path().join("logferry.toml");
    std::fs::write(&cfg, &toml).unwrap();
    let o = logferry(&cfg, &["--run-once"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let lines = request_lines(&sent.lock().unwrap());
    let about = |name: &str| -> Vec<String> {
        let key = format!("/data/wal/{name}-");
        lines.iter().filter(|l| l.contains(&key)).cloned().collect()
    };
    let wal = about("000000010000000000000001");
    assert_eq!(wal.len(), 1, "one request for the segment: {wal:#?}");
    assert!(
        wal[0].starts_with("PUT /") && !wal[0].contains('?'),
        "a plain PUT: {wal:?}"
    );
    let big = about("big.log");
    let count = |pred: &dyn Fn(&str) -> bool| big.iter().filter(|l| pred(l)).count();
    assert_eq!(count(&|l| l.starts_with("HEAD /")), 1, "{big:#?}");
    assert_eq!(
        count(&|l| l.starts_with("POST /") && l.contains("?uploads")),
        1,
        "{big:#?}"
    );
    assert_eq!(
        count(&|l| l.starts_with("PUT /") && l.contains("partNumber=")),
        5,
        "{big:#?}"
    );
    assert_eq!(
        count(&|l| l.starts_with("POST /") && l.contains("uploadId=")),
        1,
        "{big:#?}"
    );
    env.assert_objects_match(&env.index().await).await;
}

/// A store whose first `gate` data puts each wait until all `gate` of them are in
/// flight (then a little longer), and that counts the most data puts ever in flight at
/// once.
#[derive(Debug)]
struct GateStore {
    inner: Store,
    gate: usize,
    barrier: tokio::sync::Barrier,
    started: AtomicUsize,
    in_flight: AtomicUsize,
    most: AtomicUsize,
}

impl std::fmt::Display for GateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GateStore")
    }
}

impl GateStore {
    fn wrap(inner: &Store, gate: usize) -> Arc<GateStore> {
        Arc::new(GateStore {
            inner: Arc::clone(inner),
            gate,
            barrier: tokio::sync::Barrier::new(gate),
            started: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
        })
    }

    async fn data_put(&self) -> object_store::Result<()> {
        let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(n, Ordering::SeqCst);
        if self.started.fetch_add(1, Ordering::SeqCst) < self.gate {
            // A guard against a hang, not a measure: the gate opens at once when the
            // pass has `gate` puts in flight.
            let opened = tokio::time::timeout(Duration::from_secs(60), self.barrier.wait()).await;
            if opened.is_err() {
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                return Err(object_store::Error::Generic {
                    store: "gate",
                    source: format!("fewer than {} puts were ever in flight at once", self.gate)
                        .into(),
                });
            }
            // Still in flight for a while: a pass that sent more than its bound would
            // have them counted meanwhile.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }
}

#[async_trait]
impl ObjectStore for GateStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        if !location.as_ref().starts_with("data/") {
            return self.inner.put_opts(location, payload, opts).await;
        }
        self.data_put().await?;
        let r = self.inner.put_opts(location, payload, opts).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        r
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// A pass of `files` small files into memory with these limits, its first `gate` data
/// puts held until all of them are in flight: the most puts in flight at once.
async fn gated_pass(files: usize, limits: &str, gate: usize) -> usize {
    let toml = format!(
        "state_dir = \"state\"\n{limits}{}[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n",
        destination_toml(Backend::Memory)
    );
    let env = Env::from_toml(tempfile::tempdir().unwrap(), &toml);
    for i in 0..files {
        // 1 KiB to 64 KiB.
        let size = 1024 + (i * 7919) % (63 * 1024);
        env.write(&format!("f{i:04}.log"), &noise(i as u64 + 1, size));
    }
    let gated = GateStore::wrap(&env.store, gate);
    let store: Store = Arc::<GateStore>::clone(&gated);
    let r = env.pass_with(&store).await.unwrap();
    assert_eq!(
        (r.files_uploaded, r.files_failed),
        (files as u64, 0),
        "{:?}",
        r.failures
    );
    gated.most.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_requests_are_in_flight_than_hash_workers_but_never_more_than_requests_in_flight() {
    let most = gated_pass(12, "hash_workers = 1\nrequests_in_flight = 4\n", 4).await;
    // Four puts waited for each other with one worker: hashing did not bound them; and
    // while they waited no fifth one was sent.
    assert_eq!(most, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_small_files_are_in_flight_at_once() {
    let most = gated_pass(300, "hash_workers = 2\nrequests_in_flight = 1024\n", 300).await;
    assert_eq!(most, 300, "the memory budget holds them all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_small_files_and_a_few_big_ones_stay_under_the_memory_bound() {
    // A threshold of 8 MiB: a budget of 32 MiB, so the README's bound is 96 MiB, while
    // the files that go up in one put hold 240 MiB between them. Through a slow link,
    // so that reading outruns the puts: without the budget they would all be held.
    let proxy = Proxy::start(&testbed("TESTBED_S3_ENDPOINT")).await;
    proxy.faults.throttle.store(16 << 20, Ordering::SeqCst);
    let dest = s3_destination_toml(&proxy.endpoint(), &testbed("TESTBED_S3_SECRET_KEY"), "");
    let toml = format!(
        "state_dir = \"state\"\nmultipart_threshold = \"8MiB\"\n{dest}[[sources]]\nname = \"app\"\npath = \"logs/app\"\nmin_age = \"0s\"\n[[sources]]\nname = \"zst\"\npath = \"logs/zst\"\nmin_age = \"0s\"\ncompression = \"zstd\"\n",
    );
    let env = Env::from_toml(tempfile::tempdir().unwrap(), &toml);
    let mut files = 0;
    for i in 0..400 {
        let size = 1024 + (i * 7919) % (63 * 1024);
        env.write(&format!("app/small/{i:03}.log"), &noise(i as u64 + 1, size));
        files += 1;
    }
    for i in 0..24 {
        env.write(&format!("app/seg/{i:02}"), &noise(1000 + i, 8 * MIB));
        files += 1;
    }
    for i in 0..2 {
        env.write(&format!("app/big/{i}.log"), &noise(2000 + i, 20 * MIB));
        files += 1;
    }
    // Compressible text: each file held whole, then as its compressed bytes.
    let lines: String = (0..200_000)
        .map(|n| {
            format!(
                "2026-11-21T10:00:00Z INFO request {n:08} served in {} ms\n",
                n % 97
            )
        })
        .collect();
    for i in 0..8 {
        env.write(
            &format!("zst/{i}.log"),
            &lines.as_bytes()[i * 4096..][..6 * MIB],
        );
        files += 1;
    }
    env.write("zst/big.log", lines.as_bytes().repeat(2).as_slice());
    files += 1;
    let cfg = env.dir.path().join("logferry.toml");
    std::fs::write(&cfg, &toml).unwrap();
    let o = logferry(&cfg, &["--run-once"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let st = logferry(&cfg, &["status", "--json"]).await;
    let runs: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(runs[0]["files_uploaded"], files, "{}", runs[0]);
    let bound = (64 << 20) + env.config.memory_budget();
    assert_eq!(bound, 96 << 20, "64 MiB + 4 × multipart_threshold");
    assert_peak_rss_below(&runs[0], bound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_concurrency_still_sets_requests_in_flight_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let cfg = dir.path().join("logferry.toml");
    let body = "[destination]\nurl = \"mirror\"\n[[sources]]\nname = \"app\"\npath = \"logs\"\n";
    std::fs::write(&cfg, format!("upload_concurrency = 8\n{body}")).unwrap();
    let o = logferry(&cfg, &["check-config", "--json"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["requests_in_flight"], 8);
    assert!(v.get("upload_concurrency").is_none(), "{v}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`upload_concurrency` is deprecated: it now sets `requests_in_flight`")
            && err.contains("`hash_workers`"),
        "{err}"
    );
    std::fs::write(
        &cfg,
        format!("upload_concurrency = 8\nrequests_in_flight = 8\n{body}"),
    )
    .unwrap();
    let o = logferry(&cfg, &["check-config"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "key `upload_concurrency`: both `upload_concurrency` and `requests_in_flight` are set"
        ),
        "{err}"
    );
}
