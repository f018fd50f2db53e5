//! What the allocator does with the memory an invocation frees.
//!
//! Lambda keeps the process between invocations, and every invocation allocates and frees the same
//! few multi-megabyte buffers (the event body, the decoded records' output, the response and the
//! runtime's copy of it). glibc's defaults give buffers above a threshold mappings of their own and
//! return freed memory at the top of the heap to the kernel, so those pages were handed back and
//! faulted in again, zeroed, by the next invocation: system time paid on every invocation for memory
//! the function needs anyway. Here every buffer an ordinary invocation makes (Lambda's request and
//! response are at most 6 MB) comes from the heap, and what is freed stays for the next invocation.
//! Larger buffers, such as a record decompressing towards `LOGTRIM_MAX_DECOMPRESSED`, still get
//! mappings of their own, returned when freed, so a hostile record does not leave its memory resident.
#![allow(unsafe_code)]

/// Buffers above this size get a mapping of their own (glibc's default is 128 KiB, raised as large
/// buffers are freed); below it, they come from the heap. Above the 6 MB of a Lambda request or response.
pub const MMAP_THRESHOLD: usize = 8 << 20;

/// Freed memory at the top of the heap kept for reuse, up to this much.
pub const TRIM_THRESHOLD: usize = 64 << 20;

/// Makes glibc keep freed memory for the next invocation (see the module). Called once at the start
/// of the binary, and by the benchmark and the `invoke` example so that they measure what runs.
/// Returns whether the allocator took both settings: false on other C libraries, which keep their
/// defaults.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let set = |param, value: usize| {
            // SAFETY: `mallopt` takes no pointers; glibc changes its parameters under its own lock,
            // after consolidating its free lists, and memory already allocated is not affected. An
            // out-of-range value is refused (returning 0).
            unsafe { libc::mallopt(param, value as libc::c_int) == 1 }
        };
        // Each on its own: one refused does not keep the other from being set.
        let mmap = set(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        let trim = set(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
        mmap && trim
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    // 32-bit glibc refuses a mapping threshold above 512 KiB.
    #[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
    fn glibc_takes_the_settings() {
        assert!(super::keep_freed_memory(), "glibc refused M_MMAP_THRESHOLD or M_TRIM_THRESHOLD");
    }
}
