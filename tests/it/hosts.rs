//! `logferry hosts` as an operator of a fleet meets it: the host prefixes under a
//! `{hostname}` destination URL, each with its last generation, commit time and lag,
//! sorted by host; prefixes without a readable generation listed with a note; the
//! usage error without `{hostname}`; exit 3 when the destination cannot be listed.

use crate::cli::{code, stderr, stdout, Workspace};

const SOURCES: &str = "[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n";

/// Archives the workspace's logs as host `host` would: its prefix written literally,
/// with a state dir of its own. Then the config is the fleet's: `mirror/{hostname}`.
fn archive_as(ws: &Workspace, host: &str) {
    ws.config(&format!(
        "state_dir = \"state-{host}\"\n[destination]\nurl = \"mirror/{host}\"\n{SOURCES}"
    ));
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 0, "{host}: {}", stderr(&o));
    fleet(ws);
}

fn fleet(ws: &Workspace) {
    ws.config(&format!(
        "state_dir = \"state\"\n[destination]\nurl = \"mirror/{{hostname}}\"\n{SOURCES}"
    ));
}

/// Three hosts' archives (db-2 with two generations) and a stray directory.
fn three_hosts() -> Workspace {
    let ws = Workspace::new();
    archive_as(&ws, "db-2");
    archive_as(&ws, "web-1");
    std::fs::write(ws.path("logs/a.log.3"), b"three\n").unwrap();
    archive_as(&ws, "db-2");
    archive_as(&ws, "db-1");
    std::fs::create_dir_all(ws.path("mirror/stray/data")).unwrap();
    ws
}

fn hosts_json(ws: &Workspace, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["hosts", "--json"];
    all.extend(args);
    let o = ws.run(&all);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn hosts_lists_each_hosts_last_generation_commit_time_and_lag() {
    let ws = three_hosts();
    let rows = hosts_json(&ws, &[]);
    let names: Vec<&str> = rows.iter().map(|r| r["host"].as_str().unwrap()).collect();
    assert_eq!(names, ["db-1", "db-2", "stray", "web-1"], "sorted by host");
    for r in &rows {
        let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "committed_at",
                "generation",
                "host",
                "lag_seconds",
                "note",
                "source",
                "url"
            ],
            "{r}"
        );
    }
    let gens: Vec<_> = rows.iter().map(|r| r["generation"].clone()).collect();
    assert_eq!(
        gens,
        [
            serde_json::json!(1),
            2.into(),
            serde_json::Value::Null,
            1.into()
        ]
    );
    // The commit time is the newest generation's, as `generations` shows it.
    let o = ws.run(&["generations", "--hostname", "db-2", "--json"]);
    let db2: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows[1]["committed_at"], db2[1]["created_at"], "{rows:?}");
    assert!(rows[1]["lag_seconds"].is_u64(), "{rows:?}");
    assert!(rows[1]["url"].as_str().unwrap().ends_with("/mirror/db-2"));
    assert!(rows[1]["note"].is_null());
    let stray = &rows[2];
    assert!(
        stray["committed_at"].is_null() && stray["lag_seconds"].is_null(),
        "{stray}"
    );
    assert!(
        stray["note"].as_str().unwrap().contains("no generation"),
        "{stray}"
    );

    let o = ws.run(&["hosts"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("HOST") && lines[0].contains("LAG"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("db-2") && lines[2].contains(" 2 "),
        "{text}"
    );
    assert!(
        lines[3].starts_with("stray") && lines[3].contains("no generation"),
        "{text}"
    );
}

#[test]
fn hosts_names_a_damaged_newest_generation_and_times_it_by_its_object() {
    let ws = three_hosts();
    std::fs::write(
        ws.path("mirror/db-2/manifests/00000000000000000002.json"),
        b"not a manifest",
    )
    .unwrap();
    let rows = hosts_json(&ws, &[]);
    let db2 = &rows[1];
    assert_eq!(db2["generation"], 2, "{db2}");
    assert!(db2["committed_at"].is_string(), "{db2}");
    assert!(
        db2["note"].as_str().unwrap().contains("unreadable"),
        "{db2}"
    );
}

#[test]
fn hosts_says_when_it_read_only_the_first_names() {
    let ws = three_hosts();
    let o = ws.run(&["hosts", "--json", "--limit", "2"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        stderr(&o).contains("2 more host prefixes") && stderr(&o).contains("--limit"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn hosts_under_an_empty_prefix_lists_none_and_exits_0() {
    let ws = Workspace::new();
    fleet(&ws);
    let o = ws.run(&["hosts"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("no host archives under file://"),
        "{}",
        stdout(&o)
    );
    assert_eq!(hosts_json(&ws, &[]), Vec::<serde_json::Value>::new());
}

#[test]
fn hosts_without_hostname_in_the_url_is_a_usage_error() {
    let ws = Workspace::new();
    let o = ws.run(&["hosts"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("hosts needs {hostname} in destination.url"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn hosts_exits_3_when_the_destination_cannot_be_listed() {
    let ws = Workspace::new();
    ws.config(&format!(
        "state_dir = \"state\"\n[destination]\nurl = \"s3://fleet/logs/{{hostname}}\"\nmax_retries = 0\nconnect_timeout = \"1s\"\n[destination.options]\naws_endpoint = \"http://127.0.0.1:9\"\naws_access_key_id = \"k\"\naws_secret_access_key = \"hosts-test-secret\"\naws_region = \"us-east-1\"\naws_allow_http = true\n{SOURCES}"
    ));
    let o = ws.run(&["hosts"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("list s3://fleet/logs/"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("hosts-test-secret"), "{}", stderr(&o));
}

/// On a real S3 server: the hosts come from one delimited LIST, each with its newest
/// generation, and a prefix with data but no manifest is listed without one.
#[test]
fn hosts_lists_a_fleet_writing_one_s3_bucket() {
    use crate::common::{s3_destination_toml, testbed, unique_prefix};
    let base = unique_prefix();
    let bucket = testbed("TESTBED_S3_BUCKET");
    let at = |state: &str, tail: &str| {
        let toml = s3_destination_toml(
            &testbed("TESTBED_S3_ENDPOINT"),
            &testbed("TESTBED_S3_SECRET_KEY"),
            "max_retries = 1\nretry_timeout = \"5s\"\n",
        );
        let url = format!("url = \"s3://{bucket}/{base}/{tail}\"");
        let dest: Vec<&str> = toml
            .lines()
            .map(|l| if l.starts_with("url = ") { &url } else { l })
            .collect();
        format!("state_dir = \"{state}\"\n{}\n{SOURCES}", dest.join("\n"))
    };
    let ws = Workspace::new();
    for host in ["db-b", "db-a", "db-b"] {
        ws.config(&at(&format!("state-{host}"), host));
        let o = ws.run(&["--run-once"]);
        assert_eq!(code(&o), 0, "{host}: {}", stderr(&o));
        std::fs::write(ws.path("logs/a.log.3"), b"three\n").unwrap();
    }
    ws.config(&at("state-stray", "stray"));
    let o = ws.run(&["--run-once"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    std::fs::remove_dir_all(ws.path("state-stray")).unwrap();
    // The stray prefix keeps its data but loses its manifests: no archive.
    let stray = logferry::config_from_toml(
        &at("state-stray", "stray"),
        ws.dir.path(),
        std::iter::empty(),
    )
    .unwrap();
    let store = logferry::open_store(&stray.destination).unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use futures::TryStreamExt;
        use object_store::ObjectStoreExt;
        let prefix = object_store::path::Path::from("manifests");
        let keys: Vec<_> = store.list(Some(&prefix)).try_collect().await.unwrap();
        for m in keys {
            store.delete(&m.location).await.unwrap();
        }
    });
    ws.config(&at("state", "{hostname}"));
    let rows = hosts_json(&ws, &[]);
    let got: Vec<(String, serde_json::Value)> = rows
        .iter()
        .map(|r| {
            (
                r["host"].as_str().unwrap().to_string(),
                r["generation"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("db-a".to_string(), serde_json::json!(1)),
            ("db-b".to_string(), serde_json::json!(2)),
            ("stray".to_string(), serde_json::Value::Null),
        ],
        "{rows:?}"
    );
    assert!(rows[1]["committed_at"].is_string() && rows[1]["lag_seconds"].is_u64());
    assert_eq!(
        rows[1]["url"],
        format!("s3://{bucket}/{base}/db-b"),
        "{rows:?}"
    );
}
