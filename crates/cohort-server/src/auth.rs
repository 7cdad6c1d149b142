//! Write keys, sent as Segment SDKs send them: the Basic-auth user name
//! with an empty password.

use axum::http::{header, HeaderMap};
use base64::Engine as _;

use crate::error::ApiError;

/// Checks an admin route's key against the configured admin keys (write
/// keys are public — shipped in apps — so they never open admin routes).
pub(crate) fn check_admin(headers: &HeaderMap, config: &crate::ServerConfig) -> Result<(), ApiError> {
    check(headers, &config.admin_keys)
}

/// Checks the request's write key against the configured ones.
pub(crate) fn check(headers: &HeaderMap, keys: &[String]) -> Result<(), ApiError> {
    let value = headers.get(header::AUTHORIZATION).ok_or(ApiError::MissingKey)?;
    let value = value.to_str().map_err(|_| ApiError::InvalidKey)?;
    let (scheme, encoded) = value.split_once(' ').ok_or(ApiError::InvalidKey)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::MissingKey);
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| ApiError::InvalidKey)?;
    let user = decoded.split(|b| *b == b':').next().unwrap_or_default();
    if keys.iter().any(|k| equal(k.as_bytes(), user)) {
        Ok(())
    } else {
        Err(ApiError::InvalidKey)
    }
}

/// Compares without stopping at the first difference.
fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `Authorization` header value for a write key.
pub fn basic(write_key: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{write_key}:")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_basic_auth_user_name() {
        let keys = vec!["wk_live".to_string()];
        let mut h = HeaderMap::new();
        assert!(matches!(check(&h, &keys), Err(ApiError::MissingKey)));
        h.insert(header::AUTHORIZATION, basic("wk_live").parse().unwrap());
        assert!(check(&h, &keys).is_ok());
        h.insert(header::AUTHORIZATION, basic("wk_other").parse().unwrap());
        assert!(matches!(check(&h, &keys), Err(ApiError::InvalidKey)));
        h.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert!(matches!(check(&h, &keys), Err(ApiError::InvalidKey)));
    }
}
