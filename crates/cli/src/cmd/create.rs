//! `edgellm create NAME -f Modelfile`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct CreateArgs {
    pub model: String,
    /// The Modelfile; paths in it are relative to its directory.
    #[arg(short = 'f', long = "file", default_value = "Modelfile")]
    pub file: PathBuf,
}

pub fn run(a: CreateArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.file)
        .with_context(|| format!("reading {}", a.file.display()))?;
    let base_dir = match a.file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let store = edgellm_store::Store::open_default()?;
    store
        .create(
            &a.model,
            &text,
            &base_dir,
            &mut crate::progress::Bars::default(),
        )
        .with_context(|| format!("{}", a.file.display()))?;
    Ok(())
}
