//! A file read part by part for a multipart upload, on the blocking pool, straight into
//! each part's buffer.

use bytes::Bytes;

/// A file read part by part on the blocking pool, straight into each part's buffer.
pub(crate) struct Reader {
    pub(crate) file: std::sync::Arc<std::fs::File>,
    pub(crate) offset: u64,
}

impl Reader {
    /// The next `size` bytes, fewer only at the end of the file.
    pub(crate) async fn read_part(&mut self, size: usize) -> std::io::Result<Bytes> {
        use std::os::unix::fs::FileExt;
        let (file, offset) = (std::sync::Arc::clone(&self.file), self.offset);
        let buf = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; size];
            let mut filled = 0;
            while filled < size {
                match file.read_at(&mut buf[filled..], offset + filled as u64) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            buf.truncate(filled);
            Ok(buf)
        })
        .await
        .expect("reading task panicked")?;
        self.offset += buf.len() as u64;
        Ok(Bytes::from(buf))
    }
}
