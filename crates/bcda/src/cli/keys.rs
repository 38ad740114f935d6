//! `bcda keys ...`: token- and URL-signing keys, and sealing keys.

use clap::Subcommand;

use super::Context;
use crate::app::HttpSettings;
use crate::auth::keys::new_sealing_key_hex;
use crate::auth::tokens::TokenSettings;
use crate::fhir::time_format::fhir_date_time;
use crate::store::{signing_keys, url_signing_keys};

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new token-signing key and a new URL-signing key; tokens and
    /// signed URLs made with the previous keys stay valid until they expire.
    Rotate,
    /// List token- and URL-signing keys (public facts only).
    List,
    /// Print a new random sealing key (64 hexadecimal characters) for
    /// BCDA_SEALING_KEY; touches no database or file.
    NewSealingKey,
}

pub(super) async fn run(ctx: &Context, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::NewSealingKey => println!("{}", new_sealing_key_hex()?),
        KeysCommand::Rotate => rotate(ctx).await?,
        KeysCommand::List => list(ctx).await?,
    }
    Ok(())
}

async fn rotate(ctx: &Context) -> anyhow::Result<()> {
    let app = ctx
        .app(TokenSettings::default(), HttpSettings::default())
        .await?;
    let now = ctx.clock.now();
    let key = app.tokens.keyring().rotate(now).await?;
    println!(
        "new signing key {} is now current; earlier keys verify their tokens until those expire",
        key.kid
    );
    let url_key = app.url_keys.rotate(now).await?;
    println!(
        "new URL signing key {} is now current; earlier keys verify their signed URLs until those expire",
        url_key.kid
    );
    app.db.close().await;
    Ok(())
}

async fn list(ctx: &Context) -> anyhow::Result<()> {
    let app = ctx
        .app(TokenSettings::default(), HttpSettings::default())
        .await?;
    for key in signing_keys::list(&app.db).await? {
        println!(
            "{}  {}  created {}  {}",
            key.kid,
            key.algorithm,
            fhir_date_time(key.created_at),
            state(key.retired_at)
        );
    }
    for key in url_signing_keys::list(&app.db).await? {
        println!(
            "{}  HMAC-SHA256 (URLs)  created {}  {}",
            key.kid,
            fhir_date_time(key.created_at),
            state(key.retired_at)
        );
    }
    app.db.close().await;
    Ok(())
}

/// `current`, or when the key was retired.
fn state(retired_at: Option<time::OffsetDateTime>) -> String {
    match retired_at {
        None => "current".to_owned(),
        Some(at) => format!("retired {}", fhir_date_time(at)),
    }
}
