//! The process's allocator settings, the binary's to make since they are the process's.
//! glibc raises its mmap threshold each time a large buffer is freed (up to 32 MiB), so
//! the files a pass reads whole and its part buffers end up in the heaps of whichever
//! threads allocated them, where freed ones are kept rather than given back: the peak
//! RSS then grows well past the bytes a pass really holds. A fixed threshold keeps every
//! buffer of 1 MiB or more in its own mapping, returned to the system when freed, so the
//! memory bound the README states holds.

/// Buffers this large or larger are mapped apart and unmapped when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1 << 20;

/// Sets the allocator up; call first in `main`, before any thread starts.
pub(crate) fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes malloc's parameters; it is called before any other
    // thread exists, with a documented parameter and value.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
