//! `bcda migrate`: apply database migrations and exit.

use super::Context;

pub(super) async fn run(ctx: &Context) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    println!("database is up to date ({})", db.backend_name());
    db.close().await;
    Ok(())
}
