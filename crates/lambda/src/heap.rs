//! What the allocator does with the memory an invocation frees.
//!
//! Lambda keeps the process between invocations, and every invocation allocates and frees the same
//! few multi-megabyte buffers (the event body, the decoded records' output, the response and the
//! runtime's copy of it). glibc's default returns freed memory at the top of the heap to the kernel
//! once it passes a threshold it raises only as far as the largest buffer freed so far, so those pages
//! were handed back and faulted in again, zeroed, by the next invocation: a system-time cost paid on
//! every invocation for memory the function holds anyway at its peak. Kept instead, the peak resident
//! size is unchanged and the next invocation reuses the pages.
#![allow(unsafe_code)]

/// Allocations above this size still get their own mapping, returned to the kernel when freed: a
/// record decompressing to tens of megabytes does not stay resident. glibc's largest allowed value on
/// 64-bit targets.
pub const MMAP_THRESHOLD: usize = 32 << 20;

/// Freed memory at the top of the heap kept for reuse, up to this much.
pub const TRIM_THRESHOLD: usize = 256 << 20;

/// Makes glibc keep freed memory for the next invocation (see the module). Called once at the start
/// of the binary, and by the benchmark and the `invoke` example so that they measure what runs.
/// Returns whether the allocator took the settings: false on other C libraries, which keep their
/// defaults.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let set = |param, value: usize| {
            // SAFETY: `mallopt` only changes glibc's allocator parameters, under its own lock; any
            // value is accepted or refused (returning 0), and no memory is touched.
            unsafe { libc::mallopt(param, value as libc::c_int) == 1 }
        };
        set(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) && set(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_settings() {
        assert!(super::keep_freed_memory(), "glibc refused M_MMAP_THRESHOLD or M_TRIM_THRESHOLD");
    }
}
