//! Progress reporting without a UI dependency: the CLI implements [`Progress`] on top of its
//! progress bars; tests and servers use [`NoProgress`] or their own recorder.

/// Receives progress of a long store operation (a pull).
///
/// Calls come in phases: `start` (with the total byte count when known), any number of
/// `advance`, then `finish`. `message` may come at any time, for one-line notes such as
/// "resuming at byte N" or "waiting for another pull".
pub trait Progress {
    /// A new phase begins, e.g. downloading one wheel or verifying a digest.
    fn start(&mut self, what: &str, total_bytes: Option<u64>);
    /// `bytes` more bytes of the current phase are done.
    fn advance(&mut self, bytes: u64);
    /// The current phase is over.
    fn finish(&mut self);
    /// A note for the user, outside any phase's byte count.
    fn message(&mut self, msg: &str);
}

/// Discards all progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&mut self, _what: &str, _total_bytes: Option<u64>) {}
    fn advance(&mut self, _bytes: u64) {}
    fn finish(&mut self) {}
    fn message(&mut self, _msg: &str) {}
}
