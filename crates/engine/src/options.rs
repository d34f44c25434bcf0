//! Runtime options with Ollama's names and defaults.

use serde::{Deserialize, Serialize};

/// Sampling and context options (Ollama's `options` object).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    pub temperature: f32,
    pub top_k: usize,
    pub top_p: f32,
    pub min_p: f32,
    pub repeat_penalty: f32,
    /// Recent tokens the penalties look at (0: off, -1: the whole context).
    pub repeat_last_n: i64,
    pub presence_penalty: f32,
    pub frequency_penalty: f32,
    /// Seed of the sampler; `None` draws one from the clock.
    pub seed: Option<u64>,
    /// Tokens to generate at most; -1: until end of generation or a full context.
    pub num_predict: i64,
    /// Requested context length in tokens (capped by the model's trained context).
    pub num_ctx: usize,
    /// Worker threads; `None` uses the number of physical cores.
    pub num_thread: Option<usize>,
    /// Prompt tokens per forward batch.
    pub num_batch: usize,
    pub stop: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.9,
            min_p: 0.0,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            seed: None,
            num_predict: -1,
            num_ctx: 4096,
            num_thread: None,
            num_batch: 512,
            stop: Vec::new(),
        }
    }
}

/// An option that could not be set.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OptionError {
    #[error("unknown parameter '{0}' (known: {KNOWN})")]
    Unknown(String),
    #[error("invalid value '{value}' for parameter '{name}': {why}")]
    Invalid {
        name: String,
        value: String,
        why: String,
    },
}

const KNOWN: &str =
    "temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n, presence_penalty, \
                     frequency_penalty, seed, num_predict, num_ctx, num_thread, num_batch, stop";

impl Options {
    /// Sets one option from text, as `/set parameter NAME VALUE` and
    /// Modelfile `PARAMETER` lines do. `stop` appends. On error nothing changes.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), OptionError> {
        let mut next = self.clone();
        next.set_unchecked(name, value)?;
        next.validate()?;
        *self = next;
        Ok(())
    }

    fn set_unchecked(&mut self, name: &str, value: &str) -> Result<(), OptionError> {
        fn parse<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, OptionError>
        where
            T::Err: std::fmt::Display,
        {
            value.trim().parse::<T>().map_err(|e| OptionError::Invalid {
                name: name.into(),
                value: value.into(),
                why: e.to_string(),
            })
        }
        match name {
            "temperature" => self.temperature = parse(name, value)?,
            "top_k" => self.top_k = parse(name, value)?,
            "top_p" => self.top_p = parse(name, value)?,
            "min_p" => self.min_p = parse(name, value)?,
            "repeat_penalty" => self.repeat_penalty = parse(name, value)?,
            "repeat_last_n" => self.repeat_last_n = parse(name, value)?,
            "presence_penalty" => self.presence_penalty = parse(name, value)?,
            "frequency_penalty" => self.frequency_penalty = parse(name, value)?,
            "seed" => self.seed = Some(parse(name, value)?),
            "num_predict" => self.num_predict = parse(name, value)?,
            "num_ctx" => self.num_ctx = parse(name, value)?,
            "num_thread" => self.num_thread = Some(parse(name, value)?),
            "num_batch" => self.num_batch = parse(name, value)?,
            "stop" => self.stop.push(unquote(value).to_string()),
            _ => return Err(OptionError::Unknown(name.into())),
        }
        Ok(())
    }

    /// Rejects impossible values, naming the option.
    pub fn validate(&self) -> Result<(), OptionError> {
        let bad = |name: &str, value: String, why: &str| {
            Err(OptionError::Invalid {
                name: name.into(),
                value,
                why: why.into(),
            })
        };
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return bad("temperature", self.temperature.to_string(), "must be ≥ 0");
        }
        if !(0.0..=1.0).contains(&self.top_p) {
            return bad("top_p", self.top_p.to_string(), "must be in [0, 1]");
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return bad("min_p", self.min_p.to_string(), "must be in [0, 1]");
        }
        if !(self.repeat_penalty > 0.0 && self.repeat_penalty.is_finite()) {
            return bad(
                "repeat_penalty",
                self.repeat_penalty.to_string(),
                "must be > 0",
            );
        }
        if self.repeat_last_n < -1 {
            return bad(
                "repeat_last_n",
                self.repeat_last_n.to_string(),
                "must be ≥ -1",
            );
        }
        if self.num_predict < -2 {
            return bad("num_predict", self.num_predict.to_string(), "must be ≥ -1");
        }
        if self.num_ctx == 0 {
            return bad("num_ctx", "0".into(), "must be ≥ 1");
        }
        if self.num_batch == 0 {
            return bad("num_batch", "0".into(), "must be ≥ 1");
        }
        if self.num_thread == Some(0) {
            return bad("num_thread", "0".into(), "must be ≥ 1");
        }
        if self.stop.iter().any(|s| s.is_empty()) {
            return bad("stop", "\"\"".into(), "stop strings must not be empty");
        }
        Ok(())
    }
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_ollamas() {
        let o = Options::default();
        assert_eq!(
            (o.temperature, o.top_k, o.top_p, o.min_p),
            (0.8, 40, 0.9, 0.0)
        );
        assert_eq!((o.repeat_penalty, o.repeat_last_n), (1.0, 64));
    }

    #[test]
    fn set_parses_and_validates() {
        let mut o = Options::default();
        o.set("temperature", "0").unwrap();
        o.set("stop", "\"<|im_end|>\"").unwrap();
        o.set("stop", "User:").unwrap();
        assert_eq!(o.temperature, 0.0);
        assert_eq!(o.stop, vec!["<|im_end|>", "User:"]);
        assert!(matches!(
            o.set("tempature", "1"),
            Err(OptionError::Unknown(_))
        ));
        let e = o.set("top_p", "1.5").unwrap_err();
        assert!(e.to_string().contains("top_p"), "{e}");
        assert!(o.set("top_k", "-3").is_err());
        assert_eq!(o.top_p, 0.9, "a rejected value leaves the option unchanged");
    }

    #[test]
    fn unknown_json_fields_are_rejected() {
        let e = serde_json::from_str::<Options>(r#"{"temperature": 0.1, "bogus": 1}"#).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }
}
