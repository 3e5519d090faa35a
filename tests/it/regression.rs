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

/// A WAL source's config: PostgreSQL's pg_wal with its archive_status markers.
fn wal_workspace() -> Workspace {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("pg_wal/archive_status")).unwrap();
    ws.config(
        "state_dir = \"state\"\n[destination]\nurl = \"mirror\"\n[[sources]]\nname = \"wal\"\npath = \"pg_wal\"\nclosed_by = \"ready-marker\"\n",
    );
    ws
}

/// Writes a WAL-directory file and its `.ready` marker, as PostgreSQL does.
fn wal_file(ws: &Workspace, name: &str, content: &[u8]) {
    let tmp = ws.path(&format!("pg_wal/.{name}.tmp"));
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, ws.path(&format!("pg_wal/{name}"))).unwrap();
    std::fs::write(ws.path(&format!("pg_wal/archive_status/{name}.ready")), b"").unwrap();
}

/// A second `00000002.history` with other content (another cluster, a split brain) used
/// to replace the archived one: `archived` said yes and `fetch` served the new bytes, so a
/// point-in-time recovery followed the wrong timeline. PostgreSQL's archive_command
/// contract: never overwrite an archived name with other content; identical content is
/// success.
#[test]
fn an_archived_wal_name_never_takes_other_content() {
    let ws = wal_workspace();
    let first = b"1\t0/3000000\tno recovery target specified\n";
    let other = b"1\t0/5000000\tbefore 2026-01-01 00:00:00+00\n";
    wal_file(&ws, "00000002.history", first);
    let r = ws.run(&["--run-once"]);
    assert_eq!(code(&r), 0, "{}", stderr(&r));

    // The same content again (a retried archive_command, a new inode): success.
    wal_file(&ws, "00000002.history", first);
    let r = ws.run(&["--run-once"]);
    assert_eq!(code(&r), 0, "{}{}", stdout(&r), stderr(&r));
    let a = ws.run(&["archived", "00000002.history"]);
    assert_eq!(code(&a), 0, "{}", stderr(&a));

    wal_file(&ws, "00000002.history", other);
    let r = ws.run(&["--run-once"]);
    let said = format!("{}{}", stdout(&r), stderr(&r));
    assert_eq!(code(&r), 1, "a name conflict fails the pass: {said}");
    let (old_hash, new_hash) = (crate::common::sha(first), crate::common::sha(other));
    assert!(
        said.contains("conflict") && said.contains(&old_hash) && said.contains(&new_hash),
        "names both sha256s: {said}"
    );

    let a = ws.run(&["archived", "00000002.history"]);
    assert_ne!(code(&a), 0, "archived must not say yes");
    assert!(
        stderr(&a).contains("conflict") && stderr(&a).contains(&old_hash),
        "{}",
        stderr(&a)
    );
    let w = ws.run(&["archived", "--wait", "30s", "00000002.history"]);
    assert_ne!(code(&w), 0);
    assert!(stderr(&w).contains("conflict"), "{}", stderr(&w));

    let out = ws.path("fetched");
    let f = ws.run(&["fetch", "00000002.history", out.to_str().unwrap()]);
    assert_eq!(code(&f), 0, "{}", stderr(&f));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        first,
        "the first content stays"
    );

    let s = ws.run(&["status", "--json"]);
    assert!(
        stdout(&s).contains("\"name_conflicts\": 1"),
        "{}",
        stdout(&s)
    );
}

/// `names = "reused"` keeps logrotate's behaviour for a source that asks for it, and a
/// bad value names the key.
#[test]
fn names_key_chooses_immutable_or_reused_names() {
    let ws = wal_workspace();
    ws.config(
        "state_dir = \"state\"\n[destination]\nurl = \"mirror\"\n[[sources]]\nname = \"wal\"\npath = \"pg_wal\"\nclosed_by = \"ready-marker\"\nnames = \"reused\"\n",
    );
    wal_file(&ws, "a.log", b"one");
    assert_eq!(code(&ws.run(&["--run-once"])), 0);
    wal_file(&ws, "a.log", b"two");
    let r = ws.run(&["--run-once"]);
    assert_eq!(code(&r), 0, "{}", stderr(&r));
    assert!(stdout(&r).contains("1 changed"), "{}", stdout(&r));

    ws.config(
        "state_dir = \"state\"\n[destination]\nurl = \"mirror\"\n[[sources]]\nname = \"wal\"\npath = \"pg_wal\"\nnames = \"unique\"\n",
    );
    let bad = ws.run(&["check-config"]);
    assert_eq!(code(&bad), 2);
    assert!(
        stderr(&bad).contains("sources[0].names") && stderr(&bad).contains("immutable"),
        "{}",
        stderr(&bad)
    );
}

/// `archived --wait` that timed out because the destination was down said only "not
/// archived as it is now", so PostgreSQL's log never showed the cause.
#[test]
fn archived_wait_that_times_out_names_the_destination_error() {
    let ws = wal_workspace();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let destination = crate::common::s3_destination_toml(
        &format!("http://127.0.0.1:{port}"),
        "test-secret",
        "max_retries = 0\nretry_timeout = \"1s\"\nconnect_timeout = \"1s\"\n",
    );
    ws.config(&format!(
        "state_dir = \"state\"\n{destination}[[sources]]\nname = \"wal\"\npath = \"pg_wal\"\nclosed_by = \"ready-marker\"\n"
    ));
    wal_file(&ws, "000000010000000000000001", b"segment");
    let w = ws.run(&["archived", "--wait", "3s", "000000010000000000000001"]);
    assert_eq!(code(&w), 1);
    let said = stderr(&w);
    assert!(
        said.contains("not archived")
            && said.contains("failed")
            && said.contains(&port.to_string()),
        "names the destination and its error: {said}"
    );
    assert!(!said.contains("test-secret"), "{said}");
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
