//! systemd's notify protocol (`sd_notify`): READY=1, WATCHDOG=1, RELOADING=1 and
//! STOPPING=1 sent as datagrams to `$NOTIFY_SOCKET`. Without that variable (not under
//! systemd with `Type=notify`) every call does nothing.
//!
//! Ours rather than the `sd-notify` crate: that crate reads `NOTIFY_SOCKET`,
//! `WATCHDOG_USEC` and `WATCHDOG_PID` from the process environment itself, where the
//! library takes everything as parameters (no global state: the binary reads the
//! environment, and tests give each notifier its own socket without touching the
//! process's, which parallel tests could not share). The protocol is one datagram per
//! message to a path or abstract socket; that is all this file does.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

/// A connection to the service manager, or nothing.
#[derive(Debug)]
pub struct Notifier {
    target: Option<Target>,
}

#[derive(Debug)]
enum Target {
    Path(PathBuf),
    Abstract(Vec<u8>),
}

impl Notifier {
    /// From the value of `NOTIFY_SOCKET` (a path, or `@name` for an abstract socket).
    pub fn new(notify_socket: Option<&str>) -> Self {
        let target = notify_socket
            .filter(|s| !s.is_empty())
            .map(|s| match s.strip_prefix('@') {
                Some(name) => Target::Abstract(name.as_bytes().to_vec()),
                None => Target::Path(PathBuf::from(s)),
            });
        Notifier { target }
    }

    /// Whether a service manager is listening.
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Sends one message (`KEY=VALUE` lines); failures are logged, never fatal.
    pub fn send(&self, message: &str) {
        let Some(target) = &self.target else { return };
        let result = UnixDatagram::unbound().and_then(|sock| match target {
            Target::Path(p) => sock.send_to(message.as_bytes(), p),
            Target::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                sock.send_to_addr(message.as_bytes(), &addr)
            }
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot notify the service manager");
        }
    }
}

/// Half of `WATCHDOG_USEC` (how often systemd wants WATCHDOG=1), when set for this process.
pub fn watchdog_interval(
    watchdog_usec: Option<&str>,
    watchdog_pid: Option<&str>,
) -> Option<Duration> {
    if let Some(pid) = watchdog_pid {
        if pid.trim() != std::process::id().to_string() {
            return None;
        }
    }
    let usec: u64 = watchdog_usec?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_reach_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::new(Some(path.to_str().unwrap()));
        n.send("READY=1\nSTATUS=waiting");
        let mut buf = [0u8; 128];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=waiting");
    }

    #[test]
    fn without_a_socket_nothing_happens() {
        let n = Notifier::new(None);
        assert!(!n.is_enabled());
        n.send("READY=1");
    }

    #[test]
    fn watchdog_interval_is_half_and_only_for_this_pid() {
        assert_eq!(
            watchdog_interval(Some("20000000"), None),
            Some(Duration::from_secs(10))
        );
        let me = std::process::id().to_string();
        assert_eq!(
            watchdog_interval(Some("2000000"), Some(&me)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(watchdog_interval(Some("2000000"), Some("1")), None);
        assert_eq!(watchdog_interval(None, None), None);
        assert_eq!(watchdog_interval(Some("junk"), None), None);
    }
}
