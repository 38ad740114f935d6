//! The OpenAPI 3 documents (`/api/v1/openapi.json`, `/api/v2/openapi.json`)
//! and the Swagger UI over them (`/api/v1/swagger/`, `/api/v2/swagger/`).
//!
//! Each handler carries a `#[utoipa::path]` annotation (its parameters,
//! answers and security). The router registers handlers through
//! `utoipa_axum::routes!`, which adds the route and its documentation in one
//! step, so a route cannot be served without being documented (see
//! `router.rs`). This module adds what is not about one route: the info
//! block, the tags in the order of CMS's walkthrough, the two security
//! schemes and the shared schemas and responses.

pub mod params;
pub mod responses;
pub mod schemas;

use axum::Router;
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::RefOr;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::VERSION;
use crate::app::AppState;
use crate::domain::ApiVersion;

/// The security scheme of `/auth/token`: HTTP Basic, client id and secret.
pub const BASIC_AUTH: &str = "BasicAuth";
/// The security scheme of every other authenticated route: an API key in
/// the `Authorization` header whose value is `Bearer <token>`. An API key
/// rather than an HTTP bearer scheme, as in BCDA's own document: the
/// walkthrough has the user type `Bearer ` before the token.
pub const BEARER_TOKEN: &str = "BearerToken";

/// Tag of the token routes.
pub const TAG_AUTH: &str = "auth";
/// Tag of the unauthenticated facts about the server.
pub const TAG_METADATA: &str = "Metadata";
/// Tag of the export kick-offs.
pub const TAG_BULK_DATA: &str = "bulkData";
/// Tag of the job routes.
pub const TAG_JOBS: &str = "jobs";
/// Tag of the file download.
pub const TAG_DATA: &str = "data";

/// What every version's document has besides its paths.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Beneficiary Claims Data API",
        description = include_str!("description.md"),
        license(name = "Apache-2.0"),
    ),
    tags(
        (name = "auth", description = "Trade your client id and secret for an access token."),
        (name = "Metadata", description = "Facts about the server, its auth provider and the API. No token needed."),
        (name = "bulkData", description = "Start an export of your beneficiaries' data (Patient, Coverage, ExplanationOfBenefit; on v2 also Claim and ClaimResponse for ACOs entitled to partially adjudicated claims)."),
        (name = "jobs", description = "Follow, list and cancel your export jobs."),
        (name = "data", description = "Download the files of a finished export."),
    ),
    components(
        schemas(schemas::OperationOutcome, schemas::OutcomeIssue),
        responses(
            responses::Unauthorized,
            responses::Forbidden,
            responses::TooManyRequests,
            responses::InternalError,
        ),
    ),
    modifiers(&SecuritySchemes),
)]
struct BaseDoc;

/// Adds the two security schemes.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BASIC_AUTH,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "For `/auth/token` only: your client id as the username and your \
                         client secret as the password.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            BEARER_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "Type the word `Bearer`, a space, then the access_token from `/auth/token`: \
                 `Bearer eyJhbGciOi...`. Without `Bearer ` every request answers 401.",
            ))),
        );
    }
}

/// The document of one API version: the shared routes' paths plus that
/// version's, with the common parts. Server URL `/`: the page works on any
/// host it is served from.
pub fn document(version: ApiVersion, paths: OpenApiDoc) -> OpenApiDoc {
    let mut doc = BaseDoc::openapi();
    doc.info.version = VERSION.to_owned();
    doc.info.title = format!(
        "{} ({}, FHIR {})",
        doc.info.title,
        version.segment(),
        version.fhir_version()
    );
    doc.servers = Some(vec![Server::new("/")]);
    doc.merge(paths);
    types_of_version(&mut doc, version);
    token_form_is_optional(&mut doc);
    doc
}

/// Marks `/auth/token`'s body optional: HTTP Basic sends none, a SMART
/// client the assertion form. (utoipa makes a body optional only by an
/// `Option` type, which it documents as `oneOf` the form or `null`; Swagger
/// UI cannot render that as form fields.)
fn token_form_is_optional(doc: &mut OpenApiDoc) {
    if let Some(body) = doc
        .paths
        .paths
        .get_mut("/auth/token")
        .and_then(|item| item.post.as_mut())
        .and_then(|operation| operation.request_body.as_mut())
        && let RefOr::T(body) = body
    {
        body.required = Some(utoipa::openapi::Required::False);
    }
}

/// Makes the kick-offs' `_type` (query parameter and POST body entry) take
/// `version`'s resource types, and adds `_until` (v2 and later) and v3's
/// `_typeFilter`. The handlers are shared by the versions, so their
/// annotations describe v1's; v2 adds the partially adjudicated types and
/// `_until`, v3 the type filter. The one place a version's document differs
/// from another's parameters.
fn types_of_version(doc: &mut OpenApiDoc, version: ApiVersion) {
    if let Some(schema) = doc
        .components
        .as_mut()
        .and_then(|c| c.schemas.get_mut("ExportParameters"))
    {
        *schema = schemas::ExportParameters::schema_for(version);
    }
    for item in doc.paths.paths.values_mut() {
        for operation in [item.get.as_mut(), item.post.as_mut()]
            .into_iter()
            .flatten()
        {
            let mut is_kickoff = false;
            for parameter in operation.parameters.iter_mut().flatten() {
                if let RefOr::T(p) = parameter
                    && p.name == "_type"
                {
                    p.description = Some(params::type_description(version));
                    p.schema = Some(params::type_list(version).into());
                    is_kickoff = true;
                }
            }
            if !is_kickoff {
                continue;
            }
            let parameters = operation.parameters.get_or_insert_with(Vec::new);
            if version != ApiVersion::V1 {
                // Right after `_since`, its lower-bound partner.
                let at = parameters
                    .iter()
                    .position(|p| matches!(p, RefOr::T(p) if p.name == "_since"))
                    .map_or(parameters.len(), |i| i + 1);
                parameters.insert(at, RefOr::T(params::until_parameter()));
            }
            if version == ApiVersion::V3 {
                parameters.push(RefOr::T(params::type_filter_parameter()));
            }
        }
    }
}

/// Where a version's document is served.
pub fn document_path(version: ApiVersion) -> String {
    format!("/api/{}/openapi.json", version.segment())
}

/// Where a version's Swagger UI is served (the bare path redirects to the
/// one with a trailing slash, where the page lives).
pub fn swagger_path(version: ApiVersion) -> String {
    format!("/api/{}/swagger", version.segment())
}

/// The routes of a version's Swagger UI, its assets (embedded in the
/// binary) and its document.
pub fn swagger_ui(version: ApiVersion, doc: OpenApiDoc) -> Router<AppState> {
    let url = document_path(version);
    let config = Config::new([url.clone()])
        // The default sends the document to validator.swagger.io from any
        // host but localhost (docs/REFERENCES.md, "Swagger UI validator").
        .validator_url("none")
        .display_request_duration(true);
    SwaggerUi::new(swagger_path(version))
        .url(url, doc)
        .config(config)
        .into()
}
