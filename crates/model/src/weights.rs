//! Binding GGUF tensors by name, with every shape asserted at load.

use crate::ModelError;
use edgellm_gguf::GgufFile;
use edgellm_kernels::matmul::QMatrix;
use edgellm_kernels::quant::{dequantize_row, QuantType};
use std::ops::Range;
use std::sync::Arc;

/// A weight matrix that stays in the memory map: `n_rows` rows of `n_cols`.
#[derive(Clone, Debug)]
pub struct Weight {
    pub name: String,
    pub ty: QuantType,
    pub n_rows: usize,
    pub n_cols: usize,
    range: Range<usize>,
}

impl Weight {
    /// The matrix view over `file`'s bytes.
    pub fn view<'a>(&self, file: &'a GgufFile) -> QMatrix<'a> {
        QMatrix {
            ty: self.ty,
            data: &file.bytes()[self.range.clone()],
            n_rows: self.n_rows,
            n_cols: self.n_cols,
        }
    }
}

/// Looks tensors up in a file and checks them against expected shapes.
pub struct Binder<'f> {
    pub file: &'f Arc<GgufFile>,
}

impl<'f> Binder<'f> {
    fn info(&self, name: &str) -> Result<&'f edgellm_gguf::TensorInfo, ModelError> {
        self.file
            .tensor(name)
            .ok_or_else(|| ModelError::MissingTensor(name.to_string()))
    }

    pub fn has(&self, name: &str) -> bool {
        self.file.tensor(name).is_some()
    }

    fn quant_type(&self, t: &edgellm_gguf::TensorInfo) -> Result<QuantType, ModelError> {
        QuantType::from_ggml_id(t.ggml_type.0).ok_or_else(|| ModelError::UnsupportedType {
            tensor: t.name.clone(),
            ty: t.ggml_type.to_string(),
        })
    }

    /// A matrix with `n_cols` values per row and `n_rows` rows (GGUF dims
    /// `[n_cols, n_rows]`).
    pub fn matrix(&self, name: &str, n_cols: usize, n_rows: usize) -> Result<Weight, ModelError> {
        let t = self.info(name)?;
        let want = [n_cols as u64, n_rows as u64];
        if t.dims != want {
            return Err(ModelError::BadShape {
                tensor: name.to_string(),
                expected: want.to_vec(),
                found: t.dims.clone(),
            });
        }
        let ty = self.quant_type(t)?;
        Ok(Weight {
            name: name.to_string(),
            ty,
            n_rows,
            n_cols,
            range: t.offset as usize..(t.offset + t.n_bytes) as usize,
        })
    }

    /// A vector of `n` values, converted to f32 (norm weights, biases).
    pub fn vector(&self, name: &str, n: usize) -> Result<Vec<f32>, ModelError> {
        let t = self.info(name)?;
        if t.dims != [n as u64] {
            return Err(ModelError::BadShape {
                tensor: name.to_string(),
                expected: vec![n as u64],
                found: t.dims.clone(),
            });
        }
        let ty = self.quant_type(t)?;
        let mut out = vec![0.0; n];
        dequantize_row(ty, self.file.tensor_data(t), &mut out);
        Ok(out)
    }

    /// [`Self::vector`] if the tensor exists.
    pub fn opt_vector(&self, name: &str, n: usize) -> Result<Option<Vec<f32>>, ModelError> {
        if self.has(name) {
            self.vector(name, n).map(Some)
        } else {
            Ok(None)
        }
    }
}
