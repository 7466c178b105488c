//! The error answer: JSON `{"error": {"status", "field", "message"}}`
//! naming the field and the rule, and the 202 answer of a write.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lendwork_domain::EventId;
use lendwork_ports::StoreError;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) field: Option<String>,
    pub(crate) message: String,
    pub(crate) retry_after: Option<u64>,
    /// Members added to the error object (a refused step's state and
    /// what is allowed).
    pub(crate) extra: Option<Map<String, Value>>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            status,
            field: field.map(str::to_owned),
            message: message.into(),
            retry_after: None,
            extra: None,
        }
    }
    /// 409: a step on a proposal that does not apply in its state; the
    /// body names the state and what is allowed.
    pub(crate) fn refused(r: &lendwork_engine::machine::Refusal) -> Self {
        let mut extra = Map::new();
        extra.insert("state".into(), json!(r.status));
        extra.insert("allowed".into(), json!(r.allowed));
        Self {
            extra: Some(extra),
            ..Self::new(StatusCode::CONFLICT, None, r.to_string())
        }
    }

    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, None, "not found")
    }
    pub(crate) fn unavailable(what: &str) -> Self {
        Self {
            retry_after: Some(5),
            extra: None,
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                format!("{what} is unavailable; nothing was applied, retry later"),
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": {
            "status": self.status.as_u16(),
            "field": self.field,
            "message": self.message,
        }});
        if let (Some(extra), Some(Value::Object(e))) = (self.extra, body.get_mut("error")) {
            e.extend(extra);
        }
        let mut r = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert("retry-after", HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 9110 §11.6.1: a 401 names the scheme it wants.
            r.headers_mut().insert(
                "www-authenticate",
                HeaderValue::from_static("Bearer realm=\"lendwork\""),
            );
        }
        r
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => ApiError::unavailable("the state store"),
            StoreError::Invalid(m) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                format!("refused: {m}"),
            ),
        }
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

pub(crate) fn accepted(ids: Vec<String>) -> Response {
    let body = if ids.len() == 1 {
        json!({"event_id": ids[0]})
    } else {
        json!({"event_ids": ids})
    };
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// [`accepted`] for one event, written without building a JSON value.
pub(crate) fn accepted_one(id: &EventId) -> Response {
    let body = serde_json::to_vec(&AcceptedOne {
        event_id: id.as_str(),
    })
    .expect("serializable");
    (
        StatusCode::ACCEPTED,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

#[derive(Serialize)]
struct AcceptedOne<'a> {
    event_id: &'a str,
}

/// Parses a JSON object body: 400 when it is not one.
pub(crate) fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Some("(body)"),
            format!("must be a JSON object: {e}"),
        )
    })?;
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            Some("(body)"),
            "must be a JSON object",
        )),
    }
}

/// Parses a small fixed-shape body (`shape` says what it must look like).
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    body: &[u8],
    shape: &str,
) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Some("(body)"),
            format!("must be {shape}: {e}"),
        )
    })
}

pub(crate) async fn not_found() -> Response {
    ApiError::not_found().into_response()
}

/// Refuses a body sent as anything but JSON: a `Content-Type` other than
/// `application/json` (or a `+json` type) is 415, naming the header. A body
/// without the header is read as JSON (the API has no other body type).
/// A `Content-Type` value's media type, lower case, without parameters.
pub(crate) fn media_type(v: &axum::http::HeaderValue) -> String {
    v.to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

pub(crate) fn json_body(headers: &axum::http::HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let Some(v) = headers.get(axum::http::header::CONTENT_TYPE) else {
        return Ok(());
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let essence = media_type(v);
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("content-type"),
            format!("must be application/json, not {essence:?}"),
        ))
    }
}
