//! edgellm-server: Ollama's HTTP API (`/api/*`, NDJSON streams) and OpenAI's
//! (`/v1/*`, server-sent events) over the engine's continuous batching.
//!
//! Policy on request fields: **unknown fields are refused** with a 400 that
//! names the field (serde's `deny_unknown_fields` on every request type,
//! including `options`); known fields edgellm cannot honour yet (images,
//! `think`, structured `format`, logprobs, `n > 1`) are refused the same way,
//! never silently ignored. A prompt longer than the context is a 400 that
//! states both lengths.

mod catalog;
mod error;
mod gen;
mod metrics;
mod models;
mod ollama;
mod openai;
mod prompt;

pub use error::{ApiError, Flavor};
pub use models::{KeepAlive, Manager, ManagerConfig, RunnerConfigSerde};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use edgellm_engine::{Event, EventSink};
use edgellm_store::Store;
use metrics::{Metrics, RouteLabels};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

/// The Ollama version edgellm's API matches (clients check it).
pub const OLLAMA_COMPAT_VERSION: &str = "0.12.0";

/// Server settings.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub addr: SocketAddr,
    /// When set, every route but `/health` needs `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// Origins allowed by CORS besides loopback ones (`*` allows any).
    pub allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub manager: ManagerConfig,
}

/// Shared by every handler.
pub struct AppState {
    pub manager: Manager,
    pub metrics: Arc<Metrics>,
    pub config: ServerConfig,
}

/// Builds the router (also used by tests with their own listener).
pub fn router(state: Arc<AppState>) -> Router {
    let cors_origins = state.config.allowed_origins.clone();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin_allowed(origin, &cors_origins)
        }))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
        ])
        .allow_headers(Any);
    Router::new()
        .route("/", get(root).head(root))
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .route("/api/version", get(ollama::version))
        .route("/api/generate", post(ollama::generate))
        .route("/api/chat", post(ollama::chat))
        .route("/api/tags", get(catalog::tags))
        .route("/api/show", post(catalog::show))
        .route("/api/pull", post(catalog::pull))
        .route("/api/delete", axum::routing::delete(catalog::delete))
        .route("/api/copy", post(catalog::copy))
        .route("/api/create", post(catalog::create))
        .route(
            "/api/blobs/{digest}",
            axum::routing::head(catalog::blob_exists)
                .post(catalog::blob_upload)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/api/ps", get(ollama::ps))
        .route("/api/embed", post(ollama::embed))
        .route("/api/embeddings", post(ollama::embed))
        .route("/api/tokenize", post(ollama::tokenize))
        .route("/api/detokenize", post(ollama::detokenize))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/completions", post(openai::completions))
        .route("/v1/models", get(openai::models))
        .route("/v1/models/{*id}", get(openai::model))
        .route("/v1/embeddings", post(openai::embeddings))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), auth))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            count_requests,
        ))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(cors)
        .with_state(state)
}

/// Runs the server until Ctrl-C / SIGTERM.
pub async fn serve(config: ServerConfig, store: Store) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let state = Arc::new(AppState {
        manager: Manager::new(store, config.manager.clone(), Arc::clone(&metrics)),
        metrics,
        config: config.clone(),
    });
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.addr))?;
    let local = listener.local_addr()?;
    tracing::info!("listening on http://{local}");
    // Printed for people and for tests that ask for port 0.
    eprintln!("edgellm is listening on http://{local}");
    let reaper = {
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                state.manager.reap().await;
            }
        })
    };
    axum::serve(listener, router(Arc::clone(&state)))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    reaper.abort();
    state.manager.unload_all().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// Loopback origins always; others only when configured.
fn origin_allowed(origin: &HeaderValue, allowed: &[String]) -> bool {
    let Ok(o) = origin.to_str() else {
        return false;
    };
    if allowed.iter().any(|a| a == "*" || a == o) {
        return true;
    }
    let host = o
        .strip_prefix("http://")
        .or_else(|| o.strip_prefix("https://"))
        .unwrap_or("");
    let host = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

fn flavor_of(path: &str) -> Flavor {
    if path.starts_with("/v1/") {
        Flavor::OpenAi
    } else {
        Flavor::Ollama
    }
}

async fn auth(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let Some(key) = state.config.api_key.as_deref() else {
        return next.run(req).await;
    };
    if req.uri().path() == "/health" || req.method() == Method::OPTIONS {
        return next.run(req).await;
    }
    let ok = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), key.as_bytes()));
    if ok {
        return next.run(req).await;
    }
    let mut e = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "missing or wrong API key: send 'Authorization: Bearer <key>'",
    );
    e.flavor = flavor_of(req.uri().path());
    let mut resp = e.into_response();
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn count_requests(
    State(state): State<Arc<AppState>>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let route = matched
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    state
        .metrics
        .requests
        .get_or_create(&RouteLabels {
            route,
            status: resp.status().as_u16(),
        })
        .inc();
    resp
}

async fn root() -> &'static str {
    "Ollama is running"
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    if state.manager.is_loading() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "loading model"})),
        )
            .into_response()
    } else {
        axum::Json(serde_json::json!({"status": "ok"})).into_response()
    }
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    let (waiting, kv) = state.manager.totals();
    state.metrics.queue_depth.set(waiting as i64);
    state.metrics.kv_bytes.set(kv as i64);
    state
        .metrics
        .loaded_models
        .set(state.manager.loaded().len() as i64);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

async fn not_found(req: Request) -> Response {
    let mut e = ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route {} {}", req.method(), req.uri().path()),
    );
    e.flavor = flavor_of(req.uri().path());
    e.into_response()
}

/// Parses a JSON body, turning syntax errors and unknown fields into 400s
/// that say what is wrong.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &Bytes, flavor: Flavor) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let mut err = if e.is_syntax() || e.is_eof() {
            ApiError::bad_request(format!("invalid JSON in request body: {e}"))
        } else {
            ApiError::bad_request(format!("invalid request: {e}"))
        };
        err.flavor = flavor;
        err
    })
}

/// Sends engine events into a tokio channel; a dropped receiver (client gone)
/// cancels the sequence.
pub(crate) struct ChannelSink(pub mpsc::UnboundedSender<Event>);

impl EventSink for ChannelSink {
    fn send(&mut self, event: Event) -> bool {
        self.0.send(event).is_ok()
    }
    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// A streaming response: `format` turns each event into bytes to send
/// (possibly none); the stream ends after `Done` or `Failed`. When the client
/// goes away the event receiver is dropped, which cancels the sequence at the
/// engine's next step (also while it is still reading the prompt).
pub(crate) fn stream_body<F>(
    mut rx: mpsc::UnboundedReceiver<Event>,
    content_type: &'static str,
    mut format: F,
) -> Response
where
    F: FnMut(Event) -> Option<Bytes> + Send + 'static,
{
    let (tx, out) = mpsc::channel::<Result<Bytes, std::convert::Infallible>>(32);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                ev = rx.recv() => {
                    let Some(ev) = ev else { break };
                    let last = matches!(ev, Event::Done(_) | Event::Failed(_));
                    if let Some(b) = format(ev) {
                        if tx.send(Ok(b)).await.is_err() {
                            break;
                        }
                    }
                    if last {
                        break;
                    }
                }
                _ = tx.closed() => break,
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(
        tokio_stream::wrappers::ReceiverStream::new(out),
    ));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// RFC 3339 time with nanoseconds, as Ollama writes `created_at`.
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

pub(crate) fn rfc3339(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
