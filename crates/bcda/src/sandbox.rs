//! The sandbox: BCDA's synthetic ACOs, served from the generator, with
//! credentials kept in the data directory so every start reuses them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::acos::{self, AcoError};
use crate::auth::credentials::{self, CredentialsError, DEFAULT_SECRET_LIFETIME};
use crate::auth::secrets;
use crate::clock::Clock;
use crate::domain::DataSets;
use crate::store::synthetic_acos::{self, SyntheticAcoRecord};
use crate::store::{Db, StoreError, acos as aco_store, credentials as credential_store};

/// The seed of every sandbox ACO's data (the generator mixes in the CMS ID,
/// so ACOs differ).
pub const SANDBOX_SEED: u64 = 20_240_101;

/// Years of claims history the sandbox serves.
pub const SANDBOX_YEARS: i32 = 7;

/// Claims density of the sandbox ACOs, in percent of the full per-year claim
/// rates. At full density a 50-beneficiary v2 ExplanationOfBenefit file of
/// A9994 is about 234 MB (4.7 MB per beneficiary over seven years), more than
/// Postman or a browser's Swagger UI can hold; at 10 % it is about 25 MB,
/// near BCDA's own sandbox (about 380 KB per beneficiary, docs/REFERENCES.md
/// "Sandbox file sizes"), and the fullest 50-beneficiary file of the largest
/// sandbox ACO stays under 60 MB (`tests/synthetic/density.rs`). The
/// partially adjudicated claims of TEST001 and TEST002 follow it too.
pub const SANDBOX_CLAIMS_DENSITY: u8 = 10;

/// One sandbox ACO.
#[derive(Debug, Clone, Copy)]
pub struct SandboxAco {
    /// CMS ID the ACO is created under, as in BCDA's sandbox (e.g. `A9994`).
    pub cms_id: &'static str,
    /// Display name stored with the ACO (e.g. `ACO Dev`).
    pub name: &'static str,
    /// Beneficiaries in its current attribution.
    pub beneficiaries: u32,
    /// On the deny list (403 on use).
    pub denied: bool,
    /// Attribution out of date (404 on export).
    pub stale_attribution: bool,
    /// Entitled to partially adjudicated claims as well as adjudicated ones
    /// (BCDA's REACH-like sandbox sets); otherwise adjudicated only.
    pub partially_adjudicated: bool,
}

impl SandboxAco {
    /// The claims data the ACO may export.
    pub fn data_sets(&self) -> DataSets {
        if self.partially_adjudicated {
            DataSets::BOTH
        } else {
            DataSets::default()
        }
    }
}

/// The sandbox ACOs, as in BCDA's sandbox (docs/REFERENCES.md, "Sandbox
/// file sizes"): its simple sets, its partially adjudicated REACH sets (TEST001,
/// TEST002: both data sets, so v2 exports add Claim and ClaimResponse), a
/// deny-listed ACO and one whose attribution is out of date. The order is
/// the printed one; A9994 stays first (the README's examples read entry 0
/// of `sandbox-credentials.json`).
pub const SANDBOX_ACOS: [SandboxAco; 9] = [
    SandboxAco {
        cms_id: "A9994",
        name: "ACO Dev",
        beneficiaries: 50,
        denied: false,
        stale_attribution: false,
        partially_adjudicated: false,
    },
    SandboxAco {
        cms_id: "A9990",
        name: "ACO Small",
        beneficiaries: 2_500,
        denied: false,
        stale_attribution: false,
        partially_adjudicated: false,
    },
    SandboxAco {
        cms_id: "A9991",
        name: "ACO Medium",
        beneficiaries: 7_500,
        denied: false,
        stale_attribution: false,
        partially_adjudicated: false,
    },
    SandboxAco {
        cms_id: "A9992",
        name: "ACO Large",
        beneficiaries: 20_000,
        denied: false,
        stale_attribution: false,
        partially_adjudicated: false,
    },
    SandboxAco {
        cms_id: "A9993",
        name: "ACO Extra Large",
        beneficiaries: 30_000,
        denied: false,
        stale_attribution: false,
        partially_adjudicated: false,
    },
    SandboxAco {
        cms_id: "TEST001",
        name: "ACO REACH Extra Small",
        beneficiaries: 110,
        denied: false,
        stale_attribution: false,
        partially_adjudicated: true,
    },
    SandboxAco {
        cms_id: "TEST002",
        name: "ACO REACH Large",
        beneficiaries: 11_000,
        denied: false,
        stale_attribution: false,
        partially_adjudicated: true,
    },
    SandboxAco {
        cms_id: "A9997",
        name: "ACO Deny-Listed",
        beneficiaries: 50,
        denied: true,
        stale_attribution: false,
        partially_adjudicated: false,
    },
    SandboxAco {
        cms_id: "TEST995",
        name: "ACO Outdated Attribution",
        beneficiaries: 50,
        denied: false,
        stale_attribution: true,
        partially_adjudicated: false,
    },
];

/// One line of `sandbox-credentials.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxCredential {
    /// CMS ID of the sandbox ACO the credential belongs to.
    pub cms_id: String,
    /// Client id: the HTTP Basic user name at the token route.
    pub client_id: String,
    /// Client secret (the sandbox keeps it so restarts can reuse it).
    pub client_secret: String,
    /// Beneficiaries in the ACO's current attribution.
    pub beneficiaries: u32,
}

/// Why the sandbox could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An ACO could not be created.
    #[error(transparent)]
    Aco(#[from] AcoError),
    /// Credentials could not be made.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The credentials file is unreadable or unwritable.
    #[error("{path}: {message}")]
    File {
        /// The credentials file (`sandbox-credentials.json` in the data directory).
        path: PathBuf,
        /// What reading, parsing or writing it reported.
        message: String,
    },
}

/// The sandbox credentials file in a data directory.
pub fn credentials_path(data_dir: &Path) -> PathBuf {
    data_dir.join("sandbox-credentials.json")
}

/// Creates (or refreshes) the sandbox ACOs and their credentials: ACOs and
/// their synthetic data parameters are made once, the attribution history is
/// re-laid against today so it is always current, and credentials from an
/// earlier start are reused while they still work.
pub async fn prepare(
    db: &Db,
    clock: &dyn Clock,
    data_dir: &Path,
) -> Result<Vec<SandboxCredential>, SandboxError> {
    let path = credentials_path(data_dir);
    let earlier = read_credentials(&path)?;
    let today = clock.now().date();
    let mut out = Vec::with_capacity(SANDBOX_ACOS.len());
    for spec in SANDBOX_ACOS {
        let aco = match aco_store::find_by_cms_id(db, spec.cms_id).await? {
            Some(aco) => aco,
            None => acos::create(db, clock, spec.cms_id, spec.name, spec.data_sets()).await?,
        };
        if aco.denied_at.is_some() != spec.denied {
            acos::set_denied(db, clock, spec.cms_id, spec.denied).await?;
        }
        // An ACO made by an older sandbox (before data sets existed) takes
        // its entitlements now, as the deny list above.
        if aco.data_sets != spec.data_sets() {
            acos::set_data_sets(db, spec.cms_id, spec.data_sets()).await?;
        }
        // Keep the first service year of an earlier start: the claims of a
        // sandbox ACO never change (except once, when a sandbox made before
        // claims density existed takes the sandbox density), only its
        // attribution dates move.
        let first_service_year = synthetic_acos::find(db, aco.id)
            .await?
            .map_or(today.year() - (SANDBOX_YEARS - 1), |s| s.first_service_year);
        synthetic_acos::upsert(
            db,
            aco.id,
            &SyntheticAcoRecord {
                seed: SANDBOX_SEED,
                beneficiaries: spec.beneficiaries,
                first_service_year,
                anchor: today,
                stale_attribution: spec.stale_attribution,
                claims_density: SANDBOX_CLAIMS_DENSITY,
            },
        )
        .await?;
        let reusable = match earlier.iter().find(|c| c.cms_id == spec.cms_id) {
            Some(c) if still_works(db, clock, c, aco.id).await? => Some(c.clone()),
            _ => None,
        };
        let credential = match reusable {
            Some(c) => SandboxCredential {
                beneficiaries: spec.beneficiaries,
                ..c
            },
            None => {
                let created =
                    credentials::create(db, clock, spec.cms_id, DEFAULT_SECRET_LIFETIME).await?;
                SandboxCredential {
                    cms_id: spec.cms_id.to_owned(),
                    client_id: created.client_id,
                    client_secret: created.client_secret,
                    beneficiaries: spec.beneficiaries,
                }
            }
        };
        out.push(credential);
    }
    if out != earlier {
        write_credentials(&path, &out)?;
    }
    Ok(out)
}

/// Whether saved credentials still obtain tokens for `aco_id`.
async fn still_works(
    db: &Db,
    clock: &dyn Clock,
    saved: &SandboxCredential,
    aco_id: uuid::Uuid,
) -> Result<bool, SandboxError> {
    let Some(stored) = credential_store::find(db, &saved.client_id).await? else {
        return Ok(false);
    };
    if stored.aco_id != aco_id || stored.revoked_at.is_some() || stored.expires_at <= clock.now() {
        return Ok(false);
    }
    let secret = saved.client_secret.clone();
    let hash = stored.secret_hash;
    Ok(
        tokio::task::spawn_blocking(move || secrets::verify_secret(&secret, &hash))
            .await
            .unwrap_or(false),
    )
}

fn read_credentials(path: &Path) -> Result<Vec<SandboxCredential>, SandboxError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| SandboxError::File {
            path: path.to_owned(),
            message: format!("not a sandbox credentials file ({e}); move it away to start afresh"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(SandboxError::File {
            path: path.to_owned(),
            message: e.to_string(),
        }),
    }
}

/// Writes the file whole or not at all (temporary file, then rename),
/// readable by its owner only: it holds secrets.
fn write_credentials(path: &Path, credentials: &[SandboxCredential]) -> Result<(), SandboxError> {
    use std::io::Write;
    let fail = |e: std::io::Error| SandboxError::File {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(fail)?;
    let json = serde_json::to_vec_pretty(credentials).map_err(|e| SandboxError::File {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    file.write_all(&json).map_err(fail)?;
    file.write_all(b"\n").map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}
