//! The sandbox: BCDA's synthetic ACOs, served from the generator, with
//! credentials kept in the data directory so every start reuses them; and,
//! for A9994, a SMART Backend Services client with a ready-made key pair.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::acos::{self, AcoError};
use crate::auth::client_key_pair::ClientKeyPair;
use crate::auth::credentials::{self, CredentialsError, DEFAULT_SECRET_LIFETIME};
use crate::auth::jwks::KeySet;
use crate::auth::keys::KeyError;
use crate::auth::secrets;
use crate::clock::Clock;
use crate::domain::DataSets;
use crate::store::credentials::ClientKeys;
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
    /// The key pair could not be made.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The credentials file is unreadable or unwritable.
    #[error("{path}: {message}")]
    File {
        /// The credentials file (`sandbox-credentials.json` in the data
        /// directory) or a key-pair file.
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

/// The sandbox ACO whose SMART Backend Services client gets a key pair.
pub const KEY_CLIENT_ACO: &str = "A9994";

/// The sandbox's SMART Backend Services client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxKeyClient {
    /// CMS ID of its ACO ([`KEY_CLIENT_ACO`]).
    pub cms_id: String,
    /// Its client id: the `iss` and `sub` of its assertions.
    pub client_id: String,
    /// The id of its key.
    pub kid: String,
    /// The JWKS file holding the private key (owner-only).
    pub key_file: PathBuf,
    /// The same private key as PKCS#8 PEM (owner-only).
    pub pem_file: PathBuf,
}

/// The key-pair file in a data directory: a JWKS with the private JWK.
pub fn key_file_path(data_dir: &Path) -> PathBuf {
    data_dir.join("sandbox-smart-key.jwks")
}

/// The PEM form of the same private key.
pub fn key_pem_path(data_dir: &Path) -> PathBuf {
    data_dir.join("sandbox-smart-key.pem")
}

/// Makes sure A9994 has a SMART Backend Services client with the key pair
/// of the data directory's key file: the file is made once (mode 0600) and
/// reused; the client registered under its public key is reused while it
/// is not revoked (an expired one is renewed), and registered anew
/// otherwise. Call after [`prepare`], which creates the ACO.
pub async fn prepare_key_client(
    db: &Db,
    clock: &dyn Clock,
    data_dir: &Path,
) -> Result<SandboxKeyClient, SandboxError> {
    let key_file = key_file_path(data_dir);
    let pem_file = key_pem_path(data_dir);
    let pair = match std::fs::read_to_string(&key_file) {
        Ok(text) => {
            ClientKeyPair::from_private_jwks(&text).map_err(|problem| SandboxError::File {
                path: key_file.clone(),
                message: format!(
                    "not a sandbox key-pair file ({problem}); move it away to start afresh"
                ),
            })?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let pair = ClientKeyPair::generate()?;
            write_private(&key_file, pair.private_jwks().as_bytes())?;
            pair
        }
        Err(e) => {
            return Err(SandboxError::File {
                path: key_file,
                message: e.to_string(),
            });
        }
    };
    if !pem_file.exists() {
        write_private(&pem_file, pair.private_key_pem()?.as_bytes())?;
    }
    let registered = credential_store::list(db, Some(KEY_CLIENT_ACO))
        .await?
        .into_iter()
        .find(|c| {
            c.revoked_at.is_none()
                && matches!(&c.keys, Some(ClientKeys::Inline(jwks))
                    if KeySet::parse(jwks).is_ok_and(|set| set.has_kid(pair.kid())))
        });
    let keys = ClientKeys::Inline(pair.public_jwks());
    let client_id = match registered {
        Some(c) if c.expires_at > clock.now() => c.client_id,
        Some(c) => {
            credentials::replace_keys(db, clock, &c.client_id, keys, DEFAULT_SECRET_LIFETIME)
                .await?
                .client_id
        }
        None => {
            credentials::create_key_client(db, clock, KEY_CLIENT_ACO, keys, DEFAULT_SECRET_LIFETIME)
                .await?
                .client_id
        }
    };
    Ok(SandboxKeyClient {
        cms_id: KEY_CLIENT_ACO.to_owned(),
        client_id,
        kid: pair.kid().to_owned(),
        key_file,
        pem_file,
    })
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

/// Writes the file whole or not at all, readable by its owner only: it
/// holds secrets.
fn write_credentials(path: &Path, credentials: &[SandboxCredential]) -> Result<(), SandboxError> {
    let mut json = serde_json::to_vec_pretty(credentials).map_err(|e| SandboxError::File {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    json.push(b'\n');
    write_private(path, &json)
}

/// Writes `contents` to `path` whole or not at all (a temporary file, then
/// a rename), mode 0600.
fn write_private(path: &Path, contents: &[u8]) -> Result<(), SandboxError> {
    use std::io::Write;
    let fail = |e: std::io::Error| SandboxError::File {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    // A leftover of an interrupted write may have another mode.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail(e)),
        _ => {}
    }
    let mut file = crate::files::private::create_file(&tmp).map_err(fail)?;
    file.write_all(contents).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}
