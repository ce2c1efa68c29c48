//! [`Rng`]: the one source of random numbers of a poll thread (sFlow
//! sampling, exact-match cache insertion sampling, `sample` actions).

/// xorshift64*: fast, small, and good enough for sampling decisions. Not
/// for anything an attacker must not predict.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value; 0 is replaced).
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    /// The next uniformly distributed `u32`.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    /// True with probability `1 / inv_prob` (never for 0, always for 1).
    #[inline]
    pub fn one_in(&mut self, inv_prob: u32) -> bool {
        match inv_prob {
            0 => false,
            1 => true,
            p => (u64::from(self.next_u32()) * u64::from(p)) >> 32 == 0,
        }
    }

    /// True with probability `prob / u32::MAX` (always for `u32::MAX`).
    #[inline]
    pub fn below(&mut self, prob: u32) -> bool {
        prob == u32::MAX || self.next_u32() < prob
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_in_hits_about_the_right_share() {
        let mut r = Rng::new(7);
        assert!(!(0..1000).any(|_| r.one_in(0)));
        assert!((0..1000).all(|_| r.one_in(1)));
        let n = (0..100_000).filter(|_| r.one_in(100)).count();
        assert!((800..1200).contains(&n), "{n}");
        assert!((0..1000).all(|_| r.below(u32::MAX)));
    }
}
