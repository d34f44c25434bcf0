//! Safe views of raw bytes as quant blocks.
//!
//! Tensor bytes come from an mmap that only promises 1..32-byte alignment, so
//! every block struct in this module keeps its multi-byte fields (f16, f32,
//! i16) as little-endian byte arrays. That gives every block an alignment of 1,
//! which makes a byte slice → block slice cast valid at any address.

use core::mem::{align_of, size_of};

/// A `#[repr(C)]` quant block that may be viewed from raw bytes.
///
/// # Safety
/// Implementors must be `#[repr(C)]`, contain only `u8`/`i8` (arrays), have an
/// alignment of 1, no padding, and accept every bit pattern.
pub unsafe trait Block: Copy + 'static {
    /// Weights per block.
    const QK: usize;
}

/// Views `bytes` as blocks. Panics if the length is not a whole number of blocks.
#[inline]
pub fn as_blocks<B: Block>(bytes: &[u8]) -> &[B] {
    const { assert!(align_of::<B>() == 1) };
    let size = size_of::<B>();
    assert!(
        bytes.len().is_multiple_of(size),
        "{} bytes is not a whole number of {size}-byte blocks",
        bytes.len()
    );
    // SAFETY: `B: Block` guarantees alignment 1, no padding and that every bit
    // pattern is valid; the length is a whole number of blocks and the lifetime
    // is tied to `bytes`.
    unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<B>(), bytes.len() / size) }
}

/// Views `bytes` as mutable blocks. Panics if the length is not a whole number of blocks.
#[inline]
pub fn as_blocks_mut<B: Block>(bytes: &mut [u8]) -> &mut [B] {
    const { assert!(align_of::<B>() == 1) };
    let size = size_of::<B>();
    assert!(
        bytes.len().is_multiple_of(size),
        "{} bytes is not a whole number of {size}-byte blocks",
        bytes.len()
    );
    // SAFETY: as in `as_blocks`; the exclusive borrow of `bytes` moves to the result.
    unsafe { core::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<B>(), bytes.len() / size) }
}

/// The bytes of a block slice (for tests and writers).
#[inline]
pub fn block_bytes<B: Block>(blocks: &[B]) -> &[u8] {
    // SAFETY: `B: Block` has no padding, so every byte is initialized.
    unsafe {
        core::slice::from_raw_parts(blocks.as_ptr().cast::<u8>(), core::mem::size_of_val(blocks))
    }
}
