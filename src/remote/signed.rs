//! Signed S3 requests that `ObjectStore` has no call for (listing multipart uploads,
//! reading a bucket's Object Lock configuration): the destination's own S3 client lends
//! its credentials, and a plain HTTP client sends the request to the bucket's URL.

use object_store::aws::{AmazonS3ConfigKey, AwsAuthorizer};
use object_store::client::{HttpClient, HttpConnector, HttpRequestBody, ReqwestConnector};
use object_store::ClientOptions;

use crate::config::{Destination, DestinationUrl};

/// An S3 destination's client, and where and how to send signed bucket requests.
pub(crate) struct SignedS3 {
    /// The destination's S3 client (for its credentials, and calls it has).
    pub s3: object_store::aws::AmazonS3,
    client: HttpClient,
    /// The bucket's URL (path style unless the endpoint is virtual-hosted).
    base: String,
    region: String,
    /// The archive's prefix, ending in `/` unless empty.
    pub prefix: String,
}

impl SignedS3 {
    /// `None` when the destination is not on S3.
    pub(crate) fn for_destination(dest: &Destination) -> Result<Option<Self>, String> {
        let Some(builder) = crate::remote::s3_builder(dest) else {
            return Ok(None);
        };
        let builder = builder.map_err(|e| e.to_string())?;
        let get = |k| builder.get_config_value(&k);
        let DestinationUrl::Remote(url) = &dest.url else {
            return Ok(None);
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
        Ok(Some(SignedS3 {
            s3,
            client,
            base,
            region,
            prefix,
        }))
    }

    /// A signed `GET` of the bucket with `query`; gives the status and the body. `what`
    /// names the request in errors.
    pub(crate) async fn get_bucket(
        &self,
        query: &[(&str, &str)],
        what: &str,
    ) -> Result<(http::StatusCode, bytes::Bytes), String> {
        let base = &self.base;
        let mut url = url::Url::parse(base).map_err(|e| format!("endpoint {base}: {e}"))?;
        for (k, v) in query {
            url.query_pairs_mut().append_pair(k, v);
        }
        let (status, _, body) = self.send("GET", &url, what).await?;
        Ok((status, body))
    }

    /// A signed `HEAD` of the object at `key` (under the archive's prefix); gives the
    /// status and the headers.
    pub(crate) async fn head_object(
        &self,
        key: &str,
        what: &str,
    ) -> Result<(http::StatusCode, http::HeaderMap), String> {
        let base = &self.base;
        let mut url = url::Url::parse(base).map_err(|e| format!("endpoint {base}: {e}"))?;
        url.path_segments_mut()
            .map_err(|()| format!("endpoint {base}: not a base URL"))?
            .pop_if_empty()
            .extend(format!("{}{key}", self.prefix).split('/'));
        let (status, headers, _) = self.send("HEAD", &url, what).await?;
        Ok((status, headers))
    }

    async fn send(
        &self,
        method: &str,
        url: &url::Url,
        what: &str,
    ) -> Result<(http::StatusCode, http::HeaderMap, bytes::Bytes), String> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(url.as_str())
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
            .map_err(|e| format!("sign {what}: {e}"))?;
        let resp = self
            .client
            .execute(req)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let (parts, body) = resp.into_parts();
        let body = body.bytes().await.map_err(|e| format!("{what}: {e}"))?;
        Ok((parts.status, parts.headers, body))
    }
}
