//! Server-side encryption as an S3 store really applies it, for `check-config --probe`.
//! Stores take the `x-amz-server-side-encryption` header on a PUT and answer 200 whether
//! they honour it or not (SeaweedFS stores an `aws:kms:dsse` or unknown value's object
//! unencrypted), so the probe reads back what the store says of the object it wrote.

use http::StatusCode;

use crate::config::destination::is_s3_encryption_option;
use crate::config::Destination;
use crate::remote::check::Check;
use crate::remote::signed::SignedS3;

/// The probe's check's name.
const NAME: &str = "encryption";

/// The encryption the destination asks for (`aws_server_side_encryption`), if any.
fn requested(dest: &Destination) -> Option<&str> {
    dest.options
        .iter()
        .find_map(|(k, v)| is_s3_encryption_option(k).then_some(v.as_str()))
}

/// How the store encrypted the object at `key` (under the archive's prefix), against what
/// the destination asks for. `None` when the destination is not on S3.
pub(crate) async fn check(dest: &Destination, key: &str) -> Option<Check> {
    let signed = match SignedS3::for_destination(dest) {
        Ok(Some(s)) => s,
        Ok(None) => return None,
        Err(e) => return Some(unknown(e)),
    };
    let asked = requested(dest);
    let (status, headers) = match signed.head_object(key, "head the probe object").await {
        Ok(answer) => answer,
        Err(e) => return Some(unknown(e)),
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let applied = header("x-amz-server-side-encryption");
    if asked == Some("sse-c") {
        // A read without the customer key must be refused: the object is encrypted with it.
        return Some(match status {
            StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN => Check {
                name: NAME,
                ok: true,
                detail: "SSE-C: the store refuses to read the object without the customer key"
                    .into(),
                hint: None,
            },
            s if s.is_success() => not_applied("sse-c"),
            s => unknown(format!("the store answered {s} to a HEAD without the key")),
        });
    }
    if !status.is_success() {
        return Some(unknown(format!("the store answered {status} to a HEAD")));
    }
    Some(match (asked, applied.as_deref()) {
        (None, None) => Check {
                name: NAME,
            ok: true,
            detail: "none asked for; the store reports none on the probe object (the bucket's default encryption, if any, is not reported)".into(),
            hint: None,
        },
        (None, Some(a)) => Check {
                name: NAME,
            ok: true,
            detail: format!("none asked for; the store applied {} (the bucket's default)", name(a)),
            hint: None,
        },
        (Some(want), Some(got)) if want == got => {
            let key = header("x-amz-server-side-encryption-aws-kms-key-id")
                .map(|k| format!(", key {k}"))
                .unwrap_or_default();
            Check {
                name: NAME,
                ok: true,
                detail: format!("{}{key}, as the store reports on the probe object", name(got)),
                hint: None,
            }
        }
        (Some(want), _) => not_applied(want),
    })
}

fn name(algorithm: &str) -> String {
    match algorithm {
        "AES256" => "SSE-S3 (AES256)".into(),
        "aws:kms" => "SSE-KMS (aws:kms)".into(),
        "aws:kms:dsse" => "DSSE-KMS (aws:kms:dsse)".into(),
        other => other.to_string(),
    }
}

fn not_applied(want: &str) -> Check {
    Check {
        name: NAME,
        ok: false,
        detail: format!(
            "aws_server_side_encryption = \"{want}\" was accepted, but the store does not report it on the object it stored: the object is not encrypted that way"
        ),
        hint: Some(
            "this store does not support that encryption: choose one it reports (try \"AES256\"), or remove the option and rely on the bucket's default encryption".into(),
        ),
    }
}

/// Not knowing is not a failure: the probe's other checks say whether the store works.
fn unknown(why: impl std::fmt::Display) -> Check {
    Check {
        name: NAME,
        ok: true,
        detail: format!("unknown ({why})"),
        hint: None,
    }
}
