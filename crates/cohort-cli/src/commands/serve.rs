//! `cohort serve`: the collection service.

use std::sync::Arc;

use anyhow::{bail, Context as _};
use cohort_server::Server;
use cohort_store::EventStore;

use super::Context;

/// Arguments of `cohort serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address and port to listen on (port 0 picks a free one); overrides `[server] listen`.
    #[arg(long, env = "COHORT_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Accepted write key (repeat, or comma-separated in COHORT_WRITE_KEYS); overrides `[server] write_keys`.
    #[arg(long = "write-key", env = "COHORT_WRITE_KEYS", value_delimiter = ',', value_name = "KEY")]
    pub write_keys: Vec<String>,
}

pub fn run(ctx: Context, args: Args) -> anyhow::Result<()> {
    let mut config = ctx.config.server.clone();
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if !args.write_keys.is_empty() {
        config.write_keys = args.write_keys;
    }
    if config.write_keys.is_empty() {
        bail!("no write key: set `[server] write_keys`, COHORT_WRITE_KEYS or --write-key");
    }
    let store: Arc<dyn EventStore> = Arc::new(ctx.store);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start tokio")?;
    runtime.block_on(async move {
        let server = Server::start(config, ctx.shop, store, cohort_server::shutdown_signal()).await?;
        // Scripts (and tests) read the bound address from this line.
        println!("listening on {}", server.addr());
        server.wait().await.map_err(anyhow::Error::msg)
    })
}
