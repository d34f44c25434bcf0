//! `edgellm ps`: the models a running server has loaded (GET /api/ps).

use anyhow::{Context, Result};
use clap::Args;

#[derive(Args)]
pub struct PsArgs {
    /// Server address (default $EDGELLM_HOST, $OLLAMA_HOST or 127.0.0.1:11434).
    #[arg(long)]
    pub host: Option<String>,
}

pub fn run(a: PsArgs) -> Result<()> {
    let from_env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let host = a
        .host
        .or_else(|| from_env("EDGELLM_HOST"))
        .or_else(|| from_env("OLLAMA_HOST"))
        .unwrap_or_else(|| "127.0.0.1:11434".into());
    let base = if host.starts_with("http") {
        host.trim_end_matches('/').to_string()
    } else {
        format!("http://{host}")
    };
    let mut req = ureq::get(&format!("{base}/api/ps"));
    if let Some(key) = from_env("EDGELLM_API_KEY") {
        req = req.set("Authorization", &format!("Bearer {key}"));
    }
    let body: serde_json::Value = req
        .call()
        .with_context(|| {
            format!("cannot reach an edgellm server at {base} (is `edgellm serve` running?)")
        })?
        .into_json()
        .context("reading /api/ps")?;
    let models = body["models"].as_array().cloned().unwrap_or_default();
    println!(
        "{:<24} {:<14} {:>10} {:>9}  UNTIL",
        "NAME", "ID", "SIZE", "CONTEXT"
    );
    for m in models {
        let size = m["size"].as_u64().unwrap_or(0) as f64;
        println!(
            "{:<24} {:<14} {:>7.0} MB {:>9}  {}",
            m["name"].as_str().unwrap_or("?"),
            m["digest"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(12)
                .collect::<String>(),
            size / 1e6,
            m["context_length"],
            m["expires_at"].as_str().unwrap_or("forever"),
        );
    }
    Ok(())
}
