//! Errors as HTTP responses, in the shape each API's clients parse:
//! Ollama's `{"error": "..."}` and OpenAI's `{"error": {"message", "type",
//! "param", "code"}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use edgellm_engine::{EngineError, SubmitError};
use serde_json::json;

/// Which API's error shape a response takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Ollama,
    OpenAi,
}

/// An error a handler returns.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub flavor: Flavor,
    /// The request field at fault (OpenAI's `param`).
    pub param: Option<String>,
    /// Seconds for a `Retry-After` header (503 when busy).
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            flavor: Flavor::Ollama,
            param: None,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// A request field that is unknown or not supported.
    pub fn bad_field(field: &str, why: impl std::fmt::Display) -> ApiError {
        let mut e = ApiError::bad_request(format!("{field}: {why}"));
        e.param = Some(field.to_string());
        e
    }

    /// Ollama's wording for a model that is not in the store.
    pub fn model_not_found(name: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("model '{name}' not found, try pulling it first"),
        )
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn openai(mut self) -> ApiError {
        self.flavor = Flavor::OpenAi;
        self
    }

    fn openai_type(&self) -> &'static str {
        match self.status {
            StatusCode::NOT_FOUND => "not_found_error",
            StatusCode::UNAUTHORIZED => "authentication_error",
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
            s if s.is_client_error() => "invalid_request_error",
            _ => "api_error",
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.flavor {
            Flavor::Ollama => json!({ "error": self.message }),
            Flavor::OpenAi => json!({ "error": {
                "message": self.message,
                "type": self.openai_type(),
                "param": self.param,
                "code": null,
            }}),
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::PromptTooLong { .. }
            | EngineError::EmptyPrompt
            | EngineError::Option(_)
            | EngineError::Grammar(_)
            | EngineError::Tokenizer(_) => ApiError::bad_request(e.to_string()),
            EngineError::Model(edgellm_model::ModelError::TokenOutOfRange { .. }) => {
                ApiError::bad_request(e.to_string())
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> ApiError {
        match e {
            SubmitError::Invalid(e) => e.into(),
            SubmitError::QueueFull { .. } => {
                let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
                err.retry_after = Some(1);
                err
            }
            SubmitError::Closed => {
                let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
                err.retry_after = Some(1);
                err
            }
        }
    }
}
