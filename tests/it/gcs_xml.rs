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
//! `x-goog-*` header. GCS's own limits (one mutation per object per second, its error
//! bodies, its rate limiting) are not modelled either: the server's S3 answers go back.
//!
//! One proxy serves the whole test binary, on its own thread and runtime, started on first
//! use on 127.0.0.1.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

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
}

/// Counts of what the proxy translated or refused, for its own tests.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// `x-goog-if-generation-match: 0` requests sent on as `If-None-Match: *`.
    pub create_only: AtomicUsize,
    /// Of those, the ones the server refused with 412.
    pub create_only_refused: AtomicUsize,
    /// Requests answered 501.
    pub refused: AtomicUsize,
    /// Multipart requests (initiate, part, complete, abort).
    pub multipart: AtomicUsize,
}

struct Shared {
    endpoint: String,
    seen: Arc<Seen>,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
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
        Shared {
            endpoint: format!("http://{addr}"),
            seen,
        }
    })
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

/// The `google_service_account_key` a client needs for the proxy: OAuth off, the proxy
/// as the base URL.
pub(crate) fn service_account_key() -> String {
    format!(
        r#"{{"gcs_base_url":"{}","disable_oauth":true,"client_email":"","private_key":"","private_key_id":""}}"#,
        endpoint()
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
        if multipart {
            self.seen.multipart.fetch_add(1, Ordering::SeqCst);
        }
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
        if create_only {
            self.seen.create_only.fetch_add(1, Ordering::SeqCst);
        }
        let resp = self
            .send(method.clone(), &bucket, &key, query, out, body)
            .await;
        if create_only && resp.status() == StatusCode::PRECONDITION_FAILED {
            self.seen.create_only_refused.fetch_add(1, Ordering::SeqCst);
        }
        Ok(resp)
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
        .with_service_account_key(service_account_key())
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
