//! `/import`: upload a backup (Confab, ChatGPT, Open WebUI...) and see what came in.

use confab_core::api::ImportReport;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::client;
use crate::components::workspace::{SignedIn, Workspace};
use crate::state::use_sessions;

#[derive(Clone, PartialEq)]
enum Progress {
    Idle,
    Working,
    Done(ImportReport),
    Failed(String),
}

#[component]
pub fn ImportPage() -> impl IntoView {
    let sessions = use_sessions();
    let progress = RwSignal::new(Progress::Idle);
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        progress.set(Progress::Working);
        spawn_local(async move {
            let outcome = match client::read_file("import-file").await {
                Err(reason) => Err(reason),
                Ok(text) => client::post_json("/api/import", &text)
                    .await
                    .and_then(|body| {
                        serde_json::from_str::<ImportReport>(&body)
                            .map_err(|error| error.to_string())
                    }),
            };
            progress.set(match outcome {
                Ok(report) => {
                    sessions.first_page.refetch();
                    Progress::Done(report)
                }
                Err(reason) => Progress::Failed(reason),
            });
        });
    };
    view! {
        <SignedIn>
            <Workspace>
                <div class="scroller">
                    <div class="message-column import-page">
                        <h1>"Import conversations"</h1>
                        <p class="muted">"A Confab backup or export, a ChatGPT conversations.json, or an Open WebUI export. Importing the same file twice adds nothing."</p>
                        <form class="import-form" on:submit=on_submit aria-label="Import">
                            <label>"File"<input id="import-file" type="file" accept=".json,application/json" required/></label>
                            <button type="submit" class="primary" disabled=move || progress.get() == Progress::Working>
                                {move || if progress.get() == Progress::Working { "Importing…" } else { "Import" }}
                            </button>
                        </form>
                        {move || match progress.get() {
                            Progress::Idle | Progress::Working => ().into_any(),
                            Progress::Failed(reason) => view! { <p class="form-error" role="alert">{format!("Import failed: {reason}")}</p> }.into_any(),
                            Progress::Done(report) => view! {
                                <section class="import-report" aria-label="Import result">
                                    <p><strong>{format!("{} conversations, {} messages imported", report.sessions, report.messages)}</strong>
                                        {format!(" · {} skipped", report.skipped)}</p>
                                    {(!report.errors.is_empty()).then(|| view! {
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
            </Workspace>
        </SignedIn>
    }
}
