//! `edgellm tokenize`: token ids of texts, like llama-tokenize.

use crate::progress::model_path;
use anyhow::{Context, Result};
use clap::Args;
use edgellm_gguf::GgufFile;
use std::io::Write;

#[derive(Args, Debug)]
pub struct TokenizeArgs {
    /// A catalog name or a path to a .gguf file.
    pub model: String,
    /// The text to tokenize (or use --file).
    pub text: Option<String>,
    /// Tokenize each line of this file separately; one result per line.
    #[arg(long, conflicts_with = "text")]
    pub file: Option<std::path::PathBuf>,
    /// Print a JSON array of ids per text.
    #[arg(long)]
    pub json: bool,
    /// Print each id with its piece.
    #[arg(long, conflicts_with = "json")]
    pub pieces: bool,
    /// Add BOS/EOS as the model's vocabulary asks.
    #[arg(long)]
    pub add_special: bool,
    /// Do not treat special-token texts (e.g. <|im_start|>) in the input as special tokens.
    #[arg(long)]
    pub no_parse_special: bool,
}

pub fn run(a: TokenizeArgs) -> Result<()> {
    let path = model_path(&a.model)?;
    let file = GgufFile::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let tok = edgellm_tokenizer::Tokenizer::from_gguf(&file)?;
    let texts: Vec<String> = match (&a.text, &a.file) {
        (Some(t), None) => vec![t.clone()],
        (None, Some(f)) => std::fs::read_to_string(f)
            .with_context(|| format!("reading {}", f.display()))?
            .lines()
            .map(str::to_string)
            .collect(),
        _ => anyhow::bail!("give a TEXT or --file"),
    };
    let mut out = std::io::stdout().lock();
    for text in &texts {
        let ids = tok.encode(text, a.add_special, !a.no_parse_special)?;
        if a.json {
            writeln!(out, "{}", serde_json::to_string(&ids)?)?;
        } else if a.pieces {
            for id in &ids {
                let piece = String::from_utf8_lossy(tok.token_to_piece(*id, true));
                writeln!(out, "{id:>6} -> '{piece}'")?;
            }
        } else {
            let s: Vec<String> = ids.iter().map(u32::to_string).collect();
            writeln!(out, "{}", s.join(" "))?;
        }
    }
    Ok(())
}
