//! The element types seqrnn computes in: `f32` (default, fast) and `f64` (exactness checks).

use ndarray::{LinalgScalar, ScalarOperand};
use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

/// Names of the supported element types, as numpy and safetensors spell them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// 32-bit IEEE float.
    F32,
    /// 64-bit IEEE float.
    F64,
}

impl Dtype {
    /// numpy's name: `"float32"` or `"float64"`.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
        }
    }

    /// Parses numpy's names: `"float32"`, `"f32"`, `"single"`; `"float64"`, `"f64"`, `"double"`
    /// and `"float"` (float64, as `np.dtype("float")`).
    pub fn parse(name: &str) -> crate::Result<Dtype> {
        match name {
            "float32" | "f32" | "single" => Ok(Dtype::F32),
            "float64" | "f64" | "double" | "float" => Ok(Dtype::F64),
            other => Err(crate::Error::invalid(
                "dtype",
                "\"float32\" or \"float64\"",
                format!("{other:?}"),
            )),
        }
    }
}

/// A floating-point element type: `f32` or `f64`.
pub trait Float:
    num_traits::Float
    + num_traits::FromPrimitive
    + num_traits::ToPrimitive
    + LinalgScalar
    + ScalarOperand
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + 'static
{
    /// This type's [`Dtype`].
    const DTYPE: Dtype;

    /// Converts from `f64` (rounding for `f32`).
    fn from_f64_lossy(x: f64) -> Self;

    /// Widens to `f64`.
    fn to_f64_lossless(self) -> f64;

    /// Appends the little-endian bytes.
    fn write_le(self, out: &mut Vec<u8>);

    /// Reads from little-endian bytes (`size_of::<Self>()` of them; missing bytes read as 0).
    fn read_le(bytes: &[u8]) -> Self;

    /// The tanh the models use: [`crate::engine::vmath::tanh_rational`] for `f32`, exact for `f64`.
    fn model_tanh(self) -> Self;

    /// [`Float::model_tanh`] of every element, vectorized.
    fn model_tanh_in_place(xs: &mut [Self]);

    /// `exp` of every element: vectorized [`crate::engine::vmath::exp_cephes`] for `f32`, exact for `f64`.
    fn model_exp_in_place(xs: &mut [Self]);
}

impl Float for f32 {
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read_le(bytes: &[u8]) -> Self {
        let mut b = [0u8; 4];
        for (dst, src) in b.iter_mut().zip(bytes) {
            *dst = *src;
        }
        f32::from_le_bytes(b)
    }
    const DTYPE: Dtype = Dtype::F32;
    #[inline]
    fn model_tanh(self) -> Self {
        crate::engine::vmath::tanh_rational(self)
    }
    fn model_tanh_in_place(xs: &mut [Self]) {
        crate::engine::vmath::tanh_f32(xs);
    }
    fn model_exp_in_place(xs: &mut [Self]) {
        crate::engine::vmath::exp_f32(xs);
    }
    fn from_f64_lossy(x: f64) -> Self {
        x as f32
    }
    fn to_f64_lossless(self) -> f64 {
        f64::from(self)
    }
}

impl Float for f64 {
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read_le(bytes: &[u8]) -> Self {
        let mut b = [0u8; 8];
        for (dst, src) in b.iter_mut().zip(bytes) {
            *dst = *src;
        }
        f64::from_le_bytes(b)
    }
    const DTYPE: Dtype = Dtype::F64;
    #[inline]
    fn model_tanh(self) -> Self {
        self.tanh()
    }
    fn model_tanh_in_place(xs: &mut [Self]) {
        for x in xs {
            *x = x.tanh();
        }
    }
    fn model_exp_in_place(xs: &mut [Self]) {
        for x in xs {
            *x = x.exp();
        }
    }
    fn from_f64_lossy(x: f64) -> Self {
        x
    }
    fn to_f64_lossless(self) -> f64 {
        self
    }
}
