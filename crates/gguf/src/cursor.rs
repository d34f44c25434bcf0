//! Bounds-checked little-endian reads over a byte slice.
//!
//! Every read names what it is reading through a `what` closure; the closure
//! only runs (and only allocates) when the read fails.

use crate::error::GgufError;

pub(crate) type Result<T> = std::result::Result<T, GgufError>;

/// A read position in the file's bytes.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    /// Absolute offset of the next byte to read.
    pub(crate) fn offset(&self) -> u64 {
        self.pos as u64
    }

    /// Bytes left after the read position.
    pub(crate) fn remaining(&self) -> u64 {
        (self.bytes.len() - self.pos) as u64
    }

    /// Takes the next `n` bytes, or reports `what` as truncated.
    pub(crate) fn take(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(GgufError::Truncated {
                what: what(),
                offset: self.offset(),
                needed: n,
                available: self.remaining(),
            });
        }
        // n <= remaining <= usize::MAX, so the cast is lossless.
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.bytes[start..self.pos])
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N]> {
        let b = self.take(N as u64, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &dyn Fn() -> String) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    pub(crate) fn u16(&mut self, what: &dyn Fn() -> String) -> Result<u16> {
        self.array(what).map(u16::from_le_bytes)
    }
    pub(crate) fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }
    pub(crate) fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// Checks that `count` items of at least `min_size` bytes each can still fit
    /// in the file, before anything is allocated for them.
    pub(crate) fn ensure_room(
        &self,
        count: u64,
        min_size: u64,
        offset: u64,
        what: &dyn Fn() -> String,
    ) -> Result<()> {
        let needed = count.saturating_mul(min_size);
        if needed > self.remaining() {
            return Err(GgufError::Truncated {
                what: format!(
                    "{} (count {count} × at least {min_size} bytes each)",
                    what()
                ),
                offset,
                needed,
                available: self.remaining(),
            });
        }
        Ok(())
    }

    /// A `u64`-length-prefixed UTF-8 string of at most `max_len` bytes.
    pub(crate) fn string(
        &mut self,
        max_len: u64,
        limit_name: &'static str,
        what: &dyn Fn() -> String,
    ) -> Result<String> {
        let offset = self.offset();
        let len = self.u64(&|| format!("{} length", what()))?;
        check_limit(len, max_len, limit_name, offset, &|| {
            format!("{} length", what())
        })?;
        let bytes = self.take(len, what)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(GgufError::Invalid {
                what: what(),
                offset,
                reason: format!(
                    "string is not valid UTF-8 (bad byte at offset {})",
                    offset + 8 + e.valid_up_to() as u64
                ),
            }),
        }
    }
}

/// `Err(LimitExceeded)` when `value > limit`.
pub(crate) fn check_limit(
    value: u64,
    limit: u64,
    limit_name: &'static str,
    offset: u64,
    what: &dyn Fn() -> String,
) -> Result<()> {
    if value > limit {
        return Err(GgufError::LimitExceeded {
            what: what(),
            offset,
            value,
            limit,
            limit_name,
        });
    }
    Ok(())
}
