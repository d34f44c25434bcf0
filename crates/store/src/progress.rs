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

    /// One of Ollama's pull and create statuses (`pulling manifest`, `verifying sha256
    /// digest`, `writing manifest`, `success`, ...). An HTTP server streams these as
    /// `{"status": ...}`; by default they are messages.
    fn status(&mut self, status: &str) {
        self.message(status);
    }

    /// A phase that moves one blob begins: `digest` is `sha256:<hex>`, `completed_bytes`
    /// are already there (a resumed or existing blob). `advance` and `finish` follow. An HTTP
    /// server streams `{"status": "pulling <short>", "digest", "total", "completed"}`.
    fn blob_start(&mut self, digest: &str, total_bytes: u64, completed_bytes: u64) {
        let short = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.start(
            &format!("pulling {}", &short[..short.len().min(12)]),
            Some(total_bytes),
        );
        self.advance(completed_bytes);
    }
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
