//! Bugs in how a WAL source's names are kept: PostgreSQL's archive_command contract says
//! an archived name never takes other content, and `archived` must say why it answers no.

use crate::cli::{code, stderr, stdout, Workspace};

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
// Pins: a second 00000002.history with other bytes replaced the archived one.
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
// Pins: immutable WAL names broke logrotate's reused names; `names` chooses, bad values named.
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
// Pins: `archived --wait` timing out on a dead destination hid the destination's error.
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
