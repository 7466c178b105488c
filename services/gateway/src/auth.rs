//! Who may call: bearer tokens (kept only as SHA-256 digests) mapped to a
//! role and a principal, and a token-bucket rate limit per token.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::Gateway;

/// Who may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A borrowing (and possibly lending) enterprise.
    Enterprise,
    /// An HR service agency or public employment service.
    Agency,
    /// A labour-market operator (read-only, aggregates).
    Operator,
    /// A worker acting through a worker link (never a bearer token).
    Worker,
}

/// The caller behind a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Its role.
    pub role: Role,
    /// Its id (an enterprise id for enterprises).
    pub id: String,
}

/// Bearer tokens by their SHA-256 digest.
#[derive(Clone, Debug, Default)]
pub struct Tokens(HashMap<[u8; 32], Principal>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    token: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    token: String,
    role: Role,
    principal: String,
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

impl Tokens {
    /// Adds a token.
    pub fn insert(&mut self, token: &str, role: Role, principal: &str) {
        self.0.insert(
            digest(token),
            Principal {
                role,
                id: principal.to_owned(),
            },
        );
    }

    /// Reads a keys file:
    ///
    /// ```toml
    /// [[token]]
    /// token = "…at least 16 characters…"
    /// role = "enterprise"
    /// principal = "ent-lanzhou-001"
    /// ```
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let f: KeysFile = toml::from_str(text).map_err(|e| format!("keys file: {e}"))?;
        let mut t = Tokens::default();
        for (i, k) in f.token.iter().enumerate() {
            check_token(&k.token, &k.principal).map_err(|m| format!("token[{i}]: {m}"))?;
            t.add(&k.token, k.role, &k.principal)
                .map_err(|m| format!("token[{i}]: {m}"))?;
        }
        Ok(t)
    }

    /// Reads `role:principal:token` entries separated by `;` (the
    /// `LENDWORK_GATEWAY_TOKENS` variable).
    pub fn from_env_value(v: &str) -> Result<Self, String> {
        let mut t = Tokens::default();
        for (i, entry) in v.split(';').filter(|e| !e.trim().is_empty()).enumerate() {
            let mut parts = entry.trim().splitn(3, ':');
            let (Some(role), Some(principal), Some(token)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!(
                    "LENDWORK_GATEWAY_TOKENS entry {i}: must be role:principal:token"
                ));
            };
            let role: Role = serde_json::from_value(serde_json::Value::String(role.into())).map_err(|_| {
                format!("LENDWORK_GATEWAY_TOKENS entry {i}: role must be enterprise, agency or operator")
            })?;
            check_token(token, principal)
                .map_err(|m| format!("LENDWORK_GATEWAY_TOKENS entry {i}: {m}"))?;
            t.add(token, role, principal)
                .map_err(|m| format!("LENDWORK_GATEWAY_TOKENS entry {i}: {m}"))?;
        }
        Ok(t)
    }

    /// Merges `other` in, refusing a token that `self` already gives to
    /// another role or principal (one token, one caller).
    pub fn extend(&mut self, other: Tokens) -> Result<(), String> {
        for (d, p) in &other.0 {
            if let Some(q) = self.0.get(d) {
                if q != p {
                    return Err(format!(
                        "a token is given to both {:?} {} and {:?} {}: one token, one caller",
                        q.role, q.id, p.role, p.id
                    )
                    .to_lowercase());
                }
            }
        }
        self.0.extend(other.0);
        Ok(())
    }

    /// Adds a token unless it is already given to another role or
    /// principal.
    fn add(&mut self, token: &str, role: Role, principal: &str) -> Result<(), String> {
        let mut one = Tokens::default();
        one.insert(token, role, principal);
        self.extend(one)
    }

    /// The principal of a token, with the token's digest (the key of its
    /// rate-limit bucket).
    pub(crate) fn get(&self, token: &str) -> Option<([u8; 32], &Principal)> {
        let d = digest(token);
        self.0.get(&d).map(|p| (d, p))
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No tokens at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The token of an `Authorization` value: the `Bearer` scheme, whose name is
/// case-insensitive (RFC 9110 §11.1), then one or more spaces.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim_start())
}

fn check_token(token: &str, principal: &str) -> Result<(), String> {
    if token.len() < 16 {
        return Err("token must be at least 16 characters".into());
    }
    if lendwork_domain::EnterpriseId::new(principal).is_err() {
        return Err("principal must be 1–64 characters of A-Za-z0-9._:-".into());
    }
    Ok(())
}

pub(crate) struct Bucket {
    pub(crate) tokens: f64,
    pub(crate) at: Instant,
}

impl Gateway {
    pub(crate) fn authenticate(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> Result<Principal, ApiError> {
        let token = headers
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .and_then(bearer)
            .map(str::to_owned)
            .or_else(|| query.map(str::to_owned));
        let Some(token) = token else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                Some("authorization"),
                "a bearer token is required",
            ));
        };
        let Some((key, p)) = self.tokens.get(token.trim()) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                Some("authorization"),
                "unknown token",
            ));
        };
        // Rate limit per token.
        let mut buckets = self.buckets.lock().expect("not poisoned");
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: self.opts.burst,
            at: Instant::now(),
        });
        let now = Instant::now();
        b.tokens =
            (b.tokens + (now - b.at).as_secs_f64() * self.opts.rate_per_sec).min(self.opts.burst);
        b.at = now;
        if b.tokens < 1.0 {
            self.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError {
                retry_after: Some(1),
                extra: None,
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, None, "rate limit exceeded")
            });
        }
        b.tokens -= 1.0;
        Ok(p.clone())
    }

    pub(crate) fn require(&self, p: &Principal, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&p.role) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                None,
                format!("this route is not for the {:?} role", p.role).to_lowercase(),
            ))
        }
    }
}
