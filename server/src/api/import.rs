//! Import: `POST /api/import` takes a file of any supported format as the raw request body
//! (JSON or a ZIP, as bytes) and answers the import report; with `?progress=ID` the import can
//! be followed while it runs at `GET /api/import/progress/{ID}` (the import page polls it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use confab_core::api::{ErrorBody, ErrorDetail, ImportProgressView, ImportReport, ImportState};
use confab_core::service::import::{ImportOptions, ImportProgress};
use confab_core::service::ServiceError;
use confab_http::CurrentUser;
use futures::StreamExt;
use serde::Deserialize;
use tokio_util::io::{StreamReader, SyncIoBridge};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::http::{ApiError, ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;

/// How long a finished import's progress stays readable (the page's last poll comes after
/// the import's own answer).
const KEEP_FINISHED: Duration = Duration::from_secs(10 * 60);
/// Imports followed at once on this node, all users together; beyond it `?progress` is refused
/// (the import itself would still run without it).
const MAX_FOLLOWED: usize = 1_000;
/// Longest progress id: the page sends 32 hex digits.
const MAX_ID_CHARS: usize = 64;

pub fn router(max_import_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        // The import enforces its own limit while streaming (`max_import_bytes`).
        .routes(routes!(import).layer(DefaultBodyLimit::max(max_import_bytes)))
        .routes(routes!(progress))
        .layer(Extension(Arc::new(Followed::default())))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    /// A name the client picks for this import, to read its progress by.
    progress: Option<String>,
}

struct Job {
    view: ImportProgressView,
    finished: Option<Instant>,
}

/// The imports on this node that a client follows, by (user, progress id). Progress lives with
/// the node that runs the import: behind a load balancer the polls must reach the same node as
/// the upload (sticky sessions), or they answer 404.
#[derive(Default)]
struct Followed {
    jobs: Mutex<HashMap<(String, String), Job>>,
}

impl Followed {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Job>> {
        // A panic while holding the lock leaves plain data behind; it stays usable.
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts following; refuses an id the user has running already, or a full table.
    fn start(&self, user_id: &str, id: &str) -> ApiResult<()> {
        let mut jobs = self.lock();
        jobs.retain(|_, job| {
            job.finished
                .is_none_or(|finished| finished.elapsed() < KEEP_FINISHED)
        });
        let key = (user_id.to_owned(), id.to_owned());
        if jobs.get(&key).is_some_and(|job| job.finished.is_none()) {
            return Err(ApiError::Request {
                status: StatusCode::CONFLICT,
                code: "conflict",
                message: "an import with this progress id is running".into(),
            });
        }
        if jobs.len() >= MAX_FOLLOWED && !jobs.contains_key(&key) {
            return Err(ApiError::Request {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "busy",
                message: "too many imports are running; try again later".into(),
            });
        }
        jobs.insert(
            key,
            Job {
                view: ImportProgressView {
                    state: ImportState::Running,
                    progress: ImportProgress::default(),
                    report: None,
                    error: None,
                },
                finished: None,
            },
        );
        Ok(())
    }

    fn update(&self, user_id: &str, id: &str, change: impl FnOnce(&mut Job)) {
        if let Some(job) = self.lock().get_mut(&(user_id.to_owned(), id.to_owned())) {
            change(job);
        }
    }

    fn view(&self, user_id: &str, id: &str) -> Option<ImportProgressView> {
        self.lock()
            .get(&(user_id.to_owned(), id.to_owned()))
            .map(|job| job.view.clone())
    }
}

fn progress_id(id: &str) -> ApiResult<()> {
    let valid = !id.is_empty()
        && id.chars().count() <= MAX_ID_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_progress_id",
            format!("a progress id is 1 to {MAX_ID_CHARS} letters, digits, '-' or '_'"),
        ))
    }
}

/// Imports the request body as it arrives: the file is parsed a conversation at a time, so a
/// large export never sits in memory whole. Over the size limit answers 413.
#[utoipa::path(post, path = "/api/import", tag = "import", params(ImportQuery),
    request_body(description = "An export of Confab, ChatGPT, Open WebUI, LibreChat or chatbot-ui, as it was downloaded: JSON or a ZIP file",
        content((String = "application/octet-stream"), (String = "application/zip"), (Object = "application/json"))),
    responses((status = 200, body = ImportReport),
        (status = 503, body = ErrorBody, description = "Too many imports are followed at once on this node (`busy`); the same import without `progress` runs")), security(("session" = []), ("token" = [])))]
async fn import(
    State(state): State<AppState>,
    Extension(followed): Extension<Arc<Followed>>,
    CurrentUser(user): CurrentUser,
    ApiQuery(query): ApiQuery<ImportQuery>,
    body: Body,
) -> ApiResult<Json<ImportReport>> {
    let following = match &query.progress {
        Some(id) => {
            progress_id(id)?;
            followed.start(&user.id, id)?;
            Some(Following {
                followed: followed.clone(),
                user_id: user.id.clone(),
                id: id.clone(),
                ended: false,
            })
        }
        None => None,
    };
    let stream = body
        .into_data_stream()
        .map(|chunk| chunk.map_err(std::io::Error::other));
    let reader = SyncIoBridge::new(StreamReader::new(stream));
    let options = ImportOptions {
        max_bytes: state.config.max_import_bytes as u64,
    };
    let on_progress = {
        let (followed, user_id, id) = (followed.clone(), user.id.clone(), query.progress.clone());
        move |progress: ImportProgress| {
            if let Some(id) = &id {
                followed.update(&user_id, id, |job| job.view.progress = progress);
            }
        }
    };
    let outcome = state
        .services
        .import_reader_with(&user, reader, options, on_progress)
        .await
        .map_err(ApiError::from);
    if let Some(following) = following {
        following.end(match &outcome {
            Ok(report) => Ending::Done(report.clone()),
            Err(error) => Ending::Failed(error.detail()),
        });
    }
    outcome.map(Json)
}

enum Ending {
    Done(ImportReport),
    Failed(ErrorDetail),
}

/// A followed import's entry, ended however its request ends. A request dropped midway (the
/// client went away during the upload) ends it as `failed`, so that the entry expires instead
/// of counting as running for ever and filling the table.
struct Following {
    followed: Arc<Followed>,
    user_id: String,
    id: String,
    ended: bool,
}

impl Following {
    fn end(mut self, ending: Ending) {
        self.record(ending);
        self.ended = true;
    }

    fn record(&self, ending: Ending) {
        self.followed.update(&self.user_id, &self.id, |job| {
            job.finished = Some(Instant::now());
            match ending {
                Ending::Done(report) => {
                    job.view.state = ImportState::Done;
                    job.view.report = Some(report);
                }
                Ending::Failed(error) => {
                    job.view.state = ImportState::Failed;
                    job.view.error = Some(error);
                }
            }
        });
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        self.record(Ending::Failed(ErrorDetail {
            code: "cancelled".into(),
            message: "the upload ended before the import did".into(),
        }));
    }
}

/// Where the import started with `?progress=ID` stands (on the node that runs it).
#[utoipa::path(get, path = "/api/import/progress/{id}", tag = "import",
    params(("id" = String, Path, description = "The progress id the import was started with")),
    responses((status = 200, body = ImportProgressView)), security(("session" = []), ("token" = [])))]
async fn progress(
    Extension(followed): Extension<Arc<Followed>>,
    CurrentUser(user): CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ImportProgressView>> {
    progress_id(&id)?;
    followed
        .view(&user.id, &id)
        .map(Json)
        .ok_or(ApiError::Service(ServiceError::NotFound))
}
