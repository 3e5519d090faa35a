//! One test per fixed bug, named after what it pins; each comment says what went wrong.

use std::time::{Duration, SystemTime};

use crate::cli::{code, stderr, stdout, Workspace};

/// A file whose mtime lies ahead of the clock (clock skew, an NTP step back, `touch -d`)
/// used to count as "too young" until the clock caught up with it: with a far-future
/// mtime, never. It is now archived once its stat has stayed the same for `min_age`, and
/// the pass warns about it.
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
