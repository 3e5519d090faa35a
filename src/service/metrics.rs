//! Prometheus metrics: counters and gauges fed by each pass's report, rendered in the
//! text exposition format, served over HTTP by the agent (`/metrics`, `/healthz`,
//! `/readyz`) or written atomically to a node_exporter textfile by `--run-once`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::remote::throttle::Limiter;
use crate::report::{Outcome, RunReport};
use crate::state::write_atomic;

mod expiry;
mod local;

/// Upper bounds of the pass duration histogram, in seconds.
pub(crate) const DURATION_BUCKETS: [f64; 10] =
    [0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

#[derive(Debug, Default, Clone)]
struct ArchiveMetrics {
    passes: BTreeMap<&'static str, u64>,
    files_uploaded: u64,
    bytes_uploaded: u64,
    file_failures: u64,
    name_conflicts: u64,
    duration_counts: [u64; DURATION_BUCKETS.len()],
    duration_count: u64,
    duration_sum: f64,
    last_success: Option<f64>,
    pending: u64,
    oldest_pending_mtime_ns: Option<i64>,
    generation: u64,
    local: local::LocalMetrics,
}

type Getter = fn(&ArchiveMetrics) -> u64;

#[derive(Debug, Default)]
struct Inner {
    archives: BTreeMap<String, ArchiveMetrics>,
    expiry: BTreeMap<String, expiry::ExpiryMetrics>,
    limiters: BTreeMap<String, Limiter>,
    ready: bool,
    last_alive: Option<Instant>,
}

/// The agent's metrics; cheap to clone and share.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<Inner>>,
}

impl Metrics {
    /// Accounts one pass of `archive`.
    pub fn record(&self, archive: &str, r: &RunReport) {
        let mut inner = self.inner.lock().expect("metrics lock");
        let m = inner.archives.entry(archive.to_string()).or_default();
        *m.passes.entry(r.outcome.as_str()).or_default() += 1;
        m.files_uploaded += r.files_uploaded;
        m.bytes_uploaded += r.bytes_uploaded;
        m.file_failures += r.files_failed;
        m.name_conflicts += r.name_conflicts;
        let secs = r.duration_ms as f64 / 1000.0;
        for (i, b) in DURATION_BUCKETS.iter().enumerate() {
            if secs <= *b {
                m.duration_counts[i] += 1;
            }
        }
        m.duration_count += 1;
        m.duration_sum += secs;
        // A skipped pass looked at nothing: the gauges keep what the last pass that ran said.
        if r.outcome == Outcome::Skipped {
            return;
        }
        if r.outcome != Outcome::Failed {
            m.last_success = r
                .started_at
                .time()
                .duration_since(UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs_f64() + r.duration_ms as f64 / 1000.0);
            m.generation = r.current_generation;
        }
        m.pending = r.files_pending;
        m.oldest_pending_mtime_ns = r.oldest_pending_mtime_ns;
        m.local.record(r);
    }

    /// Accounts one expiry of `archive` (`None`: it failed), finished at `now`.
    pub fn record_expiry(&self, archive: &str, r: Option<&crate::ExpireReport>, now: SystemTime) {
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let mut inner = self.inner.lock().expect("metrics lock");
        inner
            .expiry
            .entry(archive.to_string())
            .or_default()
            .record(r, secs);
    }

    /// Shows `limiter`'s limit on requests in flight as `archive`'s
    /// `logferry_requests_in_flight_limit`, read at each render.
    pub fn watch_limiter(&self, archive: &str, limiter: &Limiter) {
        let mut inner = self.inner.lock().expect("metrics lock");
        inner.limiters.insert(archive.to_string(), limiter.clone());
    }

    /// The agent holds its state and waits for passes.
    pub fn set_ready(&self) {
        self.inner.lock().expect("metrics lock").ready = true;
    }

    /// The agent loop is alive (and any pass is progressing).
    pub fn alive(&self) {
        self.inner.lock().expect("metrics lock").last_alive = Some(crate::time::monotonic());
    }

    /// Alive within `within`.
    pub fn is_healthy(&self, within: Duration) -> bool {
        let inner = self.inner.lock().expect("metrics lock");
        inner.last_alive.is_some_and(|t| t.elapsed() <= within)
    }

    /// Ready (see [`Metrics::set_ready`]).
    pub fn is_ready(&self) -> bool {
        self.inner.lock().expect("metrics lock").ready
    }

    /// The text exposition format, with ages computed at `now`.
    pub fn render(&self, now: SystemTime) -> String {
        let inner = self.inner.lock().expect("metrics lock");
        let mut out = String::new();
        let archives = &inner.archives;
        render_passes(&mut out, archives);
        render_counters(&mut out, archives);
        render_durations(&mut out, archives);
        render_gauges(&mut out, archives, now, inner.ready);
        local::render(&mut out, archives);
        expiry::render(&mut out, &inner.expiry);
        if !inner.limiters.is_empty() {
            per_archive(
                &mut out,
                &inner.limiters,
                (
                    "logferry_requests_in_flight_limit",
                    "gauge",
                    "Requests a pass may keep in flight now: lowered while the destination throttles.",
                ),
                |l| l.limit().to_string(),
            );
        }
        out
    }

    /// Writes [`Metrics::render`] to `path` atomically, for node_exporter's textfile collector.
    pub fn write_textfile(&self, path: &Path, now: SystemTime) -> Result<()> {
        write_atomic(path, self.render(now).as_bytes())
    }

    /// Serves `/metrics`, `/healthz` (alive within `healthy_within`) and `/readyz` on
    /// `addr` until the returned task is dropped or aborted.
    pub async fn serve(
        &self,
        addr: SocketAddr,
        healthy_within: Duration,
    ) -> Result<tokio::task::JoinHandle<()>> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::io("listen on metrics_listen", addr.to_string(), e))?;
        let metrics = self.clone();
        Ok(tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let metrics = metrics.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let metrics = metrics.clone();
                            async move {
                                Ok::<_, std::convert::Infallible>(respond(
                                    &metrics,
                                    req.uri().path(),
                                    healthy_within,
                                ))
                            }
                        },
                    );
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        }))
    }
}

fn respond(
    metrics: &Metrics,
    path: &str,
    healthy_within: Duration,
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    let (status, ctype, body) = match path {
        "/metrics" => (
            200,
            "text/plain; version=0.0.4",
            metrics.render(crate::time::Clock::now(&crate::time::SystemClock)),
        ),
        "/healthz" if metrics.is_healthy(healthy_within) => (200, "text/plain", "ok\n".to_string()),
        "/healthz" => (503, "text/plain", "agent loop stalled\n".to_string()),
        "/readyz" if metrics.is_ready() => (200, "text/plain", "ready\n".to_string()),
        "/readyz" => (503, "text/plain", "starting\n".to_string()),
        _ => (
            404,
            "text/plain",
            "not found; try /metrics, /healthz or /readyz\n".to_string(),
        ),
    };
    hyper::Response::builder()
        .status(status)
        .header("content-type", ctype)
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .expect("static response parts are valid")
}

type Archives = BTreeMap<String, ArchiveMetrics>;

/// The `# HELP` and `# TYPE` lines that open a metric family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A family with one sample per archive, labelled by it.
fn per_archive<M>(
    out: &mut String,
    archives: &BTreeMap<String, M>,
    (name, kind, help): (&str, &str, &str),
    value: impl Fn(&M) -> String,
) {
    family(out, name, kind, help);
    for (a, m) in archives {
        let _ = writeln!(out, "{name}{{archive=\"{a}\"}} {}", value(m));
    }
}

fn render_passes(out: &mut String, archives: &Archives) {
    family(
        out,
        "logferry_passes_total",
        "counter",
        "Passes by outcome (ok, partial, failed, skipped: the pre_pass hook failed).",
    );
    for (a, m) in archives {
        for outcome in ["ok", "partial", "failed", "skipped"] {
            let n = m.passes.get(outcome).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "logferry_passes_total{{archive=\"{a}\",outcome=\"{outcome}\"}} {n}"
            );
        }
    }
}

fn render_counters(out: &mut String, archives: &Archives) {
    let counters: [(&str, &str, Getter); 4] = [
        ("logferry_files_uploaded_total", "Objects uploaded.", |m| {
            m.files_uploaded
        }),
        ("logferry_bytes_uploaded_total", "Bytes uploaded.", |m| {
            m.bytes_uploaded
        }),
        (
            "logferry_file_failures_total",
            "Files that could not be archived.",
            |m| m.file_failures,
        ),
        (
            "logferry_name_conflicts_total",
            "Files not archived because their name is archived with other content (names = \"immutable\").",
            |m| m.name_conflicts,
        ),
    ];
    for (name, help, get) in counters {
        per_archive(out, archives, (name, "counter", help), |m| {
            get(m).to_string()
        });
    }
}

fn render_durations(out: &mut String, archives: &Archives) {
    family(
        out,
        "logferry_pass_duration_seconds",
        "histogram",
        "Wall time of passes.",
    );
    for (a, m) in archives {
        for (b, n) in DURATION_BUCKETS.iter().zip(m.duration_counts) {
            let _ = writeln!(
                out,
                "logferry_pass_duration_seconds_bucket{{archive=\"{a}\",le=\"{b}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "logferry_pass_duration_seconds_bucket{{archive=\"{a}\",le=\"+Inf\"}} {}",
            m.duration_count
        );
        let _ = writeln!(
            out,
            "logferry_pass_duration_seconds_sum{{archive=\"{a}\"}} {}",
            m.duration_sum
        );
        let _ = writeln!(
            out,
            "logferry_pass_duration_seconds_count{{archive=\"{a}\"}} {}",
            m.duration_count
        );
    }
}

fn render_gauges(out: &mut String, archives: &Archives, now: SystemTime, ready: bool) {
    let now_s = now
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    per_archive(
        out,
        archives,
        (
            "logferry_last_success_timestamp_seconds",
            "gauge",
            "When the last pass that did not fail ended (Unix time; 0: never).",
        ),
        |m| m.last_success.unwrap_or(0.0).to_string(),
    );
    per_archive(
        out,
        archives,
        (
            "logferry_pending_files",
            "gauge",
            "Closed files not archived as they are after the last pass.",
        ),
        |m| m.pending.to_string(),
    );
    per_archive(
        out,
        archives,
        (
            "logferry_oldest_pending_age_seconds",
            "gauge",
            "Age of the oldest closed file not yet archived (0: none): the archive lag.",
        ),
        |m| {
            m.oldest_pending_mtime_ns
                .map_or(0.0, |ns| (now_s - ns as f64 / 1e9).max(0.0))
                .to_string()
        },
    );
    family(
        out,
        "logferry_ready",
        "gauge",
        "1 once every destination answered and the agent waits for passes; 0 while it waits for a destination that does not answer at start.",
    );
    let _ = writeln!(out, "logferry_ready {}", u8::from(ready));
    per_archive(
        out,
        archives,
        (
            "logferry_generation",
            "gauge",
            "Current manifest generation.",
        ),
        |m| m.generation.to_string(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_shows_in_every_family() {
        let m = Metrics::default();
        let r = RunReport {
            started_at: "2026-11-21T10:00:00.000Z".parse().unwrap(),
            duration_ms: 1500,
            files_uploaded: 3,
            bytes_uploaded: 300,
            files_pending: 2,
            oldest_pending_mtime_ns: Some(1_763_719_000_000_000_000),
            current_generation: 7,
            ..Default::default()
        };
        m.record("main", &r);
        let now = UNIX_EPOCH + Duration::from_secs(1_763_719_100);
        let text = m.render(now);
        assert!(
            text.contains("logferry_passes_total{archive=\"main\",outcome=\"ok\"} 1"),
            "{text}"
        );
        assert!(text.contains("logferry_files_uploaded_total{archive=\"main\"} 3"));
        assert!(text.contains("logferry_pass_duration_seconds_bucket{archive=\"main\",le=\"1\"} 0"));
        assert!(text.contains("logferry_pass_duration_seconds_bucket{archive=\"main\",le=\"5\"} 1"));
        assert!(
            text.contains("logferry_oldest_pending_age_seconds{archive=\"main\"} 100"),
            "{text}"
        );
        assert!(text.contains("logferry_generation{archive=\"main\"} 7"));
    }

    #[test]
    fn a_watched_limiter_shows_its_limit_as_it_is_now() {
        let m = Metrics::default();
        let now = UNIX_EPOCH + Duration::from_secs(1_763_719_100);
        assert!(!m.render(now).contains("logferry_requests_in_flight_limit"));
        let limiter = Limiter::new(32);
        m.watch_limiter("main", &limiter);
        let text = m.render(now);
        assert!(
            text.contains("logferry_requests_in_flight_limit{archive=\"main\"} 32"),
            "{text}"
        );
        limiter.throttled(limiter.window(), "503 SlowDown");
        let text = m.render(now);
        assert!(
            text.contains("logferry_requests_in_flight_limit{archive=\"main\"} 16"),
            "{text}"
        );
    }

    #[test]
    fn a_skipped_pass_is_counted_and_leaves_the_gauges_alone() {
        let m = Metrics::default();
        let ran = RunReport {
            started_at: "2026-11-21T10:00:00.000Z".parse().unwrap(),
            files_pending: 2,
            current_generation: 7,
            ..Default::default()
        };
        m.record("main", &ran);
        let skipped = RunReport {
            outcome: Outcome::Skipped,
            ..Default::default()
        };
        m.record("main", &skipped);
        let text = m.render(UNIX_EPOCH + Duration::from_secs(1_763_719_100));
        assert!(
            text.contains("logferry_passes_total{archive=\"main\",outcome=\"skipped\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("logferry_generation{archive=\"main\"} 7"),
            "{text}"
        );
        assert!(
            text.contains("logferry_pending_files{archive=\"main\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("logferry_last_success_timestamp_seconds{archive=\"main\"} 1795255200"),
            "{text}"
        );
    }
}
