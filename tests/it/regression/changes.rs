//! Bugs in what a pass takes for a change: a file is archived once it is quiet, and its
//! content is read whenever its stat could belong to another file or another content.

use std::time::{Duration, SystemTime};

use crate::cli::{code, stderr, stdout, Workspace};

/// A file whose mtime lies ahead of the clock (clock skew, an NTP step back, `touch -d`)
/// used to count as "too young" until the clock caught up with it: with a far-future
/// mtime, never. It is now archived once its stat has stayed the same for `min_age`, and
/// the pass warns about it.
// Pins: a file with a future mtime counted as too young, so it was never archived.
#[test]
fn a_file_with_an_mtime_ahead_of_the_clock_is_archived_once_quiet() {
    let ws = Workspace::new();
    ws.config(
        "state_dir = \"state\"\n[destination]\nurl = \"mirror\"\n[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"1s\"\n",
    );
    let ahead = ws.path("logs/ahead.log");
    std::fs::write(&ahead, b"written by a host whose clock runs fast\n").unwrap();
    let f = std::fs::File::options().write(true).open(&ahead).unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(400 * 24 * 3600))
        .unwrap();
    drop(f);
    // The other two files are older than min_age by the time the pass runs.
    std::thread::sleep(Duration::from_millis(1100));

    let first = ws.run(&["--run-once"]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert!(
        stdout(&first).starts_with("archived 2 files"),
        "{}",
        stdout(&first)
    );
    let warning = stderr(&first);
    assert!(
        warning.contains("ahead of the clock") && warning.contains("ahead.log"),
        "the pass says why the file waits: {warning}"
    );
    assert!(!stdout(&ws.run(&["ls"])).contains("ahead.log"));

    std::thread::sleep(Duration::from_millis(1100));
    let second = ws.run(&["--run-once"]);
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    assert!(
        stdout(&second).starts_with("archived 1 file"),
        "quiet for min_age, so archived: {}",
        stdout(&second)
    );
    assert!(stdout(&ws.run(&["ls"])).contains("ahead.log"));
}

/// Sets a file's mtime (as `tar`, `cp -p`, `rsync -t` and `touch -d` do).
fn set_mtime(path: &std::path::Path, t: SystemTime) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(t).unwrap();
}

/// Inode reuse: a file deleted and another of the same size created with the same mtime
/// (an extraction with preserved dates) gets the freed inode on ext4. The quick check
/// saw an equal (dev, inode, size, mtime), took the new file for the old one renamed,
/// and recorded the old content for it without reading it: restore returned wrong bytes.
// Pins: a new file on a reused inode with the old mtime was recorded with the old content.
#[test]
fn a_reused_inode_with_a_restored_mtime_is_hashed_not_assumed() {
    let ws = Workspace::new();
    let old = ws.path("logs/a.log.1");
    let mtime = SystemTime::now() - Duration::from_secs(3600);
    set_mtime(&old, mtime);
    let r = ws.run(&["--run-once"]);
    assert_eq!(code(&r), 0, "{}", stderr(&r));
    std::fs::remove_file(&old).unwrap();
    // Same size as "one\n", other bytes, same mtime, under a new name.
    let new = ws.path("logs/b.log.1");
    std::fs::write(&new, b"ONE\n").unwrap();
    set_mtime(&new, mtime);
    let r = ws.run(&["--run-once"]);
    assert_eq!(code(&r), 0, "{}", stderr(&r));
    let to = ws.path("restored");
    let r = ws.run(&["restore", "--to", to.to_str().unwrap()]);
    assert_eq!(code(&r), 0, "{}", stderr(&r));
    assert_eq!(std::fs::read(to.join("app/b.log.1")).unwrap(), b"ONE\n");
}

/// A same-size rewrite in place with the mtime put back was never archived, and
/// `archived` said it was.
// Pins: a same-size rewrite with the mtime put back was never archived.
#[test]
fn a_same_size_rewrite_with_the_mtime_put_back_is_archived() {
    let ws = Workspace::new();
    let file = ws.path("logs/a.log.1");
    let mtime = SystemTime::now() - Duration::from_secs(3600);
    set_mtime(&file, mtime);
    let r = ws.run(&["--run-once"]);
    assert_eq!(code(&r), 0, "{}", stderr(&r));
    std::fs::write(&file, b"uno\n").unwrap();
    set_mtime(&file, mtime);
    let r = ws.run(&["--run-once"]);
    assert_eq!(code(&r), 0, "{}", stderr(&r));
    assert!(stdout(&r).contains("1 changed"), "{}", stdout(&r));
    let out = ws.path("fetched");
    let f = ws.run(&["fetch", "a.log.1", out.to_str().unwrap()]);
    assert_eq!(code(&f), 0, "{}", stderr(&f));
    assert_eq!(std::fs::read(&out).unwrap(), b"uno\n");
}
