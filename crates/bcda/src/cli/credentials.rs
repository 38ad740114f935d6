//! `bcda credentials ...`: client ids and secrets.

use std::time::Duration;

use clap::{Args, Subcommand};

use super::Context;
use crate::auth::credentials::{self, NewCredentials};
use crate::config::parse_positive;
use crate::fhir::time_format::fhir_date_time;

/// Credentials commands.
#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Make a client id and secret for an ACO; the secret is shown once.
    Create {
        /// CMS identifier of the ACO.
        #[arg(long, env = "BCDA_CMS_ID")]
        cms_id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Give a client id a new secret (the old one stops working at once).
    Reset {
        /// The client id.
        #[arg(long)]
        client_id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Revoke a client id: its secret and all its tokens stop working.
    Revoke {
        /// The client id.
        #[arg(long)]
        client_id: String,
    },
    /// List client ids (secrets are not stored and cannot be shown).
    List {
        /// Only this ACO's.
        #[arg(long)]
        cms_id: Option<String>,
    },
}

/// How new credentials are printed and how long they last.
#[derive(Debug, Args)]
pub struct Output {
    /// Print {"client_id","client_secret","expires_at"} as JSON.
    #[arg(long)]
    json: bool,
    /// Days until the secret expires.
    #[arg(long, env = "BCDA_SECRET_TTL_DAYS", default_value = "90", value_parser = parse_positive, value_name = "DAYS")]
    secret_ttl_days: u64,
}

impl Output {
    fn lifetime(&self) -> Duration {
        Duration::from_secs(self.secret_ttl_days.saturating_mul(24 * 60 * 60))
    }
}

pub(super) async fn run(ctx: &Context, command: CredentialsCommand) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    let clock = ctx.clock.as_ref();
    match command {
        CredentialsCommand::Create { cms_id, output } => {
            let creds = credentials::create(&db, clock, &cms_id, output.lifetime()).await?;
            print_new(&creds, output.json)?;
        }
        CredentialsCommand::Reset { client_id, output } => {
            let creds = credentials::reset(&db, clock, &client_id, output.lifetime()).await?;
            print_new(&creds, output.json)?;
        }
        CredentialsCommand::Revoke { client_id } => {
            credentials::revoke(&db, clock, &client_id).await?;
            println!("credentials {client_id} revoked; their tokens no longer work");
        }
        CredentialsCommand::List { cms_id } => {
            let all = credentials::list(&db, cms_id.as_deref()).await?;
            if all.is_empty() {
                println!("no credentials");
            }
            let now = clock.now();
            for c in all {
                let state = if c.revoked_at.is_some() {
                    "revoked"
                } else if c.expires_at <= now {
                    "expired"
                } else {
                    "active"
                };
                println!(
                    "{}  {:<10} {:<8} expires {}",
                    c.client_id,
                    c.cms_id,
                    state,
                    fhir_date_time(c.expires_at)
                );
            }
        }
    }
    db.close().await;
    Ok(())
}

fn print_new(creds: &NewCredentials, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(creds)?);
    } else {
        println!("client_id:     {}", creds.client_id);
        println!("client_secret: {}", creds.client_secret);
        println!("expires_at:    {}", fhir_date_time(creds.expires_at));
        println!("Keep the secret now: it is stored only as a hash and cannot be shown again.");
    }
    Ok(())
}
