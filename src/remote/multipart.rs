//! Multipart uploads that a killed pass left open on S3: no object names them, the
//! bucket keeps (and bills) their parts, and `ObjectStore` has no call to list them. A
//! signed `ListMultipartUploads` under the archive's prefix finds them; those initiated
//! longer ago than the grace period (longer than any pass) are aborted, so an upload in
//! flight is never touched. GCS's XML multipart has no emulator here and is left to the
//! bucket's lifecycle rule; Azure drops uncommitted blocks by itself after seven days.

use std::time::{Duration, SystemTime};

use object_store::multipart::MultipartStore;
use serde::Deserialize;

use crate::config::Destination;
use crate::remote::signed::SignedS3;
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

/// What listing and aborting a bucket's multipart uploads takes: the destination's
/// signed S3 access.
struct Lister(SignedS3);

impl Lister {
    /// `None` when the destination is not on S3.
    fn for_destination(dest: &Destination) -> Result<Option<Self>, String> {
        Ok(SignedS3::for_destination(dest)?.map(Lister))
    }

    /// One page of `ListMultipartUploads`, from `markers` on.
    async fn list(&self, markers: Option<&(String, String)>) -> Result<ListResult, String> {
        let mut query = vec![("uploads", ""), ("prefix", self.0.prefix.as_str())];
        if let Some((k, u)) = markers {
            query.push(("key-marker", k));
            query.push(("upload-id-marker", u));
        }
        let (status, body) = self.0.get_bucket(&query, "list multipart uploads").await?;
        parse_list(status, &body)
    }

    /// Aborts one upload; a failure is a warning, the sweep goes on.
    async fn abort(&self, u: &Upload) -> bool {
        let path = object_store::path::Path::from(u.key.as_str());
        match self.0.s3.abort_multipart(&path, &u.upload_id).await {
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
