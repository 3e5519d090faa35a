//! The name that stands for `{hostname}` in a destination URL: this host's, read from
//! the system, or another host's when a read command is given `--hostname NAME`.
//!
//! It becomes one segment of the archive's prefix, and two hosts under one prefix are two
//! writers of one archive, so a name that cannot be read, is empty or cannot be a
//! segment is an error, never a fallback such as `localhost`.

use std::ffi::OsString;

use super::destination::{HOSTNAME_VAR, SOURCE_VAR};
use super::error::{HostnameError, Invalid};

/// This host's name, for `{hostname}` in a destination URL.
pub fn system_hostname() -> Result<String, HostnameError> {
    hostname_from(gethostname::gethostname())
}

/// The name the system gave, if it can stand for `{hostname}`.
pub(super) fn hostname_from(raw: OsString) -> Result<String, HostnameError> {
    if raw.is_empty() {
        return Err(HostnameError::empty());
    }
    let name = raw
        .into_string()
        .map_err(|raw| HostnameError::not_utf8(raw.to_string_lossy().into_owned()))?;
    check_hostname(&name).map_err(HostnameError::unusable)?;
    Ok(name)
}

/// Why `name` cannot stand for `{hostname}`, if it cannot: it becomes one path segment.
pub fn check_hostname(name: &str) -> Result<(), Invalid> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(format!("`{name}` is not a host name").into());
    }
    if let Some(c) = name.chars().find(|c| {
        matches!(c, '/' | '\\' | '{' | '}' | '?' | '#') || c.is_control() || c.is_whitespace()
    }) {
        return Err(format!(
            "`{name}` is not a host name: it holds `{}`",
            c.escape_default()
        )
        .into());
    }
    Ok(())
}

/// Expands `{hostname}` to `host`; any other `{…}` except `{source}` is an error.
pub(super) fn expand_hostname_as(text: &str, host: &str) -> Result<String, Invalid> {
    let expanded = if text.contains(HOSTNAME_VAR) {
        text.replace(HOSTNAME_VAR, host)
    } else {
        text.to_string()
    };
    let mut rest = expanded.as_str();
    while let Some(start) = rest.find('{') {
        let after = &rest[start..];
        let end = after.find('}').map_or(after.len(), |e| e + 1);
        let var = &after[..end];
        if var != SOURCE_VAR {
            return Err(format!(
                "unknown placeholder `{var}`; a destination URL may use {HOSTNAME_VAR} and {SOURCE_VAR}"
            )
            .into());
        }
        rest = &after[end..];
    }
    Ok(expanded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_name_that_cannot_be_a_prefix_segment_is_refused_not_replaced() {
        assert_eq!(hostname_from("db-1".into()).unwrap(), "db-1");
        for (raw, words) in [
            (OsString::new(), "empty name"),
            (OsString::from("a/b"), "it holds `/`"),
            (OsString::from(".."), "`..` is not a host name"),
            (OsString::from("db 1"), "it holds ` `"),
        ] {
            let e = hostname_from(raw.clone()).unwrap_err().to_string();
            assert!(e.contains(words), "{raw:?}: {e}");
            assert!(
                e.contains("--hostname NAME") && e.contains("without {hostname}"),
                "{e}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_host_name_that_is_not_utf8_is_refused() {
        use std::os::unix::ffi::OsStringExt;
        let e = hostname_from(OsString::from_vec(b"db-\xff".to_vec()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not valid UTF-8"), "{e}");
    }
}
