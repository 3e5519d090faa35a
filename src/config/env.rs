//! `LOGFERRY_*` overrides. The environment is shared with other software: Kubernetes
//! service links put `LOGFERRY_SERVICE_HOST`, `LOGFERRY_PORT=tcp://…` into every pod of a
//! namespace with a Service named `logferry`, and Docker links do the same. So a variable
//! that names no key is a warning, not an error, while one that names a key but holds a
//! bad value is an error that names the variable.
//!
//! Which variables name a key is asked of the raw config type itself (one probe per
//! variable), so the accepted names never drift from the file's keys.
//!
//! `LOGFERRY_PASS_*` is logferry's own: the variables a hook is given about its pass
//! (see [`super::hooks::PASS_ENV_PREFIX`]). They are neither read as keys nor warned
//! about, so a hook that runs `logferry status` sees the agent's config unchanged.

use serde_json::{Map, Value};

use super::raw::{one_line, RawConfig};
use super::ENV_PREFIX;
use crate::error::{Error, Result};

/// What the environment changed, and what it said that was ignored.
#[derive(Debug, Default)]
pub(super) struct Overrides {
    /// (dotted key, variable) for every variable that was applied.
    pub set: Vec<(String, String)>,
    /// One line per ignored variable.
    pub warnings: Vec<String>,
    /// Values that no message may echo (see [`hides_value`]).
    pub hidden: Vec<String>,
}

/// Whether the value of the key at `segments` may hold a secret and must never be
/// echoed: the destination table or its options given as text, anything under the
/// options, and any secret-named key.
fn hides_value(segments: &[&str]) -> bool {
    matches!(
        segments,
        ["destination"] | ["destination", "options", ..] | ["heartbeat_url"]
    ) || segments.iter().any(|s| super::is_secret_option(s))
}

/// `message` without `value`, as written or as serde quotes it.
pub(super) fn scrub(message: &str, value: &str) -> String {
    if value.is_empty() {
        return message.to_string();
    }
    let quoted = format!("{value:?}");
    message
        .replace(&quoted, "<redacted>")
        .replace(value, "<redacted>")
}

/// The variable in `set` (dotted key, variable) that set `key` or a table above it.
pub(super) fn variable_for<'a>(set: &'a [(String, String)], key: &str) -> Option<&'a str> {
    set.iter()
        .find(|(k, _)| {
            key == k
                || key
                    .strip_prefix(k.as_str())
                    .is_some_and(|rest| rest.starts_with(['.', '[']))
        })
        .map(|(_, var)| var.as_str())
}

/// Applies the `LOGFERRY_*` entries of `env` on top of `value` (the file's keys).
///
/// `LOGFERRY_<KEY>` and `LOGFERRY_<SECTION>__<KEY>` name keys (case-insensitive). A value
/// is taken as text when the key takes text, so `007` stays `007`; as a number or a bool
/// only when the key needs one.
pub(super) fn apply<I>(value: &mut Value, env: I) -> Result<Overrides>
where
    I: IntoIterator<Item = (String, String)>,
{
    let prefix = format!("{ENV_PREFIX}_");
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(&prefix) && !k.starts_with(super::hooks::PASS_ENV_PREFIX))
        .collect();
    vars.sort();
    let mut overrides = Overrides::default();
    for (var, text) in vars {
        let rest = var[prefix.len()..].to_ascii_lowercase();
        let segments: Vec<&str> = rest.split("__").collect();
        if segments.iter().any(|s| s.is_empty()) {
            overrides.warnings.push(ignored(&var, None));
            continue;
        }
        let key = segments.join(".");
        let hide = hides_value(&segments);
        if hide {
            overrides.hidden.push(text.clone());
        }
        match probe(&segments, &text) {
            Probe::Accepted(v) => {
                insert(value, &segments, v);
                overrides.set.push((key, var));
            }
            Probe::Unknown(suggestion) => {
                let suggestion = suggestion.or_else(|| split_section(&rest));
                overrides.warnings.push(ignored(&var, suggestion));
            }
            Probe::Bad { key, message } => {
                let message = if hide {
                    scrub(&message, &text)
                } else {
                    message
                };
                return Err(Error::Env {
                    var,
                    key,
                    message: format!("{message}; fix the value or unset the variable"),
                });
            }
        }
    }
    Ok(overrides)
}

enum Probe {
    Accepted(Value),
    /// Names no key; maybe a close one.
    Unknown(Option<String>),
    Bad {
        key: String,
        message: String,
    },
}

/// Tries the text as each type the key might take, text first.
fn probe(segments: &[&str], text: &str) -> Probe {
    let mut candidates = vec![Value::String(text.to_string())];
    if let Ok(n) = text.trim().parse::<i64>() {
        candidates.push(Value::from(n));
    }
    match text.trim() {
        "true" => candidates.push(Value::Bool(true)),
        "false" => candidates.push(Value::Bool(false)),
        _ => {}
    }
    let mut first_error = None;
    for candidate in candidates {
        let mut doc = Value::Object(Map::new());
        insert(&mut doc, segments, candidate.clone());
        let Err(e) = serde_path_to_error::deserialize::<_, RawConfig>(doc) else {
            return Probe::Accepted(candidate);
        };
        let path = e.path().to_string();
        let message = one_line(&e.into_inner().to_string());
        if message.starts_with("unknown field") {
            let depth = path.split('.').count().saturating_sub(1);
            return Probe::Unknown(suggest(
                &segments[..depth.min(segments.len())],
                segments.get(depth).copied(),
                &message,
            ));
        }
        first_error.get_or_insert((path, message));
    }
    let (key, message) = first_error.unwrap_or_default();
    let message = message
        .replace("expected i64", "expected an integer")
        .replace("expected u64", "expected an integer");
    Probe::Bad {
        key: if key == "." { String::new() } else { key },
        message,
    }
}

fn insert(doc: &mut Value, segments: &[&str], leaf: Value) {
    let Some((last, parents)) = segments.split_last() else {
        return;
    };
    let mut at = doc;
    for s in parents {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        at = at
            .as_object_mut()
            .expect("just made an object")
            .entry(s.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !at.is_object() {
        *at = Value::Object(Map::new());
    }
    at.as_object_mut()
        .expect("just made an object")
        .insert(last.to_string(), leaf);
}

fn ignored(var: &str, suggestion: Option<String>) -> String {
    let hint = match suggestion {
        Some(s) => format!("; did you mean `{s}`?"),
        None => " (Kubernetes service links and Docker links set such variables)".to_string(),
    };
    format!("ignoring environment variable `{var}`: it names no config key{hint}")
}

/// `LOGFERRY_DESTINATION__URL` for `LOGFERRY_DESTINATION_URL`: a section joined to its
/// key with one underscore instead of two.
fn split_section(rest: &str) -> Option<String> {
    rest.match_indices('_').find_map(|(i, _)| {
        let joined = format!("{}__{}", &rest[..i], &rest[i + 1..]);
        let segments: Vec<&str> = joined.split("__").collect();
        if joined.contains("___") || segments.iter().any(|s| s.is_empty()) {
            return None;
        }
        // A key, when the probe gets as far as the key itself.
        let names_a_key = match probe(&segments, "") {
            Probe::Accepted(_) => true,
            Probe::Bad { key, .. } => key == segments.join("."),
            Probe::Unknown(_) => false,
        };
        names_a_key.then(|| format!("{ENV_PREFIX}_{}", joined.to_ascii_uppercase()))
    })
}

/// The variable for the known key closest to `unknown`, from serde's "expected one of
/// `a`, `b`" list, when one is close enough to be a typo.
fn suggest(parents: &[&str], unknown: Option<&str>, message: &str) -> Option<String> {
    let unknown = unknown?;
    let (_, expected) = message.split_once("expected")?;
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|k| (distance(unknown, k), k))
        .filter(|(d, k)| *d <= 2 && *d * 3 <= k.len())
        .min()
        .map(|(_, k)| {
            let mut path: Vec<String> = parents.iter().map(|p| p.to_ascii_uppercase()).collect();
            path.push(k.to_ascii_uppercase());
            format!("{ENV_PREFIX}_{}", path.join("__"))
        })
}

/// Levenshtein distance, for short key names.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}
