//! `bcda sandbox`: the server with BCDA's synthetic sandbox ACOs.

use std::sync::Arc;

use super::Context;
use super::serve::{ServeArgs, bind, serve_on};
use crate::sandbox::{self, SANDBOX_ACOS};

pub(super) async fn run(ctx: &Context, mut args: ServeArgs) -> anyhow::Result<()> {
    // The sandbox is where clients try API v3: open to every ACO, as BCDA's.
    if args.v3_acos.take().is_some() {
        tracing::warn!("--v3-acos is ignored by the sandbox: API v3 is open to every sandbox ACO");
    }
    let app = args.open_app(ctx).await?;
    let credentials = sandbox::prepare(&app.db, app.clock.as_ref(), app.data_dir.root()).await?;
    let key_client =
        sandbox::prepare_key_client(&app.db, app.clock.as_ref(), app.data_dir.root()).await?;
    // Bound before the banner, so its URLs carry the real port even when
    // `--listen` asked for port 0.
    let listener = bind(args.listen)?;
    let bound = listener.local_addr()?;
    let base = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    println!(
        "bcda sandbox: synthetic ACOs (saved in {})",
        sandbox::credentials_path(app.data_dir.root()).display()
    );
    println!();
    println!(
        "{:<8} {:>13}  {:<36}  CLIENT_SECRET",
        "CMS_ID", "BENEFICIARIES", "CLIENT_ID"
    );
    for c in &credentials {
        let note = SANDBOX_ACOS
            .iter()
            .find(|a| a.cms_id == c.cms_id)
            .map_or("", |a| {
                if a.denied {
                    "  (deny-listed: 403)"
                } else if a.stale_attribution {
                    "  (attribution out of date: 404 on export)"
                } else if a.partially_adjudicated {
                    "  (also partially adjudicated: Claim, ClaimResponse on v2)"
                } else {
                    ""
                }
            });
        println!(
            "{:<8} {:>13}  {:<36}  {}{note}",
            c.cms_id, c.beneficiaries, c.client_id, c.client_secret
        );
    }
    if let Some(first) = credentials.first() {
        println!();
        println!("Get a token:");
        println!(
            "  curl -s -X POST -u {}:{} {base}/auth/token",
            first.client_id, first.client_secret
        );
        println!("or open {base}/api/v1/swagger/ in a browser and follow the guide there.");
        println!();
        // The program as it was started (`target/debug/bcda` under `cargo
        // run`), so the line can be pasted as it is.
        let program = std::env::args().next().unwrap_or_else(|| "bcda".to_owned());
        println!("Or download a whole export, verified and resumable, with the bcda client:");
        println!(
            "  BCDA_CLIENT_SECRET={} {program} client export --server {base} --client-id {} --out {}-export",
            first.client_secret, first.client_id, first.cms_id
        );
        println!();
    }
    println!(
        "SMART Backend Services client of {}: {} (ES384 key {})",
        key_client.cms_id, key_client.client_id, key_client.kid
    );
    println!(
        "  key pair: {} (JWKS with the private key; PEM: {})",
        key_client.key_file.display(),
        key_client.pem_file.display()
    );
    println!(
        "  token endpoint: {base}/auth/token (discovery: {base}/api/v2/.well-known/smart-configuration)"
    );
    println!();
    serve_on(
        Arc::new(app),
        listener,
        args.listen_on(),
        args.worker_count(),
    )
    .await
}
