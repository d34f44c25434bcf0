//! The store's routes: `/api/tags`, `/api/show`, `/api/pull`, `/api/delete`,
//! `/api/copy`, `/api/create`, `/api/blobs/:digest`, and what `/v1/models`
//! and `/api/ps` report. The store is synchronous: its calls run on blocking
//! threads.

use crate::error::{ApiError, Flavor};
use crate::models::store_error;
use crate::{parse_body, AppState};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use edgellm_store::modelfile::{Command, Instruction};
use edgellm_store::{ModelEntry, Modelfile, Progress};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use tokio::sync::mpsc;

fn respond(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

/// Runs a store call off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("store task failed: {e}")))?
}

/// The models in the store (and a read-only Ollama directory).
pub async fn entries(state: &Arc<AppState>) -> Result<Vec<ModelEntry>, ApiError> {
    let state = Arc::clone(state);
    blocking(move || {
        state
            .manager
            .store
            .list()
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
}

/// Ollama's `details` object of a model, for `/api/ps`.
pub fn details_for(state: &AppState, name: &str) -> Value {
    state
        .manager
        .store
        .list()
        .ok()
        .and_then(|l| l.into_iter().find(|e| e.name == name))
        .map(|e| serde_json::to_value(e.details).unwrap_or_default())
        .unwrap_or_else(|| json!({"format": "gguf"}))
}

pub async fn tags(State(state): State<Arc<AppState>>) -> Response {
    respond(
        entries(&state)
            .await
            .map(|models| Json(json!({ "models": models })).into_response()),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowReq {
    #[serde(alias = "name")]
    model: String,
    #[serde(default)]
    verbose: Option<bool>,
}

pub async fn show(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    respond(
        async {
            let req: ShowReq = parse_body(&body, Flavor::Ollama)?;
            let show = blocking(move || {
                state
                    .manager
                    .store
                    .show(&req.model, req.verbose == Some(true))
                    .map_err(|e| store_error(&req.model, e))
            })
            .await?;
            Ok(Json(show).into_response())
        }
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameReq {
    #[serde(alias = "name")]
    model: String,
}

pub async fn delete(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    respond(
        async {
            let req: NameReq = parse_body(&body, Flavor::Ollama)?;
            let name = req.model.clone();
            blocking(move || {
                state
                    .manager
                    .store
                    .delete(&name)
                    .map_err(|e| store_error(&name, e))
            })
            .await?;
            Ok(StatusCode::OK.into_response())
        }
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyReq {
    source: String,
    destination: String,
}

pub async fn copy(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    respond(
        async {
            let req: CopyReq = parse_body(&body, Flavor::Ollama)?;
            blocking(move || {
                state
                    .manager
                    .store
                    .copy(&req.source, &req.destination)
                    .map_err(|e| store_error(&req.source, e))
            })
            .await?;
            Ok(StatusCode::OK.into_response())
        }
        .await,
    )
}

/// Streams store progress as Ollama's `{"status", "digest", "total", "completed"}` lines.
struct LineProgress {
    tx: mpsc::UnboundedSender<Value>,
    digest: Option<String>,
    total: u64,
    completed: u64,
    /// Send at most every this many bytes.
    last_sent: u64,
}

impl LineProgress {
    fn send_blob(&mut self) {
        if let Some(d) = &self.digest {
            let short = d.strip_prefix("sha256:").unwrap_or(d);
            let _ = self.tx.send(json!({
                "status": format!("pulling {}", &short[..short.len().min(12)]),
                "digest": d,
                "total": self.total,
                "completed": self.completed,
            }));
        }
        self.last_sent = self.completed;
    }
}

impl Progress for LineProgress {
    fn start(&mut self, what: &str, total_bytes: Option<u64>) {
        if self.digest.is_none() {
            let _ = self.tx.send(json!({ "status": what }));
        }
        self.total = total_bytes.unwrap_or(0);
        self.completed = 0;
        self.last_sent = 0;
    }
    fn advance(&mut self, bytes: u64) {
        self.completed += bytes;
        if self.completed - self.last_sent >= 4 << 20 {
            self.send_blob();
        }
    }
    fn finish(&mut self) {
        self.send_blob();
        self.digest = None;
    }
    fn message(&mut self, msg: &str) {
        let _ = self.tx.send(json!({ "status": msg }));
    }
    fn status(&mut self, status: &str) {
        let _ = self.tx.send(json!({ "status": status }));
    }
    fn blob_start(&mut self, digest: &str, total_bytes: u64, completed_bytes: u64) {
        self.digest = Some(digest.to_string());
        self.total = total_bytes;
        self.completed = completed_bytes;
        self.send_blob();
    }
}

/// Runs a store job that reports progress: streamed as NDJSON, or (with
/// `stream: false`) one final object / an error status.
async fn progress_job(
    stream: bool,
    name: String,
    job: impl FnOnce(&mut dyn Progress) -> Result<(), edgellm_store::StoreError> + Send + 'static,
) -> Result<Response, ApiError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    let task = tokio::task::spawn_blocking(move || {
        let mut p = LineProgress {
            tx: tx.clone(),
            digest: None,
            total: 0,
            completed: 0,
            last_sent: 0,
        };
        let r = job(&mut p);
        match &r {
            Ok(()) => {
                let _ = tx.send(json!({"status": "success"}));
            }
            Err(e) => {
                let _ = tx.send(json!({"error": e.to_string()}));
            }
        }
        r
    });
    if !stream {
        while rx.recv().await.is_some() {}
        return match task.await {
            Ok(Ok(())) => Ok(Json(json!({"status": "success"})).into_response()),
            Ok(Err(e)) => Err(store_error(&name, e)),
            Err(e) => Err(ApiError::internal(e.to_string())),
        };
    }
    let lines = async_stream_lines(rx);
    let mut resp = Response::new(Body::from_stream(lines));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(resp)
}

fn async_stream_lines(
    rx: mpsc::UnboundedReceiver<Value>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>> {
    futures_util::stream::unfold(rx, |mut rx| async move {
        let v = rx.recv().await?;
        Some((Ok(Bytes::from(format!("{v}\n"))), rx))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullReq {
    #[serde(alias = "name")]
    model: String,
    #[serde(default)]
    stream: Option<bool>,
    insecure: Option<bool>,
}

pub async fn pull(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    respond(
        async {
            let req: PullReq = parse_body(&body, Flavor::Ollama)?;
            if req.insecure == Some(true) {
                return Err(crate::gen::unsupported(
                    "insecure",
                    "pulling over insecure connections",
                ));
            }
            edgellm_store::validate_pull_name(&req.model)
                .map_err(|e| ApiError::bad_field("model", e))?;
            let name = req.model.clone();
            progress_job(req.stream != Some(false), req.model.clone(), move |p| {
                state.manager.store.pull(&name, p).map(|_| ())
            })
            .await
        }
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateReq {
    #[serde(alias = "name")]
    model: String,
    from: Option<String>,
    /// file name → `sha256:<hex>` of a blob uploaded with `/api/blobs`.
    files: Option<Map<String, Value>>,
    adapters: Option<Map<String, Value>>,
    template: Option<String>,
    license: Option<Value>,
    system: Option<String>,
    parameters: Option<Map<String, Value>>,
    messages: Option<Vec<edgellm_store::Message>>,
    #[serde(default)]
    stream: Option<bool>,
    quantize: Option<String>,
}

fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Ollama's JSON `/api/create` as a Modelfile (uploaded files by digest only:
/// a client never names a path on the server).
fn create_modelfile(req: &CreateReq) -> Result<Modelfile, ApiError> {
    let mut cmds = Vec::new();
    let mut push = |instruction| {
        cmds.push(Command {
            line: 0,
            instruction,
        })
    };
    let blob_ref = |field: &str, v: &Value| -> Result<String, ApiError> {
        let d = v
            .as_str()
            .ok_or_else(|| ApiError::bad_field(field, "must map file names to sha256 digests"))?;
        edgellm_store::Digest::parse(d).map_err(|e| ApiError::bad_field(field, e))?;
        Ok(format!("@{d}"))
    };
    match (&req.from, &req.files) {
        (Some(f), None) => push(Instruction::From(f.clone())),
        (None, Some(files)) if files.len() == 1 => {
            let (_, d) = files.iter().next().expect("one file");
            push(Instruction::From(blob_ref("files", d)?));
        }
        (None, Some(_)) => {
            return Err(ApiError::bad_field(
                "files",
                "exactly one GGUF file is supported",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_field(
                "from",
                "give either 'from' or 'files', not both",
            ))
        }
        (None, None) => return Err(ApiError::bad_field("from", "'from' or 'files' is required")),
    }
    for (_, d) in req.adapters.iter().flatten() {
        push(Instruction::Adapter(blob_ref("adapters", d)?));
    }
    if let Some(t) = &req.template {
        push(Instruction::Template(t.clone()));
    }
    if let Some(s) = &req.system {
        push(Instruction::System(s.clone()));
    }
    match &req.license {
        None | Some(Value::Null) => {}
        Some(Value::String(l)) => push(Instruction::License(l.clone())),
        Some(Value::Array(ls)) => {
            for l in ls {
                push(Instruction::License(param_text(l)));
            }
        }
        Some(_) => return Err(ApiError::bad_field("license", "must be a string or a list")),
    }
    for (k, v) in req.parameters.iter().flatten() {
        match v {
            Value::Array(vs) => {
                for v in vs {
                    push(Instruction::Parameter {
                        name: k.clone(),
                        value: param_text(v),
                    });
                }
            }
            v => push(Instruction::Parameter {
                name: k.clone(),
                value: param_text(v),
            }),
        }
    }
    for m in req.messages.iter().flatten() {
        push(Instruction::Message {
            role: m.role.clone(),
            content: m.content.clone(),
        });
    }
    Ok(Modelfile { commands: cmds })
}

pub async fn create(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    respond(
        async {
            let req: CreateReq = parse_body(&body, Flavor::Ollama)?;
            if req.quantize.is_some() {
                return Err(crate::gen::unsupported(
                    "quantize",
                    "quantizing while creating",
                ));
            }
            let mf = create_modelfile(&req)?;
            let name = req.model.clone();
            progress_job(req.stream != Some(false), req.model.clone(), move |p| {
                state.manager.store.create_with(&name, &mf, None, p)
            })
            .await
        }
        .await,
    )
}

pub async fn blob_exists(
    State(state): State<Arc<AppState>>,
    Path(digest): Path<String>,
) -> Response {
    respond(
        async {
            let d = digest.clone();
            let present = blocking(move || {
                state
                    .manager
                    .store
                    .has_blob(&d)
                    .map_err(|e| ApiError::bad_request(e.to_string()))
            })
            .await?;
            Ok(if present {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            }
            .into_response())
        }
        .await,
    )
}

pub async fn blob_upload(
    State(state): State<Arc<AppState>>,
    Path(digest): Path<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            blocking(move || {
                let mut reader = &body[..];
                state
                    .manager
                    .store
                    .put_blob(&digest, &mut reader)
                    .map_err(|e| store_error(&digest, e))
            })
            .await?;
            Ok(StatusCode::CREATED.into_response())
        }
        .await,
    )
}
