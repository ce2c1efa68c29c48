//! The CPU boundary: cache prefetch hints, the crate's only `unsafe`.
//!
//! The fast path looks a whole batch up stage by stage; before each stage
//! reads what the previous one found (a cache slot, a classifier bucket,
//! an entry, a flow), it asks the CPU to start loading it for every packet
//! of the batch, so that the cache misses of 32 packets overlap instead of
//! following one another.
//!
//! Invariant: [`prefetch`] never dereferences its argument; it may be
//! given any address, valid or not.

#![allow(unsafe_code)]

/// Asks the CPU to bring the cache line holding `*p` into its caches.
/// A hint only: no effect on what the program computes, and none at all on
/// targets without a prefetch instruction.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` only hints the cache: it does not access
    // memory architecturally and cannot fault, whatever the address (Intel
    // SDM, PREFETCHh: "does not affect program behavior"); SSE, which it
    // needs, is part of the x86_64 baseline.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
