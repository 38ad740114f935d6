//! The planning task: fix the job's transaction time, choose its
//! beneficiaries, and split them into export tasks.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::TaskError;
use super::attribution_selection;
use crate::app::App;
use crate::claims::{BeneficiaryKey, ClaimsSource};
use crate::domain::ResourceType;
use crate::domain::{JobStatus, RequestKind};
use crate::store::acos;
use crate::store::jobs;
use crate::store::task_signal;
use crate::store::tasks::{self, ClaimedTask, TaskKind};

/// Which beneficiaries of a Group/all `_since` export a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cohort {
    /// Newly attributed: their full history.
    New,
    /// Attributed before `_since`: changes since then.
    Existing,
}

/// The payload of one export task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportPayload {
    /// The resource type to write.
    pub resource_type: String,
    /// For Group/all with `_since`: new or existing beneficiaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort: Option<Cohort>,
    /// Lower bound on `lastUpdated` (epoch ms), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<i64>,
    /// Group/runout, ExplanationOfBenefit: the last service date exported
    /// (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims_through: Option<String>,
    /// The batch: MBI and the source's key (none: unknown to the source).
    pub beneficiaries: Vec<(String, Option<i64>)>,
}

/// Runs a planning task to completion (or explains why not).
pub async fn run(app: &App, task: &ClaimedTask) -> Result<(), TaskError> {
    let Some(job) = jobs::find(&app.db, task.job_id).await? else {
        return finish_without_plan(app, task).await;
    };
    if job.status != JobStatus::Pending || job.transaction_time.is_some() {
        // Cancelled meanwhile, or planned by an earlier attempt that lost its
        // lease after committing: nothing to do.
        return finish_without_plan(app, task).await;
    }
    let aco = acos::find_by_id(&app.db, job.aco_id)
        .await?
        .ok_or_else(|| TaskError::Permanent("the job's ACO no longer exists".into()))?;
    let transaction_time = app.clock.now();
    let source = ClaimsSource::for_aco(&app.db, aco.id, &aco.cms_id).await?;
    let files = source.attribution_files().await?;
    let selection = attribution_selection::select(
        &files,
        job.request_kind,
        job.since,
        transaction_time,
        &aco.cms_id,
    )
    .map_err(|e| TaskError::Permanent(e.to_string()))?;
    let opted_out = source.opted_out(transaction_time).await?;
    let members: Vec<String> = source
        .attribution_members(&selection.current)
        .await?
        .into_iter()
        .filter(|mbi| !opted_out.contains(mbi))
        .collect();

    // Group/all with _since: beneficiaries new since the older file get
    // their whole history, in files of their own.
    let since_ms = job.since.map(crate::clock::to_epoch_ms);
    let cohorts: Vec<(Option<Cohort>, Vec<String>, Option<i64>)> =
        match (&selection.previous, job.request_kind) {
            (Some(previous), RequestKind::GroupAll) => {
                let before: HashSet<String> = source
                    .attribution_members(previous)
                    .await?
                    .into_iter()
                    .collect();
                let (existing, new): (Vec<String>, Vec<String>) =
                    members.into_iter().partition(|m| before.contains(m));
                vec![
                    (Some(Cohort::New), new, None),
                    (Some(Cohort::Existing), existing, since_ms),
                ]
            }
            _ => vec![(None, members, since_ms)],
        };

    let all: Vec<String> = cohorts
        .iter()
        .flat_map(|(_, m, _)| m.iter().cloned())
        .collect();
    let keys: HashMap<String, Option<BeneficiaryKey>> = all
        .iter()
        .cloned()
        .zip(source.resolve(&all, transaction_time).await?)
        .collect();

    // Runout: claims for services in the runout file's performance year
    // (or through the configured date), as BCDA's RUNOUT_CLAIM_THRU_DATE.
    let runout_cap = (job.request_kind == RequestKind::GroupRunout)
        .then(|| {
            app.jobs.runout_claims_through.or_else(|| {
                time::Date::from_calendar_date(
                    selection.current.performance_year,
                    time::Month::December,
                    31,
                )
                .ok()
            })
        })
        .flatten()
        .map(|d| d.to_string());
    let mut payloads = Vec::new();
    for resource_type in &job.resource_types {
        for (cohort, members, since) in &cohorts {
            for batch in members.chunks(app.jobs.batch_size(*resource_type)) {
                payloads.push(ExportPayload {
                    resource_type: resource_type.as_str().to_owned(),
                    cohort: *cohort,
                    since_ms: *since,
                    claims_through: match resource_type {
                        ResourceType::ExplanationOfBenefit => runout_cap.clone(),
                        _ => None,
                    },
                    beneficiaries: batch
                        .iter()
                        .map(|mbi| (mbi.clone(), keys.get(mbi).copied().flatten().map(|k| k.0)))
                        .collect(),
                });
            }
        }
    }

    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    if !tasks::complete(&mut tx, task.id, task.fence, now).await? {
        return Err(TaskError::LostClaim);
    }
    jobs::set_plan(
        &mut tx,
        job.id,
        transaction_time,
        payloads.len() as i64,
        now,
    )
    .await?;
    for payload in &payloads {
        let json =
            serde_json::to_string(payload).map_err(|e| TaskError::Permanent(e.to_string()))?;
        tasks::enqueue(&mut tx, job.id, TaskKind::Export, &json, now).await?;
    }
    task_signal::announce(&mut tx).await?;
    tx.commit().await?;
    app.new_tasks.notify_waiters();
    tracing::info!(job = job.id, aco = %aco.cms_id, tasks = payloads.len(), "export job planned");
    Ok(())
}

async fn finish_without_plan(app: &App, task: &ClaimedTask) -> Result<(), TaskError> {
    let mut tx = app.db.begin().await?;
    if !tasks::complete(&mut tx, task.id, task.fence, app.clock.now()).await? {
        return Err(TaskError::LostClaim);
    }
    tx.commit().await?;
    Ok(())
}

/// The resource type of a payload.
pub fn payload_type(payload: &ExportPayload) -> Result<ResourceType, TaskError> {
    ResourceType::parse(&payload.resource_type).ok_or_else(|| {
        TaskError::Permanent(format!("unknown resource type {:?}", payload.resource_type))
    })
}
