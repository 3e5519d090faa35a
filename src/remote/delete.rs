//! Deleting one archived object, and saying why it could not be: an object that S3
//! Object Lock (a retention or a legal hold) protects is reported with its retain-until
//! date, so the caller can say "locked until T" and try again after T, rather than fail.
//!
//! It looks before it deletes. On an Object Lock bucket (always versioned) a plain
//! DELETE of a retained object does not fail: it adds a delete marker that hides the
//! object from every listing while its bytes stay stored, and billed, until the
//! retention ends. So an object whose HEAD shows a retention still in force on the
//! server's clock is left alone and reported locked; a refusal of the DELETE itself
//! (a store that enforces the lock on it) is read as locked too.

use object_store::path::Path;
use object_store::{GetOptions, ObjectStoreExt};

use crate::error::{Error, Result};
use crate::remote::lock::ObjectLock;
use crate::remote::Store;
use crate::time::Timestamp;

/// What deleting one object came to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Deletion {
    /// The object was deleted.
    Deleted,
    /// There was no object under the key.
    Absent,
    /// Object Lock keeps the object; `until` is when its retention ends, when known (a
    /// legal hold has no end date).
    Locked {
        /// When the retention ends, if the store said.
        until: Option<Timestamp>,
    },
}

/// Deletes the object under `key` and classifies the outcome; any failure other than
/// a missing object or a lock is an error naming the key.
pub async fn delete(store: &Store, key: &Path) -> Result<Deletion> {
    let head = GetOptions {
        head: true,
        ..Default::default()
    };
    let lock = match store.get_opts(key, head).await {
        Ok(r) => r.extensions.get::<ObjectLock>().cloned(),
        Err(object_store::Error::NotFound { .. }) => return Ok(Deletion::Absent),
        Err(e) => return Err(Error::store("delete", key, e)),
    };
    if let Some(lock) = lock.as_ref().filter(|l| l.holds()) {
        return Ok(Deletion::Locked { until: lock.until });
    }
    classify(store.delete(key).await, lock.as_ref(), key)
}

/// The DELETE's answer as a [`Deletion`]: a missing key is `Absent` (Azure says so;
/// S3 and GCS answer Ok), a refusal that names Object Lock or a retention is `Locked`
/// with the date the HEAD gave.
fn classify(
    deleted: object_store::Result<()>,
    lock: Option<&ObjectLock>,
    key: &Path,
) -> Result<Deletion> {
    match deleted {
        Ok(()) => Ok(Deletion::Deleted),
        Err(object_store::Error::NotFound { .. }) => Ok(Deletion::Absent),
        Err(e) if is_lock_refusal(&e) => Ok(Deletion::Locked {
            until: lock.and_then(|l| l.until),
        }),
        Err(e) => Err(Error::store("delete", key, e)),
    }
}

/// S3 refuses a locked version with 403 AccessDenied and a message about Object Lock
/// or retention ("… protected by Object Lock", "… WORM protected"); a plain permission
/// error does not mention either.
fn is_lock_refusal(e: &object_store::Error) -> bool {
    let denied = matches!(
        e,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Generic { .. }
    );
    let text = e.to_string().to_ascii_lowercase();
    denied
        && [
            "object lock",
            "objectlock",
            "retention",
            "worm",
            "legal hold",
        ]
        .iter()
        .any(|w| text.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied(message: &str) -> object_store::Error {
        object_store::Error::PermissionDenied {
            path: "k".into(),
            source: message.to_string().into(),
        }
    }

    fn lock_until(t: &str) -> ObjectLock {
        ObjectLock {
            mode: Some("COMPLIANCE".into()),
            until: t.parse().ok(),
            legal_hold: false,
            server_now: None,
        }
    }

    #[test]
    fn a_delete_is_deleted_absent_locked_or_an_error_naming_the_key() {
        let key = Path::from("data/a/x.log-00");
        assert_eq!(classify(Ok(()), None, &key).unwrap(), Deletion::Deleted);
        let missing = object_store::Error::NotFound {
            path: "k".into(),
            source: "no such blob".into(),
        };
        assert_eq!(
            classify(Err(missing), None, &key).unwrap(),
            Deletion::Absent
        );
        let lock = lock_until("2026-12-02T17:27:07.000Z");
        let refused = denied("AccessDenied: Access Denied because object protected by object lock");
        assert_eq!(
            classify(Err(refused), Some(&lock), &key).unwrap(),
            Deletion::Locked { until: lock.until }
        );
        let worm = denied("<Code>AccessDenied</Code><Message>object is WORM protected</Message>");
        assert_eq!(
            classify(Err(worm), None, &key).unwrap(),
            Deletion::Locked { until: None }
        );
        let plain = denied("<Code>AccessDenied</Code><Message>Access Denied</Message>");
        let e = classify(Err(plain), Some(&lock), &key).unwrap_err();
        assert!(e.to_string().contains("data/a/x.log-00"), "{e}");
    }
}
