//! One test per fixed leak of a secret: each runs the binary and checks that the secret
//! appears in neither stdout nor stderr, whatever the path (check-config, its JSON and
//! probe, config errors, environment overrides, debug logs).

use std::process::Output;

use crate::cli::{code, stderr, stdout, Workspace};

fn assert_hidden(o: &Output, secrets: &[&str]) {
    let (out, err) = (stdout(o), stderr(o));
    for s in secrets {
        assert!(
            !out.contains(s) && !err.contains(s),
            "`{s}` was printed:\n--- stdout\n{out}\n--- stderr\n{err}"
        );
    }
}

/// A destination that refuses connections at once, so that `--probe` fails fast.
const S3_HEAD: &str = "state_dir = \"state\"\n[[sources]]\nname = \"app\"\npath = \"logs\"\n[destination]\nurl = \"s3://bucket/prefix\"\nmax_retries = 0\nconnect_timeout = \"1s\"\nrequest_timeout = \"2s\"\nretry_timeout = \"2s\"\n[destination.options]\naws_region = \"us-east-1\"\naws_allow_http = \"true\"\naws_access_key_id = \"test\"\naws_secret_access_key = \"secret-key-5d1a\"\n";

/// `check-config` printed the passwords of `proxy_url` and `aws_endpoint` verbatim (only
/// secret-named options were redacted). Every option whose value is a URL with a
/// password now shows `<redacted>` in its place, on every output of check-config and in
/// debug logs; the user name is kept.
// Pins: check-config printed the passwords in `proxy_url` and `aws_endpoint` verbatim.
#[test]
fn check_config_redacts_the_password_of_every_url_valued_option() {
    let ws = Workspace::new();
    ws.config(&format!(
        "{S3_HEAD}aws_endpoint = \"http://epuser:ep-pass-1b9f@127.0.0.1:1\"\nproxy_url = \"http://proxyuser:proxy-pass-7c2e@127.0.0.1:1\"\n"
    ));
    let secrets = [
        "ep-pass-1b9f",
        "proxy-pass-7c2e",
        "secret-key-5d1a",
        "env-pass-2d8c",
    ];
    let plain = ws.run(&["check-config"]);
    assert_eq!(code(&plain), 0, "{}", stderr(&plain));
    assert_hidden(&plain, &secrets);
    let shown = stdout(&plain);
    assert!(
        shown.contains("proxyuser") && shown.contains("epuser") && shown.contains("<redacted>"),
        "{shown}"
    );

    let json = ws.run(&["check-config", "--json"]);
    assert_eq!(code(&json), 0, "{}", stderr(&json));
    assert_hidden(&json, &secrets);
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let proxy = v["destination"]["options"]["proxy_url"].as_str().unwrap();
    assert!(proxy.starts_with("http://proxyuser:"), "{proxy}");

    let env = [
        ("RUST_LOG", "debug"),
        (
            "LOGFERRY_DESTINATION__OPTIONS__PROXY_URL",
            "http://envuser:env-pass-2d8c@127.0.0.1:1",
        ),
    ];
    for args in [
        &["check-config"][..],
        &["check-config", "--probe"],
        &["check-config", "--json", "--probe"],
        &["--run-once"],
        &["ls"],
    ] {
        let o = ws.run_env(args, &env);
        assert_hidden(&o, &secrets);
    }
    // The failed pass's error, kept in the state dir, quoted the request URL.
    let kept = std::fs::read_to_string(ws.path("state/status.json")).unwrap();
    assert!(kept.contains("\"failed\""), "{kept}");
    for s in secrets {
        assert!(!kept.contains(s), "`{s}` kept in status.json: {kept}");
    }
}

/// A TOML syntax error quoted the offending line, and with it the secret written there.
/// On a line that holds a secret-named key or a URL with a password, the message now
/// keeps the line number and the reason, and drops the line.
// Pins: a TOML syntax error quoted its line, and with it the secret written there.
#[test]
fn a_toml_syntax_error_on_a_secret_line_names_the_line_without_quoting_it() {
    let ws = Workspace::new();
    ws.config(&format!(
        "{S3_HEAD}azure_storage_access_key = \"unterminated-secret-3e7a\n"
    ));
    let o = ws.run(&["check-config"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_hidden(&o, &["unterminated-secret-3e7a", "secret-key-5d1a"]);
    assert!(stderr(&o).contains("line 16"), "{}", stderr(&o));

    ws.config(&format!(
        "{S3_HEAD}proxy_url = \"http://u:url-pass-4f0c@127.0.0.1:1\" trailing\n"
    ));
    let o = ws.run(&["check-config"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_hidden(&o, &["url-pass-4f0c"]);
    assert!(stderr(&o).contains("line 16"), "{}", stderr(&o));

    // A line without a secret is still quoted: it shows where the mistake is.
    ws.config("state_dir = \"unterminated\n");
    let o = ws.run(&["check-config"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("unterminated"), "{}", stderr(&o));
}

/// `LOGFERRY_DESTINATION__OPTIONS=<text>` (a table given text) echoed the text in its
/// error, and the text may be the secret. A value set under `destination` is now never
/// echoed; the error names the variable and says what was expected.
// Pins: a bad LOGFERRY_DESTINATION__* value was echoed in its error, secret included.
#[test]
fn an_environment_value_under_destination_is_never_echoed_in_an_error() {
    let ws = Workspace::new();
    for var in ["LOGFERRY_DESTINATION__OPTIONS", "LOGFERRY_DESTINATION"] {
        let o = ws.run_env(&["check-config"], &[(var, "env-secret-9a1b")]);
        assert_eq!(code(&o), 2, "{var}: {}", stderr(&o));
        assert!(stderr(&o).contains(var), "{}", stderr(&o));
        assert_hidden(&o, &["env-secret-9a1b"]);
    }
}

/// An option value the backend refuses must not come back in the error, nor in debug
/// logs. This held already for these backends; it pins it, since object_store's
/// messages may quote what they were given.
// Pins: object_store's errors may quote a refused secret option value back; they must not.
#[test]
fn a_bad_value_of_a_secret_option_is_not_echoed() {
    let ws = Workspace::new();
    let cases = [
        (
            "az://container/prefix",
            "azure_storage_account_name = \"acct\"\nazure_storage_access_key = \"bad key bad-key-6a3f!\"\n",
            "bad-key-6a3f",
        ),
        (
            "gs://bucket/prefix",
            "google_service_account_key = \"{not json gcs-key-8b2d\"\n",
            "gcs-key-8b2d",
        ),
        (
            "s3://bucket/prefix",
            "aws_region = \"us-east-1\"\naws_sse_customer_key_base64 = \"sse-key-0c9e!!\"\naws_server_side_encryption = \"sse-c\"\n",
            "sse-key-0c9e",
        ),
    ];
    for (url, options, secret) in cases {
        ws.config(&format!(
            "state_dir = \"state\"\n[[sources]]\nname = \"app\"\npath = \"logs\"\n[destination]\nurl = \"{url}\"\nmax_retries = 0\n[destination.options]\n{options}"
        ));
        for args in [&["check-config", "--probe"][..], &["--run-once"]] {
            let o = ws.run_env(args, &[("RUST_LOG", "debug")]);
            assert_ne!(code(&o), 0, "{url}: {}", stderr(&o));
            assert_hidden(&o, &[secret]);
        }
    }
}
