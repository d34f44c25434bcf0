//! `edgellm pull`: fetch a model into the store (catalog, Hugging Face, Ollama registry, URL).

use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct PullArgs {
    /// A catalog name (smollm2:135m), an Ollama registry name (llama3.2:1b), a Hugging Face
    /// reference (hf.co/{user}/{repo}:{quant}), or a direct https URL to a .gguf file.
    pub model: String,
}

pub fn run(a: PullArgs) -> Result<()> {
    let store = edgellm_store::Store::open_default()?;
    let pulled = store.pull(&a.model, &mut crate::progress::Bars::default())?;
    // The file's path on stdout, for scripts.
    println!("{}", pulled.model_path.display());
    Ok(())
}
