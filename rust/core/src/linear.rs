//! Affine map `y = x W^T + b` (PyTorch's `nn.Linear`), used for the logits projection.

use crate::engine::gemm;
use crate::error::{check_positive, check_shape};
use crate::init::{fill_bias, fill_weight, Init};
use crate::{Float, Parameters, Result};
use ndarray::{Array1, Array2, ArrayView2, ArrayViewD, ArrayViewMutD, Axis};

/// `output.weight` `(out, in)` and `output.bias` `(out,)`.
///
/// ```
/// use ndarray::Array2;
/// use seqrnn::{Init, Linear};
///
/// let layer = Linear::<f32>::new(4, 3, true, Init::Uniform, 0)?;
/// let y = layer.forward(Array2::zeros((2, 4)).view())?; // (rows, in) -> (rows, out)
/// assert_eq!(y.row(0), layer.bias.as_ref().unwrap()); // x W^T + b with x = 0
/// # Ok::<(), seqrnn::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Linear<T> {
    /// `(out_features, in_features)`.
    pub weight: Array2<T>,
    /// `(out_features,)`, absent when built without bias.
    pub bias: Option<Array1<T>>,
}

impl<T: Float> Linear<T> {
    /// Drawn as PyTorch does (U(-1/sqrt(in), 1/sqrt(in))) or from N(0, std^2) with zero bias.
    pub fn new(
        in_features: usize,
        out_features: usize,
        bias: bool,
        init: Init,
        seed: u64,
    ) -> Result<Self> {
        check_positive("in_features", in_features)?;
        check_positive("out_features", out_features)?;
        let mut rng = crate::init::rng(seed);
        let bound = 1.0 / (in_features as f64).sqrt();
        let mut weight = crate::alloc::zeros2("linear weight", out_features, in_features)?;
        fill_weight(&mut weight, init, bound, &mut rng)?;
        let bias = if bias {
            let mut b = Array1::zeros(out_features);
            fill_bias(&mut b, init, bound, &mut rng)?;
            Some(b)
        } else {
            None
        };
        Ok(Linear { weight, bias })
    }

    /// `in_features`.
    pub fn in_features(&self) -> usize {
        self.weight.ncols()
    }

    /// `out_features`.
    pub fn out_features(&self) -> usize {
        self.weight.nrows()
    }

    /// Shapes: `x` `(n, in)` -> `(n, out)`.
    pub fn forward(&self, x: ArrayView2<'_, T>) -> Result<Array2<T>> {
        let mut y = crate::alloc::zeros2("linear output", x.nrows(), self.out_features())?; // (n, out)
        self.forward_into(x, y.view_mut())?;
        Ok(y)
    }

    /// [`Linear::forward`] into a caller's buffer (no allocation). Shapes: `x` `(n, in)`,
    /// `y` `(n, out)`.
    pub fn forward_into(
        &self,
        x: ArrayView2<'_, T>,
        mut y: ndarray::ArrayViewMut2<'_, T>,
    ) -> Result<()> {
        check_shape("linear input", &[x.nrows(), self.in_features()], x.shape())?;
        check_shape(
            "linear output",
            &[x.nrows(), self.out_features()],
            y.shape(),
        )?;
        gemm(T::one(), &x, &self.weight.t(), T::zero(), &mut y);
        if let Some(b) = &self.bias {
            y += b;
        }
        Ok(())
    }

    /// Shapes: `x` `(n, in)`, `dy` `(n, out)` -> (parameter gradients, `dx` `(n, in)`).
    pub fn backward(
        &self,
        x: ArrayView2<'_, T>,
        dy: ArrayView2<'_, T>,
    ) -> Result<(Linear<T>, Array2<T>)> {
        check_shape("linear input", &[x.nrows(), self.in_features()], x.shape())?;
        check_shape(
            "linear output gradient",
            &[x.nrows(), self.out_features()],
            dy.shape(),
        )?;
        let mut grad = self.zeros_like();
        gemm(
            T::one(),
            &dy.t(),
            &x,
            T::zero(),
            &mut grad.weight.view_mut(),
        );
        if let Some(gb) = &mut grad.bias {
            gb.assign(&dy.sum_axis(Axis(0)));
        }
        let mut dx = crate::alloc::zeros2("linear input gradient", x.nrows(), self.in_features())?; // (n, in)
        gemm(
            T::one(),
            &dy,
            &self.weight.view(),
            T::zero(),
            &mut dx.view_mut(),
        );
        Ok((grad, dx))
    }
}

impl<T: Float> Parameters<T> for Linear<T> {
    fn named(&self) -> Vec<(String, ArrayViewD<'_, T>)> {
        let mut out = vec![("weight".to_string(), self.weight.view().into_dyn())];
        if let Some(b) = &self.bias {
            out.push(("bias".to_string(), b.view().into_dyn()));
        }
        out
    }

    fn named_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, T>)> {
        let mut out = vec![("weight".to_string(), self.weight.view_mut().into_dyn())];
        if let Some(b) = &mut self.bias {
            out.push(("bias".to_string(), b.view_mut().into_dyn()));
        }
        out
    }
}

/// The sizes a [`Linear`] checkpoint records.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearConfig {
    /// Input features.
    pub in_features: usize,
    /// Output features.
    pub out_features: usize,
    /// Whether the layer has a bias.
    pub bias: bool,
}

impl LinearConfig {
    /// Number of scalar parameters, `None` on overflow.
    pub fn num_params(&self) -> Option<usize> {
        let bias = if self.bias { self.out_features } else { 0 };
        self.in_features
            .checked_mul(self.out_features)?
            .checked_add(bias)
    }
}

/// The checkpoint kind of a [`Linear`] layer.
pub const CHECKPOINT_KIND: &str = "Linear";

impl<T: Float> Linear<T> {
    /// The sizes of this layer.
    pub fn config(&self) -> LinearConfig {
        LinearConfig {
            in_features: self.in_features(),
            out_features: self.out_features(),
            bias: self.bias.is_some(),
        }
    }

    /// Safetensors bytes: `weight` (and `bias`), the sizes and `extra` metadata.
    pub fn to_bytes(&self, extra: std::collections::HashMap<String, String>) -> Result<Vec<u8>> {
        crate::checkpoint::model_to_bytes(CHECKPOINT_KIND, &self.config(), self, extra)
    }

    /// Rebuilds a layer from [`Linear::to_bytes`] output, validating kind, sizes, names,
    /// shapes and dtypes before use. Returns the layer and the metadata.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Self, std::collections::HashMap<String, String>)> {
        crate::checkpoint::model_from_bytes(bytes, CHECKPOINT_KIND, LinearConfig::num_params, |c| {
            Linear::new(c.in_features, c.out_features, c.bias, Init::Uniform, 0)
        })
    }
}
