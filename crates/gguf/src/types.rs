//! ggml tensor type ids and their block geometry.
//!
//! Only the geometry lives here (elements per block, bytes per block): enough to
//! size and bounds-check tensor data. The block layouts themselves belong to
//! `edgellm-kernels`.

use std::fmt;

use crate::limits;

/// A raw ggml tensor type id as stored in the tensor table (`enum ggml_type`).
///
/// Kept as a newtype over the id rather than an enum so that an id this crate
/// does not know can still be carried and reported; the reader rejects unknown
/// ids because it cannot size their data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GgmlType(pub u32);

/// `(id, name, elements per block, bytes per block)` for every ggml type id in
/// upstream `ggml.h`. Ids 4, 5 (Q4_2, Q4_3), 31–33 (Q4_0_4_4, Q4_0_4_8, Q4_0_8_8)
/// and 36–38 (IQ4_NL_4_4, ...) were removed upstream and are unknown here.
/// Some forks reuse ids >= 40 with other layouts (e.g. a 32-element Q1_0); we
/// follow ggml-org mainline.
const TABLE: &[(u32, &str, u64, u64)] = &[
    (0, "F32", 1, 4),
    (1, "F16", 1, 2),
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 36),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (16, "IQ2_XXS", 256, 66),
    (17, "IQ2_XS", 256, 74),
    (18, "IQ3_XXS", 256, 98),
    (19, "IQ1_S", 256, 50),
    (20, "IQ4_NL", 32, 18),
    (21, "IQ3_S", 256, 110),
    (22, "IQ2_S", 256, 82),
    (23, "IQ4_XS", 256, 136),
    (24, "I8", 1, 1),
    (25, "I16", 1, 2),
    (26, "I32", 1, 4),
    (27, "I64", 1, 8),
    (28, "F64", 1, 8),
    (29, "IQ1_M", 256, 56),
    (30, "BF16", 1, 2),
    (34, "TQ1_0", 256, 54),
    (35, "TQ2_0", 256, 66),
    (39, "MXFP4", 32, 17),
    (40, "NVFP4", 64, 36),
    (41, "Q1_0", 128, 18),
    (42, "Q2_0", 64, 18),
];

impl GgmlType {
    pub const F32: Self = Self(0);
    pub const F16: Self = Self(1);
    pub const Q4_0: Self = Self(2);
    pub const Q4_1: Self = Self(3);
    pub const Q5_0: Self = Self(6);
    pub const Q5_1: Self = Self(7);
    pub const Q8_0: Self = Self(8);
    pub const Q8_1: Self = Self(9);
    pub const Q2_K: Self = Self(10);
    pub const Q3_K: Self = Self(11);
    pub const Q4_K: Self = Self(12);
    pub const Q5_K: Self = Self(13);
    pub const Q6_K: Self = Self(14);
    pub const Q8_K: Self = Self(15);
    pub const IQ2_XXS: Self = Self(16);
    pub const IQ2_XS: Self = Self(17);
    pub const IQ3_XXS: Self = Self(18);
    pub const IQ1_S: Self = Self(19);
    pub const IQ4_NL: Self = Self(20);
    pub const IQ3_S: Self = Self(21);
    pub const IQ2_S: Self = Self(22);
    pub const IQ4_XS: Self = Self(23);
    pub const I8: Self = Self(24);
    pub const I16: Self = Self(25);
    pub const I32: Self = Self(26);
    pub const I64: Self = Self(27);
    pub const F64: Self = Self(28);
    pub const IQ1_M: Self = Self(29);
    pub const BF16: Self = Self(30);
    pub const TQ1_0: Self = Self(34);
    pub const TQ2_0: Self = Self(35);
    pub const MXFP4: Self = Self(39);
    pub const NVFP4: Self = Self(40);
    pub const Q1_0: Self = Self(41);
    pub const Q2_0: Self = Self(42);

    fn entry(self) -> Option<&'static (u32, &'static str, u64, u64)> {
        // The table is sorted by id; ids are dense enough that a search is cheap.
        TABLE
            .binary_search_by_key(&self.0, |e| e.0)
            .ok()
            .map(|i| &TABLE[i])
    }

    /// Every type id this crate knows, in id order.
    pub fn all() -> impl Iterator<Item = GgmlType> {
        TABLE.iter().map(|e| GgmlType(e.0))
    }

    /// Looks a type up by name, case-insensitively (`"q4_k"`, `"Q4_K"`).
    pub fn from_name(name: &str) -> Option<GgmlType> {
        TABLE
            .iter()
            .find(|e| e.1.eq_ignore_ascii_case(name))
            .map(|e| GgmlType(e.0))
    }

    /// Whether this crate knows the id's block geometry.
    pub fn is_known(self) -> bool {
        self.entry().is_some()
    }

    /// Upper-case name as used by gguf-py (`"Q4_K"`, `"BF16"`); `None` for unknown ids.
    pub fn name(self) -> Option<&'static str> {
        self.entry().map(|e| e.1)
    }

    /// Elements per block (1 for plain types, 32 or 256 for most quants).
    pub fn block_size(self) -> Option<u64> {
        self.entry().map(|e| e.2)
    }

    /// Bytes per block.
    pub fn type_size(self) -> Option<u64> {
        self.entry().map(|e| e.3)
    }

    /// Whether the type stores elements in multi-element blocks.
    pub fn is_quantized(self) -> bool {
        self.block_size().is_some_and(|b| b > 1)
    }

    /// Bytes taken by a row of `n` elements; `None` for unknown ids, when `n` is
    /// not a multiple of the block size, or on overflow.
    pub fn row_bytes(self, n: u64) -> Option<u64> {
        let (block, size) = (self.block_size()?, self.type_size()?);
        if !n.is_multiple_of(block) {
            return None;
        }
        (n / block).checked_mul(size)
    }

    /// `(n_elements, n_bytes)` of a tensor with dimensions `dims` (ne order,
    /// `dims[0]` is the row length), or the reason there is no such tensor.
    /// An empty `dims` is a scalar (one element), as in ggml where missing
    /// dimensions are 1; a zero dimension gives an empty tensor.
    pub(crate) fn tensor_size(self, dims: &[u64]) -> Result<(u64, u64), String> {
        let (block, size) = match (self.block_size(), self.type_size()) {
            (Some(b), Some(s)) => (b, s),
            _ => return Err(format!("unknown ggml type id {}", self.0)),
        };
        if dims.len() > limits::MAX_DIMS as usize {
            return Err(format!(
                "{} dimensions exceed MAX_DIMS = {}",
                dims.len(),
                limits::MAX_DIMS
            ));
        }
        if let Some((j, d)) = dims
            .iter()
            .enumerate()
            .find(|(_, &d)| d > limits::MAX_ELEMENTS)
        {
            return Err(format!(
                "ne[{j}] = {d} exceeds MAX_ELEMENTS = {} (ggml dims are int64)",
                limits::MAX_ELEMENTS
            ));
        }
        let mut n_elements: u64 = 1;
        for &d in dims {
            n_elements = n_elements
                .checked_mul(d)
                .ok_or_else(|| format!("dims product {dims:?} overflows u64"))?;
        }
        if n_elements > limits::MAX_ELEMENTS {
            return Err(format!(
                "dims product {dims:?} = {n_elements} exceeds MAX_ELEMENTS = {} (ggml counts are int64)",
                limits::MAX_ELEMENTS
            ));
        }
        let row_len = dims.first().copied().unwrap_or(1);
        if !row_len.is_multiple_of(block) {
            return Err(format!(
                "ne[0] = {row_len} is not a multiple of the {self} block size {block}"
            ));
        }
        // n_elements is a multiple of row_len, hence of block; no remainder.
        let n_bytes = (n_elements / block)
            .checked_mul(size)
            .ok_or_else(|| format!("byte size of dims {dims:?} overflows u64"))?;
        Ok((n_elements, n_bytes))
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "unknown({})", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(TABLE.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn bits_per_weight_match_ggml() {
        // bpw = 8 * type_size / block_size, from the block structs in ggml-common.h.
        let bpw =
            |t: GgmlType| 8.0 * t.type_size().unwrap() as f64 / t.block_size().unwrap() as f64;
        assert_eq!(bpw(GgmlType::Q4_0), 4.5);
        assert_eq!(bpw(GgmlType::Q8_0), 8.5);
        assert_eq!(bpw(GgmlType::Q4_K), 4.5);
        assert_eq!(bpw(GgmlType::Q5_K), 5.5);
        assert_eq!(bpw(GgmlType::Q6_K), 6.5625);
        assert_eq!(bpw(GgmlType::Q2_K), 2.625);
        assert_eq!(bpw(GgmlType::Q3_K), 3.4375);
        assert_eq!(bpw(GgmlType::TQ1_0), 1.6875);
        assert_eq!(bpw(GgmlType::IQ4_XS), 4.25);
        assert_eq!(bpw(GgmlType::NVFP4), 4.5);
    }

    #[test]
    fn names_and_display() {
        assert_eq!(GgmlType::Q4_K.name(), Some("Q4_K"));
        assert_eq!(GgmlType(4).name(), None);
        assert_eq!(GgmlType(4).to_string(), "unknown(4)");
        assert_eq!(GgmlType::BF16.to_string(), "BF16");
        assert_eq!(GgmlType::from_name("q6_k"), Some(GgmlType::Q6_K));
        assert_eq!(GgmlType::from_name("q4_2"), None);
        assert_eq!(GgmlType::all().count(), TABLE.len());
    }

    #[test]
    fn row_bytes_checks_blocks() {
        assert_eq!(GgmlType::Q4_K.row_bytes(512), Some(288));
        assert_eq!(GgmlType::Q4_K.row_bytes(100), None);
        assert_eq!(GgmlType::F32.row_bytes(3), Some(12));
        assert_eq!(GgmlType(99).row_bytes(32), None);
        assert_eq!(GgmlType::F64.row_bytes(u64::MAX), None);
    }

    #[test]
    fn tensor_size_edges() {
        assert_eq!(GgmlType::F32.tensor_size(&[]), Ok((1, 4)));
        assert_eq!(GgmlType::Q8_0.tensor_size(&[0, 7]), Ok((0, 0)));
        assert_eq!(GgmlType::Q8_0.tensor_size(&[64, 3]), Ok((192, 204)));
        assert!(GgmlType::F32
            .tensor_size(&[1 << 32, 1 << 32])
            .unwrap_err()
            .contains("overflows"));
        assert!(GgmlType::F32
            .tensor_size(&[1 << 62, 2])
            .unwrap_err()
            .contains("MAX_ELEMENTS"));
        assert!(GgmlType::Q4_0
            .tensor_size(&[48])
            .unwrap_err()
            .contains("block size 32"));
    }
}
