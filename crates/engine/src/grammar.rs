//! Structured output: constrain sampling to JSON, or to a JSON schema, with
//! llguidance (token masks computed from the grammar and a trie of the
//! vocabulary's bytes, each step, in microseconds).

use crate::EngineError;
use edgellm_tokenizer::Tokenizer;
use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::{ApproximateTokEnv, TokRxInfo, TokTrie};
use llguidance::{Matcher, ParserFactory};
use serde_json::{json, Value};
use std::sync::Arc;

/// What the answer must be.
#[derive(Clone, Debug, PartialEq)]
pub enum OutputFormat {
    /// Any JSON object (Ollama's `"format": "json"`, OpenAI's `json_object`).
    Json,
    /// A JSON value valid against this schema.
    JsonSchema(Value),
}

impl OutputFormat {
    fn schema(&self) -> Value {
        let mut schema = match self {
            OutputFormat::Json => json!({"type": "object"}),
            OutputFormat::JsonSchema(s) => s.clone(),
        };
        close_objects(&mut schema);
        // Compact JSON: a small model cannot loop on whitespace.
        if let Some(obj) = schema.as_object_mut() {
            obj.entry("x-guidance")
                .or_insert_with(|| json!({"whitespace_flexible": false}));
        }
        schema
    }
}

/// Objects that list their `properties` get exactly those (as llama.cpp's
/// schema converter and Ollama do) unless the schema says otherwise: a small
/// model otherwise keeps inventing keys.
fn close_objects(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.contains_key("properties") && !o.contains_key("additionalProperties") {
                o.insert("additionalProperties".into(), Value::Bool(false));
            }
            for (_, child) in o.iter_mut() {
                close_objects(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// The grammar compiler for one model's vocabulary (built once per model).
pub struct Grammars {
    factory: ParserFactory,
    eos: u32,
}

impl Grammars {
    /// Indexes the vocabulary: control tokens are marked special so text
    /// grammars never produce them.
    pub fn new(tok: &Tokenizer) -> Result<Grammars, EngineError> {
        let n = tok.n_vocab() as u32;
        let eos = tok
            .eot()
            .or(tok.eos())
            .ok_or_else(|| EngineError::Grammar("the model has no end-of-text token".into()))?;
        let words: Vec<Vec<u8>> = (0..n)
            .map(|id| {
                if tok.is_control(id) {
                    let mut w = vec![TokTrie::SPECIAL_TOKEN_MARKER];
                    w.extend_from_slice(tok.token_to_piece(id, true));
                    w
                } else {
                    tok.token_to_piece(id, false).to_vec()
                }
            })
            .collect();
        let info = TokRxInfo {
            vocab_size: n,
            tok_eos: eos,
            tok_bos: tok.bos(),
            tok_pad: None,
            tok_unk: None,
            tok_end_of_turn: None,
        };
        let env: llguidance::toktrie::TokEnv =
            Arc::new(ApproximateTokEnv::new(TokTrie::from(&info, &words)));
        let mut factory =
            ParserFactory::new_simple(&env).map_err(|e| EngineError::Grammar(e.to_string()))?;
        factory.set_stderr_log_level(0);
        Ok(Grammars { factory, eos })
    }

    /// A fresh matcher for one answer; an invalid schema is an error here.
    pub fn matcher(&self, format: &OutputFormat) -> Result<Constraint, EngineError> {
        let grammar = TopLevelGrammar::from_json_schema(format.schema());
        let parser = self
            .factory
            .create_parser(grammar)
            .map_err(|e| EngineError::Grammar(format!("invalid JSON schema: {e}")))?;
        let matcher = Matcher::new(Ok(parser));
        if let Some(e) = matcher.get_error() {
            return Err(EngineError::Grammar(format!("invalid JSON schema: {e}")));
        }
        Ok(Constraint {
            matcher,
            eos: self.eos,
        })
    }
}

/// The grammar state of one answer.
pub struct Constraint {
    matcher: Matcher,
    eos: u32,
}

impl Constraint {
    /// Sets the logits of tokens the grammar forbids to −∞. End-of-generation
    /// tokens are allowed exactly when the grammar may end here.
    pub fn mask(&mut self, logits: &mut [f32], tok: &Tokenizer) -> Result<(), EngineError> {
        let mask = self
            .matcher
            .compute_mask()
            .map_err(|e| EngineError::Grammar(e.to_string()))?;
        let eos_ok = mask.is_allowed(self.eos);
        for (id, l) in logits.iter_mut().enumerate() {
            let id = id as u32;
            let allowed = if tok.is_eog(id) {
                eos_ok
            } else {
                (id as usize) < mask.len() && mask.is_allowed(id)
            };
            if !allowed {
                *l = f32::NEG_INFINITY;
            }
        }
        Ok(())
    }

    /// Advances past a sampled token (not an end-of-generation one).
    pub fn consume(&mut self, token: u32) -> Result<(), EngineError> {
        self.matcher
            .consume_token(token)
            .map_err(|e| EngineError::Grammar(e.to_string()))
    }

    /// The grammar is complete and allows nothing more.
    pub fn is_finished(&self) -> bool {
        self.matcher.is_stopped()
    }
}
