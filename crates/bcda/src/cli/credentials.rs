//! `bcda credentials ...`: client ids and secrets, and the public keys of
//! SMART Backend Services clients.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};

use super::Context;
use crate::auth::credentials::{self, CredentialsError, KeyClient, NewCredentials};
use crate::auth::jwks::MAX_JWKS_BYTES;
use crate::config::parse_positive;
use crate::fhir::time_format::fhir_date_time;
use crate::store::credentials::ClientKeys;

/// Credentials commands.
#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Make a client id and secret for an ACO; the secret is shown once.
    /// With --jwks or --jwks-url, register a SMART Backend Services client
    /// instead: it authenticates with assertions signed by those keys, and
    /// no secret is made.
    Create {
        /// CMS identifier of the ACO.
        #[arg(long, env = "BCDA_CMS_ID")]
        cms_id: String,
        #[command(flatten)]
        keys: KeyArgs,
        #[command(flatten)]
        output: Output,
    },
    /// Replace the registered public keys of a SMART Backend Services
    /// client (key rotation); this also renews its expiry.
    Keys {
        /// The client id.
        #[arg(long)]
        client_id: String,
        #[command(flatten)]
        keys: RequiredKeyArgs,
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
    /// List client ids and how each authenticates (secrets are not stored
    /// and cannot be shown).
    List {
        /// Only this ACO's.
        #[arg(long)]
        cms_id: Option<String>,
    },
}

/// The public keys of a SMART Backend Services client, if any.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct KeyArgs {
    /// Register the public keys in this JWKS file (public keys only; at
    /// least one RSA key of 2048+ bits for RS384 or EC P-384 key for ES384,
    /// each with a kid).
    #[arg(long, value_name = "FILE")]
    jwks: Option<PathBuf>,
    /// Register the https URL where the client publishes its JWKS (fetched
    /// when needed, cached by kid).
    #[arg(long, value_name = "URL")]
    jwks_url: Option<String>,
}

impl KeyArgs {
    /// The keys given (read from the file if need be), with the file.
    fn keys(&self) -> anyhow::Result<Option<(ClientKeys, Option<&Path>)>> {
        keys_from(self.jwks.as_deref(), self.jwks_url.as_deref())
    }
}

/// The new public keys of a SMART Backend Services client.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RequiredKeyArgs {
    /// The JWKS file of the new public keys.
    #[arg(long, value_name = "FILE")]
    jwks: Option<PathBuf>,
    /// The https URL the client now publishes its JWKS at (the same URL
    /// again renews the registration).
    #[arg(long, value_name = "URL")]
    jwks_url: Option<String>,
}

impl RequiredKeyArgs {
    fn keys(&self) -> anyhow::Result<(ClientKeys, Option<&Path>)> {
        keys_from(self.jwks.as_deref(), self.jwks_url.as_deref())?
            .ok_or_else(|| anyhow::anyhow!("give --jwks FILE or --jwks-url URL"))
    }
}

/// The keys of a `--jwks FILE` (read) or `--jwks-url URL`, with the file.
fn keys_from<'a>(
    jwks: Option<&'a Path>,
    jwks_url: Option<&str>,
) -> anyhow::Result<Option<(ClientKeys, Option<&'a Path>)>> {
    match (jwks, jwks_url) {
        (Some(path), _) => Ok(Some((ClientKeys::Inline(read_jwks(path)?), Some(path)))),
        (None, Some(url)) => Ok(Some((ClientKeys::Url(url.to_owned()), None))),
        (None, None) => Ok(None),
    }
}

/// Reads a JWKS file (bounded: a JWKS is a few kilobytes).
fn read_jwks(path: &Path) -> anyhow::Result<String> {
    let fail = |e: &dyn std::fmt::Display| anyhow::anyhow!("cannot read {}: {e}", path.display());
    let metadata = std::fs::metadata(path).map_err(|e| fail(&e))?;
    if metadata.len() > MAX_JWKS_BYTES as u64 {
        return Err(anyhow::anyhow!(
            "{}: the JWKS is larger than {MAX_JWKS_BYTES} bytes",
            path.display()
        ));
    }
    std::fs::read_to_string(path).map_err(|e| fail(&e))
}

/// A JWKS refusal names the file it came from.
fn name_the_file(error: CredentialsError, path: Option<&Path>) -> anyhow::Error {
    match (error, path) {
        (CredentialsError::InvalidJwks(e), Some(path)) => {
            anyhow::anyhow!("{}: {e}", path.display())
        }
        (error, _) => error.into(),
    }
}

/// How new credentials are printed and how long they last.
#[derive(Debug, Args)]
pub struct Output {
    /// Print {"client_id","client_secret","expires_at"} as JSON (for a key
    /// client {"client_id","auth_method","kids","expires_at"}, with
    /// "jwks_url" when registered by URL).
    #[arg(long)]
    json: bool,
    /// Days until the secret (or a key client's registration) expires.
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
        CredentialsCommand::Create {
            cms_id,
            keys,
            output,
        } => match keys.keys()? {
            None => {
                let creds = credentials::create(&db, clock, &cms_id, output.lifetime()).await?;
                print_new(&creds, output.json)?;
            }
            Some((keys, path)) => {
                let client =
                    credentials::create_key_client(&db, clock, &cms_id, keys, output.lifetime())
                        .await
                        .map_err(|e| name_the_file(e, path))?;
                print_key_client(&client, output.json)?;
            }
        },
        CredentialsCommand::Keys {
            client_id,
            keys,
            output,
        } => {
            let (keys, path) = keys.keys()?;
            let client = credentials::replace_keys(&db, clock, &client_id, keys, output.lifetime())
                .await
                .map_err(|e| name_the_file(e, path))?;
            print_key_client(&client, output.json)?;
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
                let method = match &c.keys {
                    None => "client_secret_basic".to_owned(),
                    Some(ClientKeys::Inline(_)) => "private_key_jwt (JWKS)".to_owned(),
                    Some(ClientKeys::Url(url)) => format!("private_key_jwt ({url})"),
                };
                println!(
                    "{}  {:<10} {:<8} expires {}  {method}",
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

fn print_key_client(client: &KeyClient, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(client)?);
    } else {
        println!("client_id:     {}", client.client_id);
        println!("auth_method:   {}", client.auth_method);
        match &client.jwks_url {
            Some(url) => println!("jwks_url:      {url}"),
            None => println!("kids:          {}", client.kids.join(", ")),
        }
        println!("expires_at:    {}", fhir_date_time(client.expires_at));
        println!(
            "No secret: the client signs assertions (RS384 or ES384, iss and sub = client_id) \
             with its private key and posts them to /auth/token."
        );
    }
    Ok(())
}
