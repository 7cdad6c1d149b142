//! Newtypes for identifiers. All are opaque strings: shops bring their own ids
//! (numeric member numbers, phone-derived ids, UUIDs from SDKs).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Longest id accepted, in bytes; longer ids are almost always a field mix-up.
const MAX_ID_LEN: usize = 256;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks the id is non-empty, not blank and at most 256 bytes.
            pub fn new(id: impl Into<String>) -> Result<Self, ModelError> {
                let id = id.into();
                if id.trim().is_empty() {
                    return Err(ModelError::InvalidId { kind: $kind, reason: "must not be empty" });
                }
                if id.len() > MAX_ID_LEN {
                    return Err(ModelError::InvalidId { kind: $kind, reason: "longer than 256 bytes" });
                }
                Ok(Self(id))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Consumes the id, returning its text.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ModelError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
    };
}

string_id!(
    /// The shop's own id for a logged-in user (member number, account id).
    UserId, "user id"
);
string_id!(
    /// A device- or platform-scoped id for a visitor who has not logged in.
    AnonymousId, "anonymous id"
);
string_id!(
    /// The resolved person an event belongs to after identity stitching: the
    /// user id once known, otherwise the anonymous id. Analytics group by it.
    PersonId, "person id"
);
string_id!(
    /// Idempotency key of an event (Segment `messageId`, or derived from the
    /// import file and line).
    EventId, "event id"
);
string_id!(
    /// An order (or refund) number.
    OrderId, "order id"
);
string_id!(
    /// A product (SKU / SPU) id.
    ProductId, "product id"
);

impl From<UserId> for PersonId {
    fn from(u: UserId) -> Self {
        PersonId(u.0)
    }
}

impl From<AnonymousId> for PersonId {
    fn from(a: AnonymousId) -> Self {
        PersonId(a.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_refuse_blank_and_oversized() {
        assert!(UserId::new("").is_err());
        assert!(UserId::new("  ").is_err());
        assert!(ProductId::new("x".repeat(257)).is_err());
        assert_eq!(UserId::new("17850").unwrap().as_str(), "17850");
        let person: PersonId = UserId::new("u1").unwrap().into();
        assert_eq!(person.as_str(), "u1");
    }
}
