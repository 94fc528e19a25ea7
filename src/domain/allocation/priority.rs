//! The order in which ties are broken: registration order, or a lottery drawn from a seed.

/// Registration order, or a lottery drawn from the seed.
pub(super) fn priority_order(count: usize, seed: Option<u64>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    if let Some(seed) = seed {
        let mut random = SplitMix64(seed);
        for i in (1..count).rev() {
            order.swap(i, random.below(i as u64 + 1) as usize);
        }
    }
    order
}

/// SplitMix64 (Steele, Lea and Flood, 2014). Written out rather than taken from `rand`
/// because its stream is fixed forever: a lottery can be re-drawn and audited from its
/// seed after any dependency upgrade, which `rand`'s `StdRng` does not promise.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound`, without modulo bias (Lemire's multiply-and-reject).
    fn below(&mut self, bound: u64) -> u64 {
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let product = u128::from(self.next()) * u128::from(bound);
            if product as u64 >= threshold {
                return (product >> 64) as u64;
            }
        }
    }
}
