//! `bcda jobs ...`: inspect and cancel export jobs.

use clap::Subcommand;

use super::Context;
use crate::domain::JobStatus;
use crate::fhir::time_format::fhir_date_time;
use crate::jobs::JobSettings;
use crate::store::jobs;
use crate::store::{acos, job_files};

/// Job commands.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// Only this ACO's.
        #[arg(long)]
        cms_id: Option<String>,
        /// Only jobs in this status (e.g. Completed, "In Progress").
        #[arg(long, value_parser = parse_status)]
        status: Option<JobStatus>,
    },
    /// Show one job and its files.
    Show {
        /// The job id.
        id: i64,
    },
    /// Cancel a Pending, In Progress or Completed job and delete its files.
    Cancel {
        /// The job id.
        id: i64,
    },
}

fn parse_status(value: &str) -> Result<JobStatus, String> {
    JobStatus::parse(value).ok_or_else(|| {
        let all: Vec<_> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
        format!("expected one of: {}", all.join(", "))
    })
}

pub(super) async fn run(ctx: &Context, command: JobsCommand) -> anyhow::Result<()> {
    // The worker environment is enough (the database and the files): no
    // signing-key file needed.
    let env = ctx.worker_env(JobSettings::default()).await?;
    match command {
        JobsCommand::List { cms_id, status } => {
            let aco = match &cms_id {
                Some(cms) => Some(
                    acos::find_by_cms_id(&env.db, cms)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("no ACO with CMS ID {cms}"))?,
                ),
                None => None,
            };
            let all = jobs::list(&env.db, aco.as_ref().map(|a| a.id)).await?;
            let names = acos::list(&env.db).await?;
            let shown: Vec<_> = all
                .into_iter()
                .filter(|j| status.is_none_or(|s| j.status == s))
                .collect();
            if shown.is_empty() {
                println!("no jobs");
            } else {
                println!(
                    "{:>6}  {:<8} {:<17} {:>9}  {:<21} REQUEST",
                    "ID", "ACO", "STATUS", "PROGRESS", "CREATED"
                );
            }
            for job in shown {
                let cms = names
                    .iter()
                    .find(|a| a.id == job.aco_id)
                    .map_or("?", |a| a.cms_id.as_str());
                println!(
                    "{:>6}  {:<8} {:<17} {:>4}/{:<4}  {:<21} {}",
                    job.id,
                    cms,
                    job.status.as_str(),
                    job.tasks_done,
                    job.tasks_total,
                    fhir_date_time(job.created_at),
                    job.request_url
                );
            }
        }
        JobsCommand::Show { id } => {
            let job = jobs::find(&env.db, id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no job {id}"))?;
            let aco = acos::find_by_id(&env.db, job.aco_id).await?;
            println!("job {}", job.id);
            println!(
                "  aco:              {}",
                aco.map_or("?".to_owned(), |a| a.cms_id)
            );
            println!("  status:           {}", job.status);
            println!("  request:          {}", job.request_url);
            println!(
                "  types:            {}",
                jobs::types_to_text(&job.resource_types)
            );
            println!(
                "  since:            {}",
                job.since.map_or("-".to_owned(), fhir_date_time)
            );
            println!(
                "  until:            {}",
                job.until
                    .map_or("-".to_owned(), crate::fhir::time_format::fhir_instant)
            );
            if !job.patient_mbis.is_empty() {
                // How many, never which: MBIs stay out of output and logs.
                println!("  patients:         {} chosen", job.patient_mbis.len());
            }
            println!(
                "  transaction time: {}",
                job.transaction_time
                    .map_or("-".to_owned(), crate::fhir::time_format::fhir_instant)
            );
            println!(
                "  tasks:            {} of {} done",
                job.tasks_done, job.tasks_total
            );
            println!("  created:          {}", fhir_date_time(job.created_at));
            println!("  updated:          {}", fhir_date_time(job.updated_at));
            println!(
                "  completed:        {}",
                job.completed_at.map_or("-".to_owned(), fhir_date_time)
            );
            for failure in crate::store::tasks::failures(&env.db, job.id).await? {
                println!(
                    "  failed:           task {} ({}) after {} attempts: {}",
                    failure.id, failure.kind, failure.attempts, failure.error
                );
            }
            let files = job_files::list(&env.db, job.id).await?;
            if !files.is_empty() {
                println!("  files:");
            }
            for f in files {
                println!(
                    "    {:<45} {:<21} {:>8} lines {:>12} bytes (stored {:>10}) sha256 {}",
                    f.name,
                    f.resource_type,
                    f.resource_count,
                    f.ndjson_bytes,
                    f.stored_bytes,
                    f.sha256
                );
            }
        }
        JobsCommand::Cancel { id } => {
            if jobs::find(&env.db, id).await?.is_none() {
                anyhow::bail!("no job {id}");
            }
            if !crate::jobs::cancel::cancel(&env, id).await? {
                anyhow::bail!(
                    "job {id} was not cancelled because it is not Pending, In Progress or Completed"
                );
            }
            println!("job {id} cancelled; its files are deleted");
        }
    }
    env.db.close().await;
    Ok(())
}
