//! Parses arbitrary bytes as GGUF. Properties checked:
//! - the reader never panics and never makes a huge allocation (run with
//!   `-malloc_limit_mb`): every outcome is `Ok` or `Err`;
//! - on `Ok`, every tensor's data slice is in bounds and exactly `n_bytes` long,
//!   and lookups by key and name find what the tables hold;
//! - round trip: the writer accepts whatever the reader accepted, the reader
//!   accepts the writer's output, the content is unchanged, and rewriting
//!   that output reproduces it byte for byte.
#![no_main]

use edgellm_gguf::{GgufFile, GgufWriter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = GgufFile::from_bytes(data.to_vec()) else {
        return;
    };
    let mut checksum = 0u64;
    for t in file.tensors() {
        let bytes = file.tensor_data(t);
        assert_eq!(bytes.len() as u64, t.n_bytes);
        assert_eq!(t.offset % file.alignment(), 0);
        checksum = bytes
            .iter()
            .fold(checksum, |s, &b| s.wrapping_add(b.into()));
        assert_eq!(file.tensor(&t.name), Some(t));
    }
    std::hint::black_box(checksum);
    for (k, v) in file.metadata() {
        assert!(std::ptr::eq(file.get(k).unwrap(), v));
        std::hint::black_box(v.to_string());
    }

    let written = GgufWriter::from_gguf(&file)
        .to_bytes()
        .expect("writer rejected a file the reader accepted");
    let reread =
        GgufFile::from_bytes(written.clone()).expect("reader rejected the writer's output");
    // Debug output compares NaNs as equal; the byte comparison below covers payloads.
    assert_eq!(
        format!("{:?}", file.metadata()),
        format!("{:?}", reread.metadata())
    );
    assert_eq!(file.tensors().len(), reread.tensors().len());
    for (a, b) in file.tensors().iter().zip(reread.tensors()) {
        assert_eq!(
            (&a.name, &a.dims, a.ggml_type),
            (&b.name, &b.dims, b.ggml_type)
        );
        assert_eq!((a.n_elements, a.n_bytes), (b.n_elements, b.n_bytes));
        assert_eq!(file.tensor_data(a), reread.tensor_data(b));
    }
    let rewritten = GgufWriter::from_gguf(&reread).to_bytes().unwrap();
    assert_eq!(written, rewritten, "writing is not idempotent");
});
