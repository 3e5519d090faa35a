//! Shared test scaffolding: a temp workspace with a log dir, a state dir and a destination,
//! plus a store wrapper that injects faults at chosen requests.

use std::cell::Cell;
use std::fmt;
use std::fs::{File, FileTimes, OpenOptions};
use std::io::Write;
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use logferry::{
    config_from_toml, load_latest, open_store, run_once, Config, Decoder, Hashing, Index, Result,
    RunReport, Store, SystemClock,
};

use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use sha2::{Digest, Sha256};

/// A destination kind the conformance suite runs against.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Backend {
    /// `memory://`
    Memory,
    /// A local mirror directory.
    Local,
    /// The S3 test server (SeaweedFS, with SigV4 auth), started by `scripts/testbed`.
    S3,
    /// The Azure test server (Azurite), started by `scripts/testbed`.
    Azure,
    /// GCS: the XML API proxy in front of the S3 test server ([`crate::gcs_xml`]), or a
    /// real bucket when `LOGFERRY_TEST_GCS_BUCKET` names one.
    Gcs,
}

/// A test server's setting from the environment `scripts/testbed` writes. A test that
/// needs a server fails, naming what is missing, rather than passing by skipping.
pub(crate) fn testbed(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: this test needs the object-storage test servers; run the suite with `scripts/test` (it starts them), or `scripts/testbed up` and `. .testbed/env`"
        )
    })
}

/// A prefix no other test uses, so tests share one bucket.
pub(crate) fn unique_prefix() -> String {
    use std::sync::atomic::AtomicU64;
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "t{}-{}-{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// The `[destination]` table for a backend, without the `[[sources]]`.
pub(crate) fn destination_toml(backend: Backend) -> String {
    match backend {
        Backend::Memory => "[destination]\nurl = \"memory://\"\n".into(),
        Backend::Local => "[destination]\nurl = \"mirror\"\n".into(),
        Backend::S3 => s3_destination_toml(&testbed("TESTBED_S3_ENDPOINT"), &testbed("TESTBED_S3_SECRET_KEY"), ""),
        Backend::Azure => format!(
            "[destination]\nurl = \"az://{}/{}\"\n[destination.options]\nazure_storage_account_name = \"{}\"\nazure_storage_account_key = \"{}\"\nazure_storage_endpoint = \"{}\"\nazure_allow_http = true\n",
            testbed("TESTBED_AZURE_CONTAINER"),
            unique_prefix(),
            testbed("TESTBED_AZURE_ACCOUNT"),
            testbed("TESTBED_AZURE_KEY"),
            testbed("TESTBED_AZURE_ENDPOINT"),
        ),
        Backend::Gcs => gcs_destination_toml(),
    }
}

/// A GCS destination: the real bucket `LOGFERRY_TEST_GCS_BUCKET` names, when it is set
/// (`scripts/test-real-gcs`; credentials from the environment, as on a host), else the XML
/// API proxy in front of the S3 test server.
pub(crate) fn gcs_destination_toml() -> String {
    match std::env::var("LOGFERRY_TEST_GCS_BUCKET") {
        Ok(bucket) if !bucket.is_empty() => {
            format!(
                "[destination]\nurl = \"gs://{bucket}/{}\"\n",
                unique_prefix()
            )
        }
        _ => gcs_proxy_destination_toml(&crate::gcs_xml::endpoint()),
    }
}

/// A GCS destination through the XML API proxy at `endpoint`.
pub(crate) fn gcs_proxy_destination_toml(endpoint: &str) -> String {
    format!(
        "[destination]\nurl = \"gs://{}/{}\"\n[destination.options]\ngoogle_service_account_key = '{}'\nallow_http = true\n",
        crate::gcs_xml::bucket(),
        unique_prefix(),
        crate::gcs_xml::service_account_key_for(endpoint),
    )
}

/// An S3 destination at `endpoint` (the server, or a proxy in front of it) with `secret`;
/// `extra` is added to the `[destination]` table (timeouts, retries).
pub(crate) fn s3_destination_toml(endpoint: &str, secret: &str, extra: &str) -> String {
    format!(
        "[destination]\nurl = \"s3://{}/{}\"\n{extra}[destination.options]\naws_endpoint = \"{endpoint}\"\naws_access_key_id = \"{}\"\naws_secret_access_key = \"{secret}\"\naws_region = \"us-east-1\"\naws_allow_http = true\naws_virtual_hosted_style_request = false\n",
        testbed("TESTBED_S3_BUCKET"),
        unique_prefix(),
        testbed("TESTBED_S3_ACCESS_KEY"),
    )
}

/// A workspace: logs under `logs/`, state under `state/`, the archive in `store`.
pub(crate) struct Env {
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub store: Store,
    clock: Cell<u64>,
}

impl Env {
    pub(crate) fn new(backend: Backend) -> Env {
        Self::with_sources(
            backend,
            r#"[[sources]]
name = "app"
path = "logs"
min_age = "0s"
"#,
        )
    }

    /// A workspace whose config has these `[[sources]]` tables.
    pub(crate) fn with_sources(backend: Backend, sources: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        let toml = format!(
            "state_dir = \"state\"\n{}{sources}",
            destination_toml(backend)
        );
        Self::from_toml(dir, &toml)
    }

    /// A workspace with this whole config text (paths relative to the workspace).
    pub(crate) fn from_toml(dir: tempfile::TempDir, toml: &str) -> Env {
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        let config = config_from_toml(toml, dir.path(), std::iter::empty()).unwrap();
        let store = open_store(&config.destination).unwrap();
        Env {
            dir,
            config,
            store,
            clock: Cell::new(0),
        }
    }

    pub(crate) fn logs(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.logs().join(rel)
    }

    /// Each write gets its own mtime, a day in the past, one second after the previous:
    /// like real log files, and old enough that its stat can be trusted.
    fn stamp(&self, path: &FsPath) {
        let n = self.clock.get() + 1;
        self.clock.set(n);
        let t = SystemTime::now() - Duration::from_secs(86_400) + Duration::from_secs(n);
        let f = File::options().write(true).open(path).unwrap();
        f.set_times(FileTimes::new().set_modified(t)).unwrap();
    }

    pub(crate) fn write(&self, rel: &str, content: &[u8]) {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        self.stamp(&p);
    }

    pub(crate) fn append(&self, rel: &str, content: &[u8]) {
        let p = self.path(rel);
        OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(content)
            .unwrap();
        self.stamp(&p);
    }

    /// The file's mtime.
    pub(crate) fn mtime_of(&self, rel: &str) -> SystemTime {
        std::fs::metadata(self.path(rel))
            .unwrap()
            .modified()
            .unwrap()
    }

    /// Writes `content` and sets the mtime to `t`, as extraction tools, `cp -p`,
    /// `rsync -t` and `touch -d` do.
    pub(crate) fn write_with_mtime(&self, rel: &str, content: &[u8], t: SystemTime) {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        let f = File::options().write(true).open(&p).unwrap();
        f.set_times(FileTimes::new().set_modified(t)).unwrap();
    }

    pub(crate) fn rename(&self, from: &str, to: &str) {
        std::fs::rename(self.path(from), self.path(to)).unwrap();
    }

    pub(crate) fn remove(&self, rel: &str) {
        std::fs::remove_file(self.path(rel)).unwrap();
    }

    pub(crate) async fn pass(&self) -> RunReport {
        self.pass_with(&self.store).await.expect("pass runs")
    }

    pub(crate) async fn pass_with(&self, store: &Store) -> Result<RunReport> {
        run_once(&self.config, store, &SystemClock).await
    }

    pub(crate) async fn index(&self) -> Index {
        load_latest(&self.store).await.unwrap()
    }

    /// The archive's data objects and generations: the keys that are the truth, without
    /// the lookup objects under `catalog/` (see [`Env::catalog_keys`]).
    pub(crate) async fn keys(&self) -> Vec<String> {
        let mut keys = self.all_keys().await;
        keys.retain(|k| !k.starts_with("catalog/"));
        keys
    }

    /// The lookup objects: folds, version records and published marks.
    pub(crate) async fn catalog_keys(&self) -> Vec<String> {
        let mut keys = self.all_keys().await;
        keys.retain(|k| k.starts_with("catalog/"));
        keys
    }

    async fn all_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .store
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        keys.sort();
        keys
    }

    pub(crate) async fn get(&self, key: &str) -> Bytes {
        self.store
            .get(&Path::from(key))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    }

    /// Every entry of the current generation: see [`Env::assert_objects_match`].
    pub(crate) async fn assert_objects_match_decoded(&self) {
        self.assert_objects_match(&self.index().await).await;
    }

    /// Every entry's object exists with its stored size and decodes (when compressed) to
    /// bytes of the entry's size and sha256.
    pub(crate) async fn assert_objects_match(&self, index: &Index) {
        for e in index.entries() {
            let bytes = self
                .store
                .get(&Path::parse(&e.key).unwrap())
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(
                bytes.len() as u64,
                e.object_size(),
                "stored size of {}",
                e.key
            );
            let mut dec = Decoder::new(e.compression, Hashing::new(Vec::new())).unwrap();
            dec.write(&bytes).unwrap();
            let (out, _, _) = dec.finish().unwrap().finish();
            assert_eq!(out.len() as u64, e.size, "size of {}", e.key);
            assert_eq!(sha(&out), e.sha256.to_string(), "content of {}", e.key);
        }
    }
}

/// What object_store returns when a connection is reset while a request is answered.
pub(crate) fn reset_error() -> object_store::Error {
    let io = std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "connection reset by peer",
    );
    object_store::Error::Generic {
        store: "fault",
        source: Box::new(object_store::client::HttpError::new(
            object_store::client::HttpErrorKind::Interrupted,
            io,
        )),
    }
}

/// `n` bytes that do not repeat and do not compress (xorshift from `seed`), so no part
/// of a multipart upload looks like another and compressed parts stay full.
pub(crate) fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn sha(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

/// Wraps a store and injects faults: fail manifest puts (a crash before commit), or
/// write an object just before the first data upload (a racing writer), or run a hook
/// before the first data `head` (the file changes during the pass).
#[derive(Debug)]
pub(crate) struct FaultStore {
    inner: Store,
    pub fail_manifest_puts: AtomicBool,
    /// Puts to keys under this prefix fail, as an outage right after a commit does.
    pub failing_puts_under: Mutex<Option<String>>,
    /// Every LIST waits this long first (a slow store, on tokio's clock).
    pub list_delay: Mutex<Option<Duration>>,
    /// This many LISTs fail (a store that does not answer).
    pub failing_lists: AtomicUsize,
    /// Turns create-only puts into plain puts, like a store that ignores If-None-Match.
    pub ignore_create_mode: AtomicBool,
    pub before_first_data_put: Mutex<Option<(Path, Bytes)>>,
    pub before_first_data_head: Mutex<Option<Hook>>,
    /// Runs before the first data put is sent, and before the first manifest put.
    pub before_first_data_put_hook: Mutex<Option<Hook>>,
    pub before_first_manifest_put: Mutex<Option<Hook>>,
    /// Data puts to keys containing this fail every time, as a connection reset does.
    pub failing_data_puts: Mutex<Option<String>>,
    pub data_puts: AtomicUsize,
    /// This many reads of a data object return a body that breaks after its first chunk,
    /// as a connection reset mid-body (or object_store's failed resume of one) does.
    pub cut_data_bodies: AtomicUsize,
    /// When set, this many more writes (puts, deletes) go through and every later one
    /// fails: the process killed at that instant.
    pub writes_left: Arc<Mutex<Option<usize>>>,
    /// Put just before the first manifest put: another writer's generation.
    pub before_first_manifest_put_object: Mutex<Option<(Path, Bytes)>>,
    /// Every request, and the writing ones.
    pub requests: AtomicUsize,
    pub writes: AtomicUsize,
}

pub(crate) struct Hook(pub Box<dyn FnOnce() + Send>);

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hook")
    }
}

impl FaultStore {
    pub(crate) fn wrap(inner: &Store) -> Arc<FaultStore> {
        Arc::new(FaultStore {
            inner: Arc::clone(inner),
            fail_manifest_puts: AtomicBool::new(false),
            failing_puts_under: Mutex::new(None),
            list_delay: Mutex::new(None),
            failing_lists: AtomicUsize::new(0),
            ignore_create_mode: AtomicBool::new(false),
            before_first_data_put: Mutex::new(None),
            before_first_data_head: Mutex::new(None),
            before_first_data_put_hook: Mutex::new(None),
            before_first_manifest_put: Mutex::new(None),
            failing_data_puts: Mutex::new(None),
            data_puts: AtomicUsize::new(0),
            cut_data_bodies: AtomicUsize::new(0),
            writes_left: Arc::new(Mutex::new(None)),
            before_first_manifest_put_object: Mutex::new(None),
            requests: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
        })
    }

    fn count(&self, write: bool) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if write {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A listing as the faults say: failed, delayed, or as the inner store gives it.
    fn delayed(
        &self,
        inner: BoxStream<'static, object_store::Result<ObjectMeta>>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        use futures::StreamExt;
        let failing = self
            .failing_lists
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            let e = object_store::Error::Generic {
                store: "fault",
                source: "connection refused".into(),
            };
            return futures::stream::once(async move { Err(e) }).boxed();
        }
        match *self.list_delay.lock().unwrap() {
            None => inner,
            Some(d) => futures::stream::once(async move {
                tokio::time::sleep(d).await;
                inner
            })
            .flatten()
            .boxed(),
        }
    }

    /// Whether one more write may go through (see `writes_left`).
    fn spend(left: &Mutex<Option<usize>>) -> bool {
        match &mut *left.lock().unwrap() {
            None => true,
            Some(0) => false,
            Some(n) => {
                *n -= 1;
                true
            }
        }
    }

    fn killed() -> object_store::Error {
        object_store::Error::Generic {
            store: "fault",
            source: "injected kill: no more writes".into(),
        }
    }

    fn is_manifest(p: &Path) -> bool {
        p.as_ref().starts_with("manifests/")
    }
}

impl fmt::Display for FaultStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for FaultStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.count(true);
        if !Self::spend(&self.writes_left) {
            return Err(Self::killed());
        }
        let under = self.failing_puts_under.lock().unwrap().clone();
        if under.is_some_and(|p| location.as_ref().starts_with(&p)) {
            return Err(reset_error());
        }
        if Self::is_manifest(location) {
            let other = self.before_first_manifest_put_object.lock().unwrap().take();
            if let Some((p, b)) = other {
                self.inner.put(&p, b.into()).await?;
            }
            let hook = self.before_first_manifest_put.lock().unwrap().take();
            if let Some(Hook(f)) = hook {
                f();
            }
            if self.fail_manifest_puts.load(Ordering::SeqCst) {
                return Err(object_store::Error::Generic {
                    store: "fault",
                    source: "injected crash before commit".into(),
                });
            }
        } else if location.as_ref().starts_with("data/") {
            let pending = self.before_first_data_put.lock().unwrap().take();
            if let Some((p, b)) = pending {
                self.inner.put(&p, b.into()).await?;
            }
            let hook = self.before_first_data_put_hook.lock().unwrap().take();
            if let Some(Hook(f)) = hook {
                f();
            }
            self.data_puts.fetch_add(1, Ordering::SeqCst);
            let failing = self.failing_data_puts.lock().unwrap().clone();
            if failing.is_some_and(|k| location.as_ref().contains(&k)) {
                return Err(reset_error());
            }
        }
        let mut opts = opts;
        if self.ignore_create_mode.load(Ordering::SeqCst) {
            opts.mode = object_store::PutMode::Overwrite;
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.count(true);
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.count(false);
        if options.head && !Self::is_manifest(location) {
            let hook = self.before_first_data_head.lock().unwrap().take();
            if let Some(Hook(f)) = hook {
                f();
            }
        }
        let cut = !options.head
            && !Self::is_manifest(location)
            && self
                .cut_data_bodies
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        let mut got = self.inner.get_opts(location, options).await?;
        if cut {
            let GetResultPayload::Stream(body) = got.payload else {
                panic!("cut_data_bodies needs a store that streams its bodies (memory, S3)");
            };
            let first = body.take(1);
            let reset = futures::stream::once(async {
                Err(object_store::Error::Generic {
                    store: "fault",
                    source: "connection reset by peer mid-body".into(),
                })
            });
            got.payload = GetResultPayload::Stream(Box::pin(first.chain(reset)));
        }
        Ok(got)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.count(true);
        let inner = Arc::clone(&self.inner);
        let left = Arc::clone(&self.writes_left);
        locations
            .then(move |loc| {
                let inner = Arc::clone(&inner);
                let left = Arc::clone(&left);
                async move {
                    let loc = loc?;
                    if !Self::spend(&left) {
                        return Err(Self::killed());
                    }
                    inner.delete(&loc).await.map(|()| loc)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.count(false);
        self.delayed(self.inner.list(prefix))
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.count(false);
        self.delayed(self.inner.list_with_offset(prefix, offset))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.count(false);
        self.count(false);
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

/// Runs the built binary with `--config cfg`, `args` and the extra environment `envs`,
/// off the async threads (RUST_LOG removed, so the binary's own defaults apply).
pub(crate) async fn logferry_with_env(
    cfg: &FsPath,
    args: &[&str],
    envs: Vec<(String, String)>,
) -> std::process::Output {
    let mut all = vec!["--config".to_string(), cfg.display().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_logferry"));
        cmd.args(&all).env_remove("RUST_LOG");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    })
    .await
    .unwrap()
}

/// [`logferry_with_env`] with the test's own environment.
pub(crate) async fn logferry(cfg: &FsPath, args: &[&str]) -> std::process::Output {
    logferry_with_env(cfg, args, Vec::new()).await
}

/// A finished run's stdout, then its stderr.
pub(crate) fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Asserts that the pass reported by `run` (an entry of `status --json`) peaked below
/// `bound` bytes of resident memory.
pub(crate) fn assert_peak_rss_below(run: &serde_json::Value, bound: u64) {
    let peak = run["peak_rss_bytes"].as_u64().expect("peak RSS recorded");
    assert!(
        peak < bound,
        "peak RSS {} MiB over the bound {} MiB",
        peak >> 20,
        bound >> 20
    );
}
