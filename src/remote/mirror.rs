//! A local mirror directory as an object store: object_store's [`LocalFileSystem`],
//! except that a create-only put is written the way `rsync` writes a file, to a staging
//! name beside its key and then renamed over nothing (`renameat2` with
//! `RENAME_NOREPLACE`), one directory operation where a hard link and an unlink are two.
//! A filesystem without that rename gets the link and unlink. Everything else is the
//! wrapped store's, so keys map to paths, listings skip staging files and errors read
//! the same.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::path::{Path as FsPath, PathBuf};

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};

/// A local mirror rooted at a directory.
#[derive(Debug)]
pub(crate) struct Mirror {
    fs: LocalFileSystem,
}

impl Mirror {
    /// The mirror whose keys are relative to `fs`'s prefix.
    pub(crate) fn new(fs: LocalFileSystem) -> Self {
        Mirror { fs }
    }
}

impl fmt::Display for Mirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.fs, f)
    }
}

/// Writes `payload` at `dest` unless a file is there, through a staging file named as
/// object_store names its own (`<dest>#<n>`, which listings skip).
/// Returns the ETag the wrapped store gives the file (inode, mtime and size).
fn create(dest: &FsPath, payload: &PutPayload) -> std::io::Result<String> {
    let (mut file, staging) = staging_file(dest)?;
    let written = payload
        .iter()
        .try_for_each(|chunk| file.write_all(chunk))
        .and_then(|()| file.metadata())
        .and_then(|meta| close(file).map(|()| e_tag(&meta)));
    let published = written.and_then(|tag| publish(&staging, dest).map(|()| tag));
    if published.is_err() {
        let _ = std::fs::remove_file(&staging);
    }
    published
}

/// The ETag `LocalFileSystem` gives a file, so a head after the put reads the same.
fn e_tag(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .unwrap_or_default()
        .as_micros();
    format!("\"{:x}-{mtime:x}-{:x}\"", meta.ino(), meta.len())
}

/// A new staging file beside `dest`, its directories created when missing.
fn staging_file(dest: &FsPath) -> std::io::Result<(std::fs::File, PathBuf)> {
    let (mut n, mut made_dirs) = (1u32, false);
    loop {
        let mut name = dest.as_os_str().to_owned();
        name.push(format!("#{n}"));
        let staging = PathBuf::from(name);
        match std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(&staging)
        {
            Ok(f) => return Ok((f, staging)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => n += 1,
            // Another put may be creating the same directories: that is fine.
            Err(e) if e.kind() == ErrorKind::NotFound && !made_dirs => match dest.parent() {
                Some(dir) => {
                    std::fs::create_dir_all(dir)?;
                    made_dirs = true;
                }
                None => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
}

/// Closes `file`, so an error that a drop would ignore (NFS reports some only then)
/// fails the put.
fn close(file: std::fs::File) -> std::io::Result<()> {
    use std::os::fd::IntoRawFd;
    let fd = file.into_raw_fd();
    // SAFETY: `fd` was just taken out of the `File`, so it is open and owned here alone,
    // and it is closed once.
    if unsafe { libc::close(fd) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Moves `staging` to `dest` unless `dest` exists.
fn publish(staging: &FsPath, dest: &FsPath) -> std::io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, staging, CWD, dest, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
            std::fs::hard_link(staging, dest)?;
            let _ = std::fs::remove_file(staging);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

#[async_trait]
impl ObjectStore for Mirror {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let plain = opts.attributes.is_empty() && opts.tags.encoded().is_empty();
        if !matches!(opts.mode, PutMode::Create) || !plain {
            return self.fs.put_opts(location, payload, opts).await;
        }
        let dest = self.fs.path_to_filesystem(location)?;
        let path = dest.clone();
        let done = tokio::task::spawn_blocking(move || create(&path, &payload))
            .await
            .expect("a mirror write panicked");
        match done {
            Ok(tag) => Ok(PutResult {
                e_tag: Some(tag),
                version: None,
                extensions: Default::default(),
            }),
            Err(source) if source.kind() == ErrorKind::AlreadyExists => {
                Err(object_store::Error::AlreadyExists {
                    path: location.to_string(),
                    source: Box::new(source),
                })
            }
            Err(source) => Err(object_store::Error::Generic {
                store: "LocalFileSystem",
                source: format!("cannot write {}: {source}", dest.display()).into(),
            }),
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.fs.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.fs.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[std::ops::Range<u64>],
    ) -> object_store::Result<Vec<bytes::Bytes>> {
        self.fs.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.fs.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.fs.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.fs.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.fs.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.fs.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.fs.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;

    fn mirror() -> (tempfile::TempDir, Mirror) {
        let dir = tempfile::tempdir().unwrap();
        let fs = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        (dir, Mirror::new(fs))
    }

    fn create_only() -> PutOptions {
        PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_create_only_put_writes_once_and_never_replaces() {
        let (dir, m) = mirror();
        let key = Path::from("data/app/deep/dir/a.log-00");
        m.put_opts(&key, PutPayload::from_static(b"first"), create_only())
            .await
            .unwrap();
        let again = m
            .put_opts(&key, PutPayload::from_static(b"other"), create_only())
            .await
            .unwrap_err();
        assert!(
            matches!(again, object_store::Error::AlreadyExists { .. }),
            "{again}"
        );
        let on_disk = dir.path().join("data/app/deep/dir/a.log-00");
        assert_eq!(std::fs::read(on_disk).unwrap(), b"first");
        let left: Vec<_> = std::fs::read_dir(dir.path().join("data/app/deep/dir"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "no staging file is left: {left:?}");
        let listed = m.head(&key).await.unwrap();
        assert_eq!(listed.size, 5);
        let again = Path::from("data/b");
        let put = m
            .put_opts(&again, PutPayload::from_static(b"b"), create_only())
            .await
            .unwrap();
        assert_eq!(
            put.e_tag,
            m.head(&again).await.unwrap().e_tag,
            "the store's ETag"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn puts_racing_to_create_the_same_new_directories_all_land() {
        let (dir, m) = mirror();
        let m = std::sync::Arc::new(m);
        // Many rounds of puts into one new, deep directory: one put's directories
        // appear while another's first open has just failed.
        for round in 0..40 {
            let deep = format!("data/r{round}/a/b/c/d/e/f/g/h");
            let puts = (0..32).map(|i| {
                let (m, key) = (
                    std::sync::Arc::clone(&m),
                    Path::from(format!("{deep}/f{i}")),
                );
                tokio::task::spawn(async move {
                    m.put_opts(&key, PutPayload::from_static(b"x"), create_only())
                        .await
                })
            });
            for put in futures::future::join_all(puts).await {
                put.unwrap().unwrap();
            }
            let n = std::fs::read_dir(dir.path().join(&deep)).unwrap().count();
            assert_eq!(n, 32);
        }
    }

    #[tokio::test]
    async fn other_puts_are_the_local_stores() {
        let (_dir, m) = mirror();
        let key = Path::from("catalog/published.json");
        m.put(&key, PutPayload::from_static(b"1")).await.unwrap();
        m.put(&key, PutPayload::from_static(b"2")).await.unwrap();
        let got = m.get(&key).await.unwrap().bytes().await.unwrap();
        assert_eq!(&got[..], b"2");
    }

    #[tokio::test]
    async fn a_staging_file_left_by_a_crash_is_skipped_and_not_listed() {
        let (dir, m) = mirror();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/x#1"), b"half").unwrap();
        let key = Path::from("data/x");
        m.put_opts(&key, PutPayload::from_static(b"whole"), create_only())
            .await
            .unwrap();
        let keys: Vec<_> = futures::StreamExt::collect::<Vec<_>>(m.list(None))
            .await
            .into_iter()
            .map(|o| o.unwrap().location.to_string())
            .collect();
        assert_eq!(keys, ["data/x"]);
        assert_eq!(std::fs::read(dir.path().join("data/x")).unwrap(), b"whole");
    }
}
