//! Ollama's API: `/api/generate`, `/api/chat` (NDJSON streams, or one object
//! with `"stream": false`), `/api/tags`, `/api/show`, `/api/ps`,
//! `/api/version`, `/api/embed`, `/api/tokenize`.

use crate::error::{ApiError, Flavor};
use crate::gen::{collect, keep_alive, merge_options, submit, unsupported};
use crate::prompt::{self, chat_tokens, fim_tokens, parse_tool_calls, render_go_template};
use crate::{now_rfc3339, parse_body, rfc3339, stream_body, AppState};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use edgellm_engine::{Completion, Event};
use edgellm_tokenizer::ChatMessage;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const NDJSON: &str = "application/x-ndjson";

fn respond(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

fn line(v: &Value) -> Bytes {
    let mut s = v.to_string();
    s.push('\n');
    Bytes::from(s)
}

pub async fn version() -> Json<Value> {
    Json(json!({ "version": crate::OLLAMA_COMPAT_VERSION, "edgellm": env!("CARGO_PKG_VERSION") }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateReq {
    model: String,
    #[serde(default)]
    prompt: Option<String>,
    suffix: Option<String>,
    system: Option<String>,
    template: Option<String>,
    context: Option<Vec<u32>>,
    stream: Option<bool>,
    raw: Option<bool>,
    format: Option<Value>,
    images: Option<Vec<Value>>,
    options: Option<Map<String, Value>>,
    keep_alive: Option<Value>,
    think: Option<Value>,
    logprobs: Option<bool>,
    top_logprobs: Option<u32>,
}

/// Refuses the fields edgellm cannot honour yet (never silently ignored).
fn check_common(
    model: &str,
    format: Option<&Value>,
    think: Option<&Value>,
    logprobs: Option<bool>,
    top_logprobs: Option<u32>,
) -> Result<(), ApiError> {
    crate::gen::ollama_format(format)?;
    match think {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(_) => {
            return Err(ApiError::bad_field(
                "think",
                format!("\"{model}\" does not support thinking"),
            ))
        }
    }
    if logprobs == Some(true) || top_logprobs.is_some_and(|n| n > 0) {
        return Err(unsupported("logprobs", "log probabilities"));
    }
    Ok(())
}

fn stats_fields(obj: &mut Map<String, Value>, c: &Completion) {
    let s = &c.stats;
    obj.insert("done_reason".into(), json!(c.done_reason.as_str()));
    obj.insert(
        "total_duration".into(),
        json!(s.total_duration.as_nanos() as u64),
    );
    obj.insert(
        "load_duration".into(),
        json!(s.load_duration.as_nanos() as u64),
    );
    obj.insert("prompt_eval_count".into(), json!(s.prompt_eval_count));
    obj.insert(
        "prompt_eval_duration".into(),
        json!(s.prompt_eval_duration.as_nanos() as u64),
    );
    obj.insert("eval_count".into(), json!(s.eval_count));
    obj.insert(
        "eval_duration".into(),
        json!(s.eval_duration.as_nanos() as u64),
    );
}

/// The reply to an empty prompt: load the model, or unload it with `keep_alive: 0`.
async fn load_or_unload(
    state: &Arc<AppState>,
    model: &str,
    keep: crate::KeepAlive,
    chat: bool,
) -> Result<Response, ApiError> {
    let reason = if keep.is_zero() {
        let m = state.manager.resolve(model)?;
        state.manager.unload(&m.name).await;
        "unload"
    } else {
        state.manager.acquire(model, keep).await?;
        "load"
    };
    let mut v = json!({
        "model": model,
        "created_at": now_rfc3339(),
        "done": true,
        "done_reason": reason,
    });
    if chat {
        v["message"] = json!({"role": "assistant", "content": ""});
    } else {
        v["response"] = json!("");
    }
    Ok(Json(v).into_response())
}

pub async fn generate(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    respond(generate_inner(state, body).await)
}

async fn generate_inner(state: Arc<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let req: GenerateReq = parse_body(&body, Flavor::Ollama)?;
    check_common(
        &req.model,
        req.format.as_ref(),
        req.think.as_ref(),
        req.logprobs,
        req.top_logprobs,
    )?;
    if req.images.as_ref().is_some_and(|i| !i.is_empty()) {
        return Err(ApiError::bad_field(
            "images",
            format!(
                "\"{}\" does not support images (no vision model is loaded)",
                req.model
            ),
        ));
    }
    let keep = keep_alive(&state, req.keep_alive.as_ref())?;
    let defaults = state.manager.resolve(&req.model)?;
    let opts = merge_options(Some(&defaults.params), req.options.as_ref())?;
    let prompt_text = req.prompt.clone().unwrap_or_default();
    let suffix = req.suffix.clone().unwrap_or_default();
    let context = req.context.clone().unwrap_or_default();
    if prompt_text.is_empty() && suffix.is_empty() && context.is_empty() {
        return load_or_unload(&state, &req.model, keep, false).await;
    }
    let acq = state.manager.acquire(&req.model, keep).await?;
    let tok = Arc::clone(&acq.runner.loaded.tokenizer);
    let fresh = context.is_empty();
    let encode = |text: &str| {
        tok.encode(text, fresh, true)
            .map_err(|e| ApiError::bad_request(e.to_string()))
    };
    let mut tokens = if !suffix.is_empty() {
        fim_tokens(&tok, &prompt_text, &suffix)?
    } else if req.raw == Some(true) {
        encode(&prompt_text)?
    } else if let Some(t) = req.template.as_deref().filter(|t| !t.is_empty()) {
        encode(&render_go_template(
            t,
            req.system
                .as_deref()
                .or(defaults.system.as_deref())
                .unwrap_or(""),
            &prompt_text,
        )?)?
    } else {
        let mut msgs = Vec::with_capacity(2);
        if let Some(s) = req
            .system
            .as_deref()
            .or(defaults.system.as_deref())
            .filter(|s| !s.is_empty())
        {
            msgs.push(ChatMessage::new("system", s));
        }
        for m in &defaults.messages {
            msgs.push(ChatMessage::new(m.role.clone(), m.content.clone()));
        }
        msgs.push(ChatMessage::new("user", prompt_text.as_str()));
        let mut ids = chat_tokens(&tok, &msgs, None)?;
        if !fresh && tok.add_bos() && ids.first().copied() == tok.bos() {
            ids.remove(0);
        }
        ids
    };
    if !fresh {
        let mut all = context;
        all.append(&mut tokens);
        tokens = all;
    }
    let prompt_tokens = tokens.clone();
    let format = crate::gen::ollama_format(req.format.as_ref())?;
    let rx = submit(&acq.runner, tokens, opts, acq.load, format.as_ref())?;
    let model = req.model.clone();
    let record = crate::gen::recorder(&state, acq.name.clone(), keep);

    let finish = {
        move |c: &Completion, response: &str| -> Value {
            record(c);
            let mut ctx = prompt_tokens.clone();
            ctx.extend(&c.tokens);
            let mut obj = Map::new();
            obj.insert("model".into(), json!(model));
            obj.insert("created_at".into(), json!(now_rfc3339()));
            obj.insert("response".into(), json!(response));
            obj.insert("done".into(), json!(true));
            stats_fields(&mut obj, c);
            obj.insert("context".into(), json!(ctx));
            Value::Object(obj)
        }
    };
    if req.stream == Some(false) {
        let (text, c) = collect(rx).await?;
        return Ok(Json(finish(&c, &text)).into_response());
    }
    let model = req.model.clone();
    Ok(stream_body(rx, NDJSON, move |ev| match ev {
        Event::Text(t) => Some(line(&json!({
            "model": model,
            "created_at": now_rfc3339(),
            "response": t,
            "done": false,
        }))),
        Event::Done(c) => Some(line(&finish(&c, ""))),
        Event::Failed(e) => Some(line(&json!({ "error": e.to_string() }))),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatReq {
    model: String,
    #[serde(default)]
    messages: Option<Vec<MessageIn>>,
    tools: Option<Vec<Value>>,
    stream: Option<bool>,
    format: Option<Value>,
    options: Option<Map<String, Value>>,
    keep_alive: Option<Value>,
    think: Option<Value>,
    logprobs: Option<bool>,
    top_logprobs: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageIn {
    role: String,
    #[serde(default)]
    content: Option<String>,
    thinking: Option<String>,
    images: Option<Vec<Value>>,
    tool_calls: Option<Vec<Value>>,
    tool_name: Option<String>,
}

/// A tool call as a Hermes/Qwen template expects it back in history.
pub(crate) fn tool_call_text(name: &str, arguments: &Value) -> String {
    format!(
        "<tool_call>\n{}\n</tool_call>",
        json!({"name": name, "arguments": arguments})
    )
}

fn to_chat_messages(model: &str, msgs: &[MessageIn]) -> Result<Vec<ChatMessage>, ApiError> {
    let mut out = Vec::with_capacity(msgs.len());
    for (i, m) in msgs.iter().enumerate() {
        if !matches!(m.role.as_str(), "system" | "user" | "assistant" | "tool") {
            return Err(ApiError::bad_field(
                &format!("messages[{i}].role"),
                format!("'{}' is not one of system, user, assistant, tool", m.role),
            ));
        }
        if m.images.as_ref().is_some_and(|v| !v.is_empty()) {
            return Err(ApiError::bad_field(
                &format!("messages[{i}].images"),
                format!("\"{model}\" does not support images"),
            ));
        }
        let mut content = m.content.clone().unwrap_or_default();
        for call in m.tool_calls.iter().flatten() {
            let f = call.get("function").unwrap_or(call);
            let name = f.get("name").and_then(Value::as_str).ok_or_else(|| {
                ApiError::bad_field(
                    &format!("messages[{i}].tool_calls"),
                    "each call needs function.name",
                )
            })?;
            let args = f.get("arguments").cloned().unwrap_or(json!({}));
            if !content.is_empty() {
                content.push('\n');
            }
            content.push_str(&tool_call_text(name, &args));
        }
        let _ = (&m.thinking, &m.tool_name);
        out.push(ChatMessage::new(m.role.clone(), content));
    }
    Ok(out)
}

pub async fn chat(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    respond(chat_inner(state, body).await)
}

async fn chat_inner(state: Arc<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let req: ChatReq = parse_body(&body, Flavor::Ollama)?;
    check_common(
        &req.model,
        req.format.as_ref(),
        req.think.as_ref(),
        req.logprobs,
        req.top_logprobs,
    )?;
    let keep = keep_alive(&state, req.keep_alive.as_ref())?;
    let defaults = state.manager.resolve(&req.model)?;
    let opts = merge_options(Some(&defaults.params), req.options.as_ref())?;
    let messages = req.messages.as_deref().unwrap_or_default();
    let user_msgs = to_chat_messages(&req.model, messages)?;
    if user_msgs.is_empty() {
        return load_or_unload(&state, &req.model, keep, true).await;
    }
    let msgs = with_defaults(&defaults, user_msgs);
    let acq = state.manager.acquire(&req.model, keep).await?;
    let tok = Arc::clone(&acq.runner.loaded.tokenizer);
    let tools = req
        .tools
        .as_ref()
        .filter(|t| !t.is_empty())
        .map(|t| Value::Array(t.clone()));
    if tools.is_some() && !prompt::supports_tools(&tok) {
        return Err(ApiError::bad_field(
            "tools",
            format!("\"{}\" does not support tools", req.model),
        ));
    }
    let tokens = chat_tokens(&tok, &msgs, tools.as_ref())?;
    let format = crate::gen::ollama_format(req.format.as_ref())?;
    let rx = submit(&acq.runner, tokens, opts, acq.load, format.as_ref())?;
    let model = req.model.clone();
    let record = crate::gen::recorder(&state, acq.name.clone(), keep);
    let with_tools = tools.is_some();

    let finish = {
        let model = model.clone();
        move |c: &Completion, content: &str| -> Value {
            record(c);
            let mut obj = Map::new();
            obj.insert("model".into(), json!(model));
            obj.insert("created_at".into(), json!(now_rfc3339()));
            obj.insert("message".into(), message_json(content, with_tools));
            obj.insert("done".into(), json!(true));
            stats_fields(&mut obj, c);
            Value::Object(obj)
        }
    };
    if req.stream == Some(false) {
        let (text, c) = collect(rx).await?;
        return Ok(Json(finish(&c, &text)).into_response());
    }
    // With tools the answer is held until it is complete, so a tool call is
    // sent whole, parsed (as Ollama does).
    let mut held = String::new();
    Ok(stream_body(rx, NDJSON, move |ev| match ev {
        Event::Text(t) if with_tools => {
            held.push_str(&t);
            None
        }
        Event::Text(t) => Some(line(&json!({
            "model": model,
            "created_at": now_rfc3339(),
            "message": {"role": "assistant", "content": t},
            "done": false,
        }))),
        Event::Done(c) => {
            let mut out = Vec::new();
            if with_tools && !held.is_empty() {
                out.extend_from_slice(&line(&json!({
                    "model": model,
                    "created_at": now_rfc3339(),
                    "message": message_json(&held, true),
                    "done": false,
                })));
            }
            out.extend_from_slice(&line(&finish(&c, "")));
            Some(Bytes::from(out))
        }
        Event::Failed(e) => Some(line(&json!({ "error": e.to_string() }))),
    }))
}

/// The model's SYSTEM (unless the conversation has its own) and MESSAGE
/// layers before the request's messages.
pub(crate) fn with_defaults(
    m: &crate::models::ModelRef,
    msgs: Vec<ChatMessage>,
) -> Vec<ChatMessage> {
    let mut out = Vec::with_capacity(msgs.len() + m.messages.len() + 1);
    let has_system = msgs.first().is_some_and(|x| x.role == "system");
    if !has_system {
        if let Some(s) = m.system.as_deref().filter(|s| !s.is_empty()) {
            out.push(ChatMessage::new("system", s));
        }
    }
    let mut rest = msgs.into_iter().peekable();
    if has_system {
        out.extend(rest.next());
    }
    out.extend(
        m.messages
            .iter()
            .map(|x| ChatMessage::new(x.role.clone(), x.content.clone())),
    );
    out.extend(rest);
    out
}

/// `{"role": "assistant", "content": …, "tool_calls": […]}`.
fn message_json(content: &str, parse_tools: bool) -> Value {
    if !parse_tools {
        return json!({"role": "assistant", "content": content});
    }
    let (text, calls) = parse_tool_calls(content);
    let mut m = json!({"role": "assistant", "content": text});
    if !calls.is_empty() {
        m["tool_calls"] = Value::Array(
            calls
                .into_iter()
                .map(|c| json!({"function": {"name": c.name, "arguments": c.arguments}}))
                .collect(),
        );
    }
    m
}

pub async fn ps(State(state): State<Arc<AppState>>) -> Json<Value> {
    let models: Vec<Value> = state
        .manager
        .loaded()
        .into_iter()
        .map(|m| {
            let details = crate::catalog::details_for(&state, &m.name);
            json!({
                "name": m.name,
                "model": m.name,
                "size": m.size + m.kv_bytes as u64,
                "digest": m.digest.trim_start_matches("sha256:"),
                "details": details,
                "expires_at": m.expires_at.map(rfc3339).unwrap_or_else(|| "2318-01-01T00:00:00Z".into()),
                "size_vram": 0,
                "context_length": m.context_length,
            })
        })
        .collect();
    Json(json!({ "models": models }))
}

#[derive(Deserialize)]
pub struct EmbedReq {
    model: String,
}

pub async fn embed(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    respond(embed_inner(&state, &body, Flavor::Ollama))
}

/// No embedding model exists yet: a model in the store gets a clear 400.
pub(crate) fn embed_inner(
    state: &AppState,
    body: &Bytes,
    flavor: Flavor,
) -> Result<Response, ApiError> {
    let req: EmbedReq = parse_body(body, flavor)?;
    let mut err = match state.manager.resolve(&req.model).map(|_| ()) {
        Ok(_) => ApiError::bad_request(format!("\"{}\" does not support embeddings", req.model)),
        Err(e) => e,
    };
    err.flavor = flavor;
    Err(err)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizeReq {
    model: String,
    content: String,
    #[serde(default)]
    options: Option<Map<String, Value>>,
    keep_alive: Option<Value>,
}

pub async fn tokenize(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    respond(
        async {
            let req: TokenizeReq = parse_body(&body, Flavor::Ollama)?;
            let _ = req.options;
            let keep = keep_alive(&state, req.keep_alive.as_ref())?;
            let acq = state.manager.acquire(&req.model, keep).await?;
            let ids = acq
                .runner
                .loaded
                .tokenizer
                .encode(&req.content, false, true)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            Ok(Json(json!({ "model": req.model, "tokens": ids })).into_response())
        }
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetokenizeReq {
    model: String,
    tokens: Vec<u32>,
    keep_alive: Option<Value>,
}

pub async fn detokenize(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    respond(
        async {
            let req: DetokenizeReq = parse_body(&body, Flavor::Ollama)?;
            let keep = keep_alive(&state, req.keep_alive.as_ref())?;
            let acq = state.manager.acquire(&req.model, keep).await?;
            let tok = &acq.runner.loaded.tokenizer;
            if let Some(bad) = req.tokens.iter().find(|&&t| t as usize >= tok.n_vocab()) {
                return Err(ApiError::bad_field(
                    "tokens",
                    format!("token {bad} is outside the vocabulary of {}", tok.n_vocab()),
                ));
            }
            let text = tok.detokenize(&req.tokens, false, false);
            Ok(Json(json!({ "model": req.model, "content": text })).into_response())
        }
        .await,
    )
}
