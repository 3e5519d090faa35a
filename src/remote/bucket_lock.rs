//! What `check-config --probe` says about S3 Object Lock and upload checksums: whether
//! the bucket has Object Lock and its default retention (read with a signed
//! `GET /<bucket>?object-lock`, which `ObjectStore` has no call for), and whether the
//! puts carry a checksum, which an Object Lock bucket demands. A store that does not
//! answer the request is reported as unknown, never guessed.

use serde::Deserialize;

use crate::config::{Destination, UploadChecksum, CHECKSUM_OPTIONS};
use crate::remote::signed::SignedS3;

/// A bucket's `ObjectLockConfiguration`.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
struct Configuration {
    object_lock_enabled: Option<String>,
    rule: Option<Rule>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
struct Rule {
    default_retention: Option<Retention>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
struct Retention {
    mode: Option<String>,
    days: Option<u32>,
    years: Option<u32>,
}

/// The upload checksum the destination's puts carry, as the probe reports it after a
/// put worked.
pub(crate) fn checksum_detail(dest: &Destination) -> String {
    let option = dest
        .options
        .iter()
        .find(|(k, _)| CHECKSUM_OPTIONS.contains(&k.to_ascii_lowercase().as_str()));
    match (option, dest.checksum) {
        (Some((k, v)), _) => format!("puts carry the {v} checksum that destination.options.{k} asks for, and the store accepted them"),
        (None, UploadChecksum::Sha256) => "puts carry x-amz-checksum-sha256 and the store accepted them: it verifies every byte it stores".into(),
        (None, _) => "off (destination.checksum = \"none\"): the store does not verify uploads, and an Object Lock bucket refuses them".into(),
    }
}

/// The hint for a failed put on S3 whose error is about a checksum header.
pub(crate) fn checksum_hint(dest: &Destination, error: &str) -> Option<String> {
    let e = error.to_ascii_lowercase();
    if !dest.url.is_s3() || !(e.contains("checksum") || e.contains("content-md5")) {
        return None;
    }
    Some(match dest.checksum {
        UploadChecksum::Sha256 => "the store rejects the x-amz-checksum-sha256 header; set destination.checksum = \"none\"".into(),
        _ => "the bucket wants a checksum on every put (Object Lock does); remove destination.checksum = \"none\"".into(),
    })
}

/// The bucket's Object Lock and default retention in words; `None` when not on S3.
pub(crate) async fn object_lock_detail(dest: &Destination) -> Option<String> {
    let signed = match SignedS3::for_destination(dest) {
        Ok(Some(s)) => s,
        Ok(None) => return None,
        Err(e) => return Some(format!("unknown ({e})")),
    };
    let answer = signed
        .get_bucket(&[("object-lock", "")], "get object lock")
        .await;
    Some(match answer {
        Ok((status, body)) => describe(status, &body),
        Err(e) => format!("unknown ({e})"),
    })
}

/// The answer to `GET ?object-lock` in words.
fn describe(status: http::StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if status == http::StatusCode::NOT_FOUND && text.contains("ObjectLockConfigurationNotFound") {
        return "not enabled on this bucket".into();
    }
    if !status.is_success() {
        let code = xml_code(&text).unwrap_or_default();
        return format!("unknown (the store answered {status} {code} to GET ?object-lock)")
            .replace("  ", " ")
            .replace(" )", ")");
    }
    let config: Configuration = match quick_xml::de::from_str(&text) {
        Ok(c) => c,
        Err(e) => return format!("unknown (unreadable ObjectLockConfiguration: {e})"),
    };
    if config.object_lock_enabled.as_deref() != Some("Enabled") {
        return "not enabled on this bucket".into();
    }
    match config.rule.and_then(|r| r.default_retention) {
        Some(r) => {
            let period = match (r.days, r.years) {
                (Some(d), _) => format!("{d} day{}", if d == 1 { "" } else { "s" }),
                (None, Some(y)) => format!("{y} year{}", if y == 1 { "" } else { "s" }),
                (None, None) => "of no stated length".into(),
            };
            let mode = r.mode.unwrap_or_else(|| "of unknown mode".into());
            format!("enabled, default retention {mode} {period}: every object logferry writes is kept that long, and expiry reports it locked until then")
        }
        None => "enabled, no default retention: objects are locked only when a put asks, and logferry's puts do not".into(),
    }
}

/// The `<Code>` of an S3 error body.
fn xml_code(text: &str) -> Option<&str> {
    let start = text.find("<Code>")? + "<Code>".len();
    let end = text[start..].find("</Code>")? + start;
    Some(&text[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn s3(extra: &str) -> Destination {
        let text = format!(
            "[destination]\nurl = \"s3://b/p\"\n{extra}[[sources]]\nname = \"a\"\npath = \"l\"\n"
        );
        crate::config::from_toml_str(&text, std::path::Path::new("/"), std::iter::empty())
            .unwrap()
            .destination
    }

    #[test]
    fn a_put_refused_over_its_checksum_gets_the_setting_that_fixes_it() {
        let refused = "Client error with status 400 Bad Request: <Code>InvalidRequest</Code><Message>x-amz-checksum-sha256 is not supported</Message>";
        let hint = checksum_hint(&s3(""), refused).unwrap();
        assert!(
            hint.contains("set destination.checksum = \"none\""),
            "{hint}"
        );
        let wanted = "<Message>Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters</Message>";
        let hint = checksum_hint(&s3("checksum = \"none\"\n"), wanted).unwrap();
        assert!(
            hint.contains("remove destination.checksum = \"none\""),
            "{hint}"
        );
        assert_eq!(checksum_hint(&s3(""), "403 AccessDenied"), None);
        assert!(checksum_detail(&s3("")).starts_with("puts carry x-amz-checksum-sha256"));
    }

    #[test]
    fn the_object_lock_answer_is_said_in_words() {
        let xml = |inner: &str| {
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</ObjectLockConfiguration>"#
            )
        };
        let days = xml("<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>30</Days></DefaultRetention></Rule>");
        assert!(describe(StatusCode::OK, days.as_bytes())
            .starts_with("enabled, default retention COMPLIANCE 30 days:"));
        let years = xml("<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Years>1</Years></DefaultRetention></Rule>");
        assert!(describe(StatusCode::OK, years.as_bytes())
            .starts_with("enabled, default retention GOVERNANCE 1 year:"));
        let bare = xml("<ObjectLockEnabled>Enabled</ObjectLockEnabled>");
        assert!(
            describe(StatusCode::OK, bare.as_bytes()).starts_with("enabled, no default retention")
        );
        let missing = "<Error><Code>ObjectLockConfigurationNotFoundError</Code></Error>";
        assert_eq!(
            describe(StatusCode::NOT_FOUND, missing.as_bytes()),
            "not enabled on this bucket"
        );
        let unsupported = "<Error><Code>NotImplemented</Code></Error>";
        assert_eq!(
            describe(StatusCode::NOT_IMPLEMENTED, unsupported.as_bytes()),
            "unknown (the store answered 501 Not Implemented NotImplemented to GET ?object-lock)"
        );
        assert_eq!(
            describe(StatusCode::BAD_REQUEST, b""),
            "unknown (the store answered 400 Bad Request to GET ?object-lock)"
        );
    }
}
