//! The error answers many routes share, as reusable response components
//! (`#/components/responses/...`). Every error body is an OperationOutcome
//! in `application/fhir+json` (see `http::error::render_errors`).
//!
//! Route-specific errors (which 400s, which 404s) are written inline in each
//! handler's `#[utoipa::path]`, where their causes can be described.

use std::collections::BTreeMap;

use utoipa::ToResponse;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::{ContentBuilder, Object, Ref, RefOr, Response, ResponseBuilder, Type};

/// The media type of every error body.
pub const FHIR_JSON: &str = "application/fhir+json";

/// A response whose body is an OperationOutcome.
pub fn outcome(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        FHIR_JSON,
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("OperationOutcome")))
            .build(),
    )
}

/// A `Retry-After` response header: whole seconds to wait.
pub fn retry_after(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(Object::with_type(Type::String)))
        .description(Some(description))
        .build()
}

/// Declares a unit struct whose `ToResponse` is an OperationOutcome answer.
macro_rules! outcome_response {
    ($(#[$doc:meta])* $name:ident, $description:expr $(, $header:expr)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                #[allow(unused_mut)]
                let mut response = outcome($description);
                $( response = response.header("Retry-After", $header); )?
                (stringify!($name), response.build().into())
            }
        }
    };
}

outcome_response!(
    /// 401: no token, an expired or revoked one, or another ACO's job.
    Unauthorized,
    "No valid token: `Invalid Token` when it is missing or malformed (did you type `Bearer ` \
     before it?), `Expired Token` when it has expired or was revoked, `Unauthorized` for \
     another ACO's job. Get a new token from `/auth/token`."
);

outcome_response!(
    /// 403: the ACO is on the deny list, or the token's scopes do not
    /// allow the resource types asked for.
    Forbidden,
    "The ACO is not allowed to use the API (`ACO (CMS_ID: <id>) is unauthorized`), or the \
     access token's SMART scopes do not allow a resource type the request or job involves \
     (`The access token's scopes do not allow ExplanationOfBenefit`)."
);

outcome_response!(
    /// 429: too many requests; wait `Retry-After` seconds.
    TooManyRequests,
    "Too many requests: an export of the same resource types is already running for \
     this ACO (kick-off), or too many token requests (`/auth/token`). Wait as long \
     as `Retry-After` says.",
    retry_after("Seconds to wait before trying again.")
);

outcome_response!(
    /// 500: something failed on our side; the body says nothing more.
    InternalError,
    "An internal error occurred. Please try again later."
);

/// A reference to one of the shared responses above.
fn shared<'r, R: ToResponse<'r>>() -> RefOr<Response> {
    RefOr::Ref(Ref::from_response_name(R::response().0))
}

/// Every answer of an export kick-off (`Patient/$export`,
/// `Group/{groupId}/$export`, the system-level `$export`, GET and POST
/// alike).
#[derive(Debug, Clone, Copy)]
pub struct KickoffResponses;

impl utoipa::IntoResponses for KickoffResponses {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let accepted = ResponseBuilder::new()
            .description(
                "The export job was created. Its status URL is in `Content-Location`; \
                 the last part of that URL is the job id.",
            )
            .header(
                "Content-Location",
                HeaderBuilder::new()
                    .schema(Some(Object::with_type(Type::String)))
                    .description(Some(
                        "The job's status URL, e.g. `https://host/api/v2/jobs/42`.",
                    ))
                    .build(),
            )
            .header(
                "Retry-After",
                retry_after("Seconds to wait before the first status request."),
            )
            .build();
        BTreeMap::from([
            ("202".to_owned(), accepted.into()),
            (
                "400".to_owned(),
                outcome(
                    "The request is invalid: a missing or wrong `Accept` or `Prefer` header, \
                     an unknown or repeated `_type`, a `_since` that is not a FHIR instant or \
                     is in the future, an `_until` that is not a FHIR instant or is before \
                     `_since`, an unsupported `_outputFormat` or `_elements`, an unknown \
                     `groupId`, or (POST) a body that is not a FHIR Parameters resource, a \
                     `patient` entry that is not a `Patient/<id>` reference or names a \
                     beneficiary not attributed to the ACO, or `patient` on the system-level \
                     `$export`.",
                )
                .build()
                .into(),
            ),
            ("401".to_owned(), shared::<Unauthorized>()),
            ("403".to_owned(), shared::<Forbidden>()),
            (
                "404".to_owned(),
                outcome("No up-to-date attribution information for the ACO.")
                    .build()
                    .into(),
            ),
            ("429".to_owned(), shared::<TooManyRequests>()),
            ("500".to_owned(), shared::<InternalError>()),
            // Swagger UI sets a request's Accept header from the media type
            // of the first 2xx response with content, else of `default`
            // (it never sends a header parameter named Accept, as OpenAPI
            // says). The 202 has no body, so this response is what makes
            // "Try it out" send `Accept: application/fhir+json`.
            (
                "default".to_owned(),
                outcome("Any other error, as an OperationOutcome.")
                    .build()
                    .into(),
            ),
        ])
    }
}
