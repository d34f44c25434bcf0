//! `GET /metrics`: Prometheus text exposition of what the server does.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    pub model: String,
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RouteLabels, Counter>,
    pub prompt_tokens: Family<ModelLabels, Counter>,
    pub generated_tokens: Family<ModelLabels, Counter>,
    pub prompt_tps: Family<ModelLabels, Histogram>,
    pub decode_tps: Family<ModelLabels, Histogram>,
    pub queue_depth: Gauge,
    pub loaded_models: Gauge,
    pub kv_bytes: Gauge,
}

fn tps_buckets() -> Histogram {
    Histogram::new([
        1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0,
    ])
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("edgellm");
        let requests = Family::<RouteLabels, Counter>::default();
        let prompt_tokens = Family::<ModelLabels, Counter>::default();
        let generated_tokens = Family::<ModelLabels, Counter>::default();
        let prompt_tps = Family::<ModelLabels, Histogram>::new_with_constructor(
            tps_buckets as fn() -> Histogram,
        );
        let decode_tps = Family::<ModelLabels, Histogram>::new_with_constructor(
            tps_buckets as fn() -> Histogram,
        );
        let queue_depth = Gauge::default();
        let loaded_models = Gauge::default();
        let kv_bytes = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "prompt_tokens",
            "Prompt tokens evaluated",
            prompt_tokens.clone(),
        );
        registry.register(
            "generated_tokens",
            "Tokens generated",
            generated_tokens.clone(),
        );
        registry.register(
            "prompt_tokens_per_second",
            "Prompt evaluation speed per request",
            prompt_tps.clone(),
        );
        registry.register(
            "decode_tokens_per_second",
            "Generation speed per request",
            decode_tps.clone(),
        );
        registry.register(
            "queue_depth",
            "Requests waiting for a slot",
            queue_depth.clone(),
        );
        registry.register("loaded_models", "Models in memory", loaded_models.clone());
        registry.register(
            "kv_cache_bytes",
            "KV cache bytes holding tokens",
            kv_bytes.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            requests,
            prompt_tokens,
            generated_tokens,
            prompt_tps,
            decode_tps,
            queue_depth,
            loaded_models,
            kv_bytes,
        }
    }
}

impl Metrics {
    /// Records a finished generation.
    pub fn record_generation(&self, model: &str, stats: &edgellm_engine::Stats) {
        let l = ModelLabels {
            model: model.to_string(),
        };
        self.prompt_tokens
            .get_or_create(&l)
            .inc_by(stats.prompt_eval_count as u64);
        self.generated_tokens
            .get_or_create(&l)
            .inc_by(stats.eval_count as u64);
        let rate = |n: usize, d: std::time::Duration| {
            (n > 0 && d.as_secs_f64() > 0.0).then(|| n as f64 / d.as_secs_f64())
        };
        if let Some(r) = rate(stats.prompt_eval_count, stats.prompt_eval_duration) {
            self.prompt_tps.get_or_create(&l).observe(r);
        }
        if let Some(r) = rate(stats.eval_count, stats.eval_duration) {
            self.decode_tps.get_or_create(&l).observe(r);
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        let reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &reg);
        out
    }
}
