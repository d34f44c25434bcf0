//! Progress bars (indicatif) for the store's long operations.

use edgellm_store::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Draws one bar per phase on stderr.
#[derive(Default)]
pub struct Bars {
    bar: Option<ProgressBar>,
}

impl Progress for Bars {
    fn start(&mut self, what: &str, total_bytes: Option<u64>) {
        let bar = match total_bytes {
            Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr())
                .with_style(
                    ProgressStyle::with_template(
                        "{msg} {bar:30.cyan/blue} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .expect("valid template")
                    .progress_chars("█▉▊▋▌▍▎▏ "),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{spinner} {msg} {bytes}").expect("valid template"),
            ),
        };
        bar.set_message(what.to_string());
        self.bar = Some(bar);
    }

    fn advance(&mut self, bytes: u64) {
        if let Some(b) = &self.bar {
            b.inc(bytes);
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
    }

    fn message(&mut self, msg: &str) {
        match &self.bar {
            Some(b) => b.println(msg),
            None => eprintln!("{msg}"),
        }
    }

    fn status(&mut self, status: &str) {
        self.message(status);
    }

    /// One bar per blob, left on screen when done.
    fn blob_start(&mut self, digest: &str, total_bytes: u64, completed_bytes: u64) {
        let short = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.start(
            &format!("pulling {}", &short[..short.len().min(12)]),
            Some(total_bytes),
        );
        self.advance(completed_bytes);
    }
}

/// Resolves a model argument (catalog name or `.gguf` path) to a file,
/// pulling a catalog model with progress bars on first use.
pub fn model_path(name: &str) -> anyhow::Result<std::path::PathBuf> {
    let store = edgellm_store::Store::open_default()?;
    Ok(store.resolve_and_ensure(name, &mut Bars::default())?)
}

/// Resolves a model argument with its manifest layers (parameters, system message,
/// messages), pulling a catalog model with progress bars on first use.
pub fn resolve_model(name: &str) -> anyhow::Result<edgellm_store::ResolvedModel> {
    let store = edgellm_store::Store::open_default()?;
    Ok(store.resolve_model_or_path_ensure(name, &mut Bars::default())?)
}
