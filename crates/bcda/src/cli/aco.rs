//! `bcda aco ...`: create and list ACOs, manage the deny list.

use clap::Subcommand;

use super::Context;
use crate::acos;
use crate::domain::DataSets;
use crate::fhir::time_format::fhir_date_time;
use crate::store::acos::{AcoRecord, list};

/// ACO commands.
#[derive(Debug, Subcommand)]
pub enum AcoCommand {
    /// Create an ACO.
    Create {
        /// CMS identifier, e.g. A9994.
        #[arg(long, env = "BCDA_CMS_ID")]
        cms_id: String,
        /// Display name.
        #[arg(long, env = "BCDA_ACO_NAME")]
        name: String,
        /// The claims data it may export: adjudicated (Patient, Coverage,
        /// ExplanationOfBenefit) and/or partially-adjudicated (Claim,
        /// ClaimResponse on v2), comma-separated.
        #[arg(long = "data", env = "BCDA_ACO_DATA", default_value = "adjudicated", value_parser = parse_data_sets)]
        data: DataSets,
    },
    /// Change the claims data an ACO may export (its next kick-offs).
    SetData {
        /// CMS identifier.
        #[arg(long, env = "BCDA_CMS_ID")]
        cms_id: String,
        /// adjudicated and/or partially-adjudicated, comma-separated.
        #[arg(long = "data", env = "BCDA_ACO_DATA", value_parser = parse_data_sets)]
        data: DataSets,
    },
    /// List ACOs.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Put an ACO on the deny list: every authenticated request answers 403.
    Deny {
        /// CMS identifier.
        #[arg(long, env = "BCDA_CMS_ID")]
        cms_id: String,
    },
    /// Take an ACO off the deny list.
    Undeny {
        /// CMS identifier.
        #[arg(long, env = "BCDA_CMS_ID")]
        cms_id: String,
    },
}

pub(super) async fn run(ctx: &Context, command: AcoCommand) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    let clock = ctx.clock.as_ref();
    match command {
        AcoCommand::Create { cms_id, name, data } => {
            let aco = acos::create(&db, clock, &cms_id, &name, data).await?;
            println!(
                "created ACO {} ({}), data: {}",
                aco.cms_id, aco.name, aco.data_sets
            );
        }
        AcoCommand::SetData { cms_id, data } => {
            let aco = acos::set_data_sets(&db, &cms_id, data).await?;
            println!("ACO {} now exports: {}", aco.cms_id, aco.data_sets);
        }
        AcoCommand::List { json } => {
            let all = list(&db).await?;
            if json {
                let rows: Vec<_> = all.iter().map(aco_json).collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if all.is_empty() {
                println!(
                    "no ACOs yet; create one with `bcda aco create --cms-id A9994 --name \"ACO Dev\"`"
                );
            } else {
                println!(
                    "{:<12} {:<8} {:<21} {:<34} NAME",
                    "CMS_ID", "STATUS", "CREATED", "DATA"
                );
                for aco in &all {
                    println!(
                        "{:<12} {:<8} {:<21} {:<34} {}",
                        aco.cms_id,
                        status(aco),
                        fhir_date_time(aco.created_at),
                        aco.data_sets.to_string(),
                        aco.name
                    );
                }
            }
        }
        AcoCommand::Deny { cms_id } => {
            acos::set_denied(&db, clock, &cms_id, true).await?;
            println!("ACO {cms_id} is on the deny list");
        }
        AcoCommand::Undeny { cms_id } => {
            acos::set_denied(&db, clock, &cms_id, false).await?;
            println!("ACO {cms_id} is off the deny list");
        }
    }
    db.close().await;
    Ok(())
}

fn status(aco: &AcoRecord) -> &'static str {
    if aco.denied_at.is_some() {
        "denied"
    } else {
        "active"
    }
}

fn aco_json(aco: &AcoRecord) -> serde_json::Value {
    serde_json::json!({
        "cms_id": aco.cms_id,
        "name": aco.name,
        "status": status(aco),
        "denied_at": aco.denied_at.map(fhir_date_time),
        "created_at": fhir_date_time(aco.created_at),
        "data": aco.data_sets.to_string().split(',').collect::<Vec<_>>(),
    })
}

/// clap's parser for `--data`: the message names the bad item.
fn parse_data_sets(list: &str) -> Result<DataSets, String> {
    list.parse()
        .map_err(|e: crate::domain::data_sets::DataSetsError| e.to_string())
}
