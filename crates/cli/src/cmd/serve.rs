//! `edgellm serve`: Ollama's and OpenAI's HTTP APIs on this machine.

use anyhow::{bail, Context, Result};
use clap::Args;
use edgellm_server::{ManagerConfig, RunnerConfigSerde, ServerConfig};
use std::net::{SocketAddr, ToSocketAddrs};

/// Ollama's default address.
const DEFAULT_HOST: &str = "127.0.0.1:11434";

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on, HOST:PORT (default 127.0.0.1:11434, or
    /// $EDGELLM_HOST, or $OLLAMA_HOST). Only loopback unless you say otherwise.
    #[arg(long)]
    pub host: Option<String>,
    /// Require `Authorization: Bearer KEY` on every route but /health.
    #[arg(long, env = "EDGELLM_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Extra CORS origins to allow (loopback origins always are); `*` for any.
    #[arg(long = "origin", env = "EDGELLM_ORIGINS", value_delimiter = ',')]
    pub origins: Vec<String>,
    /// Sequences decoded together per model (continuous batching).
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
    /// Requests that may wait per model when all slots are busy (then 503).
    #[arg(long, default_value_t = 32)]
    pub queue: usize,
    /// Worker threads per model.
    #[arg(short = 't', long)]
    pub threads: Option<usize>,
    /// Tokens per forward pass at most.
    #[arg(long, default_value_t = 512)]
    pub batch: usize,
    /// Prompt tokens per pass while other streams decode.
    #[arg(long, default_value_t = 64)]
    pub prefill_chunk: usize,
    /// Models kept loaded at once (least recently used is unloaded first).
    #[arg(long, default_value_t = 2)]
    pub max_loaded: usize,
    /// Default keep-alive in seconds (negative: forever).
    #[arg(long, default_value_t = 300.0, allow_negative_numbers = true)]
    pub keep_alive: f64,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 8 << 20)]
    pub max_body: usize,
}

/// HOST:PORT from the flag or the environment, as Ollama reads OLLAMA_HOST
/// (a scheme is allowed, a missing port means 11434).
fn listen_addr(flag: Option<&str>) -> Result<SocketAddr> {
    let from_env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let raw = flag
        .map(str::to_string)
        .or_else(|| from_env("EDGELLM_HOST"))
        .or_else(|| from_env("OLLAMA_HOST"))
        .unwrap_or_else(|| DEFAULT_HOST.to_string());
    let s = raw.trim();
    let s = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .unwrap_or(s)
        .trim_end_matches('/');
    let with_port = if s.starts_with('[') {
        if s.contains("]:") {
            s.to_string()
        } else {
            format!("{s}:11434")
        }
    } else if s.contains(':') {
        s.to_string()
    } else {
        format!("{s}:11434")
    };
    let with_host = if with_port.starts_with(':') {
        format!("127.0.0.1{with_port}")
    } else {
        with_port
    };
    let addr = with_host
        .to_socket_addrs()
        .with_context(|| format!("cannot use {raw:?} as a listen address (HOST:PORT)"))?
        .next()
        .with_context(|| format!("{raw:?} resolves to no address"))?;
    Ok(addr)
}

pub fn run(a: ServeArgs) -> Result<()> {
    let addr = listen_addr(a.host.as_deref())?;
    if !addr.ip().is_loopback() {
        tracing::warn!(
            "listening beyond loopback on {addr}: anyone who can reach it can use your models"
        );
        if a.api_key.is_none() {
            eprintln!("warning: {addr} is reachable from other machines and no --api-key is set");
        }
    }
    if a.parallel == 0 || a.queue == 0 || a.batch == 0 || a.max_loaded == 0 {
        bail!("--parallel, --queue, --batch and --max-loaded must be at least 1");
    }
    let store = edgellm_store::Store::open_default()?;
    let config = ServerConfig {
        addr,
        api_key: a.api_key.filter(|k| !k.is_empty()),
        allowed_origins: a.origins,
        max_body_bytes: a.max_body,
        manager: ManagerConfig {
            max_loaded: a.max_loaded,
            default_keep_alive_secs: Some(a.keep_alive),
            runner: RunnerConfigSerde {
                n_parallel: a.parallel,
                queue: a.queue,
                n_threads: a.threads.unwrap_or_else(edgellm_engine::default_threads),
                n_batch: a.batch,
                prefill_chunk: a.prefill_chunk,
            },
        },
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(edgellm_server::serve(config, store))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_read_like_ollama_host() {
        let a = |s: &str| listen_addr(Some(s)).unwrap().to_string();
        assert_eq!(a("127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(a("http://127.0.0.1:9000/"), "127.0.0.1:9000");
        assert_eq!(a("127.0.0.1"), "127.0.0.1:11434");
        assert_eq!(a(":7000"), "127.0.0.1:7000");
        assert_eq!(a("[::1]:7000"), "[::1]:7000");
        assert!(listen_addr(Some("no such host name:1")).is_err());
    }
}
