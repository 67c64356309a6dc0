//! The one stateless hash repeatable draws come from: splitmix64's
//! finalizer, and a uniform number in [0, 1) from it. The endpoint's
//! rotation hashes connection numbers with it; an emulated link draws its
//! jitter and losses from a counter through it.

/// splitmix64: a well-mixed 64-bit hash of `x` (a bijection).
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A uniform draw in [0, 1) from the hash of `x` (its top 53 bits).
pub fn unit(x: u64) -> f64 {
    (splitmix64(x) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_uniform_and_repeatable() {
        let n = 100_000u64;
        let mean = (0..n).map(unit).sum::<f64>() / n as f64;
        // Uniform: mean 0.5, sd 1/sqrt(12 n) = 0.0009; 5 sd.
        assert!((mean - 0.5).abs() < 0.0046, "{mean}");
        assert!((0..n).all(|i| (0.0..1.0).contains(&unit(i))));
        assert_eq!(unit(42), unit(42));
    }
}
