//! Channels: where a message goes once the outbox lets it out. Every
//! marketing channel (SMS, app push, WeCom, email, in-app) is delivered by a
//! signed webhook to the shop's provider gateway ([`webhook`]); the console
//! and file sinks serve local use and demos ([`file`]). Templates with
//! variables live in [`template`].

pub mod file;
pub mod template;
pub mod webhook;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::EngageError;

pub use template::{sms_segments, Rendered, Template, TemplateSpec, Vars};
pub use webhook::{sign, verify_signature, WebhookConfig, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// A way to reach a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// Text message to a phone number.
    Sms,
    /// Push notification to the shop's app.
    AppPush,
    /// WeCom (企业微信) private message.
    WeCom,
    /// Email.
    Email,
    /// In-app inbox message.
    InApp,
    /// The local console or a file (demos, dry runs).
    Console,
}

impl ChannelKind {
    /// Every channel, in a fixed order.
    pub const ALL: [ChannelKind; 6] = [
        ChannelKind::Sms,
        ChannelKind::AppPush,
        ChannelKind::WeCom,
        ChannelKind::Email,
        ChannelKind::InApp,
        ChannelKind::Console,
    ];

    /// The stored and configured name.
    pub fn name(self) -> &'static str {
        match self {
            ChannelKind::Sms => "sms",
            ChannelKind::AppPush => "app_push",
            ChannelKind::WeCom => "wecom",
            ChannelKind::Email => "email",
            ChannelKind::InApp => "in_app",
            ChannelKind::Console => "console",
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ChannelKind {
    type Err = EngageError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChannelKind::ALL.into_iter().find(|c| c.name() == s).ok_or_else(|| {
            EngageError::invalid("channel", s, "expected sms, app_push, wecom, email, in_app or console")
        })
    }
}

/// Whether a message is marketing (capped, held over quiet hours, blocked by
/// an unsubscribe) or transactional (order confirmation, shipping notice:
/// sent at once, blocked only by do-not-contact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageClass {
    /// Offers, wake-ups, recalls.
    Marketing,
    /// Service messages the person expects.
    Transactional,
}

impl MessageClass {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            MessageClass::Marketing => "marketing",
            MessageClass::Transactional => "transactional",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, EngageError> {
        match s {
            "marketing" => Ok(MessageClass::Marketing),
            "transactional" => Ok(MessageClass::Transactional),
            other => Err(EngageError::corrupt(format!("message class {other:?}"))),
        }
    }
}

/// Where a channel's messages are delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Sink {
    /// One signed HTTP POST per message.
    Webhook(WebhookConfig),
    /// One JSON line per message appended to a file.
    File {
        /// The file (created if missing).
        path: PathBuf,
    },
    /// One line per message on standard output.
    Console,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Accepted by the receiver (HTTP 2xx, or written).
    Delivered {
        /// HTTP status, when over HTTP.
        http_status: Option<u16>,
    },
    /// Failed in a way worth retrying: a 5xx, 408, 429, timeout or
    /// connection failure.
    Transient {
        /// HTTP status, when one came back.
        http_status: Option<u16>,
        /// What failed.
        error: String,
    },
    /// Refused for good (another 4xx): retrying cannot help.
    Permanent {
        /// HTTP status.
        http_status: Option<u16>,
        /// What failed.
        error: String,
    },
}

impl Attempt {
    /// The HTTP status, when there was one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Attempt::Delivered { http_status }
            | Attempt::Transient { http_status, .. }
            | Attempt::Permanent { http_status, .. } => *http_status,
        }
    }
}

/// The wire form of a message, as posted to a webhook or written to a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Outbox message id: receivers deduplicate on it (delivery is at least once).
    pub id: i64,
    /// The channel.
    pub channel: ChannelKind,
    /// The person.
    pub person_id: String,
    /// Phone, device token, WeCom id, email address or inbox id.
    pub recipient: String,
    /// Subject or title (empty for SMS).
    pub subject: String,
    /// The text.
    pub body: String,
    /// Campaign or journey that sent it (empty when none).
    pub source: String,
    /// Which attempt this is, from 1.
    pub attempt: u32,
}
