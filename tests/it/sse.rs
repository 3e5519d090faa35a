//! Server-side encryption on S3 (SeaweedFS): the options pass through to every object,
//! and `check-config --probe` reports what the store really applied, since a store may
//! answer 200 to an encryption it does not perform.

use std::process::Command;

use logferry::{config_from_toml, probe};

use crate::common::{destination_toml, logferry, testbed, text, Backend, Env};

const SOURCES: &str = "[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n";

/// An S3 workspace whose `[destination.options]` also hold `options`.
fn env_with(options: &str) -> Env {
    env_and_config(options).0
}

/// The same, and its config written to `logferry.toml` in the workspace.
fn env_and_config(options: &str) -> (Env, std::path::PathBuf) {
    let toml = format!(
        "state_dir = \"state\"\n{}{options}{SOURCES}",
        destination_toml(Backend::S3)
    );
    let env = Env::from_toml(tempfile::tempdir().unwrap(), &toml);
    let cfg = env.dir.path().join("logferry.toml");
    std::fs::write(&cfg, &toml).unwrap();
    (env, cfg)
}

/// The probe's `encryption` check.
async fn encryption_check(env: &Env) -> logferry::ProbeCheck {
    let checks = probe(&env.store, &env.config.destination).await;
    checks
        .into_iter()
        .find(|c| c.name == "encryption")
        .expect("an encryption check on S3")
}

/// The headers of a signed HEAD of `key` under the archive's prefix, from curl.
fn head(env: &Env, key: &str) -> String {
    let url = env.config.destination.url.to_string();
    let path = url.trim_start_matches("s3://");
    let o = Command::new("curl")
        .args([
            "-sS",
            "-I",
            "--noproxy",
            "*",
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
        ])
        .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "--user"])
        .arg(format!(
            "{}:{}",
            testbed("TESTBED_S3_ACCESS_KEY"),
            testbed("TESTBED_S3_SECRET_KEY")
        ))
        .arg(format!(
            "{}/{}/{key}",
            testbed("TESTBED_S3_ENDPOINT"),
            path.trim_end_matches('/')
        ))
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).to_ascii_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_s3_is_applied_to_every_object_and_the_probe_reports_it() {
    let env = env_with("aws_server_side_encryption = \"AES256\"\n");
    env.write("a.log", b"alpha\n");
    env.write(
        "b.log",
        &vec![b'b'; env.config.multipart_threshold as usize + 1],
    );
    let r = env.pass().await;
    assert_eq!(r.files_uploaded, 2, "{r:?}");
    let index = env.index().await;
    env.assert_objects_match(&index).await;
    for key in env.keys().await {
        assert!(
            head(&env, &key).contains("x-amz-server-side-encryption: aes256"),
            "{key}: {}",
            head(&env, &key)
        );
    }
    let check = encryption_check(&env).await;
    assert!(check.ok, "{check:?}");
    assert!(check.detail.contains("SSE-S3 (AES256)"), "{check:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_encryption_asked_for_is_reported_as_none() {
    let env = env_with("");
    let check = encryption_check(&env).await;
    assert!(check.ok, "{check:?}");
    assert!(check.detail.starts_with("none asked for"), "{check:?}");
}

/// SeaweedFS answers 200 to `aws:kms:dsse` and stores the object unencrypted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_fails_when_the_store_ignores_the_encryption_asked_for() {
    let env = env_with("aws_server_side_encryption = \"aws:kms:dsse\"\n");
    let check = encryption_check(&env).await;
    assert!(!check.ok, "{check:?}");
    assert!(check.detail.contains("does not report it"), "{check:?}");
    assert!(check.hint.unwrap().contains("AES256"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_c_round_trips_and_a_read_without_the_key_is_refused() {
    // 32 bytes, base64: a test key, not a secret.
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let (env, cfg) = env_and_config(&format!(
        "aws_server_side_encryption = \"sse-c\"\naws_sse_customer_key_base64 = \"{key}\"\n"
    ));
    env.write("a.log", b"secret line\n");
    let r = env.pass().await;
    assert_eq!(r.files_uploaded, 1, "{r:?}");
    env.assert_objects_match(&env.index().await).await;
    let data = env
        .keys()
        .await
        .into_iter()
        .find(|k| k.starts_with("data/"))
        .unwrap();
    assert!(
        head(&env, &data).starts_with("http/1.1 400"),
        "{}",
        head(&env, &data)
    );
    let check = encryption_check(&env).await;
    assert!(check.ok, "{check:?}");
    assert!(check.detail.starts_with("SSE-C"), "{check:?}");
    // The key is a secret: never printed.
    for args in [
        &["check-config"][..],
        &["check-config", "--json"],
        &["check-config", "--probe"],
    ] {
        let o = logferry(&cfg, args).await;
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        assert!(!text(&o).contains(key), "{args:?}: {}", text(&o));
    }
}

#[test]
fn a_misspelled_encryption_is_refused_naming_the_key_and_the_values() {
    for bad in ["aes256", "sse:kms", "kms", ""] {
        let toml = format!(
            "state_dir = \"state\"\n[destination]\nurl = \"s3://b/p\"\n[destination.options]\naws_server_side_encryption = \"{bad}\"\n{SOURCES}"
        );
        let dir = tempfile::tempdir().unwrap();
        let err = config_from_toml(&toml, dir.path(), std::iter::empty())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("destination.options.aws_server_side_encryption"),
            "{bad}: {err}"
        );
        assert!(
            err.contains("\"AES256\"") && err.contains("\"aws:kms\""),
            "{bad}: {err}"
        );
    }
}
