//! Multipart uploads that a killed pass left open on S3: no object names them, the
//! bucket keeps (and bills) their parts, and `ObjectStore` has no call to list them. A
//! signed `ListMultipartUploads` under the archive's prefix finds them; those initiated
//! longer ago than the grace period (longer than any pass) are aborted, so an upload in
//! flight is never touched. GCS's XML multipart has no emulator here and is left to the
//! bucket's lifecycle rule; Azure drops uncommitted blocks by itself after seven days.

use std::time::{Duration, SystemTime};

use object_store::aws::{AmazonS3ConfigKey, AwsAuthorizer};
use object_store::client::{HttpClient, HttpConnector, HttpRequestBody, ReqwestConnector};
use object_store::multipart::MultipartStore;
use object_store::ClientOptions;
use serde::Deserialize;

use crate::config::Destination;
use crate::time::parse_rfc3339;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListResult {
    #[serde(default)]
    upload: Vec<Upload>,
    #[serde(default)]
    is_truncated: bool,
    next_key_marker: Option<String>,
    next_upload_id_marker: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Upload {
    key: String,
    upload_id: String,
    initiated: String,
}

/// Aborts the multipart uploads under the destination's prefix initiated more than
/// `grace` before `now`; returns how many. Not an S3 destination: nothing to do.
pub(crate) async fn abort_abandoned(
    dest: &Destination,
    now: SystemTime,
    grace: Duration,
) -> Result<usize, String> {
    let Some(lister) = Lister::for_destination(dest)? else {
        return Ok(0);
    };
    let mut aborted = 0;
    let mut markers: Option<(String, String)> = None;
    loop {
        let list = lister.list(markers.as_ref()).await?;
        for u in &list.upload {
            let old = parse_rfc3339(&u.initiated)
                .is_some_and(|t| now.duration_since(t).unwrap_or_default() > grace);
            if old && lister.abort(u).await {
                aborted += 1;
            }
        }
        match (
            list.is_truncated,
            list.next_key_marker,
            list.next_upload_id_marker,
        ) {
            (true, Some(k), Some(u)) => markers = Some((k, u)),
            _ => return Ok(aborted),
        }
    }
}

/// What listing and aborting a bucket's multipart uploads takes: the S3 client (for its
/// credentials and the abort), a plain HTTP client for the signed listing, and where.
struct Lister {
    s3: object_store::aws::AmazonS3,
    client: HttpClient,
    /// The bucket's URL (path style unless the endpoint is virtual-hosted).
    base: String,
    region: String,
    /// The archive's prefix, ending in `/` unless empty.
    prefix: String,
}

impl Lister {
    /// `None` when the destination is not on S3.
    fn for_destination(dest: &Destination) -> Result<Option<Self>, String> {
        let Some(builder) = crate::remote::s3_builder(dest) else {
            return Ok(None);
        };
        let builder = builder.map_err(|e| e.to_string())?;
        let get = |k| builder.get_config_value(&k);
        let url = match &dest.url {
            crate::config::DestinationUrl::Remote(u) => u.clone(),
            _ => return Ok(None),
        };
        // `s3://bucket/prefix`: the builder parses the URL only when it builds.
        let bucket = get(AmazonS3ConfigKey::Bucket)
            .or_else(|| url.host_str().map(str::to_string))
            .unwrap_or_default();
        let region = get(AmazonS3ConfigKey::Region).unwrap_or_else(|| "us-east-1".into());
        let virtual_hosted =
            get(AmazonS3ConfigKey::VirtualHostedStyleRequest).as_deref() == Some("true");
        let base = match get(AmazonS3ConfigKey::Endpoint) {
            Some(e) if virtual_hosted => e.trim_end_matches('/').to_string(),
            Some(e) => format!("{}/{bucket}", e.trim_end_matches('/')),
            None => format!("https://s3.{region}.amazonaws.com/{bucket}"),
        };
        let allow_http = get(AmazonS3ConfigKey::Client(
            object_store::ClientConfigKey::AllowHttp,
        ))
        .as_deref()
            == Some("true");
        let prefix = url.path().trim_start_matches('/').to_string();
        let prefix = if prefix.is_empty() || prefix.ends_with('/') {
            prefix
        } else {
            format!("{prefix}/")
        };
        let s3 = builder.build().map_err(|e| e.to_string())?;
        let client = ReqwestConnector::default()
            .connect(
                &ClientOptions::new()
                    .with_allow_http(allow_http)
                    .with_timeout(dest.request_timeout)
                    .with_connect_timeout(dest.connect_timeout),
            )
            .map_err(|e| e.to_string())?;
        Ok(Some(Lister {
            s3,
            client,
            base,
            region,
            prefix,
        }))
    }

    /// One page of `ListMultipartUploads`, from `markers` on.
    async fn list(&self, markers: Option<&(String, String)>) -> Result<ListResult, String> {
        let base = &self.base;
        let mut list_url = url::Url::parse(base).map_err(|e| format!("endpoint {base}: {e}"))?;
        list_url
            .query_pairs_mut()
            .append_pair("uploads", "")
            .append_pair("prefix", &self.prefix);
        if let Some((k, u)) = markers {
            list_url
                .query_pairs_mut()
                .append_pair("key-marker", k)
                .append_pair("upload-id-marker", u);
        }
        let mut req = http::Request::builder()
            .method("GET")
            .uri(list_url.as_str())
            .body(HttpRequestBody::from(bytes::Bytes::new()))
            .map_err(|e| e.to_string())?;
        let credential = self
            .s3
            .credentials()
            .get_credential()
            .await
            .map_err(|e| e.to_string())?;
        AwsAuthorizer::new(&credential, "s3", &self.region)
            .try_authorize(&mut req, None)
            .map_err(|e| format!("sign list multipart uploads: {e}"))?;
        let resp = self
            .client
            .execute(req)
            .await
            .map_err(|e| format!("list multipart uploads: {e}"))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .bytes()
            .await
            .map_err(|e| format!("list multipart uploads: {e}"))?;
        parse_list(status, &body)
    }

    /// Aborts one upload; a failure is a warning, the sweep goes on.
    async fn abort(&self, u: &Upload) -> bool {
        let path = object_store::path::Path::from(u.key.as_str());
        match self.s3.abort_multipart(&path, &u.upload_id).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(key = %u.key, error = %e, "cannot abort an abandoned multipart upload");
                false
            }
        }
    }
}

/// The listing's answer, which must be a `ListMultipartUploadsResult`.
fn parse_list(status: http::StatusCode, body: &[u8]) -> Result<ListResult, String> {
    if !status.is_success() {
        return Err(format!(
            "list multipart uploads: {status}: {}",
            String::from_utf8_lossy(body)
                .chars()
                .take(200)
                .collect::<String>()
        ));
    }
    const ROOT: &[u8] = b"ListMultipartUploadsResult";
    if !body.windows(ROOT.len()).any(|w| w == ROOT) {
        return Err("list multipart uploads: the answer is not a ListMultipartUploadsResult (is the endpoint an S3 API?)".into());
    }
    quick_xml::de::from_reader(body)
        .map_err(|e| format!("list multipart uploads: unreadable answer: {e}"))
}
