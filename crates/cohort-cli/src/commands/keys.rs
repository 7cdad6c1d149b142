//! `cohort keys create | list | revoke`: the API keys `cohort serve`
//! accepts, kept hashed in `keys.json` in the store directory. Does not open
//! the store, so it works while `cohort serve` runs (revocation is picked up
//! at the next request).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use cohort_server::keys::{self, Role, KEYS_FILE};

/// Arguments of `cohort keys`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// What to do with the keys.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key and print its secret (shown this once, stored only hashed).
    Create {
        /// `write` (ingest only: ships inside apps and web pages) or `admin`
        /// (the shop's backend: loyalty, coupons, analytics queries, and ingest).
        #[arg(long)]
        role: Role,
        /// A note: who or what uses the key.
        #[arg(long)]
        name: Option<String>,
    },
    /// Every key (never its secret): id, role, prefix, name, created, revoked.
    List,
    /// Revoke a key by id; a running server refuses it from its next request.
    Revoke {
        /// The key's id (`key_…`, from `cohort keys list`).
        id: String,
    },
}

/// The key file of a store directory.
pub fn keys_file(store_dir: &Path) -> PathBuf {
    store_dir.join(KEYS_FILE)
}

pub fn run(store_dir: &Path, args: Args) -> anyhow::Result<()> {
    let file = keys_file(store_dir);
    match args.command {
        KeysCommand::Create { role, name } => {
            std::fs::create_dir_all(store_dir).with_context(|| format!("cannot create {}", store_dir.display()))?;
            let (record, secret) = keys::create(&file, role, name)?;
            println!("{secret}");
            eprintln!(
                "created {} key {} — the secret above is shown once and stored only as its SHA-256",
                record.role.as_str(),
                record.id
            );
        }
        KeysCommand::List => {
            let records = keys::list(&file)?;
            if records.is_empty() {
                println!("no keys (create one with `cohort keys create --role write`)");
            }
            for k in records {
                let revoked =
                    k.revoked_at.map(|t| format!("revoked {}", t.format("%Y-%m-%d %H:%M"))).unwrap_or_default();
                println!(
                    "{}  {:<5}  {}…  {:<16}  created {}  {revoked}",
                    k.id,
                    k.role.as_str(),
                    k.prefix,
                    k.name.as_deref().unwrap_or("-"),
                    k.created_at.format("%Y-%m-%d %H:%M"),
                );
            }
        }
        KeysCommand::Revoke { id } => {
            let record = keys::revoke(&file, &id)?;
            println!("revoked {} ({} key)", record.id, record.role.as_str());
        }
    }
    Ok(())
}
