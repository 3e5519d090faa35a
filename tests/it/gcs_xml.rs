//! A GCS XML API in front of the S3 test server, so that object_store's GCS client, which
//! writes through the XML API that no emulator reachable here implements, runs the same
//! conformance cases as S3 and Azure against a real server.
//!
//! The XML API is S3-shaped, so most requests pass through, re-signed with SigV4 for
//! SeaweedFS. What differs is translated:
//! - the bearer token is dropped (the client runs with OAuth disabled);
//! - `x-goog-if-generation-match: 0` (create only) becomes `If-None-Match: *`, and the
//!   server's `412 Precondition Failed` goes back as it is, which is what GCS answers;
//! - `x-goog-meta-*` becomes `x-amz-meta-*` on the way in, and back on the way out;
//! - a `DELETE` of an object that is not there answers `404 NoSuchKey`, as GCS does (S3
//!   answers 204), by asking the server with a `HEAD` first;
//! - multipart (`?uploads`, `?partNumber&uploadId`, `CompleteMultipartUpload`, abort) and
//!   the `list-type=2` listing are the same requests on both APIs and pass through.
//!
//! Not modelled, and refused with `501 Not Implemented` naming what was asked, so a case
//! that comes to need it fails instead of passing on a guess: generations (a
//! precondition on a generation other than 0, a read of a given `generation`, the
//! `x-goog-generation` header: none is sent back), copies, storage classes and any other
//! `x-goog-*` header. GCS's error bodies are not modelled: the server's S3 answers go back.
//! GCS's limit of about one write per second to one object is modelled only by a proxy
//! started with it ([`start`]`(true)`), strictly (no bursts).
//!
//! One proxy serves the whole test binary, on its own thread and runtime, started on first
//! use on 127.0.0.1.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use object_store::aws::{AwsAuthorizer, AwsCredential};
use object_store::client::{HttpClient, HttpConnector, HttpRequestBody, ReqwestConnector};
use object_store::ClientOptions;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::common::testbed;

/// What AWS leaves unencoded in a path (and `/`), as object_store's S3 client sends it.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');
/// The same for a query's names and values (`/` encoded).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The S3 server behind the proxy, and what the proxy has seen.
struct Upstream {
    endpoint: String,
    credential: AwsCredential,
    region: String,
    client: HttpClient,
    seen: Arc<Seen>,
    /// When GCS's write rate per object is modelled: when each object was last written.
    last_write: Option<Mutex<HashMap<String, Instant>>>,
}

/// Counts of what the proxy translated or refused, for its own tests.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// `x-goog-if-generation-match: 0` requests the server refused with 412.
    pub create_only_refused: AtomicUsize,
    /// Requests answered 501.
    pub refused: AtomicUsize,
    /// Writes answered 429 for exceeding the write rate of one object.
    pub rate_limited: AtomicUsize,
}

/// A running proxy: its base URL and what it has seen.
pub(crate) struct Started {
    pub endpoint: String,
    pub seen: Arc<Seen>,
}

static SHARED: OnceLock<Started> = OnceLock::new();

/// The proxy every GCS test uses, started on first use.
fn shared() -> &'static Started {
    SHARED.get_or_init(|| start(false))
}

/// Starts a proxy on 127.0.0.1 on a thread and runtime of its own, for the rest of the
/// test binary. With `write_rate_limit`, a second write (put, multipart completion or
/// delete) of one object name within a second of the last one is answered `429`, as
/// GCS answers when its limit of about one write per second per object is exceeded for
/// long (real GCS allows short bursts; the proxy allows none).
pub(crate) fn start(write_rate_limit: bool) -> Started {
    let seen = Arc::new(Seen::default());
    let upstream = Upstream {
        endpoint: testbed("TESTBED_S3_ENDPOINT")
            .trim_end_matches('/')
            .to_string(),
        credential: AwsCredential {
            key_id: testbed("TESTBED_S3_ACCESS_KEY"),
            secret_key: testbed("TESTBED_S3_SECRET_KEY"),
            token: None,
        },
        region: "us-east-1".into(),
        client: ReqwestConnector::default()
            .connect(&ClientOptions::new().with_allow_http(true))
            .expect("an HTTP client for the S3 test server"),
        seen: Arc::clone(&seen),
        last_write: write_rate_limit.then(|| Mutex::new(HashMap::new())),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("gcs-xml-proxy".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                serve(listener, Arc::new(upstream)).await
            })
        })
        .unwrap();
    let addr: SocketAddr = rx.recv().expect("the GCS XML proxy started");
    Started {
        endpoint: format!("http://{addr}"),
        seen,
    }
}

/// The proxy's base URL (`gcs_base_url` for object_store's GCS client).
pub(crate) fn endpoint() -> String {
    shared().endpoint.clone()
}

/// What the proxy has translated and refused so far (all tests together).
pub(crate) fn seen() -> &'static Seen {
    &shared().seen
}

/// The bucket the proxy serves: the S3 test bucket, under the same name.
pub(crate) fn bucket() -> String {
    testbed("TESTBED_S3_BUCKET")
}

/// The same for the proxy at `endpoint`.
pub(crate) fn service_account_key_for(endpoint: &str) -> String {
    format!(
        r#"{{"gcs_base_url":"{endpoint}","disable_oauth":true,"client_email":"","private_key":"","private_key_id":""}}"#
    )
}

async fn serve(listener: tokio::net::TcpListener, upstream: Arc<Upstream>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let upstream = Arc::clone(&upstream);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let upstream = Arc::clone(&upstream);
                async move { Ok::<_, Infallible>(upstream.handle(req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A request the proxy does not model: `501`, naming it.
struct NotModelled(String);

impl Upstream {
    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return answer(StatusCode::BAD_REQUEST, &format!("request body: {e}")),
        };
        let query: Vec<(String, String)> = parts
            .uri
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        match self
            .translate(
                &parts.method,
                parts.uri.path(),
                &query,
                &parts.headers,
                body,
            )
            .await
        {
            Ok(r) => r,
            Err(NotModelled(what)) => {
                self.seen.refused.fetch_add(1, Ordering::SeqCst);
                answer(
                    StatusCode::NOT_IMPLEMENTED,
                    &format!("not modelled by the test proxy: {what}"),
                )
            }
        }
    }

    async fn translate(
        &self,
        method: &Method,
        path: &str,
        query: &[(String, String)],
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response<Full<Bytes>>, NotModelled> {
        if query.iter().any(|(k, _)| k == "generation") {
            return Err(NotModelled("a read of a given generation".into()));
        }
        let mut out = HeaderMap::new();
        let mut create_only = false;
        for (name, value) in headers {
            let n = name.as_str();
            match n {
                "authorization"
                | "host"
                | "connection"
                | "keep-alive"
                | "te"
                | "upgrade"
                | "transfer-encoding"
                | "proxy-authorization" => {}
                "x-goog-if-generation-match" if value == "0" => {
                    create_only = true;
                    out.insert(http::header::IF_NONE_MATCH, HeaderValue::from_static("*"));
                }
                "x-goog-if-generation-match" => {
                    return Err(NotModelled(format!(
                        "x-goog-if-generation-match: {value:?} (generations)"
                    )))
                }
                _ if n.starts_with("x-goog-meta-") => {
                    let amz = format!("x-amz-meta-{}", &n["x-goog-meta-".len()..]);
                    out.append(HeaderName::try_from(amz).unwrap(), value.clone());
                }
                _ if n.starts_with("x-goog-") => {
                    return Err(NotModelled(format!("the header {n}")));
                }
                _ => {
                    out.append(name.clone(), value.clone());
                }
            }
        }
        let (bucket, key) = split_path(path);
        let multipart = query.iter().any(|(k, _)| k == "uploads" || k == "uploadId");
        if *method == Method::DELETE && !multipart && !key.is_empty() {
            let head = self
                .send(
                    Method::HEAD,
                    &bucket,
                    &key,
                    &[],
                    HeaderMap::new(),
                    Bytes::new(),
                )
                .await;
            if head.status() == StatusCode::NOT_FOUND {
                return Ok(answer(
                    StatusCode::NOT_FOUND,
                    "<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
                ));
            }
        }
        // A write of the object itself: a put (not of a part), a multipart completion, a
        // delete.
        let writes_object = !key.is_empty()
            && match *method {
                Method::PUT => !query.iter().any(|(k, _)| k == "partNumber"),
                Method::POST => query.iter().any(|(k, _)| k == "uploadId"),
                Method::DELETE => !multipart,
                _ => false,
            };
        if writes_object && self.too_soon(&key) {
            self.seen.rate_limited.fetch_add(1, Ordering::SeqCst);
            return Ok(answer(
                StatusCode::TOO_MANY_REQUESTS,
                "<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code><Message>The object exceeded the rate limit for object mutation operations.</Message></Error>",
            ));
        }
        let resp = self
            .send(method.clone(), &bucket, &key, query, out, body)
            .await;
        if writes_object && resp.status().is_success() {
            if let Some(last) = &self.last_write {
                last.lock().unwrap().insert(key.clone(), Instant::now());
            }
        }
        if create_only && resp.status() == StatusCode::PRECONDITION_FAILED {
            self.seen.create_only_refused.fetch_add(1, Ordering::SeqCst);
        }
        Ok(resp)
    }

    /// Whether `key` was written less than a second ago, when the rate is modelled.
    fn too_soon(&self, key: &str) -> bool {
        let Some(last) = &self.last_write else {
            return false;
        };
        last.lock()
            .unwrap()
            .get(key)
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
    }

    /// Sends one request to the S3 server, signed, and gives its answer with the headers
    /// turned back into GCS's.
    async fn send(
        &self,
        method: Method,
        bucket: &str,
        key: &str,
        query: &[(String, String)],
        headers: HeaderMap,
        body: Bytes,
    ) -> Response<Full<Bytes>> {
        let mut url = format!("{}/{}", self.endpoint, utf8_percent_encode(bucket, PATH));
        if !key.is_empty() {
            url.push('/');
            url.extend(utf8_percent_encode(key, PATH));
        }
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.extend(utf8_percent_encode(k, QUERY));
            url.push('=');
            url.extend(utf8_percent_encode(v, QUERY));
        }
        let mut req = Request::builder()
            .method(method)
            .uri(url.as_str())
            .body(HttpRequestBody::from(body))
            .unwrap();
        *req.headers_mut() = headers;
        if let Err(e) = AwsAuthorizer::new(&self.credential, "s3", &self.region)
            .with_sign_payload(false)
            .try_authorize(&mut req, None)
        {
            return answer(StatusCode::INTERNAL_SERVER_ERROR, &format!("sign: {e}"));
        }
        let resp = match self.client.execute(req).await {
            Ok(r) => r,
            Err(e) => return answer(StatusCode::BAD_GATEWAY, &format!("S3 server: {e}")),
        };
        let (parts, body) = resp.into_parts();
        let body = match body.bytes().await {
            Ok(b) => b,
            Err(e) => return answer(StatusCode::BAD_GATEWAY, &format!("S3 server body: {e}")),
        };
        let mut out = Response::builder().status(parts.status);
        for (name, value) in &parts.headers {
            let n = name.as_str();
            if let Some(meta) = n.strip_prefix("x-amz-meta-") {
                out = out.header(format!("x-goog-meta-{meta}"), value);
            } else if !n.starts_with("x-amz-")
                && !matches!(n, "connection" | "keep-alive" | "transfer-encoding")
            {
                out = out.header(name, value);
            }
        }
        out.body(Full::new(body)).unwrap()
    }
}

/// `/bucket/key…` (the key percent-encoded, `/` as `%2F`) into the bucket and the key.
fn split_path(path: &str) -> (String, String) {
    let path = path.trim_start_matches('/');
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    (decode(bucket), decode(key))
}

fn answer(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/xml")
        .body(Full::new(Bytes::from(text.to_string())))
        .unwrap()
}

// ---------------------------------------------------------------- the proxy's own tests

/// object_store's GCS client, pointed at the proxy.
fn gcs_client() -> object_store::gcp::GoogleCloudStorage {
    object_store::gcp::GoogleCloudStorageBuilder::new()
        .with_bucket_name(bucket())
        .with_service_account_key(service_account_key_for(&endpoint()))
        .with_client_options(ClientOptions::new().with_allow_http(true))
        .with_retry(object_store::RetryConfig {
            max_retries: 0,
            ..Default::default()
        })
        .build()
        .unwrap()
}

/// object_store's S3 client, straight to the S3 test server: what the proxy wrote.
fn s3_client() -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_endpoint(testbed("TESTBED_S3_ENDPOINT"))
        .with_bucket_name(bucket())
        .with_access_key_id(testbed("TESTBED_S3_ACCESS_KEY"))
        .with_secret_access_key(testbed("TESTBED_S3_SECRET_KEY"))
        .with_region("us-east-1")
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .build()
        .unwrap()
}

fn key(name: &str) -> object_store::path::Path {
    object_store::path::Path::from(format!("{}/{name}", crate::common::unique_prefix()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_only_put_lands_on_the_server_and_a_second_is_refused() {
    use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions};
    let gcs = gcs_client();
    let k = key("dir/a b+c.log");
    let create = || PutOptions::from(PutMode::Create);
    let before = seen().create_only_refused.load(Ordering::SeqCst);
    gcs.put_opts(&k, Bytes::from_static(b"first").into(), create())
        .await
        .unwrap();
    let err = gcs
        .put_opts(&k, Bytes::from_static(b"second").into(), create())
        .await
        .unwrap_err();
    assert!(
        matches!(err, object_store::Error::AlreadyExists { .. }),
        "{err}"
    );
    assert!(seen().create_only_refused.load(Ordering::SeqCst) > before);
    let on_s3 = s3_client().get(&k).await.unwrap().bytes().await.unwrap();
    assert_eq!(&on_s3[..], b"first", "the server holds the first write");
    let through = gcs.get(&k).await.unwrap();
    assert_eq!(through.meta.size, 5);
    assert_eq!(&through.bytes().await.unwrap()[..], b"first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_metadata_travels_as_x_goog_meta_both_ways() {
    use object_store::{Attribute, Attributes, GetOptions, ObjectStore};
    let gcs = gcs_client();
    let k = key("meta.log");
    let mut attributes = Attributes::new();
    attributes.insert(Attribute::Metadata("sha256".into()), "abc123".into());
    gcs.put_opts(
        &k,
        Bytes::from_static(b"x").into(),
        object_store::PutOptions {
            attributes,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let head = GetOptions {
        head: true,
        ..Default::default()
    };
    for (name, store) in [
        ("gcs", &gcs as &dyn ObjectStore),
        ("s3", &s3_client() as &dyn ObjectStore),
    ] {
        let got = store.get_opts(&k, head.clone()).await.unwrap();
        assert_eq!(
            got.attributes
                .get(&Attribute::Metadata("sha256".into()))
                .map(|v| v.as_ref()),
            Some("abc123"),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_missing_object_is_not_found_as_on_gcs() {
    use object_store::ObjectStoreExt;
    let err = gcs_client().delete(&key("never")).await.unwrap_err();
    assert!(matches!(err, object_store::Error::NotFound { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_completes_and_an_aborted_upload_leaves_no_parts() {
    use object_store::{ObjectStoreExt, PutPayload};
    let gcs = gcs_client();
    let prefix = crate::common::unique_prefix();
    let k = object_store::path::Path::from(format!("{prefix}/big.log"));
    let part: Vec<u8> = (0..5 << 20).map(|i| (i % 251) as u8).collect();
    let mut up = gcs.put_multipart(&k).await.unwrap();
    up.put_part(PutPayload::from(part.clone())).await.unwrap();
    up.put_part(PutPayload::from(b"tail".to_vec()))
        .await
        .unwrap();
    up.complete().await.unwrap();
    let got = s3_client().get(&k).await.unwrap().bytes().await.unwrap();
    assert_eq!(got.len(), part.len() + 4);
    assert!(got.starts_with(&part) && got.ends_with(b"tail"));

    let mut up = gcs
        .put_multipart(&object_store::path::Path::from(format!(
            "{prefix}/aborted.log"
        )))
        .await
        .unwrap();
    up.put_part(PutPayload::from(part)).await.unwrap();
    assert_eq!(crate::remote::pending_multipart_uploads(&prefix), 1);
    up.abort().await.unwrap();
    assert_eq!(crate::remote::pending_multipart_uploads(&prefix), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_not_modelled_is_refused_naming_it() {
    let base = format!("{}/{}/{}", endpoint(), bucket(), key("x.log"));
    let refused = seen().refused.load(Ordering::SeqCst);
    for (args, what) in [
        (
            vec![
                "-X",
                "PUT",
                "-H",
                "x-goog-if-generation-match: 7",
                "--data",
                "x",
            ],
            "x-goog-if-generation-match",
        ),
        (
            vec![
                "-X",
                "PUT",
                "-H",
                "x-goog-copy-source: test/y.log",
                "--data",
                "",
            ],
            "x-goog-copy-source",
        ),
        (
            vec![
                "-X",
                "PUT",
                "-H",
                "x-goog-storage-class: NEARLINE",
                "--data",
                "x",
            ],
            "x-goog-storage-class",
        ),
        (vec!["-G", "--data", "generation=1"], "generation"),
    ] {
        let o = std::process::Command::new("curl")
            .args(["-sS", "--noproxy", "*", "-w", "\n%{http_code}"])
            .args(&args)
            .arg(&base)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.ends_with("\n501"), "{args:?}: {out}");
        assert!(out.contains(what), "{args:?}: {out}");
    }
    assert!(seen().refused.load(Ordering::SeqCst) >= refused + 4);
}

/// GCS takes about one write a second to one object name, and logferry rewrites one
/// object as it commits: the published mark. Passes that commit faster than that, as WAL
/// segments archived back to back do, used to get 429s for it and wait out the retries
/// (each pass took about a second). On GCS the mark is now rewritten at most once a
/// second: every pass commits without a 429, every file is found by its record, and a
/// pass a second later brings the mark up to date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_faster_than_gcs_takes_writes_to_one_object_get_no_429() {
    use logferry::{find_archived, Lookup};
    let proxy = start(true);
    let toml = format!(
        "state_dir = \"state\"\n{}[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n",
        crate::common::gcs_proxy_destination_toml(&proxy.endpoint)
    );
    let env = crate::common::Env::from_toml(tempfile::tempdir().unwrap(), &toml);
    let started = Instant::now();
    for i in 0..5u64 {
        env.write(&format!("seg-{i}"), format!("segment {i}\n").as_bytes());
        let r = env.pass().await;
        assert_eq!((r.files_uploaded, r.generation), (1, Some(i + 1)), "{r:?}");
    }
    let limited = proxy.seen.rate_limited.load(Ordering::SeqCst);
    eprintln!(
        "5 passes in {:?}, {limited} writes answered 429",
        started.elapsed()
    );
    assert_eq!(limited, 0, "no object was rewritten within a second");
    let index = env.index().await;
    assert_eq!(index.len(), 5);
    env.assert_objects_match(&index).await;
    for i in 0..5 {
        let name = format!("seg-{i}");
        let found = find_archived(&env.store, &name, None).await.unwrap();
        assert!(matches!(found, Lookup::Found(_)), "{name}: {found:?}");
    }
    let mark =
        || async { String::from_utf8(env.get("catalog/published.json").await.to_vec()).unwrap() };
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = env.pass().await;
    assert_eq!(r.generation, None, "nothing new to commit");
    assert!(
        mark().await.contains("\"generation\":5"),
        "{}",
        mark().await
    );
    assert_eq!(proxy.seen.rate_limited.load(Ordering::SeqCst), 0);
}
