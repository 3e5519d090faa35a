//! Client-side encryption (age): round trips on every backend with compressed,
//! multipart and renamed files; a bucket that shows no plaintext name, size or hash; a
//! fresh host that rebuilds with an identity and is refused without one; mixed archives;
//! rotation of the recipients; identity files others can read; bad config values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use futures::TryStreamExt;
use logferry::{
    config_from_toml, load_latest, open_store, open_store_raw, restore, verify, write_identity,
    FileResult, ReadData, RestoreOptions, Store,
};
use object_store::ObjectStoreExt;

use crate::common::{destination_toml, noise, text, Backend, Env};

const BIN: &str = env!("CARGO_BIN_EXE_logferry");

macro_rules! cases {
    ($backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case($backend).await
            }
        )*
    };
}

macro_rules! encryption_suite {
    ($backend:expr) => {
        cases!($backend;
            compressed_multipart_and_renamed_files_round_trip,
            the_bucket_holds_no_plaintext_name_size_or_hash,
            a_fresh_host_rebuilds_with_the_identity_and_is_refused_without,
            turning_encryption_on_keeps_history_and_the_state_says_which_is_which,
            new_recipients_apply_to_new_objects_and_both_identities_restore,
            re_encrypt_moves_history_to_the_new_recipients_and_verify_tells_locked_from_missing,
            expiry_deletes_keyed_objects_and_keeps_the_rest_readable,
        );
    };
}

mod local {
    encryption_suite!(crate::common::Backend::Local);
}
mod s3 {
    encryption_suite!(crate::common::Backend::S3);
}
mod azure {
    encryption_suite!(crate::common::Backend::Azure);
}
mod gcs {
    encryption_suite!(crate::common::Backend::Gcs);
}

/// A new identity in `dir/name`, and its public key.
pub(crate) fn identity(dir: &Path, name: &str) -> (PathBuf, String) {
    let p = dir.join(name);
    let public = write_identity(&p).unwrap();
    (p, public)
}

/// A `[destination]` table (one of [`destination_toml`]'s) with encryption to
/// `recipients` (and `extra` lines).
pub(crate) fn encrypted_destination(base: &str, recipients: &[&str], extra: &str) -> String {
    let list: Vec<String> = recipients.iter().map(|r| format!("\"{r}\"")).collect();
    base.replacen(
        "[destination]\n",
        &format!(
            "[destination]\nencryption = \"age\"\nage_recipients = [{}]\n{extra}",
            list.join(", ")
        ),
        1,
    )
}

/// A workspace archiving `app` (zstd) and `raw` (as it is), encrypted to `recipients`,
/// with a 5 MiB multipart threshold; `dest` is the `[destination]` table.
fn workspace(dir: tempfile::TempDir, dest: &str) -> Env {
    let toml = format!(
        "state_dir = \"state\"\nmultipart_threshold = \"5MiB\"\npart_size = \"5MiB\"\n{dest}[[sources]]\nname = \"app\"\npath = \"logs/app\"\nmin_age = \"0s\"\ncompression = \"zstd\"\n[[sources]]\nname = \"raw\"\npath = \"logs/raw\"\nmin_age = \"0s\"\n"
    );
    Env::from_toml(dir, &toml)
}

/// The same workspace's config text with another `[destination]` table.
fn reopen(env: &Env, dest: &str) -> (logferry::Config, Store) {
    let toml = format!(
        "state_dir = \"state\"\nmultipart_threshold = \"5MiB\"\npart_size = \"5MiB\"\n{dest}[[sources]]\nname = \"app\"\npath = \"logs/app\"\nmin_age = \"0s\"\ncompression = \"zstd\"\n[[sources]]\nname = \"raw\"\npath = \"logs/raw\"\nmin_age = \"0s\"\n"
    );
    let config = config_from_toml(&toml, env.dir.path(), std::iter::empty()).unwrap();
    let store = open_store(&config.destination).unwrap();
    (config, store)
}

/// Every object as stored, with its bytes.
async fn raw_objects(config: &logferry::Config) -> Vec<(String, Vec<u8>)> {
    let raw = open_store_raw(&config.destination).unwrap();
    let metas: Vec<_> = raw.list(None).try_collect().await.unwrap();
    let mut out = Vec::new();
    for m in metas {
        let bytes = raw.get(&m.location).await.unwrap().bytes().await.unwrap();
        out.push((m.location.to_string(), bytes.to_vec()));
    }
    out.sort();
    out
}

async fn restore_all(store: &Store, to: &Path) -> logferry::RestoreReport {
    let index = load_latest(store).await.unwrap();
    restore(store, &index, &RestoreOptions::new(to), &|_| {}).await
}

async fn compressed_multipart_and_renamed_files_round_trip(b: Backend) {
    let base = destination_toml(b);
    let dir = tempfile::tempdir().unwrap();
    let (id, public) = identity(dir.path(), "id.txt");
    let dest = encrypted_destination(&base, &[&public], "identity_file = \"id.txt\"\n");
    let env = workspace(dir, &dest);
    env.write("app/app.log.1", &b"GET /login?token=abc\n".repeat(5000));
    env.write("app/big.log", &noise(12 << 20, 1));
    env.write("raw/wal-000001", &noise(6 << 20, 2));
    env.write("raw/empty", b"");
    let first = env.pass().await;
    assert_eq!(first.files_uploaded, 4, "{first:?}");
    // logrotate's rename: recorded against the object already stored, not uploaded.
    env.rename("app/app.log.1", "app/app.log.2");
    let second = env.pass().await;
    assert_eq!(
        (second.files_renamed, second.files_uploaded),
        (1, 0),
        "{second:?}"
    );

    let index = load_latest(&env.store).await.unwrap();
    for e in index.entries() {
        assert!(e.key.ends_with(".age"), "{} is recorded encrypted", e.key);
        assert!(e.stored_size.is_some(), "{} records its stored size", e.key);
    }
    let before = crate::format::files(&env.logs());
    std::fs::remove_dir_all(env.logs()).unwrap();
    let to = env.dir.path().join("restored");
    let report = restore_all(&env.store, &to).await;
    assert!(!report.has_problems(), "{:?}", report.results);
    // The name it had before the rename is still archived, with the same content.
    assert_eq!(report.count(FileResult::Restored), 5);
    let mut want = before.clone();
    want.insert("app/app.log.1".into(), before["app/app.log.2"].clone());
    assert_eq!(
        crate::format::files(&to),
        want,
        "every byte back, after decryption"
    );

    let checked = verify(&env.store, ReadData::All, None, 4, &|_| {})
        .await
        .unwrap();
    assert!(!checked.has_problems(), "{checked:?}");
    assert_eq!(
        checked.objects_read, checked.objects,
        "every object read back"
    );
    assert!(id.exists());
}

async fn the_bucket_holds_no_plaintext_name_size_or_hash(b: Backend) {
    let base = destination_toml(b);
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = identity(dir.path(), "id.txt");
    let dest = encrypted_destination(&base, &[&public], "");
    let env = workspace(dir, &dest);
    let secret_line = b"password=hunter2 user=alice\n".repeat(300);
    env.write("app/customer-orders.log.1", &secret_line);
    env.write("raw/000000010000000000000042", &noise(70_001, 3));
    env.pass().await;
    env.append("app/customer-orders.log.1", b"more\n");
    env.pass().await;

    let index = load_latest(&env.store).await.unwrap();
    let mut words: Vec<String> = vec![
        "customer-orders".into(),
        "000000010000000000000042".into(),
        "hunter2".into(),
        "alice".into(),
        "\"size\"".into(),
        "\"path\"".into(),
        "app/".into(),
    ];
    for e in index.entries() {
        words.push(e.sha256.to_string());
        words.push(e.sha256.to_string()[..16].to_string());
        words.push(format!("\"size\":{}", e.size));
    }
    let objects = raw_objects(&env.config).await;
    assert!(
        objects.len() >= 8,
        "{:?}",
        objects.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
    for (key, bytes) in &objects {
        let body = String::from_utf8_lossy(bytes);
        for w in &words {
            assert!(!key.contains(w.as_str()), "the key {key} shows {w}");
            assert!(!body.contains(w.as_str()), "the object {key} shows {w}");
        }
        let kind = key.split('/').next().unwrap();
        assert!(
            ["data", "manifests", "catalog", "keys"].contains(&kind),
            "unexpected object {key}"
        );
        if kind != "data" && kind != "keys" {
            assert!(key.ends_with(".sealed"), "{key} is a sealed catalog object");
        }
    }
    // An archived file's size is not its object's size: age adds a header of its own.
    let raw = open_store_raw(&env.config.destination).unwrap();
    let sizes: Vec<u64> = raw
        .list(Some(&"data".into()))
        .map_ok(|m| m.size)
        .try_collect()
        .await
        .unwrap();
    for e in index.entries() {
        assert!(
            !sizes.contains(&e.size),
            "an object is exactly {} bytes",
            e.size
        );
    }
}

async fn a_fresh_host_rebuilds_with_the_identity_and_is_refused_without(b: Backend) {
    let base = destination_toml(b);
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = identity(dir.path(), "id.txt");
    let dest = encrypted_destination(&base, &[&public], "");
    let env = workspace(dir, &dest);
    env.write("app/a.log.1", b"one\n");
    env.write("raw/w1", b"two\n");
    env.pass().await;
    let objects_before = raw_objects(&env.config).await.len();

    // A replacement host: same config, empty state dir.
    std::fs::remove_dir_all(env.dir.path().join("state")).unwrap();
    let (config, store) = reopen(&env, &dest);
    let text = match logferry::run_once(&config, &store, &logferry::SystemClock).await {
        Err(e) => e.chain().to_string(),
        Ok(r) => r.error.expect("a pass without the archive key is refused"),
    };
    assert!(
        text.contains("archive-key.json") && text.contains("--identity"),
        "{text}"
    );
    assert!(!env.dir.path().join("state/archive-key.json").exists());
    assert_eq!(
        raw_objects(&env.config).await.len(),
        objects_before,
        "nothing written"
    );

    // Given the identity once, it unwraps the key, keeps it, and rebuilds its state.
    let with_id = encrypted_destination(&base, &[&public], "identity_file = \"id.txt\"\n");
    let (config, store) = reopen(&env, &with_id);
    let r = logferry::run_once(&config, &store, &logferry::SystemClock)
        .await
        .unwrap();
    assert_eq!((r.files_uploaded, r.error.clone()), (0, None), "{r:?}");
    assert!(env.dir.path().join("state/archive-key.json").exists());
    // From then on it needs no identity.
    env.write("app/a.log.2", b"three\n");
    let (config, store) = reopen(&env, &dest);
    let r = logferry::run_once(&config, &store, &logferry::SystemClock)
        .await
        .unwrap();
    assert_eq!((r.files_uploaded, r.error.clone()), (1, None), "{r:?}");
}

async fn turning_encryption_on_keeps_history_and_the_state_says_which_is_which(b: Backend) {
    let base = destination_toml(b);
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = identity(dir.path(), "id.txt");
    let plain_dest = base.clone();
    let env = workspace(dir, &plain_dest);
    env.write("app/old.log.1", b"written before encryption\n");
    env.write("raw/old", b"plain too\n");
    env.pass().await;

    let dest = encrypted_destination(&base, &[&public], "identity_file = \"id.txt\"\n");
    let (config, store) = reopen(&env, &dest);
    env.write("app/new.log.1", b"written after\n");
    let r = logferry::run_once(&config, &store, &logferry::SystemClock)
        .await
        .unwrap();
    assert_eq!(
        (r.files_uploaded, r.error.clone()),
        (1, None),
        "only the new file goes up: {r:?}"
    );

    let index = load_latest(&store).await.unwrap();
    let by_path: BTreeMap<String, String> = index
        .entries()
        .map(|e| (format!("{}/{}", e.source, e.path), e.key.clone()))
        .collect();
    assert!(!by_path["app/old.log.1"].ends_with(".age"), "{by_path:?}");
    assert!(by_path["app/new.log.1"].ends_with(".age"), "{by_path:?}");
    let to = env.dir.path().join("restored");
    let report = restore_all(&store, &to).await;
    assert!(!report.has_problems(), "{:?}", report.results);
    assert_eq!(report.count(FileResult::Restored), 3);
    assert_eq!(
        std::fs::read(to.join("app/old.log.1")).unwrap(),
        b"written before encryption\n"
    );
    let checked = verify(&store, ReadData::All, None, 4, &|_| {})
        .await
        .unwrap();
    assert!(!checked.has_problems(), "{checked:?}");
}

async fn new_recipients_apply_to_new_objects_and_both_identities_restore(b: Backend) {
    let base = destination_toml(b);
    let dir = tempfile::tempdir().unwrap();
    let (_, old_public) = identity(dir.path(), "old.txt");
    let (_, new_public) = identity(dir.path(), "new.txt");
    let env = workspace(dir, &encrypted_destination(&base, &[&old_public], ""));
    env.write("app/a.log.1", b"to the old key\n");
    env.pass().await;

    let (config, store) = reopen(&env, &encrypted_destination(&base, &[&new_public], ""));
    env.write("app/b.log.1", b"to the new key\n");
    let r = logferry::run_once(&config, &store, &logferry::SystemClock)
        .await
        .unwrap();
    assert_eq!((r.files_uploaded, r.error.clone()), (1, None), "{r:?}");
    let wrapped: Vec<_> = raw_objects(&env.config)
        .await
        .into_iter()
        .filter(|(k, _)| k.starts_with("keys/"))
        .collect();
    assert_eq!(wrapped.len(), 2, "the archive key is wrapped for both sets");

    // A restore host with the new identity alone reads the catalog (the archive key is
    // wrapped for it) and the new content; the old content needs the old identity.
    std::fs::remove_dir_all(env.dir.path().join("state")).unwrap();
    let (_, only_new) = reopen(
        &env,
        &encrypted_destination(&base, &[&new_public], "identity_file = \"new.txt\"\n"),
    );
    let to = env.dir.path().join("r1");
    let report = restore_all(&only_new, &to).await;
    assert_eq!(
        report.count(FileResult::Restored),
        1,
        "{:?}",
        report.results
    );
    assert_eq!(
        std::fs::read(to.join("app/b.log.1")).unwrap(),
        b"to the new key\n"
    );
    let failed = format!("{:?}", report.results);
    assert!(failed.contains("age_recipients"), "{failed}");

    // Both identities (`--identity` twice) restore everything.
    let to = env.dir.path().join("r2");
    let mut config = reopen(&env, &encrypted_destination(&base, &[&new_public], "")).0;
    config.destination.encryption.identity_files = vec![
        env.dir.path().join("old.txt"),
        env.dir.path().join("new.txt"),
    ];
    let both = open_store(&config.destination).unwrap();
    let report = restore_all(&both, &to).await;
    assert!(!report.has_problems(), "{:?}", report.results);
    assert_eq!(report.count(FileResult::Restored), 2);
}

async fn re_encrypt_moves_history_to_the_new_recipients_and_verify_tells_locked_from_missing(
    b: Backend,
) {
    let base = destination_toml(b);
    let dir = tempfile::tempdir().unwrap();
    let (_, old_public) = identity(dir.path(), "old.txt");
    let (_, new_public) = identity(dir.path(), "new.txt");
    let env = workspace(dir, &base);
    env.write("app/plain.log.1", b"archived before encryption\n");
    env.pass().await;
    let (config, store) = reopen(&env, &encrypted_destination(&base, &[&old_public], ""));
    env.write("app/old.log.1", b"to the old key\n");
    env.write("raw/copy", b"to the old key\n");
    logferry::run_once(&config, &store, &logferry::SystemClock)
        .await
        .unwrap();

    // New recipients; without the old identity the old content cannot be read.
    let new_dest = encrypted_destination(&base, &[&new_public], "");
    let (config, store) = reopen(&env, &new_dest);
    let r = logferry::re_encrypt(&config, &store, &logferry::SystemClock, false)
        .await
        .unwrap();
    assert_eq!((r.re_encrypted, r.failed.len()), (1, 2), "{r:?}");
    assert!(r.failed[0].1.contains("age_recipients"), "{r:?}");

    let with_old = encrypted_destination(&base, &[&new_public], "identity_file = \"old.txt\"\n");
    let (config, store) = reopen(&env, &with_old);
    let dry = logferry::re_encrypt(&config, &store, &logferry::SystemClock, true)
        .await
        .unwrap();
    assert_eq!(
        (dry.re_encrypted, dry.current, dry.generation),
        (2, 1, None),
        "{dry:?}"
    );
    let r = logferry::re_encrypt(&config, &store, &logferry::SystemClock, false)
        .await
        .unwrap();
    assert_eq!((r.re_encrypted, r.failed.len()), (2, 0), "{r:?}");
    assert!(r.generation.is_some());
    let again = logferry::re_encrypt(&config, &store, &logferry::SystemClock, false)
        .await
        .unwrap();
    assert_eq!(
        (again.re_encrypted, again.current, again.generation),
        (0, 3, None),
        "{again:?}"
    );

    // A restore host holding only the new identity gets everything back.
    std::fs::remove_dir_all(env.dir.path().join("state")).unwrap();
    let only_new = encrypted_destination(&base, &[&new_public], "identity_file = \"new.txt\"\n");
    let (_, store) = reopen(&env, &only_new);
    let to = env.dir.path().join("restored");
    let report = restore_all(&store, &to).await;
    assert!(!report.has_problems(), "{:?}", report.results);
    assert_eq!(report.count(FileResult::Restored), 3);
    assert_eq!(
        std::fs::read(to.join("raw/copy")).unwrap(),
        b"to the old key\n"
    );
    // The earlier objects stay (older generations name them): present, but locked to
    // this identity, which verify says apart from missing or corrupt.
    let v = verify(&store, ReadData::All, None, 4, &|_| {})
        .await
        .unwrap();
    assert!(v.missing.is_empty() && v.corrupt.is_empty(), "{v:?}");
    assert_eq!(
        v.unreadable.len(),
        2,
        "the two for the old recipients: {v:?}"
    );
}

/// A local-mirror config in `dir` encrypting to `public`.
fn mirror_config(dir: &Path, public: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let p = dir.join("logferry.toml");
    std::fs::write(
        &p,
        format!(
            "state_dir = \"state\"\n[destination]\nurl = \"mirror\"\nencryption = \"age\"\nage_recipients = [\"{public}\"]\n[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n"
        ),
    )
    .unwrap();
    p
}

fn run(args: &[&str], config: &Path) -> std::process::Output {
    Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap()
}

#[test]
fn reads_without_an_identity_say_what_is_missing_and_fetch_exits_above_125() {
    let dir = tempfile::tempdir().unwrap();
    let (id, public) = identity(dir.path(), "id.txt");
    let cfg = mirror_config(dir.path(), &public);
    std::fs::write(dir.path().join("logs/000000010000000000000001"), b"wal").unwrap();
    let out = run(&["run", "--once"], &cfg);
    assert!(out.status.success(), "{}", text(&out));

    // The archiving host reads its own catalog: names, sizes, hashes.
    let ls = run(&["ls"], &cfg);
    assert!(
        ls.status.success() && text(&ls).contains("000000010000000000000001"),
        "{}",
        text(&ls)
    );
    // Content needs the identity; fetch's failure is one PostgreSQL stops on.
    let to = dir.path().join("seg");
    let fetch = run(
        &["fetch", "000000010000000000000001", to.to_str().unwrap()],
        &cfg,
    );
    assert_eq!(fetch.status.code(), Some(203), "{}", text(&fetch));
    assert!(text(&fetch).contains("--identity"), "{}", text(&fetch));
    assert!(!to.exists());
    let fetch = run(
        &[
            "fetch",
            "000000010000000000000001",
            to.to_str().unwrap(),
            "--identity",
            id.to_str().unwrap(),
        ],
        &cfg,
    );
    assert!(fetch.status.success(), "{}", text(&fetch));
    assert_eq!(std::fs::read(&to).unwrap(), b"wal");

    // A host with another state dir and no identity is told the archive is encrypted,
    // not that it is empty.
    let other = dir.path().join("other.toml");
    std::fs::write(
        &other,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("state_dir = \"state\"", "state_dir = \"state2\"")
            .replace("encryption = \"age\"\n", "")
            .replace(&format!("age_recipients = [\"{public}\"]\n"), ""),
    )
    .unwrap();
    let ls = run(&["ls"], &other);
    assert_eq!(ls.status.code(), Some(3), "{}", text(&ls));
    assert!(
        text(&ls).contains("encrypted") && text(&ls).contains("--identity"),
        "{}",
        text(&ls)
    );
    let ls = run(&["ls", "--identity", id.to_str().unwrap()], &other);
    assert!(
        ls.status.success() && text(&ls).contains("000000010000000000000001"),
        "{}",
        text(&ls)
    );
}

#[test]
fn an_identity_file_others_can_read_is_refused_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (id, public) = identity(dir.path(), "id.txt");
    let cfg = mirror_config(dir.path(), &public);
    std::fs::write(dir.path().join("logs/a.log"), b"a").unwrap();
    assert!(run(&["run", "--once"], &cfg).status.success());
    std::fs::set_permissions(&id, std::fs::Permissions::from_mode(0o644)).unwrap();
    let secret = std::fs::read_to_string(&id).unwrap();
    let key_line = secret
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap();
    let out = run(
        &["restore", "--to", "r", "--identity", id.to_str().unwrap()],
        &cfg,
    );
    assert_ne!(out.status.code(), Some(0));
    let t = text(&out);
    assert!(
        t.contains(id.to_str().unwrap()) && t.contains("chmod 600"),
        "{t}"
    );
    assert!(
        !t.contains(key_line) && !t.contains(&key_line[20..40]),
        "{t}"
    );
}

#[test]
fn keygen_writes_an_owner_only_identity_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("id.txt");
    let out = Command::new(BIN)
        .args(["keygen", "--output"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let public = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(public.trim().starts_with("age1"), "{public}");
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = Command::new(BIN)
        .args(["keygen", "--output"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(3));
    assert!(
        text(&again).contains("never overwrites"),
        "{}",
        text(&again)
    );
    assert!(std::fs::read_to_string(&p).unwrap().contains(public.trim()));
}

#[test]
fn bad_encryption_values_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = identity(dir.path(), "id.txt");
    let base = |dest: &str, source: &str| {
        format!(
            "[destination]\nurl = \"m\"\n{dest}[[sources]]\nname = \"a\"\npath = \"l\"\n{source}"
        )
    };
    let cases: Vec<(String, &[&str])> = vec![
        (
            base("encryption = \"aes\"\n", ""),
            &["destination.encryption", "\"age\"", "\"none\""],
        ),
        (
            base("encryption = \"age\"\n", ""),
            &["destination.age_recipients", "missing", "age-keygen"],
        ),
        (
            base("encryption = \"age\"\nage_recipients = []\n", ""),
            &["destination.age_recipients", "empty"],
        ),
        (
            base("encryption = \"age\"\nage_recipients = [\"age1xyz\"]\n", ""),
            &["destination.age_recipients", "recipient 0"],
        ),
        (
            base(&format!("age_recipients = [\"{public}\"]\n"), ""),
            &["destination.age_recipients", "encryption = \\\"age\\\""],
        ),
        (
            base(
                &format!("encryption = \"none\"\nage_recipients = [\"{public}\"]\n"),
                "",
            ),
            &["destination.age_recipients", "no effect"],
        ),
        (
            base("identity_file = \"\"\n", ""),
            &["destination.identity_file", "empty"],
        ),
        (
            base("", "encryption = \"age\"\n"),
            &["sources[0].age_recipients", "missing"],
        ),
        (
            base("", "encryption = \"yes\"\n"),
            &["sources[0].encryption"],
        ),
    ];
    for (toml, wants) in cases {
        let e = config_from_toml(&toml, dir.path(), std::iter::empty())
            .err()
            .unwrap_or_else(|| panic!("accepted: {toml}"))
            .to_string();
        for w in wants {
            let w = w.replace("\\\"", "\"");
            assert!(e.contains(&w), "{toml}\n→ {e}\n(wanted {w})");
        }
    }
    // A source may opt out, or encrypt to its own recipients.
    let ok = base(
        &format!("encryption = \"age\"\nage_recipients = [\"{public}\"]\n"),
        "encryption = \"none\"\n",
    );
    let c = config_from_toml(&ok, dir.path(), std::iter::empty()).unwrap();
    assert!(c.sources[0].encryption.is_none());
    let own = base(
        "",
        &format!("encryption = \"age\"\nage_recipients = [\"{public}\"]\n"),
    );
    let c = config_from_toml(&own, dir.path(), std::iter::empty()).unwrap();
    assert!(c.sources[0].encryption.is_some());
}

#[test]
fn check_config_refuses_an_identity_file_others_can_read_and_probes_through_encryption() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (id, public) = identity(dir.path(), "id.txt");
    let cfg = mirror_config(dir.path(), &public);
    let with_id = std::fs::read_to_string(&cfg).unwrap().replace(
        "encryption = \"age\"\n",
        "encryption = \"age\"\nidentity_file = \"id.txt\"\n",
    );
    std::fs::write(&cfg, with_id).unwrap();
    let ok = run(&["check-config", "--probe"], &cfg);
    let t = text(&ok);
    assert!(ok.status.success(), "{t}");
    assert!(
        t.contains("age_recipients = [\"age1") && t.contains("identity_file = "),
        "{t}"
    );
    assert!(
        t.contains("ok   client-side encryption: age: content encrypted to 1 recipient(s)"),
        "{t}"
    );
    let secret = std::fs::read_to_string(&id).unwrap();
    let key_line = secret
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap();
    assert!(!t.contains(&key_line[15..40]), "{t}");

    std::fs::set_permissions(&id, std::fs::Permissions::from_mode(0o640)).unwrap();
    let bad = run(&["check-config"], &cfg);
    let t = text(&bad);
    assert_eq!(bad.status.code(), Some(2), "{t}");
    assert!(
        t.contains("destination.identity_file") && t.contains("chmod 600"),
        "{t}"
    );
    assert!(!t.contains(&key_line[15..40]), "{t}");
}

/// Retention on an encrypted archive: the expired versions' objects (under keyed names)
/// are deleted, the sealed catalog is rewritten, and what is kept still restores.
async fn expiry_deletes_keyed_objects_and_keeps_the_rest_readable(b: Backend) {
    use crate::retention::Later;
    let base = destination_toml(b);
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = identity(dir.path(), "id.txt");
    let dest = encrypted_destination(&base, &[&public], "identity_file = \"id.txt\"\n");
    let env = workspace(dir, &format!("[retention]\nkeep_for = \"30d\"\n{dest}"));
    env.write("app/app.log.1", b"first content\n");
    env.write("app/gone.log", b"deleted later\n");
    logferry::run_once(&env.config, &env.store, &Later(0.0))
        .await
        .unwrap();
    env.write("app/app.log.1", b"second content\n");
    env.remove("app/gone.log");
    logferry::run_once(&env.config, &env.store, &Later(10.0))
        .await
        .unwrap();
    let data_before = raw_objects(&env.config)
        .await
        .into_iter()
        .filter(|(k, _)| k.starts_with("data/"))
        .count();
    let r = logferry::expire(
        &env.config,
        &env.store,
        &Later(60.0),
        logferry::ExpireOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!((r.versions_expired, r.objects_deleted), (2, 2), "{r:?}");
    let data_after = raw_objects(&env.config)
        .await
        .into_iter()
        .filter(|(k, _)| k.starts_with("data/"))
        .count();
    assert_eq!(data_after, data_before - 2);
    let v = verify(&env.store, ReadData::All, None, 4, &|_| {})
        .await
        .unwrap();
    assert!(!v.has_problems() && v.orphaned.is_empty(), "{v:?}");
    let to = env.dir.path().join("restored");
    let report = restore_all(&env.store, &to).await;
    assert!(!report.has_problems(), "{:?}", report.results);
    assert_eq!(
        std::fs::read(to.join("app/app.log.1")).unwrap(),
        b"second content\n"
    );
    assert!(!to.join("app/gone.log").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_dir_keyed_for_another_destination_reads_it_with_an_identity_and_never_half_encrypts(
) {
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = identity(dir.path(), "id.txt");
    let dest = |url: &str, extra: &str| {
        format!("[destination]\nurl = \"{url}\"\nencryption = \"age\"\nage_recipients = [\"{public}\"]\n{extra}")
    };
    // Host A archives to mirror-a; this host's state dir holds the key of mirror-b.
    let a = workspace(
        tempfile::tempdir().unwrap(),
        &dest(&dir.path().join("mirror-a").display().to_string(), ""),
    );
    a.write("app/a.log.1", b"from host a\n");
    a.pass().await;
    let env = workspace(dir, &dest("mirror-b", ""));
    env.write("app/b.log.1", b"from this host\n");
    env.pass().await;
    let key_file = env.dir.path().join("state/archive-key.json");
    let before = std::fs::read(&key_file).unwrap();

    // Reading host A's archive (what `--hostname a` does) with the identity: the key of
    // mirror-a is unwrapped for this read, and this host's key file is left alone.
    let a_url = env.dir.path().join("mirror-a").display().to_string();
    let (_, store) = reopen(&env, &dest(&a_url, "identity_file = \"id.txt\"\n"));
    let index = load_latest(&store).await.unwrap();
    let paths: Vec<&str> = index.entries().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["a.log.1"]);
    assert_eq!(std::fs::read(&key_file).unwrap(), before);
    // Without the identity it says so, naming no missing file of this host.
    let (_, store) = reopen(&env, &dest(&a_url, ""));
    let e = load_latest(&store).await.unwrap_err().chain().to_string();
    assert!(e.contains("--identity") && !e.contains("is missing"), "{e}");

    // A pass into a new destination with this state dir is refused: it would encrypt
    // content under plain names.
    let c_url = env.dir.path().join("mirror-c").display().to_string();
    let (config, store) = reopen(&env, &dest(&c_url, ""));
    env.write("app/c.log.1", b"would go to c\n");
    let text = match logferry::run_once(&config, &store, &logferry::SystemClock).await {
        Err(e) => e.chain().to_string(),
        Ok(r) => r.error.expect("refused"),
    };
    assert!(
        text.contains("give each destination its own state_dir"),
        "{text}"
    );
    assert!(!env.dir.path().join("mirror-c/data").exists());
}

#[test]
fn hosts_lists_an_encrypted_fleet_and_says_which_archives_need_an_identity() {
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = identity(dir.path(), "id.txt");
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::write(dir.path().join("logs/a.log"), b"a").unwrap();
    let cfg = dir.path().join("logferry.toml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir = \"state\"\n[destination]\nurl = \"{}/fleet/{{hostname}}\"\nencryption = \"age\"\nage_recipients = [\"{public}\"]\n[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    assert!(run(&["run", "--once"], &cfg).status.success());
    let me = logferry::system_hostname().unwrap();
    // Another host's archive, with a key this host does not hold.
    let other = dir.path().join("fleet/zz-other");
    std::fs::create_dir_all(&other).unwrap();
    let (_, other_public) = identity(dir.path(), "other.txt");
    let other_cfg = dir.path().join("other.toml");
    std::fs::write(
        &other_cfg,
        format!(
            "state_dir = \"state-other\"\n[destination]\nurl = \"{}\"\nencryption = \"age\"\nage_recipients = [\"{other_public}\"]\n[[sources]]\nname = \"app\"\npath = \"logs\"\nmin_age = \"0s\"\n",
            other.display()
        ),
    )
    .unwrap();
    assert!(run(&["run", "--once"], &other_cfg).status.success());
    let out = run(&["hosts"], &cfg);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let mine = t
        .lines()
        .find(|l| l.starts_with(&format!("{me} ")))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(mine.contains(" 1 "), "{t}");
    let theirs = t
        .lines()
        .find(|l| l.starts_with("zz-other"))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(
        theirs.contains("encrypted archive") && theirs.contains("no key"),
        "{t}"
    );
}
