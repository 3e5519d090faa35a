//! `check-config --probe`: try, on a scratch key under the destination prefix, every kind
//! of request a pass makes, and say for each whether it works and, if not, the likely fix.
//!
//! The conditional create matters most: it is what keeps two writers from overwriting a
//! manifest generation, and some S3-compatible stores accept it silently without honouring it.

use std::time::UNIX_EPOCH;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::config::Destination;
use crate::remote::bucket_lock::{checksum_detail, checksum_hint, object_lock_detail};
use crate::remote::Store;

pub(crate) use crate::remote::layout::PROBE_PREFIX;

pub use crate::remote::check::Check;

/// What client-side encryption is in force: whom content is encrypted to, and where the
/// archive key that names and seals the catalog is kept. Never a key's bytes.
fn client_side(dest: &Destination) -> Check {
    let e = &dest.encryption;
    let key = e.key_file.as_ref().map_or("no state dir".to_string(), |p| {
        let there = if p.exists() {
            "present"
        } else {
            "made or unwrapped on first use"
        };
        format!("{} ({there})", p.display())
    });
    let detail = if e.encrypts() {
        let sets: Vec<String> = e
            .recipient_sets
            .iter()
            .map(|r| format!("{} recipient(s), set {}", r.texts().len(), r.fingerprint()))
            .collect();
        format!(
            "age: content encrypted to {}; names keyed and catalog sealed with the archive key {key}",
            sets.join("; ")
        )
    } else if e.key_file.as_ref().is_some_and(|p| p.exists()) {
        format!("content stored as it is; the catalog stays sealed with the archive key {key}")
    } else {
        "none: content and catalog are stored as they are (see README, Encryption)".to_string()
    };
    let ids = match e.identity_files.len() {
        0 => String::new(),
        n => format!("; {n} identity file(s) read"),
    };
    Check::pass("client-side encryption", format!("{detail}{ids}"))
}

/// Runs every check against `store`, the destination `dest` opened, cleaning up after
/// itself; on S3 it also reports the server-side encryption the store applied, the upload
/// checksum and the bucket's Object Lock.
pub async fn probe(store: &Store, dest: &Destination) -> Vec<Check> {
    let nonce = crate::time::Clock::now(&crate::time::SystemClock)
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = Path::from(format!("{PROBE_PREFIX}/{nonce}-{}", std::process::id()));
    let plain = dir.clone().join("plain");
    let guarded = dir.clone().join("create-only");
    let body = format!("logferry probe {nonce}");

    match store
        .put(&plain, PutPayload::from(body.clone().into_bytes()))
        .await
    {
        Ok(_) => {}
        // Nothing else can work without a write; say so once rather than five times.
        Err(e) => {
            let mut failed = Check::fail("write", &e);
            if let Some(h) = checksum_hint(dest, &e.to_string()) {
                failed.hint = Some(h);
            }
            return vec![failed];
        }
    }
    let mut checks = vec![
        Check::pass("write", format!("put {plain}")),
        read(store, &plain, &body).await,
        list(store, &dir, &plain).await,
        conditional_create(store, &guarded).await,
    ];
    checks.extend(crate::remote::sse::check(dest, plain.as_ref()).await);
    checks.push(delete(store, &plain, &guarded).await);
    checks.push(client_side(dest));
    if dest.url.is_s3() {
        checks.push(Check::pass("checksum", checksum_detail(dest)));
    }
    if let Some(detail) = object_lock_detail(dest).await {
        checks.push(Check::pass("object lock", detail));
    }
    checks
}

/// Reads back what was written.
async fn read(store: &Store, plain: &Path, body: &str) -> Check {
    let read = async { store.get(plain).await?.bytes().await };
    match read.await {
        Ok(b) if b == body.as_bytes() => Check::pass("read", "got back what was written"),
        Ok(b) => Check {
            name: "read",
            ok: false,
            detail: format!(
                "got {} bytes that differ from the {} written",
                b.len(),
                body.len()
            ),
            hint: Some("a proxy or the store altered the object".into()),
        },
        Err(e) => Check::fail("read", &e),
    }
}

/// Lists the scratch folder, which must show what was written.
async fn list(store: &Store, dir: &Path, plain: &Path) -> Check {
    let listed: object_store::Result<Vec<_>> = store.list(Some(dir)).try_collect().await;
    match listed {
        Ok(l) if l.iter().any(|m| &m.location == plain) => {
            Check::pass("list", format!("listed {dir}/"))
        }
        Ok(l) => Check {
            name: "list",
            ok: false,
            detail: format!(
                "listing {dir}/ returned {} objects, not the one just written",
                l.len()
            ),
            hint: Some("listing is not consistent with writes on this store".into()),
        },
        Err(e) => Check::fail("list", &e),
    }
}

/// Removes the scratch keys, and checks they are gone.
async fn delete(store: &Store, plain: &Path, guarded: &Path) -> Check {
    let mut deleted = Ok(());
    for key in [plain, guarded] {
        match store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                deleted = Err(e);
                break;
            }
        }
    }
    match deleted {
        Ok(()) => match store.head(plain).await {
            Err(object_store::Error::NotFound { .. }) => {
                Check::pass("delete", "scratch keys removed")
            }
            Ok(_) => Check {
                name: "delete",
                ok: false,
                detail: format!("{plain} is still there after delete"),
                hint: Some("the store did not delete; check its versioning or object lock".into()),
            },
            Err(e) => Check::fail("delete", &e),
        },
        Err(e) => Check::fail("delete", &e),
    }
}

async fn conditional_create(store: &Store, key: &Path) -> Check {
    const NAME: &str = "conditional create";
    let create = || PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    if let Err(e) = store
        .put_opts(key, PutPayload::from_static(b"first"), create())
        .await
    {
        return Check::fail(NAME, &e);
    }
    match store.put_opts(key, PutPayload::from_static(b"second"), create()).await {
        Err(object_store::Error::AlreadyExists { .. }) | Err(object_store::Error::Precondition { .. }) => {
            Check::pass(NAME, "a second create-only put of the same key was refused")
        }
        Ok(_) => Check {
            name: NAME,
            ok: false,
            detail: "the store accepted a second create of the same key: it ignores If-None-Match".into(),
            hint: Some(
                "commits are not protected against a second writer here; run exactly one agent per destination prefix (see README, \"One writer per archive\")"
                    .into(),
            ),
        },
        Err(e) => Check::fail(NAME, &e),
    }
}
