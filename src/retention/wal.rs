//! PostgreSQL's WAL names, for `keep_base_backups` (pure): which archived files a
//! base backup needs. A base backup needs the segment its `.backup` history file names
//! as `START WAL LOCATION` and every segment after it; timeline `.history` files are
//! small and needed by any recovery that crosses a timeline, so they are always kept.

/// Where a file stands in the WAL sequence: (log, segment), then timeline.
pub(crate) type Position = (u32, u32, u32);

/// A WAL file name's position: a segment (`000000010000000000000003`), a partial
/// segment (`….partial`) or a backup history file (`….00000028.backup`); `None` for
/// anything else (a `.history` file included).
pub(crate) fn position(file_name: &str) -> Option<Position> {
    let hex = file_name.get(..24)?;
    let rest = &file_name[24..];
    let ok = rest.is_empty()
        || rest == ".partial"
        || (rest.len() == 16
            && rest.starts_with('.')
            && rest.ends_with(".backup")
            && rest[1..9].bytes().all(|b| b.is_ascii_hexdigit()));
    if !ok || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let part = |i: usize| u32::from_str_radix(&hex[i..i + 8], 16).ok();
    Some((part(8)?, part(16)?, part(0)?))
}

/// Whether the file is a timeline history file (`00000002.history`).
pub(crate) fn is_history(file_name: &str) -> bool {
    file_name
        .strip_suffix(".history")
        .is_some_and(|t| t.len() == 8 && t.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether the file is a backup history file (what `keep_base_backups` counts).
pub(crate) fn is_backup_file(file_name: &str) -> bool {
    file_name.ends_with(".backup") && position(file_name).is_some()
}

/// The first segment a backup needs, from its `.backup` history file's text:
/// `START WAL LOCATION: 0/C000028 (file 00000001000000000000000C)`.
pub(crate) fn backup_start(text: &str) -> Option<Position> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("START WAL LOCATION:"))?;
    let file = line.split("(file ").nth(1)?.split(')').next()?.trim();
    position(file).filter(|_| file.len() == 24)
}

/// The oldest position to keep: the start of the `n`-th newest backup, or `None` (keep
/// every WAL file) when fewer than `n` backups are archived.
pub(crate) fn keep_from(mut starts: Vec<Position>, n: u32) -> Option<Position> {
    starts.sort_unstable();
    starts.dedup();
    let n = n as usize;
    if n == 0 || starts.len() < n {
        return None;
    }
    Some(starts[starts.len() - n])
}

/// Whether a base-backup rule that keeps from `from` lets the file go. Files that are
/// no WAL (and `.history` files) are never let go by this rule.
pub(crate) fn released(file_name: &str, from: Option<Position>) -> bool {
    if is_history(file_name) {
        return false;
    }
    let (Some(from), Some(at)) = (from, position(file_name)) else {
        return false;
    };
    (at.0, at.1) < (from.0, from.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_names_are_read_as_positions() {
        assert_eq!(position("00000001000000000000000C"), Some((0, 12, 1)));
        assert_eq!(
            position("00000002000000010000000A.partial"),
            Some((1, 10, 2))
        );
        assert_eq!(
            position("00000001000000000000000C.00000028.backup"),
            Some((0, 12, 1))
        );
        for other in [
            "00000002.history",
            "app.log",
            "00000001000000000000000G",
            "00000001000000000000000C.tmp",
            "0000000100000000000000",
        ] {
            assert_eq!(position(other), None, "{other}");
        }
        assert!(is_history("00000002.history") && !is_history("x.history"));
        assert!(is_backup_file("00000001000000000000000C.00000028.backup"));
        assert!(!is_backup_file("00000001000000000000000C"));
    }

    #[test]
    fn a_backup_history_file_names_its_first_segment() {
        let text = "START WAL LOCATION: 0/C000028 (file 00000001000000000000000C)\n\
                    STOP WAL LOCATION: 0/C000100 (file 00000001000000000000000C)\n\
                    CHECKPOINT LOCATION: 0/C000060\nLABEL: base\n";
        assert_eq!(backup_start(text), Some((0, 12, 1)));
        assert_eq!(backup_start("LABEL: nothing\n"), None);
        assert_eq!(
            backup_start("START WAL LOCATION: 0/C000028 (file bogus)"),
            None
        );
    }

    #[test]
    fn the_n_newest_backups_keep_from_the_oldest_of_them() {
        let starts = vec![(0, 12, 1), (0, 3, 1), (0, 30, 2)];
        assert_eq!(keep_from(starts.clone(), 2), Some((0, 12, 1)));
        assert_eq!(keep_from(starts.clone(), 3), Some((0, 3, 1)));
        assert_eq!(
            keep_from(starts, 4),
            None,
            "fewer backups than asked: keep all"
        );
        let from = Some((0, 12, 1));
        assert!(released("00000001000000000000000B", from));
        assert!(released("000000010000000000000003.00000028.backup", from));
        assert!(!released("00000001000000000000000C", from));
        assert!(!released("00000002000000000000000D", from));
        assert!(!released("00000002.history", from));
        assert!(!released("postgresql.log", from));
        assert!(!released("00000001000000000000000B", None));
    }
}
