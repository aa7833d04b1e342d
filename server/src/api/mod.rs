//! The REST API: thin adapters from HTTP to the service layer. Each module exports its own
//! `router()`, whose handlers carry their OpenAPI description (`#[utoipa::path]`); they are
//! merged here, and the document of what was merged is served at `GET /api/openapi.json`
//! and committed as `docs/openapi.json` (a test fails when the two differ).

mod admin;
mod auth;
mod chat;
mod export;
mod folders;
mod import;
mod messages;
mod oauth;
pub mod openai;
mod ops;
mod search;
mod sessions;
mod stars;
mod tags;
mod tokens;

use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;
use axum::Router;
use confab_core::api::ErrorBody;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi as _};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// The parts of the document no handler describes: its title, the two ways to sign in, and
/// the error answers every operation shares.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Confab",
        description = "The REST API of Confab, a self-hosted AI chat that never loses a message. \
            Signed-in requests carry the session cookie of `POST /api/auth/login` or an API token \
            (`Authorization: Bearer ...`, `POST /api/tokens`). Every error answers \
            `{\"error\": {\"code\", \"message\"}}`.",
        license(name = "MIT")
    ),
    components(schemas(ErrorBody)),
    modifiers(&SignInSchemes)
)]
struct ApiDoc;

struct SignInSchemes;

impl Modify for SignInSchemes {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::SESSION_COOKIE,
                "The sign-in cookie that `POST /api/auth/login` and `POST /api/auth/signup` set",
            ))),
        );
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token made with `POST /api/tokens`"))
                    .build(),
            ),
        );
    }
}

/// The error answers operations share, by status, each with the error body (kept once among
/// the document's components, referred to by each operation that can give it: see
/// `can_answer`). 401 only where the operation asks for a sign-in. 500 is not among them:
/// Confab answers it only when its own store fails (and logs why), never for anything a
/// request holds.
const SHARED_ERRORS: [(&str, &str); 9] = [
    (
        "400",
        "The request cannot be read (malformed JSON, a bad query)",
    ),
    (
        "403",
        "Not allowed: a cross-site write, an account disabled, not an administrator",
    ),
    ("404", "Not found, or not the user's"),
    (
        "409",
        "In conflict with what is stored (a reply saved already, a running import)",
    ),
    ("413", "The body is larger than this server accepts"),
    ("415", "The body is not JSON where JSON is expected"),
    (
        "422",
        "The request is well formed but not valid (a field's value, a size limit)",
    ),
    (
        "429",
        "Too many requests: try again after `Retry-After` seconds",
    ),
    (
        "507",
        "The store's disk is full: nothing was saved, and reading still works",
    ),
];

struct SharedErrors;

/// The two shapes of error body: Confab's, and OpenAI's under `/v1` (`openai::in_openai_shape`).
#[derive(Clone, Copy)]
enum ErrorShape {
    Confab,
    OpenAi,
}

impl ErrorShape {
    fn of(path: &str) -> ErrorShape {
        match path.starts_with("/v1/") {
            true => ErrorShape::OpenAi,
            false => ErrorShape::Confab,
        }
    }

    fn schema(self) -> &'static str {
        match self {
            ErrorShape::Confab => "ErrorBody",
            ErrorShape::OpenAi => "OpenAiErrorBody",
        }
    }

    /// The name under which the error answer of `status` is kept in the document's components.
    fn response_name(self, status: &str) -> String {
        match self {
            ErrorShape::Confab => format!("Error{status}"),
            ErrorShape::OpenAi => format!("OpenAiError{status}"),
        }
    }
}

impl Modify for SharedErrors {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for shape in [ErrorShape::Confab, ErrorShape::OpenAi] {
            for (status, description) in SHARED_ERRORS.into_iter().chain([UNAUTHORIZED]) {
                let response = ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(shape.schema())))
                            .build(),
                    )
                    .build();
                components
                    .responses
                    .insert(shape.response_name(status), response.into());
            }
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let shape = ErrorShape::of(path);
            for (operation, reads) in [
                (&mut item.get, true),
                (&mut item.put, false),
                (&mut item.post, false),
                (&mut item.delete, false),
                (&mut item.patch, false),
            ] {
                if let Some(operation) = operation {
                    add_shared_errors(operation, reads, shape);
                }
            }
        }
    }
}

const UNAUTHORIZED: (&str, &str) = ("401", "Not signed in, or the sign-in has ended");

/// Whether an operation can give the shared error `status`: 413 and 415 only with a body;
/// 409 (a conflict with what is stored) and 507 (a full disk) only when it writes, which a
/// GET does not; 401 only when it asks for a sign-in. An operation that can give one of these
/// otherwise says so in its own `responses`.
fn can_answer(status: &str, operation: &Operation, reads: bool) -> bool {
    match status {
        "413" | "415" => operation.request_body.is_some(),
        "409" | "507" => !reads,
        "401" => operation
            .security
            .as_ref()
            .is_some_and(|requirements| !requirements.is_empty()),
        _ => true,
    }
}

fn add_shared_errors(operation: &mut Operation, reads: bool, shape: ErrorShape) {
    for (status, _) in SHARED_ERRORS.into_iter().chain([UNAUTHORIZED]) {
        if !can_answer(status, operation, reads) {
            continue;
        }
        let reference = Ref::new(format!(
            "#/components/responses/{}",
            shape.response_name(status)
        ));
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert(reference.into());
    }
}

/// Every API route, with the OpenAPI document describing them.
fn documented(max_import_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(admin::router())
        .merge(tokens::router())
        .merge(chat::router())
        .merge(openai::router())
        .merge(oauth::router())
        .merge(sessions::router())
        .merge(messages::router())
        .merge(search::router())
        .merge(stars::router())
        .merge(tags::router())
        .merge(folders::router())
        .merge(export::router())
        .merge(import::router(max_import_bytes))
        .merge(ops::router())
}

/// The document of the merged routes with the shared error answers added: `ApiDoc`'s own
/// modifiers run before the handlers' paths are merged in, so this one runs after.
fn finished(mut document: OpenApi) -> OpenApi {
    SharedErrors.modify(&mut document);
    document
}

/// The document as served and committed: pretty JSON with a final newline.
fn pretty_json(document: &OpenApi) -> String {
    let mut json = document
        .to_pretty_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    json.push('\n');
    json
}

/// The OpenAPI 3.1 document of the REST API.
pub fn openapi() -> OpenApi {
    finished(documented(0).split_for_parts().1)
}

/// [`openapi`] as served and committed.
pub fn openapi_json() -> String {
    pretty_json(&openapi())
}

/// The API's routes and `GET /api/openapi.json`, whose document is made once, from the same
/// routes, and sent without a copy per request.
pub fn router(state: &AppState) -> Router<AppState> {
    let (router, document) = documented(state.config.max_import_bytes).split_for_parts();
    let json = Bytes::from(pretty_json(&finished(document)));
    router.route(
        "/api/openapi.json",
        get(move || {
            let json = json.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], json) }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::openapi_json;

    /// The committed document is the one the code generates. After a change to the API, run
    /// `CONFAB_BLESS=1 cargo test -p confab --lib openapi` to write it again, and read the diff.
    #[test]
    fn the_committed_openapi_document_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
        let generated = openapi_json();
        if std::env::var_os("CONFAB_BLESS").is_some() {
            std::fs::write(path, &generated).expect("write docs/openapi.json");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/openapi.json differs from the API the code serves; \
             run `CONFAB_BLESS=1 cargo test -p confab --lib openapi` and commit the result"
        );
    }

    /// Each operation lists the shared errors it can give, in its path's error shape, and no
    /// 500; what it lists itself is kept.
    #[test]
    fn every_operation_documents_its_errors_and_not_500() {
        let document = super::openapi();
        assert!(matches!(
            document.openapi,
            utoipa::openapi::OpenApiVersion::Version31
        ));
        let statuses = |path: &str, method: &str| -> Vec<(String, String)> {
            let item = &document.paths.paths[path];
            let operation = match method {
                "get" => &item.get,
                "post" => &item.post,
                "patch" => &item.patch,
                "put" => &item.put,
                _ => &item.delete,
            };
            let operation = operation.as_ref().expect("the operation is documented");
            operation
                .responses
                .responses
                .iter()
                .map(|(status, response)| {
                    let shown = match response {
                        utoipa::openapi::RefOr::Ref(reference) => reference.ref_location.clone(),
                        utoipa::openapi::RefOr::T(_) => "own".to_owned(),
                    };
                    (status.clone(), shown)
                })
                .collect()
        };
        let shared = |name: &str, list: &[&str]| -> Vec<(String, String)> {
            list.iter()
                .map(|status| {
                    let reference = format!("#/components/responses/{name}{status}");
                    (status.to_string(), reference)
                })
                .collect()
        };
        let with = |own: &[&str], mut rest: Vec<(String, String)>| {
            rest.extend(
                own.iter()
                    .map(|status| (status.to_string(), "own".to_owned())),
            );
            rest.sort();
            rest
        };
        let sorted = |mut list: Vec<(String, String)>| {
            list.sort();
            list
        };
        // A read without a sign-in: no body, no conflict, no full disk, no 401.
        assert_eq!(
            sorted(statuses("/api/health", "get")),
            with(
                &["200", "503"],
                shared("Error", &["400", "403", "404", "422", "429"])
            )
        );
        // A signed-in read with a query.
        assert_eq!(
            sorted(statuses("/api/chat/sessions", "get")),
            with(
                &["200"],
                shared("Error", &["400", "401", "403", "404", "422", "429"])
            )
        );
        // A signed-in write with a body: every shared error.
        assert_eq!(
            sorted(statuses("/api/chat/sessions", "post")),
            with(
                &["201"],
                shared(
                    "Error",
                    &["400", "401", "403", "404", "409", "413", "415", "422", "429", "507"]
                )
            )
        );
        // /v1 answers its errors in OpenAI's shape.
        assert_eq!(
            sorted(statuses("/v1/chat/completions", "post")),
            with(
                &["200", "502"],
                shared(
                    "OpenAiError",
                    &["400", "401", "403", "404", "409", "413", "415", "422", "429", "507"]
                )
            )
        );
        for (path, item) in &document.paths.paths {
            for operation in [&item.get, &item.put, &item.post, &item.delete, &item.patch]
                .into_iter()
                .flatten()
            {
                let statuses: Vec<&String> = operation.responses.responses.keys().collect();
                assert!(
                    !statuses.iter().any(|status| status.as_str() == "500"),
                    "{path}: {statuses:?}"
                );
            }
        }
    }
}
