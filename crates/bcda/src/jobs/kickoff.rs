//! Starting a job: the checks a kick-off makes before anything is written,
//! then the duplicate-job rule, the job and its planning task in one
//! transaction.

use time::OffsetDateTime;

use super::attribution_selection::{self, SelectionError};
use super::env::WorkerEnv;
use crate::auth::tokens::Principal;
use crate::claims::{AttributionFile, ClaimsSource, SourceError};
use crate::clock::last_ms_before;
use crate::domain::aco_model::model_of;
use crate::domain::task::PlanPayload;
use crate::domain::{ApiVersion, DataSet, RequestKind, ResourceType};
use crate::export::duplicates::{Duplicate, duplicate_of};
use crate::export::entitlement::export_types;
use crate::export::rejection::Rejection;
use crate::export::request::ExportRequest;
use crate::export::scopes::{OutOfScope, kickoff_types};
use crate::export::type_filter::{check_shared_system, effective_eob_filter};
use crate::store::StoreError;
use crate::store::acos;
use crate::store::jobs::{self, NewJob};
use crate::store::task_signal;
use crate::store::tasks;

/// Why a job was not started.
#[derive(Debug, thiserror::Error)]
pub enum KickoffError {
    /// A requested type is outside the ACO's data sets, or it has none on
    /// the version; a `patient` is not in the attribution (a 400).
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The token's scopes do not allow a requested type, or any default
    /// type (a 403).
    #[error(transparent)]
    OutOfScope(#[from] OutOfScope),
    /// No usable attribution (a 404).
    #[error(transparent)]
    Attribution(#[from] SelectionError),
    /// An overlapping job of the ACO is still running (a 429).
    #[error("job {} is already exporting an overlapping set of types", .0.job_id)]
    Duplicate(Duplicate),
    /// The ACO's attribution files could not be read from its source.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The duplicate check or the insert failed (503 when the database is
    /// unavailable).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks that the ACO has usable attribution for the request, then, in one
/// transaction, applies the duplicate-job rule and creates the job and its
/// planning task. Cheap whatever the ACO's size: only the list of
/// attribution files is read here; rosters are read by the planning task.
///
/// The rule's check and the insert are serialized per ACO
/// ([`Tx::serialize_on`](crate::store::Tx::serialize_on)): of N simultaneous
/// overlapping kick-offs, the first inserts and the others, waiting on the
/// lock, then see its job and are refused. ACOs the rule exempts
/// ([`JobSettings::duplicate_exempt`](super::JobSettings)) skip both.
pub async fn start(
    app: &WorkerEnv,
    principal: &Principal,
    request: &ExportRequest,
    request_url: &str,
) -> Result<i64, KickoffError> {
    let now = app.clock.now();
    let aco = acos::find_by_id(&app.db, principal.aco_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("a token's ACO is not in the acos table".to_owned()))?;
    let entitled = aco.data_sets.contains(DataSet::PartiallyAdjudicated);
    // v3: SharedSystem is refused before the types are resolved, as BCDA.
    if request.version == ApiVersion::V3 {
        let model = model_of(&principal.cms_id).unwrap_or(&principal.cms_id);
        check_shared_system(request.type_filter.as_ref(), entitled, model)?;
    }
    let resource_types = export_types(&request.resource_types, request.version, aco.data_sets)?;
    // The token's scopes, after BCDA's own `_type` checks (`export::scopes`).
    let resource_types = kickoff_types(&principal.scopes, &request.resource_types, resource_types)?;
    // v3 with ExplanationOfBenefit: the client's `_typeFilter`, or BCDA's
    // default System-Type tags (and a warning file), never SharedSystem
    // for an ACO not entitled to it.
    let (eob_filter, eob_filter_defaulted) = if request.version == ApiVersion::V3
        && resource_types.contains(&ResourceType::ExplanationOfBenefit)
    {
        let (filter, defaulted) = effective_eob_filter(request.type_filter.as_ref(), entitled);
        (Some(filter), defaulted)
    } else {
        (None, false)
    };
    let source = ClaimsSource::for_aco(&app.db, principal.aco_id, &principal.cms_id).await?;
    let files = source.attribution_files().await?;
    let selection =
        attribution_selection::select(&files, request.kind, request.since, now, &principal.cms_id)?;
    let patient_mbis = if request.patients.is_empty() {
        Vec::new()
    } else {
        attributed_mbis(&source, &selection.current, request, now).await?
    };
    let mut tx = app.db.begin().await?;
    if !app.jobs.duplicate_exempt.exempts(&principal.cms_id) {
        tx.serialize_on(&format!("kickoff:{}", principal.aco_id))
            .await?;
        let window =
            time::Duration::try_from(app.jobs.duplicate_window).unwrap_or(time::Duration::DAY);
        let active = jobs::active_since(&mut tx, principal.aco_id, now - window).await?;
        if let Some(duplicate) =
            duplicate_of(&active, request.version, &resource_types, now, window)
        {
            // Rolled back at once, so the lock is free for the next request.
            tx.rollback().await?;
            return Err(KickoffError::Duplicate(duplicate));
        }
    }
    let job_id = jobs::insert(
        &mut tx,
        &NewJob {
            aco_id: principal.aco_id,
            api_version: request.version,
            request_url,
            request_kind: request.kind,
            resource_types: &resource_types,
            since: request.since,
            // `_until` is exclusive; jobs and queries keep inclusive bounds.
            until: request.until.map(last_ms_before),
            patient_mbis: &patient_mbis,
            now,
            eob_filter,
            eob_filter_defaulted,
        },
    )
    .await?;
    tasks::enqueue(&mut tx, job_id, &PlanPayload {}, now).await?;
    task_signal::announce(&mut tx).await?;
    tx.commit().await?;
    app.new_tasks.notify_waiters();
    tracing::info!(job = job_id, aco = %principal.cms_id, "export job accepted");
    Ok(job_id)
}

/// The MBIs of the request's `patient` ids, each a member of `file` (the
/// attribution the export reads) whose Patient the source holds; otherwise
/// a 400 naming every reference that is not, with one message whatever the
/// reason (an unknown id and another ACO's beneficiary look the same).
async fn attributed_mbis(
    source: &ClaimsSource,
    file: &AttributionFile,
    request: &ExportRequest,
    now: OffsetDateTime,
) -> Result<Vec<String>, KickoffError> {
    let found = source
        .attributed_patients(file, &request.patients, now)
        .await?;
    let missing: Vec<String> = request
        .patients
        .iter()
        .zip(&found)
        .filter(|(_, mbi)| mbi.is_none())
        .map(|(id, _)| format!("Patient/{id}"))
        .collect();
    if !missing.is_empty() {
        return Err(Rejection::PatientsNotAttributed {
            references: missing.join(", "),
            attribution: match request.kind {
                RequestKind::GroupRunout => "runout",
                RequestKind::Patient | RequestKind::GroupAll | RequestKind::System => "current",
            },
        }
        .into());
    }
    Ok(found.into_iter().flatten().collect())
}
