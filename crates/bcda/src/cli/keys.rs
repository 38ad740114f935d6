//! `bcda keys ...`: token-signing keys.

use clap::Subcommand;

use super::Context;
use crate::app::HttpSettings;
use crate::auth::tokens::TokenSettings;
use crate::fhir::time_format::fhir_date_time;
use crate::store::signing_keys;

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new signing key; tokens signed with the previous key stay
    /// valid until they expire.
    Rotate,
    /// List signing keys (public facts only).
    List,
}

pub(super) async fn run(ctx: &Context, command: KeysCommand) -> anyhow::Result<()> {
    let app = ctx
        .app(TokenSettings::default(), HttpSettings::default())
        .await?;
    match command {
        KeysCommand::Rotate => {
            let key = app.tokens.keyring().rotate(ctx.clock.now()).await?;
            println!(
                "new signing key {} is now current; earlier keys verify their tokens until those expire",
                key.kid
            );
        }
        KeysCommand::List => {
            for key in signing_keys::list(&app.db).await? {
                let state = match key.retired_at {
                    None => "current".to_owned(),
                    Some(at) => format!("retired {}", fhir_date_time(at)),
                };
                println!(
                    "{}  {}  created {}  {}",
                    key.kid,
                    key.algorithm,
                    fhir_date_time(key.created_at),
                    state
                );
            }
        }
    }
    app.db.close().await;
    Ok(())
}
