//! Runtime parameters as a Modelfile's `PARAMETER` lines and a manifest's params layer hold
//! them. The store must not depend on the engine, so the list of names the engine accepts
//! (`edgellm_engine::Options`) is repeated here; a test in the CLI crate, which sees both,
//! checks that the two lists agree.

use serde_json::{Map, Number, Value};

/// The JSON type a parameter's value takes in the params layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Float,
    /// A signed integer.
    Int,
    /// A non-negative integer.
    UInt,
    /// A list of strings, one item per `PARAMETER` line (only `stop`).
    StringList,
}

/// Every runtime option the engine understands, with its kind.
pub const PARAMETERS: &[(&str, ParamKind)] = &[
    ("temperature", ParamKind::Float),
    ("top_k", ParamKind::UInt),
    ("top_p", ParamKind::Float),
    ("min_p", ParamKind::Float),
    ("repeat_penalty", ParamKind::Float),
    ("repeat_last_n", ParamKind::Int),
    ("presence_penalty", ParamKind::Float),
    ("frequency_penalty", ParamKind::Float),
    ("seed", ParamKind::UInt),
    ("num_predict", ParamKind::Int),
    ("num_ctx", ParamKind::UInt),
    ("num_thread", ParamKind::UInt),
    ("num_batch", ParamKind::UInt),
    ("stop", ParamKind::StringList),
];

/// The kind of a known parameter.
pub fn param_kind(name: &str) -> Option<ParamKind> {
    PARAMETERS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

/// Add one `PARAMETER name value` to `params`: a list parameter appends, others replace.
/// The error says what is wrong, for the caller to prefix with the line.
pub fn set_param(
    params: &mut Map<String, Value>,
    name: &str,
    value: &str,
) -> std::result::Result<(), String> {
    let Some(kind) = param_kind(name) else {
        let known: Vec<&str> = PARAMETERS.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "unknown parameter {name:?} (known: {})",
            known.join(", ")
        ));
    };
    let value = unquote(value.trim());
    let invalid = |why: &str| format!("invalid value {value:?} for parameter {name}: {why}");
    let json = match kind {
        ParamKind::Float => {
            let v: f64 = value.parse().map_err(|_| invalid("expected a number"))?;
            Value::Number(Number::from_f64(v).ok_or_else(|| invalid("not a finite number"))?)
        }
        ParamKind::Int => Value::from(
            value
                .parse::<i64>()
                .map_err(|_| invalid("expected an integer"))?,
        ),
        ParamKind::UInt => Value::from(
            value
                .parse::<u64>()
                .map_err(|_| invalid("expected a non-negative integer"))?,
        ),
        ParamKind::StringList => {
            if value.is_empty() {
                return Err(invalid("must not be empty"));
            }
            let entry = params
                .entry(name.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            match entry {
                Value::Array(items) => items.push(Value::from(value)),
                other => *other = Value::Array(vec![Value::from(value)]),
            }
            return Ok(());
        }
    };
    params.insert(name.to_string(), json);
    Ok(())
}

/// `(name, value)` pairs as text, one per `PARAMETER` line (each `stop` on its own), in a
/// stable order: what `Options::set` takes, and what `show --parameters` prints.
pub fn param_pairs(params: &Map<String, Value>) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (name, value) in params {
        match value {
            Value::Array(items) => {
                for item in items {
                    pairs.push((name.clone(), value_text(item)));
                }
            }
            other => pairs.push((name.clone(), value_text(other))),
        }
    }
    pairs
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values_and_repeatable_stop() {
        let mut p = Map::new();
        set_param(&mut p, "temperature", "0.5").unwrap();
        set_param(&mut p, "num_ctx", "2048").unwrap();
        set_param(&mut p, "stop", "\"<|im_end|>\"").unwrap();
        set_param(&mut p, "stop", "User:").unwrap();
        set_param(&mut p, "repeat_last_n", "-1").unwrap();
        assert_eq!(
            Value::Object(p.clone()),
            serde_json::json!({"temperature": 0.5, "num_ctx": 2048,
                "stop": ["<|im_end|>", "User:"], "repeat_last_n": -1})
        );
        let pairs = param_pairs(&p);
        assert!(pairs.contains(&("stop".into(), "User:".into())));
        assert!(pairs.contains(&("num_ctx".into(), "2048".into())));
    }

    #[test]
    fn bad_names_and_values_are_explained() {
        let mut p = Map::new();
        assert!(set_param(&mut p, "tempature", "1")
            .unwrap_err()
            .contains("unknown parameter"));
        assert!(set_param(&mut p, "num_ctx", "-5")
            .unwrap_err()
            .contains("non-negative"));
        assert!(set_param(&mut p, "top_p", "x")
            .unwrap_err()
            .contains("number"));
        assert!(set_param(&mut p, "stop", "\"\"").is_err());
        assert!(p.is_empty());
    }
}
