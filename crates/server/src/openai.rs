//! OpenAI's API: `/v1/chat/completions`, `/v1/completions` (server-sent
//! events ending with `data: [DONE]`), `/v1/models`, `/v1/embeddings`.

use crate::error::{ApiError, Flavor};
use crate::gen::{collect, keep_alive, merge_options, submit, unsupported};
use crate::ollama::tool_call_text;
use crate::prompt::{chat_tokens, fim_tokens, parse_tool_calls, supports_tools};
use crate::{parse_body, stream_body, AppState};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use edgellm_engine::{Completion, DoneReason, Event, Options, OutputFormat};
use edgellm_tokenizer::ChatMessage;
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const SSE: &str = "text/event-stream";

fn respond(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(|e| e.openai().into_response())
}

fn sse(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn new_id(prefix: &str) -> String {
    let n: u64 = rand::thread_rng().gen();
    format!("{prefix}-{n:016x}")
}

fn finish_reason(c: &Completion, tool_calls: bool) -> &'static str {
    if tool_calls {
        return "tool_calls";
    }
    match c.done_reason {
        DoneReason::Length => "length",
        _ => "stop",
    }
}

fn usage(prompt_tokens: usize, c: &Completion) -> Value {
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": c.stats.eval_count,
        "total_tokens": prompt_tokens + c.stats.eval_count,
    })
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl StringOrList {
    fn into_vec(self) -> Vec<String> {
        match self {
            StringOrList::One(s) => vec![s],
            StringOrList::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// Sampling fields both endpoints share (copied out of each request type:
/// serde's `flatten` would disable `deny_unknown_fields`).
struct Sampling {
    temperature: Option<f32>,
    top_p: Option<f32>,
    presence_penalty: Option<f32>,
    frequency_penalty: Option<f32>,
    seed: Option<i64>,
    stop: Option<StringOrList>,
    max_tokens: Option<i64>,
    n: Option<u32>,
    logprobs: Option<Value>,
    top_logprobs: Option<u32>,
}

/// Moves the shared sampling fields out of a request type.
macro_rules! sampling_of {
    ($req:ident) => {
        Sampling {
            temperature: $req.temperature,
            top_p: $req.top_p,
            presence_penalty: $req.presence_penalty,
            frequency_penalty: $req.frequency_penalty,
            seed: $req.seed,
            stop: $req.stop,
            max_tokens: $req.max_tokens,
            n: $req.n,
            logprobs: $req.logprobs,
            top_logprobs: $req.top_logprobs,
        }
    };
}

impl Sampling {
    /// The model's parameters, overridden by the request's; OpenAI's
    /// defaults (temperature 1, top_p 1) where neither says.
    fn options(
        self,
        max_completion_tokens: Option<i64>,
        model_params: &Map<String, Value>,
    ) -> Result<Options, ApiError> {
        if self.n.is_some_and(|n| n != 1) {
            return Err(unsupported("n", "more than one choice (n > 1)"));
        }
        if matches!(
            self.logprobs,
            Some(Value::Bool(true)) | Some(Value::Number(_))
        ) || self.top_logprobs.is_some_and(|n| n > 0)
        {
            return Err(unsupported("logprobs", "log probabilities"));
        }
        let mut m = Map::new();
        for (k, v) in [("temperature", self.temperature), ("top_p", self.top_p)] {
            match v {
                Some(v) => {
                    m.insert(k.into(), json!(v));
                }
                None if !model_params.contains_key(k) => {
                    m.insert(k.into(), json!(1.0));
                }
                None => {}
            }
        }
        if let Some(p) = self.presence_penalty {
            m.insert("presence_penalty".into(), json!(p));
        }
        if let Some(p) = self.frequency_penalty {
            m.insert("frequency_penalty".into(), json!(p));
        }
        if let Some(s) = self.seed {
            m.insert("seed".into(), json!(s as u64));
        }
        if let Some(stop) = self.stop {
            m.insert("stop".into(), json!(stop.into_vec()));
        }
        if let Some(n) = max_completion_tokens.or(self.max_tokens) {
            if n < 1 {
                return Err(ApiError::bad_field(
                    "max_tokens",
                    format!("{n} must be ≥ 1"),
                ));
            }
            m.insert("num_predict".into(), json!(n));
        }
        merge_options(Some(model_params), Some(&m))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatCompletionReq {
    model: String,
    messages: Vec<OaMessage>,
    #[serde(default)]
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    max_completion_tokens: Option<i64>,
    response_format: Option<Value>,
    tools: Option<Vec<Value>>,
    tool_choice: Option<Value>,
    parallel_tool_calls: Option<bool>,
    user: Option<String>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    presence_penalty: Option<f32>,
    frequency_penalty: Option<f32>,
    seed: Option<i64>,
    stop: Option<StringOrList>,
    max_tokens: Option<i64>,
    n: Option<u32>,
    logprobs: Option<Value>,
    top_logprobs: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OaMessage {
    role: String,
    #[serde(default)]
    content: Option<Value>,
    name: Option<String>,
    tool_calls: Option<Vec<Value>>,
    tool_call_id: Option<String>,
    refusal: Option<Value>,
}

/// Text of a message's `content`: a string, or text parts.
fn content_text(i: usize, c: Option<&Value>) -> Result<String, ApiError> {
    match c {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut out = String::new();
            for (j, p) in parts.iter().enumerate() {
                match p.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        out.push_str(p.get("text").and_then(Value::as_str).unwrap_or_default())
                    }
                    other => {
                        return Err(ApiError::bad_field(
                            &format!("messages[{i}].content[{j}].type"),
                            format!(
                                "{other:?} parts are not supported (text only: no vision model)"
                            ),
                        ))
                    }
                }
            }
            Ok(out)
        }
        Some(_) => Err(ApiError::bad_field(
            &format!("messages[{i}].content"),
            "must be a string or an array of parts",
        )),
    }
}

/// `response_format`: text, `json_object`, or `json_schema` with its schema.
fn response_format(rf: Option<&Value>) -> Result<Option<OutputFormat>, ApiError> {
    let Some(rf) = rf.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    match rf.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(OutputFormat::Json)),
        Some("json_schema") => {
            let schema = rf
                .get("json_schema")
                .and_then(|j| j.get("schema"))
                .filter(|s| s.is_object())
                .ok_or_else(|| {
                    ApiError::bad_field(
                        "response_format.json_schema.schema",
                        "a JSON schema object is required",
                    )
                })?;
            Ok(Some(OutputFormat::JsonSchema(schema.clone())))
        }
        other => Err(ApiError::bad_field(
            "response_format.type",
            format!("{other:?} is not one of text, json_object, json_schema"),
        )),
    }
}

pub async fn chat_completions(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    respond(chat_inner(state, body).await)
}

async fn chat_inner(state: Arc<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let req: ChatCompletionReq = parse_body(&body, Flavor::OpenAi)?;
    let format = response_format(req.response_format.as_ref())?;
    let _ = (&req.user, &req.parallel_tool_calls);
    if matches!(req.tool_choice.as_ref(), Some(Value::String(s)) if s == "required")
        || matches!(req.tool_choice.as_ref(), Some(Value::Object(_)))
    {
        return Err(unsupported(
            "tool_choice",
            "forcing a tool call (tool_choice)",
        ));
    }
    let max_completion_tokens = req.max_completion_tokens;
    let defaults = state.manager.resolve(&req.model)?;
    let opts = sampling_of!(req).options(max_completion_tokens, &defaults.params)?;
    let mut msgs = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        let role = match m.role.as_str() {
            "developer" => "system",
            r @ ("system" | "user" | "assistant" | "tool") => r,
            other => {
                return Err(ApiError::bad_field(
                    &format!("messages[{i}].role"),
                    format!("'{other}' is not one of system, developer, user, assistant, tool"),
                ))
            }
        };
        let mut content = content_text(i, m.content.as_ref())?;
        for call in m.tool_calls.iter().flatten() {
            let f = call.get("function").unwrap_or(call);
            let name = f.get("name").and_then(Value::as_str).unwrap_or_default();
            let args = match f.get("arguments") {
                Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(json!(s)),
                Some(v) => v.clone(),
                None => json!({}),
            };
            if !content.is_empty() {
                content.push('\n');
            }
            content.push_str(&tool_call_text(name, &args));
        }
        let _ = (&m.name, &m.tool_call_id, &m.refusal);
        msgs.push(ChatMessage::new(role, content));
    }
    if msgs.is_empty() {
        return Err(ApiError::bad_field("messages", "must not be empty"));
    }
    let keep = keep_alive(&state, None)?;
    let acq = state.manager.acquire(&req.model, keep).await?;
    let msgs = crate::ollama::with_defaults(&acq.model, msgs);
    let tok = Arc::clone(&acq.runner.loaded.tokenizer);
    let tools = req
        .tools
        .as_ref()
        .filter(|t| !t.is_empty() && req.tool_choice.as_ref() != Some(&json!("none")))
        .map(|t| Value::Array(t.clone()));
    if tools.is_some() && !supports_tools(&tok) {
        return Err(ApiError::bad_field(
            "tools",
            format!("\"{}\" does not support tools", req.model),
        ));
    }
    let tokens = chat_tokens(&tok, &msgs, tools.as_ref())?;
    let n_prompt = tokens.len();
    let rx = submit(&acq.runner, tokens, opts, acq.load, format.as_ref())?;
    let id = new_id("chatcmpl");
    let created = unix_now();
    let model = req.model.clone();
    let with_tools = tools.is_some();
    let record = crate::gen::recorder(&state, acq.name.clone(), keep);

    if req.stream != Some(true) {
        let (text, c) = collect(rx).await?;
        record(&c);
        let (message, calls) = assistant_message(&text, with_tools);
        return Ok(Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_edgellm",
            "choices": [{
                "index": 0,
                "message": message,
                "logprobs": null,
                "finish_reason": finish_reason(&c, calls),
            }],
            "usage": usage(n_prompt, &c),
        }))
        .into_response());
    }
    let include_usage = req
        .stream_options
        .as_ref()
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    let chunk = {
        let (id, model) = (id.clone(), model.clone());
        move |delta: Value, finish: Option<&str>| {
            json!({
                "id": id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_edgellm",
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
            })
        }
    };
    let mut first = true;
    let mut held = String::new();
    Ok(stream_body(rx, SSE, move |ev| match ev {
        Event::Text(t) if with_tools => {
            held.push_str(&t);
            None
        }
        Event::Text(t) => {
            let delta = if first {
                json!({"role": "assistant", "content": t})
            } else {
                json!({"content": t})
            };
            first = false;
            Some(sse(&chunk(delta, None)))
        }
        Event::Done(c) => {
            record(&c);
            let mut out = Vec::new();
            let mut calls = false;
            if with_tools {
                let (mut message, has_calls) = assistant_message(&held, true);
                calls = has_calls;
                if let Some(tc) = message.get_mut("tool_calls").and_then(Value::as_array_mut) {
                    for (i, call) in tc.iter_mut().enumerate() {
                        call["index"] = json!(i);
                    }
                }
                out.extend_from_slice(&sse(&chunk(message, None)));
            } else if first {
                out.extend_from_slice(&sse(&chunk(
                    json!({"role": "assistant", "content": ""}),
                    None,
                )));
            }
            out.extend_from_slice(&sse(&chunk(json!({}), Some(finish_reason(&c, calls)))));
            if include_usage {
                out.extend_from_slice(&sse(&json!({
                    "id": id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "system_fingerprint": "fp_edgellm",
                    "choices": [],
                    "usage": usage(n_prompt, &c),
                })));
            }
            out.extend_from_slice(b"data: [DONE]\n\n");
            Some(Bytes::from(out))
        }
        Event::Failed(e) => {
            let err = ApiError::from(e).openai();
            Some(Bytes::from(format!(
                "data: {}\n\ndata: [DONE]\n\n",
                json!({"error": {"message": err.message, "type": "api_error", "param": null, "code": null}})
            )))
        }
    }))
}

/// The assistant message, with tool calls parsed out when tools were given.
fn assistant_message(text: &str, with_tools: bool) -> (Value, bool) {
    if !with_tools {
        return (json!({"role": "assistant", "content": text}), false);
    }
    let (text, calls) = parse_tool_calls(text);
    if calls.is_empty() {
        return (json!({"role": "assistant", "content": text}), false);
    }
    let calls: Vec<Value> = calls
        .into_iter()
        .map(|c| {
            json!({
                "id": new_id("call"),
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments.to_string()},
            })
        })
        .collect();
    let content = if text.is_empty() {
        Value::Null
    } else {
        json!(text)
    };
    (
        json!({"role": "assistant", "content": content, "tool_calls": calls}),
        true,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletionReq {
    model: String,
    prompt: StringOrList,
    suffix: Option<String>,
    #[serde(default)]
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    echo: Option<bool>,
    best_of: Option<u32>,
    user: Option<String>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    presence_penalty: Option<f32>,
    frequency_penalty: Option<f32>,
    seed: Option<i64>,
    stop: Option<StringOrList>,
    max_tokens: Option<i64>,
    n: Option<u32>,
    logprobs: Option<Value>,
    top_logprobs: Option<u32>,
}

pub async fn completions(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    respond(completions_inner(state, body).await)
}

async fn completions_inner(state: Arc<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let req: CompletionReq = parse_body(&body, Flavor::OpenAi)?;
    if req.echo == Some(true) {
        return Err(unsupported("echo", "echoing the prompt"));
    }
    if req.best_of.is_some_and(|n| n != 1) {
        return Err(unsupported("best_of", "best_of > 1"));
    }
    let _ = &req.user;
    let prompt = match req.prompt {
        StringOrList::One(s) => s,
        StringOrList::Many(mut v) if v.len() == 1 => v.remove(0),
        StringOrList::Many(_) => {
            return Err(unsupported("prompt", "a list of several prompts"));
        }
    };
    let defaults = state.manager.resolve(&req.model)?;
    let opts = sampling_of!(req).options(None, &defaults.params)?;
    let keep = keep_alive(&state, None)?;
    let acq = state.manager.acquire(&req.model, keep).await?;
    let tok = Arc::clone(&acq.runner.loaded.tokenizer);
    let tokens = match req.suffix.as_deref().filter(|s| !s.is_empty()) {
        Some(suffix) => fim_tokens(&tok, &prompt, suffix)?,
        None => tok
            .encode(&prompt, true, true)
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
    };
    let n_prompt = tokens.len();
    let rx = submit(&acq.runner, tokens, opts, acq.load, None)?;
    let id = new_id("cmpl");
    let created = unix_now();
    let model = req.model.clone();
    let record = crate::gen::recorder(&state, acq.name.clone(), keep);
    if req.stream != Some(true) {
        let (text, c) = collect(rx).await?;
        record(&c);
        return Ok(Json(json!({
            "id": id,
            "object": "text_completion",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_edgellm",
            "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish_reason(&c, false)}],
            "usage": usage(n_prompt, &c),
        }))
        .into_response());
    }
    let include_usage = req
        .stream_options
        .as_ref()
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    let chunk = move |text: &str, finish: Option<&str>| {
        json!({
            "id": id,
            "object": "text_completion",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_edgellm",
            "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}],
        })
    };
    Ok(stream_body(rx, SSE, move |ev| match ev {
        Event::Text(t) => Some(sse(&chunk(&t, None))),
        Event::Done(c) => {
            record(&c);
            let mut out = sse(&chunk("", Some(finish_reason(&c, false)))).to_vec();
            if include_usage {
                let mut u = chunk("", None);
                u["choices"] = json!([]);
                u["usage"] = usage(n_prompt, &c);
                out.extend_from_slice(&sse(&u));
            }
            out.extend_from_slice(b"data: [DONE]\n\n");
            Some(Bytes::from(out))
        }
        Event::Failed(e) => Some(Bytes::from(format!(
            "data: {}\n\ndata: [DONE]\n\n",
            json!({"error": {"message": e.to_string(), "type": "api_error", "param": null, "code": null}})
        ))),
    }))
}

fn model_json(name: &str, modified: std::time::SystemTime) -> Value {
    let created = modified
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    json!({"id": name, "object": "model", "created": created, "owned_by": "library"})
}

pub async fn models(State(state): State<Arc<AppState>>) -> Response {
    match crate::catalog::entries(&state).await {
        Ok(list) => {
            let data: Vec<Value> = list
                .iter()
                .map(|e| model_json(&e.name, e.modified_at))
                .collect();
            Json(json!({"object": "list", "data": data})).into_response()
        }
        Err(e) => e.openai().into_response(),
    }
}

pub async fn model(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let found = crate::catalog::entries(&state).await.ok().and_then(|list| {
        list.into_iter()
            .find(|e| e.name == id || e.name.strip_suffix(":latest") == Some(id.as_str()))
    });
    match found {
        Some(e) => Json(model_json(&e.name, e.modified_at)).into_response(),
        None => ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("The model '{id}' does not exist"),
        )
        .openai()
        .into_response(),
    }
}

pub async fn embeddings(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    respond(crate::ollama::embed_inner(&state, &body, Flavor::OpenAi))
}
