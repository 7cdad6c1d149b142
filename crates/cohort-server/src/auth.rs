//! Keys, sent as Segment SDKs send them: the Basic-auth user name with an
//! empty password, checked against the [`KeyRing`] and the route's role.

use axum::http::{header, HeaderMap};
use base64::Engine as _;

use crate::error::ApiError;
use crate::keys::{KeyRing, Role};
use crate::AppState;

/// Checks an admin route's key: an admin key passes, a write key (public —
/// shipped in apps) gets 403 `wrong_role`, an unknown or missing one 401.
pub(crate) fn check_admin(headers: &HeaderMap, state: &AppState) -> Result<(), ApiError> {
    authorize(key_of(headers)?, &state.keys, Role::Admin)
}

/// Checks an ingest route's key (write or admin).
pub(crate) fn check_write(headers: &HeaderMap, state: &AppState) -> Result<(), ApiError> {
    authorize(key_of(headers)?, &state.keys, Role::Write)
}

/// The role of an admin route's key (after [`check_admin`]'s checks): the
/// audience and profile routes unmask personal data for `admin_pii` only.
pub(crate) fn admin_role(headers: &HeaderMap, state: &AppState) -> Result<Role, ApiError> {
    check_admin(headers, state)?;
    state.keys.role_of(&key_of(headers)?).ok_or(ApiError::InvalidKey)
}

/// Checks a presented key against the ring and the role a route needs.
pub(crate) fn authorize(key: impl AsRef<[u8]>, ring: &KeyRing, needed: Role) -> Result<(), ApiError> {
    match ring.role_of(key.as_ref()) {
        None => Err(ApiError::InvalidKey),
        Some(role) if role.allows(needed) => Ok(()),
        Some(role) => Err(ApiError::WrongRole { role, needed }),
    }
}

/// The Basic-auth user name of the request.
fn key_of(headers: &HeaderMap) -> Result<Vec<u8>, ApiError> {
    let value = headers.get(header::AUTHORIZATION).ok_or(ApiError::MissingKey)?;
    let value = value.to_str().map_err(|_| ApiError::InvalidKey)?;
    let (scheme, encoded) = value.split_once(' ').ok_or(ApiError::InvalidKey)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::MissingKey);
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| ApiError::InvalidKey)?;
    let user = decoded.split(|b| *b == b':').next().unwrap_or_default();
    Ok(user.to_vec())
}

/// The `Authorization` header value for a key.
pub fn basic(key: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_basic_auth_user_name_and_roles_are_checked() {
        let ring = KeyRing::new(None, &["wk_live".to_string()], &["ak_live".to_string()]);
        let check = |h: &HeaderMap, needed| key_of(h).and_then(|k| authorize(k, &ring, needed));
        let mut h = HeaderMap::new();
        assert!(matches!(check(&h, Role::Write), Err(ApiError::MissingKey)));
        h.insert(header::AUTHORIZATION, basic("wk_live").parse().unwrap());
        assert!(check(&h, Role::Write).is_ok());
        assert!(matches!(check(&h, Role::Admin), Err(ApiError::WrongRole { role: Role::Write, .. })));
        h.insert(header::AUTHORIZATION, basic("ak_live").parse().unwrap());
        assert!(check(&h, Role::Write).is_ok() && check(&h, Role::Admin).is_ok());
        h.insert(header::AUTHORIZATION, basic("wk_other").parse().unwrap());
        assert!(matches!(check(&h, Role::Write), Err(ApiError::InvalidKey)));
        h.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert!(matches!(check(&h, Role::Write), Err(ApiError::InvalidKey)));
    }
}
