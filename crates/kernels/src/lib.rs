//! edgellm-kernels: all numeric code.
//!
//! - [`quant`]: the ggml tensor types as `#[repr(C)]` blocks, each with a scalar
//!   reference (the spec) and SIMD variants chosen once at run time.
//! - [`ops`]: f32 vector ops (norms, rope, softmax, activations).
//! - [`pool`]: a thread pool built for per-token latency.
//! - [`matmul`]: threaded quantized matrix × activations.
//! - [`membench`]: a STREAM-like read-bandwidth probe (decode roofline).

pub mod matmul;
pub mod membench;
pub mod ops;
pub mod pool;
pub mod quant;
