//! `/import`: upload a backup (Confab, ChatGPT, Open WebUI...) and see what came in.

use confab_core::api::ImportProgress;
use confab_core::api::ImportReport;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::client;
use crate::state::use_sessions;
use crate::words::counted;

#[derive(Clone, PartialEq)]
enum Progress {
    Idle,
    /// Uploading and importing `total` bytes; `seen` is the server's last progress report.
    Working {
        total: f64,
        seen: ImportProgress,
    },
    Done(ImportReport),
    Failed(String),
}

/// How often the page asks the server how far the import has got.
const POLL_MS: i32 = 400;

/// `1234567` as "1.2 MB".
fn megabytes(bytes: f64) -> String {
    format!("{:.1} MB", bytes / 1_000_000.0)
}

#[component]
pub fn ImportPage() -> impl IntoView {
    let sessions = use_sessions();
    let progress = RwSignal::new(Progress::Idle);
    let working = move || matches!(progress.get(), Progress::Working { .. });
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let (file, total) = match client::chosen_file("import-file") {
            Ok(chosen) => chosen,
            Err(reason) => {
                progress.set(Progress::Failed(reason));
                return;
            }
        };
        // The server keeps the import's progress under a name the page picks.
        let job = client::new_client_id();
        progress.set(Progress::Working {
            total,
            seen: ImportProgress::default(),
        });
        let upload_path = format!("/api/import?progress={job}");
        spawn_local(async move {
            // The file goes as it is, bytes and all: a ZIP is never read as text.
            let outcome = client::upload_file(&upload_path, &file)
                .await
                .and_then(|body| {
                    serde_json::from_str::<ImportReport>(&body).map_err(|error| error.to_string())
                });
            progress.set(match outcome {
                Ok(report) => {
                    sessions.list.resource.refetch();
                    Progress::Done(report)
                }
                Err(reason) => Progress::Failed(reason),
            });
        });
        let progress_path = format!("/api/import/progress/{job}");
        spawn_local(async move {
            loop {
                client::sleep(POLL_MS).await;
                if !matches!(progress.get_untracked(), Progress::Working { .. }) {
                    break;
                }
                // A failed poll (the import has not registered yet, a blip) waits for the next.
                let Ok(body) = client::get_text(&progress_path).await else {
                    continue;
                };
                if let Ok(now) = serde_json::from_str::<ImportProgress>(&body) {
                    progress.update(|progress| {
                        if let Progress::Working { seen, .. } = progress {
                            *seen = now;
                        }
                    });
                }
            }
        });
    };
    view! {
        <div class="scroller">
            <div class="message-column import-page">
                <h1>"Import conversations"</h1>
                <p class="muted">"A Confab backup, or an export of ChatGPT (the .zip as downloaded, or its conversations.json), Open WebUI, LibreChat or chatbot-ui. Importing the same file twice adds nothing."</p>
                <form class="import-form" on:submit=on_submit aria-label="Import">
                    <label>"File"<input id="import-file" type="file" accept=".json,.zip,application/json,application/zip" required/></label>
                    <button type="submit" class="primary" disabled=working>
                        {move || if working() { "Importing…" } else { "Import" }}
                    </button>
                </form>
                {move || match progress.get() {
                    Progress::Idle => ().into_any(),
                    Progress::Working { total, seen } => view! {
                        <section class="import-progress" role="status" aria-live="polite" aria-label="Import progress">
                            <progress max=total value=seen.bytes_read as f64></progress>
                            <p>{format!(
                                "{} of {} read · {} read, {} stored",
                                megabytes(seen.bytes_read as f64), megabytes(total),
                                counted(seen.conversations as u64, "conversation", "conversations"),
                                counted(seen.messages as u64, "message", "messages"),
                            )}</p>
                        </section>
                    }.into_any(),
                    Progress::Failed(reason) => view! { <p class="form-error" role="alert">{format!("Import failed: {reason}")}</p> }.into_any(),
                    Progress::Done(report) => view! {
                        <section class="import-report" aria-label="Import result">
                            <p><strong>{format!("{}, {} imported", counted(report.sessions as u64, "conversation", "conversations"), counted(report.messages as u64, "message", "messages"))}</strong>
                                {format!(" · {} skipped", report.skipped)}</p>
                            {(!report.errors.is_empty()).then(|| view! {
                                <h2>{format!("Not imported or changed ({})", report.errors.len())}</h2>
                                <ul class="import-errors">
                                    {report.errors.into_iter().map(|problem| view! {
                                        <li><strong>{problem.title}</strong>": "{problem.reason}</li>
                                    }).collect_view()}
                                </ul>
                            })}
                        </section>
                    }.into_any(),
                }}
            </div>
        </div>
    }
}
