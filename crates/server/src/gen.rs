//! What both APIs share: options, model acquisition, submitting a job.

use crate::error::ApiError;
use crate::models::KeepAlive;
use crate::{AppState, ChannelSink};
use edgellm_engine::{Event, Options, OutputFormat, Request, Runner};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Options that belong to the server process, not to one request.
const SERVER_OPTIONS: [&str; 2] = ["num_thread", "num_batch"];

/// Ollama's defaults, overlaid with the model's parameters, then the
/// request's `options`. Unknown names are refused (serde names the field).
pub fn merge_options(
    model_params: Option<&Map<String, Value>>,
    request: Option<&Map<String, Value>>,
) -> Result<Options, ApiError> {
    let Value::Object(mut merged) =
        serde_json::to_value(Options::default()).expect("options serialize")
    else {
        unreachable!("options serialize to an object");
    };
    for layer in [model_params, request].into_iter().flatten() {
        for (k, v) in layer {
            merged.insert(k.clone(), v.clone());
        }
    }
    if let Some(req) = request {
        if let Some(k) = SERVER_OPTIONS.iter().find(|k| req.contains_key(**k)) {
            return Err(ApiError::bad_field(
                &format!("options.{k}"),
                "is a server setting (edgellm serve --threads / --batch), not a per-request option",
            ));
        }
    }
    let opts: Options = serde_json::from_value(Value::Object(merged))
        .map_err(|e| ApiError::bad_field("options", e))?;
    opts.validate()
        .map_err(|e| ApiError::bad_field("options", e))?;
    Ok(opts)
}

/// The request's keep-alive or the server default.
pub fn keep_alive(state: &AppState, v: Option<&Value>) -> Result<KeepAlive, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(state.manager.default_keep_alive()),
        Some(v) => KeepAlive::parse(v),
    }
}

/// Queues a generation; events arrive on the returned channel.
pub fn submit(
    runner: &Arc<Runner>,
    prompt: Vec<u32>,
    opts: Options,
    load: Duration,
    format: Option<&OutputFormat>,
) -> Result<mpsc::UnboundedReceiver<Event>, ApiError> {
    let constraint = match format {
        Some(f) => Some(runner.loaded.constraint(f)?),
        None => None,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    runner.submit(Request {
        prompt,
        opts,
        load_duration: load,
        sink: Box::new(ChannelSink(tx)),
        constraint,
    })?;
    Ok(rx)
}

/// Collects a whole generation (non-streaming responses).
pub async fn collect(
    mut rx: mpsc::UnboundedReceiver<Event>,
) -> Result<(String, edgellm_engine::Completion), ApiError> {
    let mut text = String::new();
    while let Some(ev) = rx.recv().await {
        match ev {
            Event::Text(t) => text.push_str(&t),
            Event::Done(c) => return Ok((text, c)),
            Event::Failed(e) => return Err(ApiError::from(e)),
        }
    }
    Err(ApiError::internal("the engine stopped before finishing"))
}

/// Ollama's `format`: `""`/absent is free text, `"json"` any JSON object, an
/// object a JSON schema.
pub fn ollama_format(v: Option<&Value>) -> Result<Option<OutputFormat>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s == "json" => Ok(Some(OutputFormat::Json)),
        Some(Value::Object(_)) => Ok(Some(OutputFormat::JsonSchema(
            v.cloned().unwrap_or_default(),
        ))),
        Some(other) => Err(ApiError::bad_field(
            "format",
            format!("{other} is not \"\", \"json\" or a JSON schema object"),
        )),
    }
}

/// Refuses a field that edgellm knows but cannot honour yet.
pub fn unsupported(field: &str, what: &str) -> ApiError {
    ApiError::bad_field(field, format!("{what} is not supported by edgellm yet"))
}

/// What every finished generation does: metrics, and the model's keep-alive
/// counted from now.
pub fn recorder(
    state: &Arc<AppState>,
    canonical: String,
    keep: KeepAlive,
) -> impl Fn(&edgellm_engine::Completion) + Send + 'static {
    let state = Arc::clone(state);
    move |c| {
        state.metrics.record_generation(&canonical, &c.stats);
        state.manager.touch(&canonical, keep);
    }
}
