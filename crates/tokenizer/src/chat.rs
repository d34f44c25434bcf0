//! Chat templates: `tokenizer.chat_template` rendered with minijinja the way
//! Hugging Face's `apply_chat_template` renders it (Jinja `trim_blocks` and
//! `lstrip_blocks`, Python string methods, `raise_exception`,
//! `strftime_now`), with a built-in format when a file has no template.

use std::time::{SystemTime, UNIX_EPOCH};

use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind};
use serde::Serialize;

use crate::TokenizerError;

/// One chat turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }
}

const TEMPLATE_NAME: &str = "chat";

/// Gemma's turn format; a leading system message is prepended to the first
/// user turn, and roles must alternate, as in Gemma 3's official template.
const GEMMA_TEMPLATE: &str = r#"{{ bos_token }}
{%- if messages and messages[0]['role'] == 'system' -%}
    {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = '' -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif -%}
    {%- if message['role'] == 'assistant' -%}
        {%- set role = 'model' -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}
    {{- message['content'] | trim }}
    {{- '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{ '<start_of_turn>model\n' }}
{%- endif -%}
"#;

/// ChatML, llama.cpp's generic fallback.
const CHATML_TEMPLATE: &str = r#"{%- for message in messages -%}
    {{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{ '<|im_start|>assistant\n' }}
{%- endif -%}
"#;

/// The template a file implies: its own, else one known for its architecture.
pub(crate) fn template_source(template: Option<&str>, architecture: &str) -> String {
    match template {
        Some(t) if !t.trim().is_empty() => t.to_string(),
        _ if architecture.starts_with("gemma") => GEMMA_TEMPLATE.to_string(),
        _ => CHATML_TEMPLATE.to_string(),
    }
}

/// Marker strings of the capability probes.
const PROBE_SYSTEM: &str = "<<edgellm system probe>>";
const PROBE_CONTENT: &str = "<<edgellm content probe>>";

/// A compiled chat template plus what it can render, probed once at
/// compile time the way llama.cpp probes templates: a template that drops
/// or rejects a system message gets the system text merged into the next
/// message, and one that only reads typed content parts gets
/// `[{"type": "text", "text": ..}]` instead of a string.
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
    supports_system_role: bool,
    typed_content_only: bool,
    /// "developer" → "system" (all templates but gpt-oss's)
    map_developer_role: bool,
}

impl ChatTemplate {
    /// Compiles a Hugging Face style Jinja chat template.
    pub fn new(source: impl Into<String>) -> Result<Self, TokenizerError> {
        let source = without_generation_tags(&source.into());
        let map_developer_role = !source.contains("<|channel|>");
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        minijinja_contrib::add_to_environment(&mut env);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_filter("tojson", tojson);
        env.add_filter("length", length);
        env.add_filter("count", length);
        env.add_test("iterable", is_iterable);
        env.add_template_owned(TEMPLATE_NAME, source)
            .map_err(|e| TokenizerError::Template(describe(&e)))?;
        let mut template = Self {
            env,
            supports_system_role: true,
            typed_content_only: false,
            map_developer_role,
        };
        template.probe();
        Ok(template)
    }

    fn probe(&mut self) {
        let renders = |messages: serde_json::Value, marker: &str| {
            let mut ctx = serde_json::Map::new();
            ctx.insert("messages".into(), messages);
            self.render_context(ctx, false, "", "")
                .is_ok_and(|out| out.contains(marker))
        };
        let supports_system_role = renders(
            serde_json::json!([
                {"role": "system", "content": PROBE_SYSTEM},
                {"role": "user", "content": "User message"},
            ]),
            PROBE_SYSTEM,
        );
        let string_content = renders(
            serde_json::json!([{"role": "user", "content": PROBE_CONTENT}]),
            PROBE_CONTENT,
        );
        let typed_content_only = !string_content
            && renders(
                serde_json::json!([
                    {"role": "user", "content": [{"type": "text", "text": PROBE_CONTENT}]}
                ]),
                PROBE_CONTENT,
            );
        self.supports_system_role = supports_system_role;
        self.typed_content_only = typed_content_only;
    }

    /// Whether the template renders a leading system message itself.
    pub fn supports_system_role(&self) -> bool {
        self.supports_system_role
    }

    /// Renders `messages`; `extra` adds template variables (e.g.
    /// `enable_thinking`, `tools`). `tools` is none unless given.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
        bos_token: &str,
        eos_token: &str,
        extra: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Result<String, TokenizerError> {
        let mut messages: Vec<ChatMessage> = messages.to_vec();
        if self.map_developer_role {
            for m in &mut messages {
                if m.role == "developer" {
                    m.role = "system".into();
                }
            }
        }
        if !self.supports_system_role && messages.first().is_some_and(|m| m.role == "system") {
            let system = messages.remove(0);
            if let Some(next) = messages.first_mut() {
                next.content = format!("{}\n{}", system.content, next.content);
            }
        }
        let messages: Vec<serde_json::Value> = messages
            .into_iter()
            .map(|m| {
                let content = if self.typed_content_only {
                    serde_json::json!([{"type": "text", "text": m.content}])
                } else {
                    serde_json::Value::String(m.content)
                };
                serde_json::json!({"role": m.role, "content": content})
            })
            .collect();
        let mut ctx = serde_json::Map::new();
        ctx.insert("tools".into(), serde_json::Value::Null);
        if let Some(extra) = extra {
            ctx.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        ctx.insert("messages".into(), serde_json::Value::Array(messages));
        self.render_context(ctx, add_generation_prompt, bos_token, eos_token)
            .map_err(TokenizerError::Template)
    }

    fn render_context(
        &self,
        mut ctx: serde_json::Map<String, serde_json::Value>,
        add_generation_prompt: bool,
        bos_token: &str,
        eos_token: &str,
    ) -> Result<String, String> {
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| describe(&e))?;
        ctx.insert("add_generation_prompt".into(), add_generation_prompt.into());
        ctx.insert("bos_token".into(), bos_token.into());
        ctx.insert("eos_token".into(), eos_token.into());
        template
            .render(Value::from_serialize(&ctx))
            .map_err(|e| describe(&e))
    }
}

/// Error text with the template's reason and location, without the source dump.
fn describe(e: &Error) -> String {
    let mut text = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    if let Some(line) = e.line() {
        text.push_str(&format!(" (line {line})"));
    }
    text
}

/// Hugging Face's `{% generation %}` block (it marks assistant text for
/// training masks) renders its body: turn it into an always-true `if`,
/// keeping the whitespace control of the tags.
fn without_generation_tags(source: &str) -> String {
    static TAGS: std::sync::OnceLock<fancy_regex::Regex> = std::sync::OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        fancy_regex::Regex::new(r"\{%(-?)\s*(end)?generation\s*(-?)%\}").expect("valid regex")
    });
    tags.replace_all(source, |caps: &fancy_regex::Captures<'_>| {
        let open = caps.get(1).map_or("", |m| m.as_str());
        let close = caps.get(3).map_or("", |m| m.as_str());
        let statement = if caps.get(2).is_some() {
            "endif"
        } else {
            "if true"
        };
        format!("{{%{open} {statement} {close}%}}")
    })
    .into_owned()
}

/// Python's `len` with Jinja2's undefined (length 0).
fn length(value: Value) -> Result<usize, Error> {
    if value.is_undefined() {
        return Ok(0);
    }
    value.len().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("cannot calculate length of value of type {}", value.kind()),
        )
    })
}

/// Jinja2's `iterable`: `none` is not (minijinja says it is), undefined is.
fn is_iterable(value: Value) -> bool {
    if value.is_undefined() {
        return true;
    }
    !value.is_none() && value.try_iter().is_ok()
}

fn raise_exception(message: String) -> Result<Value, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, message))
}

/// `json.dumps(value, ensure_ascii=False)` with Python's separators (the
/// default `tojson` of minijinja escapes HTML characters and drops spaces).
fn tojson(value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    kwargs.assert_all_used()?;
    let json = serde_json::to_value(&value)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
    let mut out = String::new();
    write_python_json(&json, indent, 0, &mut out);
    Ok(Value::from_safe_string(out))
}

fn write_python_json(v: &serde_json::Value, indent: Option<usize>, depth: usize, out: &mut String) {
    use serde_json::Value as J;
    let newline = |out: &mut String, depth: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * depth));
        }
    };
    let item_sep = if indent.is_some() { "," } else { ", " };
    match v {
        J::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, depth + 1);
                write_python_json(item, indent, depth + 1, out);
            }
            newline(out, depth);
            out.push(']');
        }
        J::Object(map) if !map.is_empty() => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, depth + 1);
                out.push_str(&J::String(k.clone()).to_string());
                out.push_str(": ");
                write_python_json(item, indent, depth + 1, out);
            }
            newline(out, depth);
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Python's `strftime` on the current time (UTC), for the common directives.
fn strftime_now(format: String) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    strftime(&format, secs)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Days since 1970-01-01 → (year, month 1..=12, day 1..=31) (Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn strftime(format: &str, unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let secs_of_day = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    let weekday = (days + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    let day_of_year = days - days_before_year(year) + 1;
    let month_name = MONTHS[(month - 1) as usize];
    let hour12 = if hour % 12 == 0 { 12 } else { hour % 12 };
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&year.to_string()),
            Some('y') => out.push_str(&format!("{:02}", year.rem_euclid(100))),
            Some('m') => out.push_str(&format!("{month:02}")),
            Some('d') => out.push_str(&format!("{day:02}")),
            Some('e') => out.push_str(&format!("{day:>2}")),
            Some('B') => out.push_str(month_name),
            Some('b') | Some('h') => out.push_str(&month_name[..3]),
            Some('A') => out.push_str(WEEKDAYS[weekday]),
            Some('a') => out.push_str(&WEEKDAYS[weekday][..3]),
            Some('H') => out.push_str(&format!("{hour:02}")),
            Some('I') => out.push_str(&format!("{hour12:02}")),
            Some('M') => out.push_str(&format!("{minute:02}")),
            Some('S') => out.push_str(&format!("{second:02}")),
            Some('p') => out.push_str(if hour < 12 { "AM" } else { "PM" }),
            Some('j') => out.push_str(&format!("{day_of_year:03}")),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

fn days_before_year(year: i64) -> i64 {
    // days from 1970-01-01 to January 1st of `year`
    let y = year - 1;
    let leaps = |y: i64| y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400);
    365 * (year - 1970) + leaps(y) - leaps(1969)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strftime_formats_known_date() {
        // 2024-07-23 14:05:09 UTC, a Tuesday, day 205
        let t = 1_721_743_509;
        assert_eq!(strftime("%d %b %Y", t), "23 Jul 2024");
        assert_eq!(
            strftime("%A %B %e, %H:%M:%S %p %j %%", t),
            "Tuesday July 23, 14:05:09 PM 205 %"
        );
        assert_eq!(strftime("%Y-%m-%d", 0), "1970-01-01");
    }

    #[test]
    fn tojson_uses_python_separators() {
        let v: serde_json::Value = serde_json::json!({"a": [1, "é"], "b": {}});
        let mut out = String::new();
        write_python_json(&v, None, 0, &mut out);
        assert_eq!(out, r#"{"a": [1, "é"], "b": {}}"#);
        out.clear();
        write_python_json(&serde_json::json!({"a": [1]}), Some(2), 0, &mut out);
        assert_eq!(out, "{\n  \"a\": [\n    1\n  ]\n}");
    }
}
