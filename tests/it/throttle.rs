//! Issue 16: a store answering `503 SlowDown` makes logferry keep fewer requests in
//! flight, not hammer it. Many puts go through the limiter of a store opened with
//! `open_with_limiter`, behind the fault proxy (one request per connection, so the
//! proxy's count of connections waiting for their answer is the client's requests in
//! flight).

use std::sync::atomic::Ordering;

use logferry::{config_from_toml, open_with_limiter, Limiter, Store};
use object_store::path::Path;
use object_store::ObjectStoreExt;

use crate::common::{logferry, s3_destination_toml, testbed};
use crate::proxy::Proxy;

const SOURCES: &str = "[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n";
const MAX: usize = 32;

/// A config of the S3 test server through `proxy`, one request per connection.
fn proxied_toml(proxy: &Proxy) -> String {
    format!(
        "state_dir = \"state\"\n{}pool_max_idle_per_host = \"0\"\n{SOURCES}",
        s3_destination_toml(
            &proxy.endpoint(),
            &testbed("TESTBED_S3_SECRET_KEY"),
            "max_retries = 40\nretry_timeout = \"300s\"\n"
        )
    )
}

/// The S3 test server through `proxy`, one request per connection, opened with a limiter
/// of at most [`MAX`] requests in flight.
fn proxied_s3(proxy: &Proxy, dir: &tempfile::TempDir) -> (Store, Limiter) {
    let toml = proxied_toml(proxy);
    let config = config_from_toml(&toml, dir.path(), std::iter::empty()).unwrap();
    open_with_limiter(&config.destination, MAX).unwrap()
}

/// `n` puts at once, each holding a permit of `limiter` while it runs.
async fn puts(store: &Store, limiter: &Limiter, n: usize, name: &str) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (store, limiter) = (Store::clone(store), limiter.clone());
            let key = Path::from(format!("{name}/{i}"));
            tokio::spawn(async move {
                let _permit = limiter.acquire().await;
                store.put(&key, format!("object {i}\n").into()).await
            })
        })
        .collect();
    for t in tasks {
        t.await
            .unwrap()
            .expect("the put succeeds once the store lets it");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_down_burst_lowers_the_requests_in_flight_and_successes_raise_them_again() {
    let proxy = Proxy::start(&testbed("TESTBED_S3_ENDPOINT")).await;
    let dir = tempfile::tempdir().unwrap();
    let (store, limiter) = proxied_s3(&proxy, &dir);
    assert_eq!(limiter.limit(), MAX);

    // The first MAX requests are answered 503 SlowDown. Retries of a throttled request
    // may meet the burst again, so a request is given more retries than the burst has
    // answers, and the limit may be halved more than once.
    proxy.faults.slow_down.store(MAX, Ordering::SeqCst);
    puts(&store, &limiter, 2 * MAX, "burst").await;
    assert_eq!(proxy.faults.slow_downs.load(Ordering::SeqCst), MAX);
    let low = limiter.limit();
    assert!(low < MAX, "the burst lowered the limit: {low}");
    assert!(
        low > 1,
        "one burst halves the limit once per window, not to 1: {low}"
    );
    assert_eq!(limiter.in_flight(), 0);

    proxy.faults.reset_peak();
    puts(&store, &limiter, 2 * MAX, "after").await;
    let peak = proxy.faults.peak_pending.load(Ordering::SeqCst);
    // The proxy counts a request from its connection to its answer's start, inside the
    // time the client holds its permit: never more than the limit, which only grew since.
    assert!(
        peak < MAX && peak <= limiter.limit(),
        "after the burst at most {} requests are in flight at once, not {MAX}: {peak}",
        limiter.limit()
    );
    assert!(
        limiter.limit() > low,
        "successes raise the limit again: {low} -> {}",
        limiter.limit()
    );
    assert_eq!(proxy.faults.slow_downs.load(Ordering::SeqCst), MAX);
}

/// Azure's and GCS's clients are wrapped too: a 503 before a read's answer halves the
/// limit, and object_store's retry goes on to the answer (a 404 says nothing of load).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_and_gcs_answers_feed_the_limiter() {
    let account = testbed("TESTBED_AZURE_ACCOUNT");
    // Azurite's endpoint ends in the account's path; the proxy forwards to its host.
    let azure_host = testbed("TESTBED_AZURE_ENDPOINT")
        .trim_end_matches(&format!("/{account}"))
        .to_string();
    let azure = Proxy::start(&azure_host).await;
    let gcs = Proxy::start(&testbed("TESTBED_GCS_ENDPOINT")).await;
    let azure_dest = format!(
        "[destination]\nurl = \"az://{}/throttle\"\n[destination.options]\nazure_storage_account_name = \"{account}\"\nazure_storage_account_key = \"{}\"\nazure_storage_endpoint = \"{}/{account}\"\nazure_allow_http = true\n",
        testbed("TESTBED_AZURE_CONTAINER"),
        testbed("TESTBED_AZURE_KEY"),
        azure.endpoint(),
    );
    let gcs_dest = format!(
        "[destination]\nurl = \"gs://{}/throttle\"\n[destination.options]\ngoogle_service_account_key = '{{\"gcs_base_url\":\"{}\",\"disable_oauth\":true,\"client_email\":\"\",\"private_key\":\"\",\"private_key_id\":\"\"}}'\nallow_http = true\n",
        testbed("TESTBED_GCS_BUCKET"),
        gcs.endpoint(),
    );
    let dir = tempfile::tempdir().unwrap();
    for (proxy, dest) in [(&azure, azure_dest), (&gcs, gcs_dest)] {
        let toml = format!("state_dir = \"state\"\n{dest}{SOURCES}");
        let config = config_from_toml(&toml, dir.path(), std::iter::empty()).unwrap();
        let (store, limiter) = open_with_limiter(&config.destination, MAX).unwrap();
        proxy.faults.slow_down.store(1, Ordering::SeqCst);
        let missing = store.head(&Path::from("never-written")).await;
        assert!(
            matches!(missing, Err(object_store::Error::NotFound { .. })),
            "{} answered {missing:?}",
            config.destination.url
        );
        assert_eq!(proxy.faults.slow_downs.load(Ordering::SeqCst), 1);
        assert_eq!(limiter.limit(), MAX / 2, "{}", config.destination.url);
    }
}

/// A pass through the binary takes its requests from the store's limiter: a burst of
/// `503 SlowDown` lowers it (logged), and the pass still archives everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_backs_off_when_the_destination_slows_it_down() {
    let proxy = Proxy::start(&testbed("TESTBED_S3_ENDPOINT")).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    for i in 0..200 {
        std::fs::write(
            dir.path().join(format!("logs/app.log.{i}")),
            format!("line {i}\n"),
        )
        .unwrap();
    }
    let config = dir.path().join("logferry.toml");
    std::fs::write(&config, proxied_toml(&proxy)).unwrap();
    proxy.faults.slow_down.store(MAX, Ordering::SeqCst);
    let o = logferry(&config, &["--run-once", "-v"]).await;
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.starts_with("archived 200 files"), "{out}");
    assert!(
        err.contains("requests in flight lowered to") && err.contains("SlowDown"),
        "{err}"
    );
    assert!(proxy.faults.slow_downs.load(Ordering::SeqCst) > 0);
}
