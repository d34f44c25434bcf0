//! Synthetic models for tests: small GGUF files written with the project's
//! own writer, with random weights, so tests of the forward pass, the KV
//! cache and the engine run without downloading anything.

use edgellm_gguf::{GgmlType, GgufWriter, Value};
use edgellm_kernels::quant::{quantize_row_weights, QuantType};

/// Shape of a synthetic llama-architecture model.
#[derive(Clone, Copy, Debug)]
pub struct TinyLlama {
    pub n_vocab: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub n_ff: usize,
    pub n_ctx: usize,
    /// Type of the weight matrices.
    pub ty: QuantType,
    pub seed: u64,
}

impl Default for TinyLlama {
    fn default() -> Self {
        TinyLlama {
            n_vocab: 96,
            n_embd: 64,
            n_layer: 2,
            n_head: 4,
            n_head_kv: 2,
            n_ff: 128,
            n_ctx: 256,
            ty: QuantType::Q8_0,
            seed: 1,
        }
    }
}

impl TinyLlama {
    /// The model as GGUF bytes.
    pub fn to_gguf(&self) -> Vec<u8> {
        let mut rng = self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut rand = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            ((rng >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        };
        let mut w = GgufWriter::new();
        w.add_kv("general.architecture", Value::from("llama"));
        let a = |k: &str| format!("llama.{k}");
        w.add_kv(a("context_length"), Value::U32(self.n_ctx as u32));
        w.add_kv(a("embedding_length"), Value::U32(self.n_embd as u32));
        w.add_kv(a("block_count"), Value::U32(self.n_layer as u32));
        w.add_kv(a("feed_forward_length"), Value::U32(self.n_ff as u32));
        w.add_kv(a("attention.head_count"), Value::U32(self.n_head as u32));
        w.add_kv(
            a("attention.head_count_kv"),
            Value::U32(self.n_head_kv as u32),
        );
        w.add_kv(a("attention.layer_norm_rms_epsilon"), Value::F32(1e-5));
        w.add_kv(a("rope.freq_base"), Value::F32(10000.0));
        let hd = self.n_embd / self.n_head;
        let kvd = hd * self.n_head_kv;
        let mut matrix =
            |w: &mut GgufWriter, name: &str, cols: usize, rows: usize, ty: QuantType| {
                let scale = 1.0 / (cols as f32).sqrt();
                let f: Vec<f32> = (0..cols * rows).map(|_| rand() * scale * 2.0).collect();
                let mut q = vec![0u8; ty.row_bytes(cols) * rows];
                let rb = ty.row_bytes(cols);
                for r in 0..rows {
                    quantize_row_weights(
                        ty,
                        &f[r * cols..(r + 1) * cols],
                        &mut q[r * rb..(r + 1) * rb],
                    );
                }
                w.add_tensor(name, &[cols as u64, rows as u64], GgmlType(ty as u32), q);
            };
        let vector = |w: &mut GgufWriter, name: &str, n: usize| {
            let data: Vec<u8> = (0..n)
                .flat_map(|i| (1.0f32 + 0.01 * i as f32).to_le_bytes())
                .collect();
            w.add_tensor(name, &[n as u64], GgmlType::F32, data);
        };
        matrix(
            &mut w,
            "token_embd.weight",
            self.n_embd,
            self.n_vocab,
            QuantType::Q8_0,
        );
        vector(&mut w, "output_norm.weight", self.n_embd);
        for il in 0..self.n_layer {
            let n = |s: &str| format!("blk.{il}.{s}.weight");
            vector(&mut w, &n("attn_norm"), self.n_embd);
            matrix(&mut w, &n("attn_q"), self.n_embd, self.n_embd, self.ty);
            matrix(&mut w, &n("attn_k"), self.n_embd, kvd, self.ty);
            matrix(&mut w, &n("attn_v"), self.n_embd, kvd, self.ty);
            matrix(&mut w, &n("attn_output"), self.n_embd, self.n_embd, self.ty);
            vector(&mut w, &n("ffn_norm"), self.n_embd);
            matrix(&mut w, &n("ffn_gate"), self.n_embd, self.n_ff, self.ty);
            matrix(&mut w, &n("ffn_up"), self.n_embd, self.n_ff, self.ty);
            matrix(&mut w, &n("ffn_down"), self.n_ff, self.n_embd, self.ty);
        }
        w.to_bytes().expect("synthetic model is valid")
    }
}
