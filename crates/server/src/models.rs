//! Loaded models: load on first use, `keep_alive` expiry, a cap on how many
//! stay loaded (least recently used goes first), unload on request.

use crate::error::ApiError;
use crate::metrics::Metrics;
use edgellm_engine::{LoadedModel, Runner, RunnerConfig};
use edgellm_store::Store;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How long a model stays loaded after its last request (Ollama's
/// `keep_alive`): a duration, or forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepAlive {
    For(Duration),
    Forever,
}

impl KeepAlive {
    pub const DEFAULT: KeepAlive = KeepAlive::For(Duration::from_secs(300));

    /// Ollama's forms: a number of seconds, or a Go duration string
    /// (`"5m"`, `"1h30m"`, `"10s"`, `"0"`); negative means forever.
    pub fn parse(v: &serde_json::Value) -> Result<KeepAlive, ApiError> {
        let bad = || {
            ApiError::bad_field(
                "keep_alive",
                format!("{v} is not a duration (use seconds, or a string such as \"5m\", \"1h\", \"-1\")"),
            )
        };
        let secs: f64 = match v {
            serde_json::Value::Number(n) => n.as_f64().ok_or_else(bad)?,
            serde_json::Value::String(s) => parse_go_duration(s).ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        if !secs.is_finite() {
            return Err(bad());
        }
        if secs < 0.0 {
            return Ok(KeepAlive::Forever);
        }
        Ok(KeepAlive::For(Duration::from_secs_f64(secs.min(1e9))))
    }

    pub fn is_zero(self) -> bool {
        self == KeepAlive::For(Duration::ZERO)
    }
}

/// Seconds in a Go duration string (`"1h2m3.5s"`, `"300ms"`, `"-1"`, `"10"`).
fn parse_go_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return Some(n);
    }
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * scale;
    }
    Some(if neg { -total } else { total })
}

/// A runner handed to a request.
pub struct Acquired {
    /// The model's canonical name (`name:tag`).
    pub name: String,
    pub runner: Arc<Runner>,
    /// Time this request spent loading the model.
    pub load: Duration,
    /// The manifest's defaults (parameters, system, messages).
    pub model: ModelRef,
}

/// A model of the store, resolved.
#[derive(Clone, Debug)]
pub struct ModelRef {
    /// Canonical name (`name:tag`).
    pub name: String,
    pub path: PathBuf,
    /// sha256 (hex) of the manifest.
    pub digest: String,
    pub size: u64,
    /// Default options from the params layer.
    pub params: serde_json::Map<String, serde_json::Value>,
    pub system: Option<String>,
    pub messages: Vec<edgellm_store::Message>,
}

/// A store error as HTTP: not found ⇒ 404 (Ollama's wording), bad names ⇒ 400.
pub fn store_error(name: &str, e: edgellm_store::StoreError) -> ApiError {
    if e.is_not_found() {
        ApiError::model_not_found(name)
    } else if e.is_bad_request() {
        ApiError::bad_request(e.to_string())
    } else {
        ApiError::internal(e.to_string())
    }
}

/// A model in memory.
pub struct Entry {
    pub name: String,
    pub runner: Arc<Runner>,
    pub path: PathBuf,
    pub digest: String,
    pub size: u64,
    /// `None`: stays until unloaded.
    pub expires: Option<Instant>,
    pub expires_wall: Option<SystemTime>,
    pub last_used: Instant,
}

/// What `/api/ps` reports of a loaded model.
#[derive(Clone, Debug)]
pub struct LoadedInfo {
    pub name: String,
    pub path: PathBuf,
    pub digest: String,
    pub size: u64,
    pub expires_at: Option<SystemTime>,
    pub context_length: usize,
    pub kv_bytes: usize,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ManagerConfig {
    pub max_loaded: usize,
    pub runner: RunnerConfigSerde,
    pub default_keep_alive_secs: Option<f64>,
}

/// The engine's runner settings (serde mirror for the config file/flags).
#[derive(Clone, Debug, Deserialize)]
pub struct RunnerConfigSerde {
    pub n_parallel: usize,
    pub queue: usize,
    pub n_threads: usize,
    pub n_batch: usize,
    pub prefill_chunk: usize,
}

impl From<&RunnerConfigSerde> for RunnerConfig {
    fn from(r: &RunnerConfigSerde) -> RunnerConfig {
        RunnerConfig {
            n_parallel: r.n_parallel,
            queue: r.queue,
            n_threads: r.n_threads,
            n_batch: r.n_batch,
            prefill_chunk: r.prefill_chunk,
        }
    }
}

/// The models the server has in memory.
pub struct Manager {
    pub store: Store,
    config: ManagerConfig,
    loaded: Mutex<HashMap<String, Entry>>,
    /// Loads run one at a time (memory is the constraint on an edge device).
    load_lock: tokio::sync::Mutex<()>,
    loading: AtomicUsize,
    metrics: Arc<Metrics>,
}

impl Manager {
    pub fn new(store: Store, config: ManagerConfig, metrics: Arc<Metrics>) -> Manager {
        Manager {
            store,
            config,
            loaded: Mutex::new(HashMap::new()),
            load_lock: tokio::sync::Mutex::new(()),
            loading: AtomicUsize::new(0),
            metrics,
        }
    }

    pub fn default_keep_alive(&self) -> KeepAlive {
        match self.config.default_keep_alive_secs {
            Some(s) if s < 0.0 => KeepAlive::Forever,
            Some(s) => KeepAlive::For(Duration::from_secs_f64(s)),
            None => KeepAlive::DEFAULT,
        }
    }

    /// Whether a load is in progress (`/health` answers 503 then).
    pub fn is_loading(&self) -> bool {
        self.loading.load(Ordering::SeqCst) > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The store's model named `name` (never an arbitrary file path): its
    /// GGUF and the defaults its manifest carries.
    pub fn resolve(&self, name: &str) -> Result<ModelRef, ApiError> {
        if name.trim().is_empty() {
            return Err(ApiError::bad_field("model", "is required"));
        }
        let m = self
            .store
            .resolve_model(name)
            .map_err(|e| store_error(name, e))?;
        let size = std::fs::metadata(&m.model_path)
            .map(|md| md.len())
            .unwrap_or(0);
        Ok(ModelRef {
            name: m.name,
            path: m.model_path,
            digest: m.digest.unwrap_or_default(),
            size,
            params: m.params,
            system: m.system,
            messages: m.messages,
        })
    }

    /// The runner for `name`, loading it if needed, with the model's
    /// canonical name and the time spent loading for this request.
    /// Refreshes the keep-alive.
    pub async fn acquire(&self, name: &str, keep_alive: KeepAlive) -> Result<Acquired, ApiError> {
        let model = self.resolve(name)?;
        let canonical = model.name.clone();
        if let Some(runner) = self.touch(&canonical, keep_alive) {
            return Ok(Acquired {
                name: canonical,
                runner,
                load: Duration::ZERO,
                model,
            });
        }
        let _guard = self.load_lock.lock().await;
        // Loaded while we waited for the lock?
        if let Some(runner) = self.touch(&canonical, keep_alive) {
            return Ok(Acquired {
                name: canonical,
                runner,
                load: Duration::ZERO,
                model,
            });
        }
        let (path, digest, size) = (model.path.clone(), model.digest.clone(), model.size);
        self.make_room().await;
        self.loading.fetch_add(1, Ordering::SeqCst);
        let t0 = Instant::now();
        let load_path = path.clone();
        let runner_cfg = RunnerConfig::from(&self.config.runner);
        let loaded = tokio::task::spawn_blocking(move || {
            LoadedModel::load(&load_path).map(|m| Runner::start(Arc::new(m), runner_cfg))
        })
        .await;
        self.loading.fetch_sub(1, Ordering::SeqCst);
        let runner = match loaded {
            Ok(Ok(r)) => Arc::new(r),
            Ok(Err(e)) => {
                return Err(ApiError::internal(format!(
                    "failed to load model '{name}': {e}"
                )))
            }
            Err(e) => return Err(ApiError::internal(format!("model load panicked: {e}"))),
        };
        let load = t0.elapsed();
        tracing::info!(model = %canonical, load_ms = load.as_millis() as u64, "model loaded");
        let now = Instant::now();
        let (expires, expires_wall) = expiry(keep_alive);
        self.lock().insert(
            canonical.clone(),
            Entry {
                name: canonical.clone(),
                runner: Arc::clone(&runner),
                path,
                digest,
                size,
                expires,
                expires_wall,
                last_used: now,
            },
        );
        self.metrics.loaded_models.set(self.lock().len() as i64);
        Ok(Acquired {
            name: canonical,
            runner,
            load,
            model,
        })
    }

    /// Refreshes the keep-alive of a loaded model; returns its runner.
    pub fn touch(&self, canonical: &str, keep_alive: KeepAlive) -> Option<Arc<Runner>> {
        let mut map = self.lock();
        let e = map.get_mut(canonical)?;
        let (expires, wall) = expiry(keep_alive);
        e.expires = expires;
        e.expires_wall = wall;
        e.last_used = Instant::now();
        Some(Arc::clone(&e.runner))
    }

    /// Keeps at most `max_loaded - 1` models so one more fits: evicts the
    /// least recently used idle ones.
    async fn make_room(&self) {
        let max = self.config.max_loaded.max(1);
        loop {
            let victim = {
                let map = self.lock();
                if map.len() < max {
                    return;
                }
                map.values()
                    .filter(|e| !e.runner.busy())
                    .min_by_key(|e| e.last_used)
                    .map(|e| e.name.clone())
            };
            match victim {
                Some(name) => self.unload(&name).await,
                // Every loaded model is busy: load anyway rather than fail;
                // the cap is enforced as soon as one goes idle.
                None => return,
            }
        }
    }

    /// Unloads `canonical` (after its running requests finish).
    pub async fn unload(&self, canonical: &str) {
        let entry = self.lock().remove(canonical);
        self.metrics.loaded_models.set(self.lock().len() as i64);
        if let Some(e) = entry {
            tracing::info!(model = %canonical, "unloading model");
            // Joining the engine thread blocks: not on the async runtime.
            let _ = tokio::task::spawn_blocking(move || drop(e)).await;
        }
    }

    /// Unloads the models whose keep-alive ran out and are idle.
    pub async fn reap(&self) {
        let now = Instant::now();
        let expired: Vec<String> = self
            .lock()
            .values()
            .filter(|e| e.expires.is_some_and(|t| t <= now) && !e.runner.busy())
            .map(|e| e.name.clone())
            .collect();
        for name in expired {
            self.unload(&name).await;
        }
    }

    pub fn loaded(&self) -> Vec<LoadedInfo> {
        let map = self.lock();
        let mut v: Vec<LoadedInfo> = map
            .values()
            .map(|e| LoadedInfo {
                name: e.name.clone(),
                path: e.path.clone(),
                digest: e.digest.clone(),
                size: e.size,
                expires_at: e.expires_wall,
                context_length: e.runner.loaded.model.hp.n_ctx_train,
                kv_bytes: e.runner.status().kv_bytes_used.load(Ordering::Relaxed),
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Sum over loaded models of (waiting, KV bytes in use).
    pub fn totals(&self) -> (usize, usize) {
        let map = self.lock();
        map.values().fold((0, 0), |(w, kv), e| {
            let s = e.runner.status();
            (
                w + s.waiting.load(Ordering::Relaxed),
                kv + s.kv_bytes_used.load(Ordering::Relaxed),
            )
        })
    }

    /// Unloads everything (server shutdown).
    pub async fn unload_all(&self) {
        let names: Vec<String> = self.lock().keys().cloned().collect();
        for n in names {
            self.unload(&n).await;
        }
    }
}

fn expiry(k: KeepAlive) -> (Option<Instant>, Option<SystemTime>) {
    match k {
        KeepAlive::Forever => (None, None),
        KeepAlive::For(d) => (Some(Instant::now() + d), Some(SystemTime::now() + d)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keep_alive_forms() {
        let secs = |v| match KeepAlive::parse(&v).unwrap() {
            KeepAlive::For(d) => d.as_secs_f64(),
            KeepAlive::Forever => -1.0,
        };
        assert_eq!(secs(json!("5m")), 300.0);
        assert_eq!(secs(json!("1h30m")), 5400.0);
        assert_eq!(secs(json!("1.5s")), 1.5);
        assert_eq!(secs(json!("300ms")), 0.3);
        assert_eq!(secs(json!(10)), 10.0);
        assert_eq!(secs(json!("0")), 0.0);
        assert_eq!(secs(json!(-1)), -1.0);
        assert_eq!(secs(json!("-1m")), -1.0);
        for bad in [
            json!("soon"),
            json!("5x"),
            json!(true),
            json!(""),
            json!("m"),
        ] {
            let e = KeepAlive::parse(&bad).unwrap_err();
            assert!(e.message.contains("keep_alive"), "{}", e.message);
        }
    }
}
