//! What the file system says about a valid config before a pass runs: whether each
//! source's `path` is a directory this user can read, whether `state_dir` is (or can be
//! made) a writable directory, and whether the directory of `metrics_textfile` takes
//! the file, and whether `identity_file` is a private key only its owner can read.
//! Validation stays pure and is used by every command; these checks read the
//! disk, so only `check-config` (and `logferry run` at start) call them.
//!
//! A source directory that does not exist yet is a warning, not an error: the agent runs
//! as a service and the application may create its log directory later.

use std::fmt;
use std::io::ErrorKind;
use std::path::Path;

use super::Config;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Severity {
    /// The agent runs, but something will not work as the config says.
    Warning,
    /// A pass would fail: `check-config` exits 2.
    Error,
}

/// One thing the file system says about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// Whether it stops a pass.
    pub severity: Severity,
    /// The dotted key it is about (`sources[0].path`).
    pub key: String,
    /// What is wrong and the fix.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key `{}`: {}", self.key, self.message)
    }
}

/// Every finding about the config's paths, errors and warnings in key order.
pub fn preflight(config: &Config) -> Vec<Finding> {
    let mut found = Vec::new();
    for (i, s) in config.sources.iter().enumerate() {
        found.extend(source_path(&format!("sources[{i}].path"), &s.path));
    }
    found.extend(state_dir(&config.state_dir));
    if let Some(p) = &config.metrics_textfile {
        found.extend(metrics_textfile(p));
    }
    for p in &config.destination.encryption.identity_files {
        found.extend(identity_file(p));
    }
    found
}

/// `destination.identity_file`: a private key a reader can use (owner-only, one logferry
/// reads); the message names the file, never its contents.
fn identity_file(path: &Path) -> Option<Finding> {
    let e = crate::crypt::Identities::load(&[path.to_path_buf()]).err()?;
    finding(Severity::Error, "destination.identity_file", e.to_string())
}

fn finding(severity: Severity, key: &str, message: String) -> Option<Finding> {
    Some(Finding {
        severity,
        key: key.to_string(),
        message,
    })
}

/// A source's directory: missing is a warning (it may appear later), a file is an
/// error, unreadable is a warning naming the user (the service may run as another).
fn source_path(key: &str, path: &Path) -> Option<Finding> {
    let p = path.display();
    match std::fs::metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => finding(
            Severity::Warning,
            key,
            format!("`{p}` does not exist; nothing is archived from it until it does: create it, or fix the path"),
        ),
        Ok(m) if !m.is_dir() => finding(
            Severity::Error,
            key,
            format!("`{p}` is a file, not a directory; set `path` to the directory that holds it and take the file with `include`"),
        ),
        Err(e) => unreadable(key, path, &e),
        Ok(_) => match std::fs::read_dir(path) {
            Ok(_) => None,
            Err(e) => unreadable(key, path, &e),
        },
    }
}

fn unreadable(key: &str, path: &Path, e: &std::io::Error) -> Option<Finding> {
    let p = path.display();
    let message = if e.kind() == ErrorKind::PermissionDenied {
        format!("user {} cannot read `{p}`; give the user that runs logferry read access to it (e.g. its group, or setfacl -R -m u:USER:rX)", user())
    } else {
        format!("cannot read `{p}`: {e}")
    };
    finding(Severity::Warning, key, message)
}

/// `state_dir`: a directory this user can write, or one it can create.
fn state_dir(path: &Path) -> Option<Finding> {
    let key = "state_dir";
    let p = path.display();
    let (existing, missing) = nearest_existing(path)?;
    if !existing.is_dir() {
        let what = if missing {
            format!(
                "`{p}` cannot be created: `{}` is a file",
                existing.display()
            )
        } else {
            format!("`{p}` is a file")
        };
        return finding(
            Severity::Error,
            key,
            format!("{what}; point state_dir at a directory (logferry creates it when missing)"),
        );
    }
    let why = not_writable(existing)?;
    let what = if missing {
        format!("`{p}` cannot be created: `{}` {why}", existing.display())
    } else {
        format!("`{p}` {why}")
    };
    finding(
        Severity::Error,
        key,
        format!("{what}; make it writable by the user that runs logferry (e.g. install -d -o USER {p}), or point state_dir at a writable directory"),
    )
}

/// `metrics_textfile`: its directory exists and this user can write into it (the file
/// is written next to it and renamed into place).
fn metrics_textfile(path: &Path) -> Option<Finding> {
    let key = "metrics_textfile";
    let dir = path.parent().unwrap_or(Path::new("/"));
    let d = dir.display();
    let message = match std::fs::metadata(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => format!("directory `{d}` does not exist; create it (node_exporter's --collector.textfile.directory), or fix the path"),
        Err(e) => format!("cannot read directory `{d}`: {e}"),
        Ok(m) if !m.is_dir() => format!("`{d}` is a file, not a directory; point metrics_textfile into node_exporter's textfile directory"),
        Ok(_) => format!(
            "directory `{d}` {}; make it writable by the user that runs logferry, or point metrics_textfile elsewhere",
            not_writable(dir)?
        ),
    };
    finding(Severity::Error, key, message)
}

/// `path` itself when it exists (false), else its nearest existing ancestor (true).
fn nearest_existing(path: &Path) -> Option<(&Path, bool)> {
    path.ancestors()
        .find(|a| std::fs::symlink_metadata(a).is_ok())
        .map(|a| (a, a != path))
}

/// Why this user cannot create files in `dir`, or `None` when it can.
fn not_writable(dir: &Path) -> Option<String> {
    use rustix::fs::{accessat, Access, AtFlags, CWD};
    match accessat(
        CWD,
        dir,
        Access::WRITE_OK | Access::EXEC_OK,
        AtFlags::EACCESS,
    ) {
        Ok(()) => None,
        Err(rustix::io::Errno::ROFS) => Some("is on a read-only mount".to_string()),
        Err(rustix::io::Errno::ACCESS) | Err(rustix::io::Errno::PERM) => {
            Some(format!("is not writable by user {}", user()))
        }
        Err(e) => Some(format!(
            "cannot be checked: {}",
            std::io::Error::from_raw_os_error(e.raw_os_error())
        )),
    }
}

/// This process's user, as `name` (uid N), for messages about what it may not do.
fn user() -> String {
    let uid = rustix::process::geteuid().as_raw();
    let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|t| {
        t.lines().find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)? == uid.to_string()).then(|| name.to_string())
        })
    });
    match name {
        Some(n) => format!("`{n}` (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, extra: &str, path: &str) -> Config {
        let text = format!("state_dir = \"state\"\n{extra}[destination]\nurl = \"m\"\n[[sources]]\nname = \"a\"\npath = \"{path}\"\n");
        crate::config::from_toml_str(&text, dir, std::iter::empty()).unwrap()
    }

    #[test]
    fn a_ready_config_has_no_findings() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("logs")).unwrap();
        let c = config(dir.path(), "metrics_textfile = \"m.prom\"\n", "logs");
        assert_eq!(preflight(&c), Vec::new(), "state is created on first use");
    }

    #[test]
    fn findings_name_their_key_and_severity() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("state"), b"").unwrap();
        let c = config(dir.path(), "metrics_textfile = \"no/m.prom\"\n", "logs");
        let found: Vec<(Severity, String)> = preflight(&c)
            .into_iter()
            .map(|f| (f.severity, f.key))
            .collect();
        assert_eq!(
            found,
            [
                (Severity::Warning, "sources[0].path".to_string()),
                (Severity::Error, "state_dir".to_string()),
                (Severity::Error, "metrics_textfile".to_string()),
            ]
        );
    }
}
