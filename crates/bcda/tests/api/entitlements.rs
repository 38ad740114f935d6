//! Partially adjudicated data per ACO (issue 12, item 1): which types a
//! kick-off exports by default and which it refuses, by the ACO's data sets
//! and the API version.

use bcda::domain::{DataSets, ResourceType};

use crate::harness::backend_test;
use crate::kickoff::{job_id, kick_ok, sandbox_with_token};

backend_test! {
    async fn types_follow_the_acos_data_sets(backend) {
        // A9994: adjudicated only, as every sandbox ACO so far.
        let (app, token) = sandbox_with_token(backend, "A9994").await;
        kick_ok(&app, &token, "/api/v2/Patient/$export?_type=Claim")
            .await
            .assert_outcome(400, "structure", "unauthorized resource type Claim");
        kick_ok(&app, &token, "/api/v2/Patient/$export?_type=Patient,ClaimResponse")
            .await
            .assert_outcome(400, "structure", "unauthorized resource type ClaimResponse");
        kick_ok(&app, &token, "/api/v1/Patient/$export?_type=Claim")
            .await
            .assert_outcome(400, "structure", "invalid resource type Claim. Supported types [Patient Coverage ExplanationOfBenefit]");
        let job = job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export").await);
        let record = bcda::store::jobs::find(app.db(), job).await.expect("db").expect("job");
        assert_eq!(record.resource_types, ResourceType::ADJUDICATED);

        // Entitled to both: v2 defaults add Claim and ClaimResponse, v1 does not.
        bcda::store::acos::set_data_sets(app.db(), "A9994", DataSets::BOTH).await.expect("db");
        let job = job_id(&kick_ok(&app, &token, "/api/v2/Group/all/$export").await);
        let record = bcda::store::jobs::find(app.db(), job).await.expect("db").expect("job");
        assert_eq!(record.resource_types, ResourceType::ALL);
        let job = job_id(&kick_ok(&app, &token, "/api/v1/Group/all/$export").await);
        let record = bcda::store::jobs::find(app.db(), job).await.expect("db").expect("job");
        assert_eq!(record.resource_types, ResourceType::ADJUDICATED);

        // Partially adjudicated only: Claim and ClaimResponse on v2; Patient refused.
        let pac = DataSets::parse("partially-adjudicated").expect("sets");
        bcda::store::acos::set_data_sets(app.db(), "A9994", pac).await.expect("db");
        kick_ok(&app, &token, "/api/v2/Patient/$export?_type=Patient")
            .await
            .assert_outcome(400, "structure", "unauthorized resource type Patient");
        kick_ok(&app, &token, "/api/v1/Patient/$export")
            .await
            .assert_outcome(400, "structure", "this ACO's data (partially-adjudicated) has no resource types on v1; use /api/v2");
        let job = job_id(&kick_ok(&app, &token, "/api/v2/Patient/$export").await);
        let record = bcda::store::jobs::find(app.db(), job).await.expect("db").expect("job");
        assert_eq!(record.resource_types, ResourceType::PARTIALLY_ADJUDICATED);
    }
}
