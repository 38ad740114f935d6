//! Claims data end to end: `bcda synthetic` files imported into the store
//! give, byte for byte, what the generator serves directly; the stored scan
//! pages through beneficiaries with more rows than a page; bad files are
//! refused whole.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bcda::claims::generated::GeneratedSource;
use bcda::claims::stored::StoredSource;
use bcda::claims::{ClaimsSource, ResourceQuery};
use bcda::domain::{ApiVersion, ResourceType};
use bcda::import::{self, FileOutcome};
use bcda::store::synthetic_acos::SyntheticAcoRecord;
use bcda::synthetic::SyntheticAco;
use bcda::synthetic_files;
use time::macros::datetime;

use crate::harness::{Backend, START, TestApp, backend_test, read_all};

pub(crate) const SPEC: SyntheticAcoRecord = SyntheticAcoRecord {
    seed: 7,
    beneficiaries: 12,
    first_service_year: 2025,
    anchor: time::macros::date!(2026 - 03 - 02),
    stale_attribution: false,
    claims_density: bcda::synthetic::FULL_CLAIMS_DENSITY,
};

/// The same ACO at the sandbox's claims density.
const SANDBOX_DENSITY_SPEC: SyntheticAcoRecord = SyntheticAcoRecord {
    claims_density: bcda::sandbox::SANDBOX_CLAIMS_DENSITY,
    ..SPEC
};

pub(crate) fn synthetic(spec: &SyntheticAcoRecord) -> SyntheticAco {
    SyntheticAco::new(
        "A0001",
        spec.seed,
        spec.beneficiaries,
        spec.first_service_year,
        spec.anchor,
        false,
    )
    .with_claims_density(spec.claims_density)
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

/// Imports everything `bcda synthetic` wrote under `out`: attribution,
/// opt-outs, and the FHIR files of every version.
pub(crate) async fn import_everything(app: &TestApp, out: &Path) -> Vec<FileOutcome> {
    let mut outcomes = Vec::new();
    for input in
        import::attribution::group_inputs(&files_in(&out.join("attribution"))).expect("group")
    {
        outcomes.push(
            import::attribution::import_input(app.db(), &input, START, true)
                .await
                .expect("attribution"),
        );
    }
    for file in files_in(&out.join("opt-outs")) {
        outcomes.push(
            import::opt_outs::import_file(app.db(), &file, START, true)
                .await
                .expect("opt-outs"),
        );
    }
    for version in ApiVersion::ALL {
        let mut files = files_in(&out.join("fhir").join(synthetic_files::version_dir(version)));
        import::resources::patient_files_first(&mut files);
        for file in files {
            outcomes.push(
                import::resources::import_file(app.db(), version, &file, true)
                    .await
                    .expect("resources"),
            );
        }
    }
    outcomes
}

backend_test! {
    async fn imported_files_read_back_exactly_as_generated(backend) {
        read_back_exactly_as_generated(backend, &SPEC).await;
    }
}

backend_test! {
    /// `bcda synthetic --claims-density 10` writes what the sandbox serves.
    async fn sandbox_density_files_read_back_exactly_as_generated(backend) {
        read_back_exactly_as_generated(backend, &SANDBOX_DENSITY_SPEC).await;
    }
}

/// Writes `spec`'s files, imports them, and compares the stored source with
/// the generated one made from `spec` as stored in `synthetic_acos`.
async fn read_back_exactly_as_generated(backend: Backend, spec: &SyntheticAcoRecord) {
    let app = TestApp::new(backend).await;
    let out = tempfile::tempdir().expect("tempdir");
    let written = synthetic_files::write_all(&synthetic(spec), out.path(), START).expect("write");
    assert!(written.resources > 0);
    app.create_aco("A0001").await;
    let first = import_everything(&app, out.path()).await;
    assert!(
        first
            .iter()
            .all(|o| matches!(o, FileOutcome::Imported { .. })),
        "{first:?}"
    );
    let counts = bcda::store::resources::counts(app.db())
        .await
        .expect("counts");
    let total: i64 = counts.iter().map(|c| c.2).sum();
    assert_eq!(u64::try_from(total).expect("count"), written.resources);

    // Idempotent: the same files again change nothing.
    let again = import_everything(&app, out.path()).await;
    let attribution_and_opt_outs = written.attribution_files.len() + written.opt_out_files.len();
    assert!(
        again[..attribution_and_opt_outs]
            .iter()
            .all(|o| *o == FileOutcome::AlreadyImported)
    );
    assert_eq!(
        bcda::store::resources::counts(app.db())
            .await
            .expect("counts"),
        counts
    );

    let aco = bcda::store::acos::find_by_cms_id(app.db(), "A0001")
        .await
        .expect("db")
        .expect("aco");
    let stored = ClaimsSource::Stored(StoredSource::new(app.db().clone(), aco.id));
    // The parameters go through the database, claims density included. (The
    // stored source reads the resources tables, not this row.)
    bcda::store::synthetic_acos::upsert(app.db(), aco.id, spec)
        .await
        .expect("upsert");
    let record = bcda::store::synthetic_acos::find(app.db(), aco.id)
        .await
        .expect("find")
        .expect("row");
    assert_eq!(&record, spec);
    let generated =
        ClaimsSource::Generated(GeneratedSource::new(app.db().clone(), "A0001", &record));

    let stored_files = stored.attribution_files().await.expect("files");
    let generated_files = generated.attribution_files().await.expect("files");
    let facts = |files: &[bcda::claims::AttributionFile]| {
        files
            .iter()
            .map(|f| (f.kind, f.performance_year, f.attributed_at))
            .collect::<Vec<_>>()
    };
    assert_eq!(facts(&stored_files), facts(&generated_files));
    assert!(stored_files.len() > 12, "monthly files back to 2019");
    let mut everyone = BTreeSet::new();
    for (s, g) in stored_files.iter().zip(&generated_files) {
        let members = stored.attribution_members(s).await.expect("members");
        assert_eq!(
            members,
            generated.attribution_members(g).await.expect("members")
        );
        everyone.extend(members);
    }

    for as_of in [START, datetime!(2025-06-01 0:00 UTC)] {
        assert_eq!(
            stored.opted_out(as_of).await.expect("opt-outs"),
            generated.opted_out(as_of).await.expect("opt-outs"),
        );
    }

    let mut mbis: Vec<String> = everyone.into_iter().collect();
    mbis.push("1S00A00AA00".to_owned()); // attributed to nobody
    // Which MBIs each source knows (their keys differ by nature).
    let known = async |source: &ClaimsSource| -> Vec<bool> {
        source
            .resolve(&mbis, START)
            .await
            .expect("resolve")
            .iter()
            .map(Option::is_some)
            .collect()
    };
    assert_eq!(known(&stored).await, known(&generated).await);
    let held = bcda::store::resources::counts(app.db())
        .await
        .expect("counts");
    let held_samhsa = bcda::store::resources::samhsa_counts(app.db())
        .await
        .expect("counts");
    // The store keeps the 42 CFR Part 2 claims the files hold, EOBs of both
    // versions and partially adjudicated claims alike (at full density: a
    // dozen beneficiaries at the sandbox's may have none).
    let full_density = spec.claims_density == bcda::synthetic::FULL_CLAIMS_DENSITY;
    for (version, resource_type) in [
        (ApiVersion::V1, ResourceType::ExplanationOfBenefit),
        (ApiVersion::V2, ResourceType::ExplanationOfBenefit),
        (ApiVersion::V2, ResourceType::Claim),
        (ApiVersion::V2, ResourceType::ClaimResponse),
        (ApiVersion::V3, ResourceType::ExplanationOfBenefit),
    ] {
        assert!(
            !full_density || count_of(&held_samhsa, version, resource_type) > 0,
            "the store holds SAMHSA {version:?} {resource_type:?}: {held_samhsa:?}"
        );
    }
    check_until_before_the_newest_loads(&stored, &generated, &mbis).await;
    for version in ApiVersion::ALL {
        for &resource_type in ResourceType::of_version(version) {
            // Partially adjudicated claims are of the 90 days before the
            // anchor day: bounds inside that window split them.
            let (since_bound, cap) = if ResourceType::PARTIALLY_ADJUDICATED.contains(&resource_type)
            {
                (
                    datetime!(2026-01-20 0:00 UTC),
                    time::macros::date!(2026 - 01 - 15),
                )
            } else {
                (
                    datetime!(2025-09-01 0:00 UTC),
                    time::macros::date!(2025 - 10 - 31),
                )
            };
            for since in [None, Some(since_bound)] {
                // The Group/runout cap too: the importer's service dates
                // must cut exactly where the generator's claims end.
                let mut sizes = Vec::new();
                for claims_through in [None, Some(cap)] {
                    let query = ResourceQuery {
                        version,
                        resource_type,
                        since,
                        until: START,
                        as_of: START,
                        claims_through,
                        eob_filter: None,
                    };
                    let from_store = read_all(&stored, &mbis, query).await;
                    let from_generator = read_all(&generated, &mbis, query).await;
                    assert!(
                        !from_generator.is_empty(),
                        "{version:?} {resource_type:?} {since:?} {claims_through:?}"
                    );
                    assert!(
                        from_store == from_generator,
                        "{version:?} {resource_type:?} {since:?} {claims_through:?} differ"
                    );
                    // Neither source exports a 42 CFR Part 2 claim.
                    for line in &from_generator {
                        assert!(!is_part2_line(line), "{}", String::from_utf8_lossy(line));
                    }
                    if since.is_none() && claims_through.is_none() {
                        // Exactly the flagged rows are held back.
                        assert_eq!(
                            i64::try_from(from_store.len()).expect("count"),
                            count_of(&held, version, resource_type)
                                - count_of(&held_samhsa, version, resource_type),
                            "{version:?} {resource_type:?}"
                        );
                    }
                    sizes.push(from_generator.len());
                }
                // The cap applies to claims only, and does exclude some.
                assert_eq!(
                    sizes[0] > sizes[1],
                    !matches!(
                        resource_type,
                        ResourceType::Patient | ResourceType::Coverage
                    ),
                    "{resource_type:?} {since:?}"
                );
            }
        }
    }
}

/// `_until`'s bound (`ResourceQuery::until`) before the data's newest
/// loads, read as of a later transaction time (`as_of`): both sources must
/// agree. The generator knows every version of a Patient or Coverage; it
/// must render the one a store holds (the newest loaded by `as_of`) and
/// then apply the bound, not the version current at the bound.
async fn check_until_before_the_newest_loads(
    stored: &ClaimsSource,
    generated: &ClaimsSource,
    mbis: &[String],
) {
    let until = datetime!(2026-01-01 0:00 UTC);
    for version in ApiVersion::ALL {
        for &resource_type in ResourceType::of_version(version) {
            let query = ResourceQuery {
                version,
                resource_type,
                since: None,
                until,
                as_of: START,
                claims_through: None,
                eob_filter: None,
            };
            let from_store = read_all(stored, mbis, query).await;
            let from_generator = read_all(generated, mbis, query).await;
            assert!(
                from_store == from_generator,
                "{version:?} {resource_type:?} with _until differ"
            );
            let everything = read_all(
                generated,
                mbis,
                ResourceQuery {
                    until: START,
                    ..query
                },
            )
            .await;
            assert!(
                from_generator.len() < everything.len(),
                "{version:?} {resource_type:?}: the bound leaves something out"
            );
            if resource_type == ResourceType::Patient {
                // The versions current at the bound are not what a store
                // holds: this year's load replaced them.
                let at_bound = read_all(
                    generated,
                    mbis,
                    ResourceQuery {
                        as_of: until,
                        ..query
                    },
                )
                .await;
                assert!(at_bound != from_generator, "{version:?}");
            }
        }
    }
}

/// The count of `(version, type)` in a `counts`-style list.
pub(crate) fn count_of(
    counts: &[(i64, i64, i64)],
    version: ApiVersion,
    resource_type: ResourceType,
) -> i64 {
    let key = (
        bcda::store::resources::version_code(version),
        bcda::store::resources::type_code(resource_type),
    );
    counts.iter().find(|c| (c.0, c.1) == key).map_or(0, |c| c.2)
}

/// Whether an exported line is 42 CFR Part 2 data: a substance use disorder
/// diagnosis coding, or BFD's `42CFRPart2` security label.
pub(crate) fn is_part2_line(line: &[u8]) -> bool {
    let value: serde_json::Value = serde_json::from_slice(line).expect("json");
    let labelled = value["meta"]["security"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["code"] == "42CFRPart2");
    let diagnosed = value["diagnosis"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["diagnosisCodeableConcept"]["coding"].as_array())
        .flatten()
        .filter_map(|c| c["code"].as_str())
        .any(bcda::domain::part2::is_part2_diagnosis);
    labelled || diagnosed
}

/// Stores `eobs` ExplanationOfBenefits (v1, about 1 KB each, a few
/// `lastUpdated` values so ids break most ties) and a Patient for a new
/// beneficiary; returns the EOB lines in the order a scan must yield them.
async fn store_beneficiary(db: &bcda::store::Db, n: usize, eobs: usize) -> Vec<Vec<u8>> {
    use bcda::store::resources::{self, NewResource};
    let mbi = format!("1S00A00AA{n:02}");
    let patient_id = format!("-1000000000{n:04}");
    let mut tx = db.begin().await.expect("begin");
    let beneficiary_id = resources::upsert_beneficiary(&mut tx, &mbi, &patient_id)
        .await
        .expect("db")
        .expect("new beneficiary");
    let resource = |resource_type, resource_id: String, minute: i64| {
        let body = format!(
            r#"{{"resourceType":"{resource_type:?}","id":"{resource_id}","padding":"{}"}}"#,
            "x".repeat(1000)
        );
        NewResource {
            beneficiary_id,
            version: ApiVersion::V1,
            resource_type,
            resource_id,
            last_updated: datetime!(2025-01-01 0:00 UTC) + time::Duration::minutes(minute),
            service_end: None,
            samhsa: false,
            eob_facts: None,
            body: body.into_bytes(),
        }
    };
    let mut rows = vec![resource(ResourceType::Patient, patient_id.clone(), 0)];
    for i in 0..eobs {
        // Descending ids, so the order comes from the scan, not the insert.
        let minute = i64::try_from(i % 7).expect("small");
        rows.push(resource(
            ResourceType::ExplanationOfBenefit,
            format!("eob{n:02}x{:05}", eobs - i),
            minute,
        ));
    }
    resources::upsert(&mut tx, rows.clone())
        .await
        .expect("upsert");
    tx.commit().await.expect("commit");
    let mut eobs: Vec<_> = rows.split_off(1);
    eobs.sort_by(|a, b| {
        (a.last_updated, a.resource_id.as_bytes()).cmp(&(b.last_updated, b.resource_id.as_bytes()))
    });
    eobs.into_iter().map(|r| r.body).collect()
}

backend_test! {
    async fn the_stored_scan_pages_through_beneficiaries_with_more_rows_than_a_page(backend) {
        let app = TestApp::new(backend).await;
        app.create_aco("A0001").await;
        let aco = bcda::store::acos::find_by_cms_id(app.db(), "A0001").await.expect("db").expect("aco");
        // Exactly two pages of the largest size (512: the last page full,
        // the next empty), two pages and a bit, and a few: about 2.2 MB, so
        // batches also end in the middle of a beneficiary, where pages are
        // sized to the room left in the batch, and resume from the saved
        // position.
        let mut expected = Vec::new();
        let mut mbis = Vec::new();
        for (n, eobs) in [(1, 1024), (2, 1203), (3, 3)] {
            expected.extend(store_beneficiary(app.db(), n, eobs).await);
            mbis.push(format!("1S00A00AA{n:02}"));
        }
        let stored = ClaimsSource::Stored(StoredSource::new(app.db().clone(), aco.id));
        let query = ResourceQuery {
            version: ApiVersion::V1,
            resource_type: ResourceType::ExplanationOfBenefit,
            since: None,
            until: START,
            as_of: START,
            claims_through: None,
            eob_filter: None,
        };
        let read = read_all(&stored, &mbis, query).await;
        assert_eq!(read.len(), expected.len());
        assert!(read == expected, "every row once, in (lastUpdated, id) order per beneficiary");
    }
}

/// An unzipped CCLF package for A0001 with `records` members, in `dir`.
fn write_unzipped(dir: &Path, cms_id: &str, declared: u64, records: &[Vec<u8>]) -> Vec<PathBuf> {
    use bcda::formats::cclf::{Cclf0Row, Cclf0Summary};
    let cclf0 = dir.join(format!("T.BCD.{cms_id}.ZC0Y26.D260301.T1000000"));
    let cclf8 = dir.join(format!("T.BCD.{cms_id}.ZC8Y26.D260301.T1000000"));
    let mut summary = Vec::new();
    Cclf0Summary {
        rows: vec![Cclf0Row::cclf8(declared)],
    }
    .write(&mut summary)
    .expect("cclf0");
    std::fs::write(&cclf0, summary).expect("write");
    let mut body = Vec::new();
    for record in records {
        body.extend_from_slice(record);
        body.push(b'\n');
    }
    std::fs::write(&cclf8, body).expect("write");
    vec![cclf0, cclf8]
}

backend_test! {
    async fn malformed_attribution_is_refused_whole(backend) {
        let app = TestApp::new(backend).await;
        app.create_aco("A0001").await;
        let aco = synthetic(&SPEC);
        let good: Vec<Vec<u8>> = (0..3)
            .map(|i| {
                let bene = aco.beneficiary(i).expect("bene");
                synthetic_files::cclf8_record(&bene, SPEC.anchor).encode().expect("encode")
            })
            .collect();
        let truncated = { let mut r = good.clone(); r[1].truncate(300); r };
        let bad_date = { let mut r = good.clone(); r[1][32..42].copy_from_slice(b"2019-13-01"); r };
        let bad_mbi = { let mut r = good.clone(); r[2][0..11].copy_from_slice(b"0000000000!"); r };
        let cases: Vec<(&str, u64, Vec<Vec<u8>>, &str)> = vec![
            ("A0001", 3, truncated, "line 2"),
            ("A0001", 3, bad_date, "line 2, field BENE_DOB"),
            ("A0001", 3, bad_mbi, "line 3"),
            ("A0001", 4, good.clone(), "4"),
            ("A0002", 3, good.clone(), "ACO A0002, which does not exist"),
        ];
        for (cms_id, declared, records, expected) in cases {
            let dir = tempfile::tempdir().expect("tempdir");
            let files = write_unzipped(dir.path(), cms_id, declared, &records);
            let inputs = import::attribution::group_inputs(&files).expect("group");
            let err = import::attribution::import_input(app.db(), &inputs[0], START, true)
                .await
                .expect_err(expected);
            let message = err.to_string();
            assert!(message.contains(expected), "{message}");
            assert!(message.contains("nothing from this file was imported"), "{message}");
            let files = bcda::store::attribution_files::list(app.db(), bcda::store::acos::find_by_cms_id(app.db(), "A0001").await.expect("db").expect("aco").id)
                .await
                .expect("list");
            assert!(files.is_empty(), "{expected}: nothing half-imported");
        }
        // The good package imports, and its name cannot be reused for other bytes.
        let dir = tempfile::tempdir().expect("tempdir");
        let files = write_unzipped(dir.path(), "A0001", 3, &good);
        let inputs = import::attribution::group_inputs(&files).expect("group");
        assert_eq!(
            import::attribution::import_input(app.db(), &inputs[0], START, true).await.expect("good"),
            FileOutcome::Imported { records: 3 }
        );
        let files = write_unzipped(dir.path(), "A0001", 2, &good[..2]);
        let inputs = import::attribution::group_inputs(&files).expect("group");
        let err = import::attribution::import_input(app.db(), &inputs[0], START, true).await.expect_err("changed");
        assert!(err.to_string().contains("never replaced"), "{err}");
        // Lone halves of a package and unknown names are refused up front.
        assert!(import::attribution::group_inputs(&files[1..]).is_err());
        let stray = dir.path().join("attribution.txt");
        std::fs::write(&stray, "MBI\n").expect("write");
        assert!(import::attribution::group_inputs(&[stray]).is_err());
    }
}

backend_test! {
    async fn malformed_resources_are_refused_whole(backend) {
        let app = TestApp::new(backend).await;
        let out = tempfile::tempdir().expect("tempdir");
        synthetic_files::write_all(&synthetic(&SPEC), out.path(), START).expect("write");
        let patients = std::fs::read_to_string(out.path().join("fhir/r4/Patient.ndjson")).expect("read");
        let eobs = std::fs::read_to_string(out.path().join("fhir/r4/ExplanationOfBenefit.ndjson")).expect("read");
        let first_patient = patients.lines().next().expect("patient");
        let first_eob = eobs.lines().next().expect("eob");
        let dir = tempfile::tempdir().expect("tempdir");
        let cases = [
            (format!("{first_patient}\n{{not json\n"), "line 2"),
            (format!("{first_patient}\n{{\"resourceType\":\"Observation\",\"id\":\"x\"}}\n"), "line 2, field resourceType"),
            (format!("{first_eob}\n"), "line 1, field patient.reference"),
            (first_patient.replace("\"lastUpdated\":\"", "\"lastUpdated\":\"yesterday"), "field meta.lastUpdated"),
            (format!("{first_patient}\n{}\n", with_period_end(first_eob, "2025-02-30")), "line 2, field billablePeriod.end"),
            // Lines are checked ahead of the writer, in chunks: still the
            // first bad line is named, and on one line the beneficiary
            // lookup comes before the checks after it.
            (format!("{first_eob}\n{}{{not json\n", format!("{first_patient}\n").repeat(600)), "line 1, field patient.reference"),
            (format!("{}\n", with_period_end(first_eob, "2025-02-30")), "line 1, field patient.reference"),
            (format!("{}{}\n", format!("{first_patient}\n").repeat(300), with_period_end(first_eob, "2025-02-30")), "line 301, field billablePeriod.end"),
        ];
        for (content, expected) in cases {
            let path = dir.path().join("bad.ndjson");
            std::fs::write(&path, content).expect("write");
            let err = import::resources::import_file(app.db(), ApiVersion::V2, &path, true)
                .await
                .expect_err(expected);
            assert!(err.to_string().contains(expected), "{err}");
            assert!(bcda::store::resources::counts(app.db()).await.expect("counts").is_empty(), "{expected}");
        }
    }
}

backend_test! {
    async fn malformed_opt_outs_are_refused_whole(backend) {
        let app = TestApp::new(backend).await;
        let out = tempfile::tempdir().expect("tempdir");
        let written = synthetic_files::write_all(&synthetic(&SPEC), out.path(), START).expect("write");
        let original = written.opt_out_files.first().expect("an opt-out file");
        let bytes = std::fs::read(original).expect("read");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(original.file_name().expect("name"));
        // A short second line (the first record).
        let mut lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        lines[1].truncate(200);
        std::fs::write(&path, lines.join(&b'\n')).expect("write");
        let err = import::opt_outs::import_file(app.db(), &path, START, true).await.expect_err("short");
        assert!(err.to_string().contains("line 2"), "{err}");
        let aco_file = bcda::store::opt_outs::find_file(app.db(), &path.file_name().expect("n").to_string_lossy())
            .await
            .expect("db");
        assert!(aco_file.is_none(), "nothing half-imported");
    }
}

/// An EOB line with its billable period's end replaced.
fn with_period_end(eob: &str, end: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(eob).expect("json");
    value["billablePeriod"]["end"] = serde_json::json!(end);
    value.to_string()
}

/// `line` with its `meta.security` labels removed.
fn without_security(line: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(line).expect("json");
    if let Some(meta) = value["meta"].as_object_mut() {
        meta.remove("security");
    }
    value.to_string()
}

backend_test! {
    /// Claim and ClaimResponse import on v2 only, linked by MBI; a claim
    /// with a Part 2 diagnosis is flagged from its diagnoses, and its
    /// response from the Claim, whichever comes first.
    async fn partially_adjudicated_claims_import_on_v2_linked_by_mbi(backend) {
        let (app, out) = app_with_synthetic_files(backend).await;
        let r4 = out.path().join("fhir/r4");
        let read = |name: &str| std::fs::read_to_string(r4.join(name)).expect("read");
        let claims = read("Claim.ndjson");
        let responses = read("ClaimResponse.ndjson");
        let first_claim = claims.lines().next().expect("a claim");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pac.ndjson");

        // v1 has no partially adjudicated claims.
        std::fs::write(&path, format!("{first_claim}\n")).expect("write");
        let err = import::resources::import_file(app.db(), ApiVersion::V1, &path, true)
            .await
            .expect_err("v1");
        let message = err.to_string();
        assert!(message.contains("line 1, field resourceType"), "{message}");
        assert!(message.contains("Claim is a v2 (FHIR R4) resource only"), "{message}");
        // A claim whose MBI matches no imported Patient refuses the file.
        std::fs::write(&path, format!("{first_claim}\n")).expect("write");
        let err = import::resources::import_file(app.db(), ApiVersion::V2, &path, true)
            .await
            .expect_err("unknown MBI");
        let message = err.to_string();
        assert!(message.contains("line 1, field patient"), "{message}");
        assert!(message.contains("matches no imported Patient"), "{message}");
        assert!(bcda::store::resources::counts(app.db()).await.expect("counts").is_empty());

        import::resources::import_file(app.db(), ApiVersion::V2, &r4.join("Patient.ndjson"), true)
            .await
            .expect("patients");
        // Without the security labels, the flag must come from the
        // diagnoses (Claim) and from the Claim (ClaimResponse), with the
        // responses stored first.
        let responses_path = dir.path().join("responses.ndjson");
        write_unlabelled(&responses, &responses_path);
        let claims_path = dir.path().join("claims.ndjson");
        let flagged = write_unlabelled(&claims, &claims_path);
        assert!(flagged > 0, "the files hold SAMHSA claims");
        import::resources::import_file(app.db(), ApiVersion::V2, &responses_path, true)
            .await
            .expect("responses");
        let samhsa = || async {
            bcda::store::resources::samhsa_counts(app.db()).await.expect("counts")
        };
        assert!(samhsa().await.is_empty(), "nothing says the responses are Part 2 yet");
        import::resources::import_file(app.db(), ApiVersion::V2, &claims_path, true)
            .await
            .expect("claims");
        let flagged = i64::try_from(flagged).expect("count");
        assert_eq!(samhsa().await, vec![(2, 4, flagged), (2, 5, flagged)]);

        assert_responses_share_claims_service_end(&app).await;
    }
}

backend_test! {
    /// The other order: Claims first, then their ClaimResponses, which
    /// take the flag and service end of the Claims already stored.
    async fn claim_responses_imported_after_their_claims_inherit_the_flag(backend) {
        let (app, out) = app_with_synthetic_files(backend).await;
        let r4 = out.path().join("fhir/r4");
        let unlabelled = |name: &str| {
            let lines = std::fs::read_to_string(r4.join(name)).expect("read");
            let path = out.path().join(format!("unlabelled-{name}"));
            let flagged = write_unlabelled(&lines, &path);
            (path, flagged)
        };
        let (claims, flagged) = unlabelled("Claim.ndjson");
        let (responses, _) = unlabelled("ClaimResponse.ndjson");
        assert!(flagged > 0, "the files hold SAMHSA claims");
        for path in [r4.join("Patient.ndjson"), claims, responses] {
            import::resources::import_file(app.db(), ApiVersion::V2, &path, true)
                .await
                .expect("import");
        }
        let flagged = i64::try_from(flagged).expect("count");
        assert_eq!(
            bcda::store::resources::samhsa_counts(app.db()).await.expect("counts"),
            vec![(2, 4, flagged), (2, 5, flagged)]
        );
        assert_responses_share_claims_service_end(&app).await;
    }
}

backend_test! {
    /// A file that grows the resources table by more than a tenth refreshes
    /// PostgreSQL's planner statistics at its commit (`ANALYZE`, not left
    /// to autovacuum); a small one does not; SQLite has none to refresh.
    async fn big_imports_refresh_the_planner_statistics(backend) {
        let (app, out) = app_with_synthetic_files(backend).await;
        let r4 = out.path().join("fhir/r4");
        for name in ["Patient.ndjson", "ExplanationOfBenefit.ndjson"] {
            import::resources::import_file(app.db(), ApiVersion::V2, &r4.join(name), true)
                .await
                .expect("import");
        }
        let stored: i64 = bcda::store::resources::counts(app.db())
            .await
            .expect("counts")
            .iter()
            .map(|(_, _, n)| n)
            .sum();
        let refreshed = bcda::store::resources::refresh_statistics(app.db(), 1)
            .await
            .expect("refresh");
        assert!(!refreshed, "one row is not a tenth of the table");
        let bcda::store::Db::Postgres(pool) = app.db() else {
            let refreshed = bcda::store::resources::refresh_statistics(app.db(), 1_000_000)
                .await
                .expect("refresh");
            assert!(!refreshed, "SQLite keeps no statistics");
            return;
        };
        // The statistics know every row the import wrote: the last file's
        // ANALYZE ran after its commit.
        let (analyzed, known): (bool, f32) = sqlx::query_as(
            "SELECT s.last_analyze IS NOT NULL, c.reltuples FROM pg_stat_user_tables s \
             JOIN pg_class c ON c.oid = s.relid WHERE s.relid = 'resources'::regclass",
        )
        .fetch_one(pool)
        .await
        .expect("statistics");
        assert!(analyzed);
        assert_eq!(f64::from(known), stored as f64);
    }
}

/// A test app with ACO A0001, and the synthetic ACO's files (`SPEC`) in
/// the returned directory.
async fn app_with_synthetic_files(backend: Backend) -> (TestApp, tempfile::TempDir) {
    let app = TestApp::new(backend).await;
    app.create_aco("A0001").await;
    let out = tempfile::tempdir().expect("tempdir");
    synthetic_files::write_all(&synthetic(&SPEC), out.path(), START).expect("write");
    (app, out)
}

/// Writes NDJSON `lines` to `path` without their security labels, so only
/// the diagnoses (a Claim) or the Claim (a ClaimResponse) can flag them;
/// returns how many carried the Part 2 label.
fn write_unlabelled(lines: &str, path: &Path) -> usize {
    let text: Vec<String> = lines.lines().map(without_security).collect();
    std::fs::write(path, text.join("\n")).expect("write");
    lines.lines().filter(|l| l.contains("42CFRPart2")).count()
}

/// Each ClaimResponse took its Claim's service end: the runout cap keeps
/// the same ids of both, and drops some responses.
async fn assert_responses_share_claims_service_end(app: &TestApp) {
    let aco = bcda::store::acos::find_by_cms_id(app.db(), "A0001")
        .await
        .expect("db")
        .expect("aco");
    let stored = ClaimsSource::Stored(StoredSource::new(app.db().clone(), aco.id));
    let mbis: Vec<String> = (0..synthetic(&SPEC).pool_size())
        .filter_map(|i| synthetic(&SPEC).beneficiary(i).map(|b| b.mbi))
        .collect();
    let ids = |lines: Vec<Vec<u8>>| {
        lines
            .iter()
            .map(|l| {
                serde_json::from_slice::<serde_json::Value>(l).expect("json")["id"].to_string()
            })
            .collect::<Vec<_>>()
    };
    let cap = Some(time::macros::date!(2026 - 01 - 15));
    let query = |resource_type| ResourceQuery {
        version: ApiVersion::V2,
        resource_type,
        since: None,
        until: START,
        as_of: START,
        claims_through: cap,
        eob_filter: None,
    };
    let capped_claims = ids(read_all(&stored, &mbis, query(ResourceType::Claim)).await);
    let capped_responses = ids(read_all(&stored, &mbis, query(ResourceType::ClaimResponse)).await);
    assert!(!capped_claims.is_empty());
    assert_eq!(capped_claims, capped_responses);
    let all = read_all(
        &stored,
        &mbis,
        ResourceQuery {
            claims_through: None,
            ..query(ResourceType::ClaimResponse)
        },
    )
    .await;
    assert!(
        all.len() > capped_responses.len(),
        "the cap drops some responses"
    );
}

backend_test! {
    /// Migration 0008 flags the Part 2 ExplanationOfBenefits a store held
    /// before it (by diagnosis, DRG or label), and nothing else.
    async fn migration_0008_flags_part2_eobs_stored_before(backend) {
        use bcda::store::resources::{self, NewResource};
        let app = TestApp::new(backend).await;
        let mut tx = app.db().begin().await.expect("begin");
        let beneficiary_id = resources::upsert_beneficiary(&mut tx, "1S00A00AA00", "-1")
            .await
            .expect("db")
            .expect("new");
        let drg = |key: &str, code: &str| {
            format!(
                r#"{{"{key}":[{{"code":{{"coding":[{{"system":"https://bluebutton.cms.gov/resources/variables/clm_drg_cd","code":"{code}"}}]}}}}]}}"#
            )
        };
        let dx = |code: &str| {
            format!(r#"{{"diagnosis":[{{"diagnosisCodeableConcept":{{"coding":[{{"code":"I10"}},{{"code":"{code}"}}]}}}}]}}"#)
        };
        let rows = [
            (ApiVersion::V2, ResourceType::ExplanationOfBenefit, "dx", dx("F11.20"), true),
            (ApiVersion::V2, ResourceType::ExplanationOfBenefit, "drg", drg("supportingInfo", "896"), true),
            (ApiVersion::V1, ResourceType::ExplanationOfBenefit, "drg", drg("information", "897"), true),
            (ApiVersion::V2, ResourceType::ExplanationOfBenefit, "label", r#"{"meta":{"security":[{"code":"42CFRPart2"}]}}"#.to_owned(), true),
            (ApiVersion::V2, ResourceType::ExplanationOfBenefit, "nicotine", dx("F17.210"), false),
            (ApiVersion::V2, ResourceType::ExplanationOfBenefit, "other-drg", drg("supportingInfo", "291"), false),
            (ApiVersion::V2, ResourceType::Patient, "-1", dx("F10.20"), false),
        ];
        let new_rows: Vec<NewResource> = rows
            .iter()
            .map(|(version, resource_type, id, body, _)| NewResource {
                beneficiary_id,
                version: *version,
                resource_type: *resource_type,
                resource_id: (*id).to_owned(),
                last_updated: START,
                service_end: None,
                samhsa: false,
                eob_facts: None,
                body: body.clone().into_bytes(),
            })
            .collect();
        resources::upsert(&mut tx, new_rows).await.expect("upsert");
        tx.commit().await.expect("commit");

        // The store as it was before 0008, these rows in it.
        let undo = [
            "DROP INDEX resources_scan",
            "CREATE INDEX resources_scan ON resources (beneficiary_id, fhir_version, resource_type, last_updated, resource_id)",
            "ALTER TABLE resources DROP COLUMN samhsa",
            "DELETE FROM _sqlx_migrations WHERE version = 8",
        ];
        match app.db() {
            bcda::store::Db::Sqlite(pool) => {
                let mut conn = pool.acquire().await.expect("connection");
                for sql in undo {
                    sqlx::query(sql).execute(&mut *conn).await.expect(sql);
                }
            }
            bcda::store::Db::Postgres(pool) => {
                let mut conn = pool.acquire().await.expect("connection");
                for sql in undo {
                    sqlx::query(sql).execute(&mut *conn).await.expect(sql);
                }
            }
        }
        app.db().migrate().await.expect("migrate");

        let flagged: i64 = rows.iter().filter(|r| r.4).count().try_into().expect("count");
        assert_eq!(
            resources::samhsa_counts(app.db()).await.expect("counts"),
            vec![(1, 3, 1), (2, 3, flagged - 1)]
        );
    }
}
