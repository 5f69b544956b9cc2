//! Elementwise functions over whole slices, vectorized: `tanh` and `exp` for `f32`, and the
//! reductions over parameters (sum of squares, finiteness).
//!
//! `f32` tanh is the rational approximation Eigen and XLA use (odd degree-13 numerator over even
//! degree-6 denominator, input clamped to about ±8, `x` itself below 4e-4): branch-free, so the
//! compiler turns the loop into 16-wide AVX-512, 8-wide AVX2 or 4-wide SSE2/NEON code, chosen
//! by the level in use ([`crate::engine::current`]). Its
//! largest error against the exact tanh is 4.4e-7 (about 7 units in the last place near
//! `|x| = 6`, where tanh is within 1e-5 of 1), and NaN stays NaN. Every code path does the same
//! IEEE operations in the same order (no fused multiply-add), so the results are the same bits
//! on every CPU and at every level. `f64` keeps the C library's tanh.

// The coefficients are written as published, with more digits than an f32 holds.
#![allow(clippy::excessive_precision)]

/// `tanh(x)` in `f32` by the rational approximation described in the module docs; the same bits
/// as [`tanh_f32`] gives for `x`.
#[inline(always)]
pub fn tanh_rational(x: f32) -> f32 {
    const CLAMP: f32 = 7.998_811_7;
    // Comparisons rather than `clamp`'s `max`/`min` codegen, to keep NaN and stay branch-free.
    #[allow(clippy::manual_clamp)]
    let xc = if x > CLAMP {
        CLAMP
    } else if x < -CLAMP {
        -CLAMP
    } else {
        x
    };
    let x2 = xc * xc;
    let mut p = -2.760_768_5e-16_f32;
    p = p * x2 + 2.000_187_9e-13;
    p = p * x2 + -8.604_671_5e-11;
    p = p * x2 + 5.122_297e-8;
    p = p * x2 + 1.485_722_4e-5;
    p = p * x2 + 6.372_619_3e-4;
    p = p * x2 + 4.893_524_6e-3;
    p *= xc;
    let mut q = 1.198_258_4e-6_f32;
    q = q * x2 + 1.185_347_1e-4;
    q = q * x2 + 2.268_434_6e-3;
    q = q * x2 + 4.893_525e-3;
    if x.abs() < 4e-4 {
        x
    } else {
        p / q
    }
}

/// `exp(x)` in `f32` (Cephes' `expf`: `2^n * p(r)` with `r = x - n ln 2`, `|r| <= ln 2 / 2`):
/// within 2 units in the last place; 0 below -87.3 (no subnormals), infinity above 88.7, NaN
/// stays NaN.
#[inline(always)]
pub fn exp_cephes(x: f32) -> f32 {
    const HI: f32 = 88.722_83;
    const LO: f32 = -87.336_55;
    #[allow(clippy::manual_clamp)]
    let xc = if x > HI {
        HI
    } else if x < LO {
        LO
    } else {
        x
    };
    let n = (xc * std::f32::consts::LOG2_E + 0.5).floor(); // in [-126, 128]
    let r = xc - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.000_000_1e-1;
    let y = p * (r * r) + r + 1.0;
    // 2^n as 2^a * 2^b with a, b in [-63, 64], so neither factor leaves the normal range.
    let n = n as i32;
    let a = n >> 1;
    let pow2 = |k: i32| f32::from_bits(((k + 127) as u32) << 23);
    let e = y * pow2(a) * pow2(n - a);
    if x < LO {
        0.0
    } else if x > HI {
        f32::INFINITY
    } else {
        e
    }
}

/// Defines `$name` with its body compiled three times, for AVX-512, for AVX2 and for the
/// baseline CPU, and run at the level in use ([`crate::engine::current`]). No code here uses
/// fused multiply-adds, so every path gives the same bits; the wider ones only vectorize
/// better. Used for the elementwise functions and reductions below and for the optimizer's
/// update.
macro_rules! multiversion {
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident $(<$t:ident: $bound:path>)? ($($arg:ident: $ty:ty),*) $(-> $ret:ty)?
        $body:block
    ) => {
        $(#[$attr])*
        $vis fn $name $(<$t: $bound>)? ($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body $(<$t: $bound>)? ($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(x86_kernels)]
            {
                #[target_feature(enable = "avx512f")]
                fn avx512 $(<$t: $bound>)? ($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                fn avx2 $(<$t: $bound>)? ($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                match $crate::engine::current() {
                    // SAFETY: the CPU has AVX-512F (the level in use is at most the CPU's).
                    $crate::engine::Isa::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: the CPU has AVX2, as above.
                    $crate::engine::Isa::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::engine::Isa::Generic => {}
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use multiversion;

multiversion! {
    /// Replaces every element of `xs` by its tanh ([`tanh_rational`]).
    pub fn tanh_f32(xs: &mut [f32]) {
        for x in xs {
            *x = tanh_rational(*x);
        }
    }
}

multiversion! {
    /// Replaces every element of `xs` by its exponential ([`exp_cephes`]).
    pub fn exp_f32(xs: &mut [f32]) {
        for x in xs {
            *x = exp_cephes(*x);
        }
    }
}

/// Lanes of the partial sums in [`sum_squares`]: a fixed order of summation on every path.
const LANES: usize = 8;

multiversion! {
    /// `sum(x^2)` in `f64`, in 8 interleaved partial sums added in order at the end.
    pub fn sum_squares<T: crate::Float>(xs: &[T]) -> f64 {
        let mut acc = [0.0f64; LANES];
        let chunks = xs.chunks_exact(LANES);
        let tail = chunks.remainder();
        for c in chunks {
            for (a, &x) in acc.iter_mut().zip(c) {
                let x = x.to_f64_lossless();
                *a += x * x;
            }
        }
        for (a, &x) in acc.iter_mut().zip(tail) {
            let x = x.to_f64_lossless();
            *a += x * x;
        }
        acc.iter().sum()
    }
}

multiversion! {
    /// True when some element is NaN or infinite (a full pass, no early exit: it vectorizes).
    pub fn any_non_finite<T: crate::Float>(xs: &[T]) -> bool {
        xs.iter().fold(false, |bad, x| bad | !x.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_to_exact_tanh_everywhere() {
        let mut worst = 0.0f64;
        let mut bits = 0u32;
        let mut xs = Vec::new();
        while bits < 0x4200_0000 {
            // every 1021st positive float up to 32, and its negative
            let x = f32::from_bits(bits);
            xs.extend([x, -x]);
            bits += 1021;
        }
        let mut ys = xs.clone();
        tanh_f32(&mut ys);
        for (&x, &y) in xs.iter().zip(&ys) {
            let exact = f64::from(x).tanh();
            worst = worst.max((f64::from(y) - exact).abs() / exact.abs().max(1e-30));
            assert_eq!(y.is_sign_negative(), x.is_sign_negative(), "sign at {x}");
        }
        assert!(worst < 5e-7, "worst relative error {worst:e}");
    }

    #[test]
    fn special_values_and_every_path_agree() {
        let mut v = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            1e-30,
            20.0,
        ];
        tanh_f32(&mut v);
        assert!(v[0].is_nan());
        assert!((v[1] - 1.0).abs() < 1e-6 && (v[2] + 1.0).abs() < 1e-6);
        assert_eq!(v[3].to_bits(), 0.0f32.to_bits());
        assert_eq!(v[4].to_bits(), (-0.0f32).to_bits());
        assert_eq!(v[5], 1e-30);
        let xs: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.0173).collect();
        let mut fast = xs.clone();
        tanh_f32(&mut fast);
        let plain: Vec<f32> = xs.iter().map(|&x| tanh_rational(x)).collect();
        assert_eq!(fast, plain);
    }

    #[test]
    fn exp_close_to_exact_and_special_values() {
        let mut xs: Vec<f32> = (0..200_001)
            .map(|i| (i as f32 - 100_000.0) * 9e-4)
            .collect();
        xs.extend([
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -87.0,
            -88.0,
            88.0,
            89.0,
        ]);
        let mut ys = xs.clone();
        exp_f32(&mut ys);
        for (&x, &y) in xs.iter().zip(&ys).filter(|(x, _)| x.abs() <= 87.0) {
            let exact = f64::from(x).exp();
            let rel = (f64::from(y) - exact).abs() / exact;
            assert!(rel < 2.5e-7, "exp({x}) = {y}, relative error {rel:e}");
            assert_eq!(y, exp_cephes(x));
        }
        let n = ys.len();
        assert!(ys[n - 7].is_nan());
        assert_eq!(&ys[n - 6..n - 5], &[f32::INFINITY]);
        assert_eq!(ys[n - 5], 0.0);
        assert!(ys[n - 4] > 0.0 && ys[n - 3] == 0.0);
        assert!(ys[n - 2].is_finite() && ys[n - 1] == f32::INFINITY);
        assert_eq!(exp_cephes(0.0), 1.0);
    }

    #[test]
    fn reductions() {
        let xs: Vec<f32> = (0..1003).map(|i| (i as f32 - 500.0) * 0.01).collect();
        let exact: f64 = xs.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
        assert!((sum_squares(&xs) - exact).abs() < 1e-9 * exact);
        assert!(!any_non_finite(&xs));
        for bad in [f32::NAN, f32::INFINITY] {
            let mut ys = xs.clone();
            ys[1001] = bad;
            assert!(any_non_finite(&ys));
        }
        assert_eq!(sum_squares::<f64>(&[]), 0.0);
    }
}
