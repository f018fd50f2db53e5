//! The JSON module's SIMD kernels, and the one run-time check behind every AVX2 path.
//!
//! - [`sse2`]: 16 bytes a step. SSE2 is part of x86_64, so these are safe functions used without a
//!   check.
//! - [`avx2`]: 32 or 64 bytes a step. Each is an `unsafe fn` with `#[target_feature]`, whose `# Safety`
//!   section asks for [`has_avx2`]; its callers check that first and say so in a `// SAFETY:` comment.
//!
//! - [`avx512`]: stage 1's classification and the long-string search, 64 bytes in one vector, on CPUs
//!   with AVX-512 F and BW ([`has_avx512`]), and stage 1's token offsets written with one compression
//!   on those with VBMI2 too ([`has_avx512_vbmi2`]); the rest of stage 1 is the AVX2 kernel's.
//!
//! All are compiled for x86_64 only (`cfg(target_arch = "x86_64")` at each call); elsewhere the
//! portable code beside each call runs, and [`has_avx2`] is false. Where a kernel's loop is mostly the
//! logic of the module it serves, the loop stays there as a generic `#[inline(always)]` function that
//! the kernel instantiates, so that it is compiled with the kernel's features: stage 1's block loop
//! ([`super::index::blocks`]) is one.

#[cfg(target_arch = "x86_64")]
pub(super) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(super) mod avx512;
#[cfg(target_arch = "x86_64")]
pub(super) mod sse2;

/// Whether this CPU has every feature the AVX2 code is compiled for: AVX2, PCLMULQDQ (stage 1's prefix
/// XOR) and POPCNT (escaping). Detected on the first call and cached.
///
/// std caches each feature on its own; one flag for the three keeps the check on the per-call paths
/// (escaping, [`super::escaped_len`]) to a single load.
#[inline]
pub(super) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static AVX2: Detected = Detected::new();
        AVX2.get(|| {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("pclmulqdq")
                && std::arch::is_x86_feature_detected!("popcnt")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether this CPU has AVX-512 F and BW besides everything [`has_avx2`] checks: stage 1's
/// classification and the long-string search then run [`avx512`]'s kernels. Detected on the first
/// call and cached.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(super) fn has_avx512() -> bool {
    static AVX512: Detected = Detected::new();
    AVX512.get(|| has_avx2() && std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bw"))
}

/// Whether this CPU also has AVX-512 VBMI2: stage 1 then writes its token offsets with one compression
/// ([`avx512::stage1_vbmi2`]).
#[cfg(target_arch = "x86_64")]
#[inline]
pub(super) fn has_avx512_vbmi2() -> bool {
    static VBMI2: Detected = Detected::new();
    VBMI2.get(|| has_avx512() && std::arch::is_x86_feature_detected!("avx512vbmi2"))
}

/// A CPU check's answer, cached: 0 not detected yet, 1 no, 2 yes. Threads that race to detect store
/// the same answer.
#[cfg(target_arch = "x86_64")]
struct Detected(std::sync::atomic::AtomicU8);

#[cfg(target_arch = "x86_64")]
impl Detected {
    const fn new() -> Detected {
        Detected(std::sync::atomic::AtomicU8::new(0))
    }

    #[inline(always)]
    fn get(&self, detect: impl FnOnce() -> bool) -> bool {
        use std::sync::atomic::Ordering;
        match self.0.load(Ordering::Relaxed) {
            0 => self.detect(detect),
            state => state == 2,
        }
    }

    #[cold]
    #[inline(never)]
    fn detect(&self, detect: impl FnOnce() -> bool) -> bool {
        let yes = detect();
        self.0.store(1 + u8::from(yes), std::sync::atomic::Ordering::Relaxed);
        yes
    }
}
