//! `bcda token revoke`: revoke an access token before it expires.

use clap::{ArgGroup, Subcommand};

use super::Context;
use crate::app::HttpSettings;
use crate::auth::tokens::TokenSettings;

/// Token commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Revoke one access token, given whole or by its id (the `jti` claim).
    #[command(group(ArgGroup::new("which").required(true).args(["token", "id"])))]
    Revoke {
        /// The access token (JWT).
        #[arg(long, value_name = "JWT")]
        token: Option<String>,
        /// The token id.
        #[arg(long, value_name = "TOKEN_ID")]
        id: Option<String>,
    },
}

pub(super) async fn run(ctx: &Context, command: TokenCommand) -> anyhow::Result<()> {
    let app = ctx
        .app(TokenSettings::default(), HttpSettings::default())
        .await?;
    match command {
        TokenCommand::Revoke { token, id } => {
            let given = token.or(id).unwrap_or_default();
            match app.tokens.revoke(&given).await {
                Ok(Some(jti)) => println!("token {jti} revoked"),
                Ok(None) => {
                    anyhow::bail!("no such token on record (unknown id, or expired long ago)")
                }
                Err(crate::auth::AuthError::InvalidToken) => {
                    anyhow::bail!("that is not a token issued by this server")
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    app.db.close().await;
    Ok(())
}
