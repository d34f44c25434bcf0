//! From a request to prompt tokens: chat templates, Ollama's `template`
//! override (a subset of Go's text/template), fill-in-the-middle `suffix`,
//! tool definitions, and parsing tool calls out of the answer.

use crate::error::ApiError;
use edgellm_tokenizer::{ChatMessage, Tokenizer};
use serde_json::Value;

/// Renders `messages` with the model's chat template and tokenizes it.
/// `tools` (a JSON array of OpenAI-style function definitions) is passed to
/// the template; a template that never mentions tools cannot use them.
pub fn chat_tokens(
    tok: &Tokenizer,
    messages: &[ChatMessage],
    tools: Option<&Value>,
) -> Result<Vec<u32>, ApiError> {
    let mut extra = serde_json::Map::new();
    if let Some(t) = tools {
        extra.insert("tools".into(), t.clone());
    }
    let text = tok
        .render_chat_with(messages, true, (!extra.is_empty()).then_some(&extra))
        .map_err(|e| ApiError::bad_request(format!("chat template: {e}")))?;
    tok.encode(&text, true, true)
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// Whether the model's chat template renders tool definitions.
pub fn supports_tools(tok: &Tokenizer) -> bool {
    tok.chat_template_source()
        .is_some_and(|t| t.contains("tools"))
}

/// Fill-in-the-middle: `<prefix>prompt<suffix>suffix<middle>`.
pub fn fim_tokens(tok: &Tokenizer, prompt: &str, suffix: &str) -> Result<Vec<u32>, ApiError> {
    let Some((pre, suf, mid)) = tok.fim() else {
        return Err(ApiError::bad_field(
            "suffix",
            "this model does not support insert (it has no fill-in-the-middle tokens)",
        ));
    };
    let enc = |s: &str| {
        tok.encode(s, false, false)
            .map_err(|e| ApiError::bad_request(e.to_string()))
    };
    let mut ids = Vec::new();
    if tok.add_bos() {
        ids.extend(tok.bos());
    }
    ids.push(pre);
    ids.extend(enc(prompt)?);
    ids.push(suf);
    ids.extend(enc(suffix)?);
    ids.push(mid);
    Ok(ids)
}

/// Ollama's `template` field: Go text/template with `.System`, `.Prompt`,
/// `.Response`, `{{ if .X }}…{{ else }}…{{ end }}` and `{{-`/`-}}` trimming.
/// Anything else is refused by name rather than rendered wrongly.
pub fn render_go_template(template: &str, system: &str, prompt: &str) -> Result<String, ApiError> {
    #[derive(Debug)]
    enum Node {
        Text(String),
        Var(String),
        If(String, Vec<Node>, Vec<Node>),
    }
    // Tokenize into text and actions, applying trim markers.
    let mut parts: Vec<(bool, String)> = Vec::new(); // (is_action, content)
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let mut text = rest[..open].to_string();
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| {
            ApiError::bad_field("template", "an action '{{' is never closed with '}}'")
        })?;
        let mut action = &after[..close];
        if let Some(a) = action.strip_prefix('-') {
            text = text.trim_end().to_string();
            action = a;
        }
        let trim_right = action.ends_with('-');
        if trim_right {
            action = &action[..action.len() - 1];
        }
        parts.push((false, text));
        parts.push((true, action.trim().to_string()));
        rest = &after[close + 2..];
        if trim_right {
            rest = rest.trim_start();
        }
    }
    parts.push((false, rest.to_string()));

    fn var_name(a: &str) -> Option<&str> {
        match a {
            ".System" | ".Prompt" | ".Response" => Some(a),
            _ => None,
        }
    }
    fn parse(
        parts: &[(bool, String)],
        i: &mut usize,
        in_if: bool,
    ) -> Result<(Vec<Node>, Option<String>), ApiError> {
        let mut nodes = Vec::new();
        while *i < parts.len() {
            let (is_action, s) = &parts[*i];
            *i += 1;
            if !is_action {
                if !s.is_empty() {
                    nodes.push(Node::Text(s.clone()));
                }
                continue;
            }
            if let Some(v) = var_name(s) {
                nodes.push(Node::Var(v.to_string()));
            } else if let Some(cond) = s.strip_prefix("if ") {
                let cond = cond.trim();
                if var_name(cond).is_none() {
                    return Err(ApiError::bad_field(
                        "template",
                        format!("'{{{{ if {cond} }}}}' is not supported (conditions on .System, .Prompt, .Response are)"),
                    ));
                }
                let (then, end) = parse(parts, i, true)?;
                let els = if end.as_deref() == Some("else") {
                    let (els, end2) = parse(parts, i, true)?;
                    if end2.as_deref() != Some("end") {
                        return Err(ApiError::bad_field(
                            "template",
                            "'{{ else }}' without '{{ end }}'",
                        ));
                    }
                    els
                } else {
                    Vec::new()
                };
                nodes.push(Node::If(cond.to_string(), then, els));
            } else if s == "end" || s == "else" {
                if !in_if {
                    return Err(ApiError::bad_field(
                        "template",
                        format!("'{{{{ {s} }}}}' without '{{{{ if }}}}'"),
                    ));
                }
                return Ok((nodes, Some(s.clone())));
            } else {
                return Err(ApiError::bad_field(
                    "template",
                    format!("'{{{{ {s} }}}}' is not supported (supported: .System, .Prompt, .Response, if/else/end)"),
                ));
            }
        }
        if in_if {
            return Err(ApiError::bad_field(
                "template",
                "'{{ if }}' without '{{ end }}'",
            ));
        }
        Ok((nodes, None))
    }
    fn eval(nodes: &[Node], system: &str, prompt: &str, out: &mut String) {
        let get = |v: &str| match v {
            ".System" => system,
            ".Prompt" => prompt,
            _ => "",
        };
        for n in nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Var(v) => out.push_str(get(v)),
                Node::If(c, then, els) => {
                    if get(c).is_empty() {
                        eval(els, system, prompt, out)
                    } else {
                        eval(then, system, prompt, out)
                    }
                }
            }
        }
    }
    let mut i = 0;
    let (nodes, _) = parse(&parts, &mut i, false)?;
    let mut out = String::new();
    eval(&nodes, system, prompt, &mut out);
    Ok(out)
}

/// One tool call parsed from the answer.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub name: String,
    pub arguments: Value,
}

/// Splits an answer into its text and the tool calls it makes, in the
/// `<tool_call>{"name": …, "arguments": {…}}</tool_call>` form of Qwen2.5
/// and Hermes-style templates. Malformed blocks stay in the text.
pub fn parse_tool_calls(answer: &str) -> (String, Vec<ToolCall>) {
    const OPEN: &str = "<tool_call>";
    const CLOSE: &str = "</tool_call>";
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut rest = answer;
    while let Some(start) = rest.find(OPEN) {
        let body_start = start + OPEN.len();
        let Some(len) = rest[body_start..].find(CLOSE) else {
            break;
        };
        let body = rest[body_start..body_start + len].trim();
        let parsed = serde_json::from_str::<Value>(body).ok().and_then(|v| {
            let name = v.get("name")?.as_str()?.to_string();
            let arguments = match v.get("arguments") {
                Some(Value::String(s)) => {
                    serde_json::from_str(s).unwrap_or(Value::String(s.clone()))
                }
                Some(a) => a.clone(),
                None => Value::Object(Default::default()),
            };
            Some(ToolCall { name, arguments })
        });
        match parsed {
            Some(c) => {
                text.push_str(&rest[..start]);
                calls.push(c);
            }
            None => text.push_str(&rest[..body_start + len + CLOSE.len()]),
        }
        rest = &rest[body_start + len + CLOSE.len()..];
    }
    text.push_str(rest);
    if !calls.is_empty() {
        text = text.trim().to_string();
    }
    (text, calls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_template_subset() {
        let t = "{{ if .System }}<|system|>{{ .System }}\n{{ end }}<|user|>{{ .Prompt }}\n<|assistant|>";
        assert_eq!(
            render_go_template(t, "be brief", "hi").unwrap(),
            "<|system|>be brief\n<|user|>hi\n<|assistant|>"
        );
        assert_eq!(
            render_go_template(t, "", "hi").unwrap(),
            "<|user|>hi\n<|assistant|>"
        );
        assert_eq!(
            render_go_template(
                "A {{- .Prompt -}} B{{if .System}}x{{else}}y{{end}}",
                "",
                "p"
            )
            .unwrap(),
            "ApB y".replace(' ', "")
        );
        for bad in [
            "{{ .Messages }}",
            "{{ range .Messages }}x{{ end }}",
            "{{ if .System }}x",
            "{{ end }}",
            "{{ .Prompt ",
        ] {
            let e = render_go_template(bad, "", "").unwrap_err();
            assert!(e.message.starts_with("template:"), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn tool_calls_are_parsed_and_removed_from_text() {
        let (text, calls) = parse_tool_calls(
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
        );
        assert_eq!(text, "");
        assert_eq!(
            calls,
            vec![ToolCall {
                name: "get_weather".into(),
                arguments: json!({"city": "Paris"})
            }]
        );
        let (text, calls) = parse_tool_calls("no tools here <tool_call>not json</tool_call>");
        assert!(calls.is_empty());
        assert_eq!(text, "no tools here <tool_call>not json</tool_call>");
    }
}
