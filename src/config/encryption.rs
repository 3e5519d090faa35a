//! `encryption`, `age_recipients` and `identity_file`: client-side encryption per
//! destination, overridable per source. A source inherits the destination's recipients
//! unless it sets its own or `encryption = "none"`.

use std::path::Path;

use super::error::{Checked, KeyError};
use super::values::resolve;
use super::{Encryption, Source};
use crate::crypt::Recipients;

/// The file in the state dir that keeps the archive key.
pub(crate) const KEY_FILE: &str = "archive-key.json";

/// What `encryption` and `age_recipients` (under `prefix`) come to: the recipients new
/// content is encrypted to, or `None` for content stored as it is; `inherited` when
/// neither key is set.
fn recipients(
    encryption: Option<String>,
    age_recipients: Option<Vec<String>>,
    inherited: Option<&Recipients>,
    prefix: &str,
) -> Checked<Option<Recipients>> {
    let key = |k: &str| format!("{prefix}{k}");
    let parse = |list: &[String]| {
        Recipients::parse(list).map_err(|e| KeyError::new(key("age_recipients"), e.to_string()))
    };
    match (encryption.as_deref(), age_recipients) {
        (None, None) => Ok(inherited.cloned()),
        (Some("none"), None) => Ok(None),
        (Some("none"), Some(_)) => Err(KeyError::new(
            key("age_recipients"),
            "has no effect with encryption = \"none\"; remove it, or set encryption = \"age\"",
        )),
        (Some("age"), Some(list)) => parse(&list).map(Some),
        (Some("age"), None) => match inherited {
            Some(r) => Ok(Some(r.clone())),
            None => Err(KeyError::new(
                key("age_recipients"),
                "missing; encryption = \"age\" needs the public keys to encrypt to, e.g. age_recipients = [\"age1…\"] (`age-keygen -y KEYFILE` prints one)",
            )),
        },
        (None, Some(list)) if inherited.is_some() => parse(&list).map(Some),
        (None, Some(_)) => Err(KeyError::new(
            key("age_recipients"),
            "set encryption = \"age\" beside it to encrypt; age_recipients alone does nothing",
        )),
        (Some(other), _) => Err(KeyError::new(
            key("encryption"),
            format!("`{other}` is not an encryption; use \"age\" (client-side, to age_recipients) or \"none\""),
        )),
    }
}

/// The `[destination]` table's encryption keys.
pub(super) fn destination_encryption(
    encryption: Option<String>,
    age_recipients: Option<Vec<String>>,
    identity_file: Option<String>,
    base: &Path,
) -> Checked<Encryption> {
    let recipients = recipients(encryption, age_recipients, None, "destination.")?;
    let identity_files = match identity_file.as_deref() {
        None => Vec::new(),
        Some("") => return Err(KeyError::new(
            "destination.identity_file",
            "must not be empty; the path of an age identity or SSH private key, or leave it out",
        )),
        Some(p) => {
            super::checks::no_tilde("destination.identity_file", p)?;
            vec![resolve(base, p)]
        }
    };
    Ok(Encryption {
        recipients,
        recipient_sets: Vec::new(),
        identity_files,
        key_file: None,
    })
}

/// A source's encryption keys (under `prefix`, e.g. `sources[0].`).
pub(super) fn source_encryption(
    encryption: Option<String>,
    age_recipients: Option<Vec<String>>,
    destination: Option<&Recipients>,
    prefix: &str,
) -> Checked<Option<Recipients>> {
    recipients(encryption, age_recipients, destination, prefix)
}

/// Fills in what follows from the sources and the state dir: the recipient sets the
/// archive key is wrapped for, and the key's file.
pub(crate) fn settle(e: &mut Encryption, sources: &[Source], state_dir: &Path) {
    let mut sets: Vec<Recipients> = Vec::new();
    for r in sources.iter().filter_map(|s| s.encryption.as_ref()) {
        if !sets.contains(r) {
            sets.push(r.clone());
        }
    }
    e.recipient_sets = sets;
    e.key_file = Some(state_dir.join(KEY_FILE));
}
