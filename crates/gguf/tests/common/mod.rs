//! A raw little-endian byte builder for handcrafting GGUF files, valid or not,
//! without going through `GgufWriter` (which refuses to write invalid files).
#![allow(dead_code)]

use edgellm_gguf::GgufFile;

/// Value type ids of the format.
pub const T_U8: u32 = 0;
pub const T_U32: u32 = 4;
pub const T_I32: u32 = 5;
pub const T_BOOL: u32 = 7;
pub const T_STRING: u32 = 8;
pub const T_ARRAY: u32 = 9;

/// ggml type ids.
pub const G_F32: u32 = 0;
pub const G_Q4_0: u32 = 2;

#[derive(Clone, Default)]
pub struct Raw(pub Vec<u8>);

impl Raw {
    /// `GGUF`, version, tensor count, kv count.
    pub fn header(version: u32, n_tensors: u64, n_kv: u64) -> Raw {
        let mut r = Raw(b"GGUF".to_vec());
        r.u32(version).u64(n_tensors).u64(n_kv);
        r
    }
    pub fn len(&self) -> u64 {
        self.0.len() as u64
    }
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64).bytes(s.as_bytes())
    }
    pub fn kv_u32(&mut self, key: &str, v: u32) -> &mut Self {
        self.str(key).u32(T_U32).u32(v)
    }
    pub fn kv_str(&mut self, key: &str, v: &str) -> &mut Self {
        self.str(key).u32(T_STRING).str(v)
    }
    /// A tensor info entry: name, n_dims, ne[..], type, offset.
    pub fn tensor(&mut self, name: &str, dims: &[u64], ggml_type: u32, offset: u64) -> &mut Self {
        self.str(name).u32(dims.len() as u32);
        for &d in dims {
            self.u64(d);
        }
        self.u32(ggml_type).u64(offset)
    }
    /// Zero bytes up to the next multiple of `a`.
    pub fn pad(&mut self, a: u64) -> &mut Self {
        while !self.len().is_multiple_of(a) {
            self.u8(0);
        }
        self
    }
    pub fn zeros(&mut self, n: usize) -> &mut Self {
        self.0.resize(self.0.len() + n, 0);
        self
    }
    pub fn build(&self) -> Vec<u8> {
        self.0.clone()
    }
}

/// Parses `bytes`, expecting an error; returns its message.
#[track_caller]
pub fn parse_err(bytes: Vec<u8>) -> String {
    match GgufFile::from_bytes(bytes) {
        Ok(f) => panic!("expected a parse error, got {f:?}"),
        Err(e) => e.to_string(),
    }
}

/// Asserts `msg` contains every one of `needles`.
#[track_caller]
pub fn assert_mentions(msg: &str, needles: &[&str]) {
    for n in needles {
        assert!(
            msg.contains(n),
            "error message {msg:?} does not mention {n:?}"
        );
    }
}

/// A small valid file with two F32 tensors and a string key, built by hand.
pub fn small_valid_file() -> Vec<u8> {
    let mut r = Raw::header(3, 2, 2);
    r.kv_str("general.architecture", "llama")
        .str("general.flags")
        .u32(T_ARRAY)
        .u32(T_BOOL)
        .u64(3)
        .bytes(&[1, 0, 1]);
    r.tensor("a", &[4], G_F32, 0)
        .tensor("b", &[2, 2], G_F32, 32);
    r.pad(32);
    r.bytes(&[1; 16]).pad(32).bytes(&[2; 16]);
    r.build()
}
