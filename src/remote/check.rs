//! The outcome of one `check-config --probe` check: its own file, since the probe and the
//! checks it runs from other files (server-side encryption) all make them.

use crate::error::hint_for;

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Check {
    /// `write`, `read`, `list`, `conditional create`, `delete`, `client-side
    /// encryption`, and on S3 `encryption` (before `delete`), `checksum` and `object lock`.
    pub name: &'static str,
    /// Whether it worked.
    pub ok: bool,
    /// What happened.
    pub detail: String,
    /// The likely fix, for a failure.
    pub hint: Option<String>,
}

impl Check {
    pub(crate) fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Check {
            name,
            ok: true,
            detail: detail.into(),
            hint: None,
        }
    }

    pub(crate) fn fail(name: &'static str, e: &object_store::Error) -> Self {
        Check {
            name,
            ok: false,
            detail: one_line(&e.to_string()),
            hint: Some(hint_for(e).unwrap_or_else(|| {
                "see the error; `RUST_LOG=object_store=debug` shows the requests".to_string()
            })),
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
