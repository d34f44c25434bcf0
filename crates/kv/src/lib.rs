//! edgellm-kv: KV storage in fixed-size token chunks.
//!
//! A sequence's keys and values live in chunks of `chunk_tokens` positions
//! that span all layers (`[layer][k|v][token][kv_dim]`, f16). Chunking is the
//! unit that a later context manager compresses, swaps to disk or recomputes;
//! attention already walks the cache chunk by chunk, so none of that needs a
//! redesign of the model code.
//!
//! All chunks for the sequence's capacity are reserved when the cache is
//! created (zeroed allocations: the OS commits pages only when a chunk is
//! first written), so the decode step never allocates.

use half::f16;

/// Tokens per chunk by default: 32 positions × all layers is 0.7–1.8 MB of
/// f16 for the catalog models, a good unit for swap and compression.
pub const DEFAULT_CHUNK_TOKENS: usize = 32;

/// Upper bound on a cache's capacity in tokens (the largest trained context
/// the supported models have, 128k, with room to spare).
pub const MAX_CONTEXT_TOKENS: usize = 1 << 18;

/// Shape of one sequence's cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvLayout {
    pub n_layers: usize,
    /// Values per token per layer for K (and for V): n_head_kv × head_dim.
    pub kv_dim: usize,
    pub chunk_tokens: usize,
}

impl KvLayout {
    /// f16 values in one chunk.
    pub fn chunk_len(&self) -> usize {
        self.n_layers * 2 * self.chunk_tokens * self.kv_dim
    }

    /// Bytes of KV per token across all layers.
    pub fn bytes_per_token(&self) -> usize {
        self.n_layers * 2 * self.kv_dim * std::mem::size_of::<f16>()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("KV cache capacity of {requested} tokens exceeds the limit of {limit}")]
    TooLarge { requested: usize, limit: usize },
    #[error("invalid KV layout {0:?}: every dimension must be non-zero")]
    BadLayout(KvLayout),
}

/// One sequence's keys and values.
pub struct KvCache {
    layout: KvLayout,
    /// `capacity / chunk_tokens` (rounded up) chunks, each `layout.chunk_len()` values.
    chunks: Vec<Box<[f16]>>,
    capacity: usize,
    /// Positions `0..n_tokens` hold valid entries.
    n_tokens: usize,
}

/// One chunk's keys and values for one layer, as seen by attention.
pub struct ChunkView<'a> {
    /// Position of the chunk's first token.
    pub pos0: usize,
    /// Valid tokens in this chunk (the last chunk may be partial).
    pub n_valid: usize,
    /// `(chunk_tokens, kv_dim)`
    pub k: &'a [f16],
    /// `(chunk_tokens, kv_dim)`
    pub v: &'a [f16],
}

impl KvCache {
    /// Reserves a cache for `capacity` tokens.
    pub fn new(layout: KvLayout, capacity: usize) -> Result<KvCache, KvError> {
        if layout.n_layers == 0 || layout.kv_dim == 0 || layout.chunk_tokens == 0 {
            return Err(KvError::BadLayout(layout));
        }
        if capacity > MAX_CONTEXT_TOKENS {
            return Err(KvError::TooLarge {
                requested: capacity,
                limit: MAX_CONTEXT_TOKENS,
            });
        }
        let n_chunks = capacity.div_ceil(layout.chunk_tokens);
        let chunks = (0..n_chunks)
            .map(|_| vec![f16::ZERO; layout.chunk_len()].into_boxed_slice())
            .collect();
        Ok(KvCache {
            layout,
            chunks,
            capacity,
            n_tokens: 0,
        })
    }

    pub fn layout(&self) -> KvLayout {
        self.layout
    }

    /// Maximum positions this cache holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Positions currently holding valid entries.
    pub fn len(&self) -> usize {
        self.n_tokens
    }

    pub fn is_empty(&self) -> bool {
        self.n_tokens == 0
    }

    /// Forgets every position from `n` on (e.g. to reuse a shared prefix).
    pub fn truncate(&mut self, n: usize) {
        self.n_tokens = self.n_tokens.min(n);
    }

    /// Marks positions `0..n` as valid after they were written.
    ///
    /// # Panics
    /// If `n` exceeds the capacity (a programmer error: callers check the
    /// context length before running the model).
    pub fn set_len(&mut self, n: usize) {
        assert!(
            n <= self.capacity,
            "KV length {n} beyond capacity {}",
            self.capacity
        );
        self.n_tokens = n;
    }

    /// Bytes reserved for this cache.
    pub fn reserved_bytes(&self) -> usize {
        self.chunks.len() * self.layout.chunk_len() * std::mem::size_of::<f16>()
    }

    /// Bytes holding valid entries.
    pub fn used_bytes(&self) -> usize {
        self.n_tokens * self.layout.bytes_per_token()
    }

    fn offsets(&self, layer: usize, pos: usize) -> (usize, usize, usize) {
        let l = &self.layout;
        assert!(
            layer < l.n_layers && pos < self.capacity,
            "KV index out of range"
        );
        let chunk = pos / l.chunk_tokens;
        let t = pos % l.chunk_tokens;
        let layer_base = layer * 2 * l.chunk_tokens * l.kv_dim;
        let k_off = layer_base + t * l.kv_dim;
        let v_off = layer_base + (l.chunk_tokens + t) * l.kv_dim;
        (chunk, k_off, v_off)
    }

    /// Stores the key and value of `pos` for `layer`, converting to f16.
    pub fn write(&mut self, layer: usize, pos: usize, k: &[f32], v: &[f32]) {
        let kv_dim = self.layout.kv_dim;
        assert!(k.len() == kv_dim && v.len() == kv_dim, "K/V row length");
        let (c, ko, vo) = self.offsets(layer, pos);
        let chunk = &mut self.chunks[c];
        for (d, &s) in chunk[ko..ko + kv_dim].iter_mut().zip(k) {
            *d = f16::from_f32(s);
        }
        for (d, &s) in chunk[vo..vo + kv_dim].iter_mut().zip(v) {
            *d = f16::from_f32(s);
        }
    }

    /// The stored key of `pos` for `layer`.
    pub fn k(&self, layer: usize, pos: usize) -> &[f16] {
        let (c, ko, _) = self.offsets(layer, pos);
        &self.chunks[c][ko..ko + self.layout.kv_dim]
    }

    /// The stored value of `pos` for `layer`.
    pub fn v(&self, layer: usize, pos: usize) -> &[f16] {
        let (c, _, vo) = self.offsets(layer, pos);
        &self.chunks[c][vo..vo + self.layout.kv_dim]
    }

    /// The chunks covering positions `start..end` of `layer`, in order.
    /// `end` may exceed `len()` while a batch is being written: callers pass
    /// the positions they know are written.
    pub fn chunks(
        &self,
        layer: usize,
        start: usize,
        end: usize,
    ) -> impl Iterator<Item = ChunkView<'_>> {
        let l = self.layout;
        assert!(end <= self.capacity && layer < l.n_layers);
        let first = start / l.chunk_tokens;
        let last = end.div_ceil(l.chunk_tokens);
        let block = l.chunk_tokens * l.kv_dim;
        (first..last).map(move |c| {
            let pos0 = c * l.chunk_tokens;
            let base = layer * 2 * block;
            let data = &self.chunks[c];
            ChunkView {
                pos0,
                n_valid: end.min(pos0 + l.chunk_tokens) - pos0,
                k: &data[base..base + block],
                v: &data[base + block..base + 2 * block],
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> KvLayout {
        KvLayout {
            n_layers: 3,
            kv_dim: 4,
            chunk_tokens: 8,
        }
    }

    #[test]
    fn write_then_read_every_position_and_layer() {
        let mut kv = KvCache::new(layout(), 20).unwrap();
        assert_eq!(kv.reserved_bytes(), 3 * 3 * 2 * 8 * 4 * 2);
        for layer in 0..3 {
            for pos in 0..20 {
                let k: Vec<f32> = (0..4).map(|i| (layer * 100 + pos * 4 + i) as f32).collect();
                let v: Vec<f32> = k.iter().map(|x| -x).collect();
                kv.write(layer, pos, &k, &v);
            }
        }
        kv.set_len(20);
        for layer in 0..3 {
            for pos in 0..20 {
                assert_eq!(
                    kv.k(layer, pos)[3].to_f32(),
                    (layer * 100 + pos * 4 + 3) as f32
                );
                assert_eq!(
                    kv.v(layer, pos)[0].to_f32(),
                    -((layer * 100 + pos * 4) as f32)
                );
            }
        }
    }

    #[test]
    fn chunks_cover_the_requested_range() {
        let mut kv = KvCache::new(layout(), 20).unwrap();
        for pos in 0..20 {
            kv.write(1, pos, &[pos as f32; 4], &[0.0; 4]);
        }
        let views: Vec<_> = kv.chunks(1, 5, 19).collect();
        assert_eq!(
            views
                .iter()
                .map(|v| (v.pos0, v.n_valid))
                .collect::<Vec<_>>(),
            vec![(0, 8), (8, 8), (16, 3)]
        );
        for v in &views {
            for t in 0..v.n_valid {
                assert_eq!(v.k[t * 4].to_f32(), (v.pos0 + t) as f32);
            }
        }
    }

    #[test]
    fn limits_are_enforced() {
        assert!(matches!(
            KvCache::new(layout(), MAX_CONTEXT_TOKENS + 1),
            Err(KvError::TooLarge { .. })
        ));
        let bad = KvLayout {
            kv_dim: 0,
            ..layout()
        };
        assert!(matches!(KvCache::new(bad, 8), Err(KvError::BadLayout(_))));
    }

    #[test]
    fn truncate_keeps_a_prefix() {
        let mut kv = KvCache::new(layout(), 16).unwrap();
        kv.set_len(10);
        kv.truncate(4);
        assert_eq!(kv.len(), 4);
        kv.truncate(9);
        assert_eq!(kv.len(), 4);
    }
}
