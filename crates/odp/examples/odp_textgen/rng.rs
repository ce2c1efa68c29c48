//! A small deterministic random number generator (xorshift64*): the same
//! seed gives the same lines on every machine.

use std::cell::Cell;

/// The generator. Shared references draw numbers too (interior
/// mutability), so one expression may draw several.
pub struct Rng(Cell<u64>);

impl Rng {
    /// A generator started from `seed` (any value, zero included).
    pub fn new(seed: u64) -> Rng {
        // splitmix64 of the seed: distinct seeds give distinct, non-zero
        // states.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng(Cell::new((z ^ (z >> 31)) | 1))
    }

    /// The next 64 random bits.
    pub fn next(&self) -> u64 {
        let mut x = self.0.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&self, percent: u32) -> bool {
        self.below(100) < percent as usize
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}
