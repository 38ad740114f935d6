//! The planning task: fix the job's transaction time, choose its
//! beneficiaries, and split them into export tasks.

use std::collections::{HashMap, HashSet};

use time::OffsetDateTime;

use super::TaskError;
use super::attribution_selection;
use super::env::WorkerEnv;
use super::task_end::{self, TaskEnd};
use super::warnings::{self, WARNINGS_FILE};
use crate::claims::{BeneficiaryKey, ClaimsSource};
use crate::domain::task::{Cohort, ExportPayload};
use crate::domain::{DataSet, JobStatus, RequestKind, ResourceType};
use crate::export::type_filter::DEFAULT_SYSTEM_TYPE_WARNING;
use crate::store::acos;
use crate::store::job_files;
use crate::store::jobs;
use crate::store::task_signal;
use crate::store::tasks::{self, ClaimedTask};

/// Runs a planning task to completion (or explains why not).
pub async fn run(env: &WorkerEnv, task: &ClaimedTask) -> Result<(), TaskError> {
    let Some(job) = jobs::find(&env.db, task.job_id).await? else {
        return finish_without_plan(env, task).await;
    };
    if job.status != JobStatus::Pending || job.transaction_time.is_some() {
        // Cancelled meanwhile, or planned by an earlier attempt that lost its
        // lease after committing: nothing to do.
        return finish_without_plan(env, task).await;
    }
    let aco = acos::find_by_id(&env.db, job.aco_id)
        .await?
        .ok_or_else(|| TaskError::Permanent("the job's ACO no longer exists".into()))?;
    let transaction_time = env.clock.now();
    let source = ClaimsSource::for_aco(&env.db, aco.id, &aco.cms_id).await?;
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
    // `patient` (POST kick-off): only the beneficiaries it chose, checked
    // against this attribution at kick-off; one that left it since is
    // simply not exported.
    let chosen: Option<HashSet<&str>> = (!job.patient_mbis.is_empty())
        .then(|| job.patient_mbis.iter().map(String::as_str).collect());
    let members: Vec<String> = source
        .attribution_members(&selection.current)
        .await?
        .into_iter()
        .filter(|mbi| !opted_out.contains(mbi))
        .filter(|mbi| chosen.as_ref().is_none_or(|c| c.contains(mbi.as_str())))
        .collect();

    // Group/all with _since: beneficiaries new since the older file get
    // their whole history (up to `_until`, like everyone's), in files of
    // their own. (The system-level export has no previous file: `_since`
    // applies to everyone, as on Patient/$export.)
    let cohorts: Vec<(Option<Cohort>, Vec<String>, Option<OffsetDateTime>)> =
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
                    (Some(Cohort::Existing), existing, job.since),
                ]
            }
            _ => vec![(None, members, job.since)],
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
            env.jobs.runout_claims_through.or_else(|| {
                time::Date::from_calendar_date(
                    selection.current.performance_year,
                    time::Month::December,
                    31,
                )
                .ok()
            })
        })
        .flatten();
    // The upper bound on `lastUpdated`: the transaction time, or `_until`'s
    // when earlier (a future `_until` exports what exists now).
    let upper = job
        .until
        .map_or(transaction_time, |until| until.min(transaction_time));
    let mut payloads = Vec::new();
    for resource_type in &job.resource_types {
        // BCDA reads partially adjudicated claims as of the job's creation,
        // not its transaction time.
        let bound = if resource_type.data_set() == DataSet::PartiallyAdjudicated {
            upper.min(job.created_at)
        } else {
            upper
        };
        for (cohort, members, since) in &cohorts {
            for batch in members.chunks(env.jobs.batch_size(*resource_type)) {
                payloads.push(ExportPayload {
                    resource_type: *resource_type,
                    cohort: *cohort,
                    since: *since,
                    // The runout cap applies to every claim type, as BCDA's
                    // service-date parameter does.
                    claims_through: runout_cap.filter(|_| resource_type.is_claim()),
                    // Stored only when it is not the transaction time,
                    // which the export task falls back to.
                    until: (bound < transaction_time).then_some(bound),
                    // v3: the job's `_typeFilter` (or its default), applied
                    // while reading, before anything is rendered.
                    eob_filter: job
                        .eob_filter
                        .filter(|_| *resource_type == ResourceType::ExplanationOfBenefit),
                    beneficiaries: batch
                        .iter()
                        .map(|mbi| (mbi.clone(), keys.get(mbi).copied().flatten().map(|k| k.0)))
                        .collect(),
                });
            }
        }
    }

    // v3 without a System-Type `_tag`: BCDA tells the client only NCH and
    // DDPS claims were exported, in a file listed under `error`.
    let warnings = if job.eob_filter_defaulted
        && job
            .resource_types
            .contains(&ResourceType::ExplanationOfBenefit)
    {
        Some(warnings::write(env, task, &[DEFAULT_SYSTEM_TYPE_WARNING]).await?)
    } else {
        None
    };

    task_end::record(env, task, TaskEnd::Done, async |tx, now| {
        jobs::set_plan(tx, job.id, transaction_time, payloads.len() as i64, now).await?;
        if let Some(written) = &warnings {
            job_files::insert(
                tx,
                // The job's own file: no cohort's.
                &written.job_file(task, WARNINGS_FILE, "OperationOutcome", true, None, now),
            )
            .await?;
        }
        for payload in &payloads {
            tasks::enqueue(tx, job.id, payload, now).await?;
        }
        task_signal::announce(tx).await?;
        Ok(())
    })
    .await?;
    env.new_tasks.notify_waiters();
    tracing::info!(job = job.id, aco = %aco.cms_id, tasks = payloads.len(), "export job planned");
    Ok(())
}

/// Completes a planning task that has nothing to plan.
async fn finish_without_plan(env: &WorkerEnv, task: &ClaimedTask) -> Result<(), TaskError> {
    task_end::record(env, task, TaskEnd::Done, task_end::nothing_else).await
}
