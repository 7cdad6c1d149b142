//! API keys with roles, created by `cohort keys create --role write|admin`
//! and kept hashed (SHA-256) in a small JSON file beside the store
//! (`keys.json`): the secret is shown once and never stored.
//!
//! A write key may only send events (it ships inside apps and web pages);
//! an admin key opens the admin routes (loyalty, analytics, profiles) and
//! may also send events.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// File name of the key file inside the store directory.
pub const KEYS_FILE: &str = "keys.json";

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Ingest only (`/v1/track`, `/v1/batch`…).
    Write,
    /// Admin routes, and ingest.
    Admin,
    /// Admin routes with personal data (phone numbers, emails, names)
    /// unmasked in profiles and audience members.
    AdminPii,
}

impl Role {
    /// `write`, `admin` or `admin_pii`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Write => "write",
            Role::Admin => "admin",
            Role::AdminPii => "admin_pii",
        }
    }

    /// Whether a key of this role may call a route that needs `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "write" => Ok(Role::Write),
            "admin" => Ok(Role::Admin),
            "admin_pii" => Ok(Role::AdminPii),
            other => Err(format!("unknown role {other:?} (expected write, admin or admin_pii)")),
        }
    }
}

/// One stored key: never the secret, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    /// Public id (`key_` + 8 hex), used to list and revoke.
    pub id: String,
    /// What it may do.
    pub role: Role,
    /// A note (who or what uses it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The secret's first characters, to recognise it.
    pub prefix: String,
    /// Hex SHA-256 of the secret.
    pub sha256: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; a revoked key authenticates nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    keys: Vec<KeyRecord>,
}

/// Why the key file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing the file.
    #[error("key file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// `revoke` of an id that is not in the file.
    #[error("no key with id {0:?}")]
    Unknown(String),
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> KeyError {
    KeyError::File { path: path.display().to_string(), reason: e.to_string() }
}

fn read(path: &Path) -> Result<KeyFile, KeyError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| file_err(path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeyFile::default()),
        Err(e) => Err(file_err(path, e)),
    }
}

/// Writes through a temporary file and a rename, so a reader never sees half a file.
fn write(path: &Path, file: &KeyFile) -> Result<(), KeyError> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(file).map_err(|e| file_err(path, e))?;
    std::fs::write(&tmp, text).map_err(|e| file_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| file_err(path, e))
}

/// Creates a key; returns its record and the secret (shown once).
pub fn create(path: &Path, role: Role, name: Option<String>) -> Result<(KeyRecord, String), KeyError> {
    let mut file = read(path)?;
    // ThreadRng is a CSPRNG seeded from the operating system.
    let random: [u8; 24] = rand::random();
    let body: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let secret = format!("{}_{body}", if role == Role::Admin { "ck_admin" } else { "ck_write" });
    let record = KeyRecord {
        id: format!("key_{}", &hash(&secret)[..8]),
        role,
        name,
        prefix: secret[..14].to_string(),
        sha256: hash(&secret),
        created_at: Utc::now(),
        revoked_at: None,
    };
    file.keys.push(record.clone());
    write(path, &file)?;
    Ok((record, secret))
}

/// Every key, revoked ones included, oldest first.
pub fn list(path: &Path) -> Result<Vec<KeyRecord>, KeyError> {
    Ok(read(path)?.keys)
}

/// Revokes a key by id (effective at once: servers re-read the file when it changes).
pub fn revoke(path: &Path, id: &str) -> Result<KeyRecord, KeyError> {
    let mut file = read(path)?;
    let record = file.keys.iter_mut().find(|k| k.id == id).ok_or_else(|| KeyError::Unknown(id.to_string()))?;
    record.revoked_at.get_or_insert_with(Utc::now);
    let record = record.clone();
    write(path, &file)?;
    Ok(record)
}

/// A file's modification time and length.
type FileStamp = (SystemTime, u64);

/// The keys a server accepts: the key file (re-read when its modification
/// time changes) plus plain keys from the configuration.
#[derive(Debug)]
pub struct KeyRing {
    path: Option<PathBuf>,
    plain: Vec<(String, Role)>,
    /// The file's (modification time, length) when read, and its keys.
    cached: Mutex<(Option<FileStamp>, Vec<KeyRecord>)>,
}

impl KeyRing {
    /// A ring over `path` (if any) and the configured plain keys.
    pub fn new(path: Option<PathBuf>, write_keys: &[String], admin_keys: &[String]) -> KeyRing {
        let plain = write_keys
            .iter()
            .map(|k| (k.clone(), Role::Write))
            .chain(admin_keys.iter().map(|k| (k.clone(), Role::Admin)))
            .collect();
        KeyRing { path, plain, cached: Mutex::new((None, Vec::new())) }
    }

    /// The role of a presented key, or `None` for an unknown or revoked one.
    pub fn role_of(&self, secret: &[u8]) -> Option<Role> {
        let mut role = self.plain.iter().filter(|(k, _)| equal(k.as_bytes(), secret)).map(|(_, r)| *r).max();
        if let (Some(path), Ok(secret)) = (&self.path, std::str::from_utf8(secret)) {
            // The length too: a revocation within the clock's resolution still shows.
            let modified = std::fs::metadata(path).and_then(|m| Ok((m.modified()?, m.len()))).ok();
            let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
            if cached.0 != modified || modified.is_none() {
                match read(path) {
                    Ok(file) => *cached = (modified, file.keys),
                    Err(e) => tracing::error!(error = %e, "cannot read the key file; keeping the keys read before"),
                }
            }
            let digest = hash(secret);
            let stored = cached
                .1
                .iter()
                .filter(|k| k.revoked_at.is_none() && equal(k.sha256.as_bytes(), digest.as_bytes()))
                .map(|k| k.role);
            role = role.into_iter().chain(stored).max();
        }
        role
    }
}

/// Compares without stopping at the first difference.
fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stored_hashed_and_revocable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEYS_FILE);
        let (write_key, write_secret) = create(&path, Role::Write, Some("app".into())).unwrap();
        let (_, admin_secret) = create(&path, Role::Admin, None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&write_secret) && !text.contains(&admin_secret), "secrets are never stored");
        assert!(text.contains(&hash(&write_secret)));
        let ring = KeyRing::new(Some(path.clone()), &["wk_plain".into()], &[]);
        assert_eq!(ring.role_of(write_secret.as_bytes()), Some(Role::Write));
        assert_eq!(ring.role_of(admin_secret.as_bytes()), Some(Role::Admin));
        assert_eq!(ring.role_of(b"wk_plain"), Some(Role::Write));
        assert_eq!(ring.role_of(b"ck_write_nope"), None);
        revoke(&path, &write_key.id).unwrap();
        // The file changed: the ring re-reads it.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let ring = KeyRing::new(Some(path.clone()), &[], &[]);
        assert_eq!(ring.role_of(write_secret.as_bytes()), None, "a revoked key authenticates nothing");
        assert_eq!(list(&path).unwrap().len(), 2);
        assert!(matches!(revoke(&path, "key_nope"), Err(KeyError::Unknown(_))));
        assert!(Role::Admin.allows(Role::Write) && !Role::Write.allows(Role::Admin));
    }
}
