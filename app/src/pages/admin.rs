//! `/admin`: the instance's administration, for administrators only. Sign-up policy,
//! invitations, accounts and the audit log, each a thin view over `Services::admin_*`
//! through the server functions; after every action the lists are fetched again, and every
//! refusal shows the service's own sentence. Accounts and the audit log grow by a page with
//! "Show more" (`PagedList`).

use crate::error::AppError;
use chrono::{DateTime, Utc};
use confab_core::api::{
    AdminSettings, AuditAction, AuditEntry, Invitation, InvitationStatus, SignupPolicy, UserSummary,
};
use confab_core::model::UserRole;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::client;
use crate::components::auth::{use_auth, AuthPanel};
use crate::components::paged_list::{PagedList, Rows};
use crate::components::workspace::Workspace;
use crate::server_fns::{
    admin_audit, admin_get_settings, admin_list_invitations, admin_list_users,
    AdminCreateInvitation, AdminCreatePasswordReset, AdminDeleteUser, AdminDisableUser,
    AdminEnableUser, AdminRevokeInvitation, AdminSetSignup,
};
use crate::state::error_text;

/// What a signed-in visitor who is not an administrator reads at `/admin`.
pub const NOT_AN_ADMIN: &str = "Only an administrator of this instance may see its administration.";

/// A time as the administration shows it: to the minute, in UTC (the same on the server and
/// in the browser, so the page hydrates without a difference).
fn when(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The service's sentence of a finished action that failed, `None` otherwise.
fn failure<T: Clone + Send + Sync + 'static>(value: Option<Result<T, AppError>>) -> Option<String> {
    match value {
        Some(Err(error)) => Some(error_text(&error)),
        _ => None,
    }
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let auth = use_auth();
    // Made once, here, outside the Transition: server rendering runs a Transition's children
    // again once their data has arrived, and resources made inside would be made again each
    // time, under new ids the browser cannot match when it hydrates (the page failed to
    // hydrate on some loads). For someone who is not an administrator they load refusals,
    // which are never shown.
    let data = AdminData::new();
    view! {
        <Transition fallback=|| view! { <p class="muted center">"Loading…"</p> }>
            {move || auth.user.get().map(|user| match user {
                Ok(Some(user)) if user.role == UserRole::Admin => view! {
                    <Workspace>
                        <div class="scroller">
                            <div class="admin-page">
                                <h1>"Administration"</h1>
                                <Sections data=data/>
                            </div>
                        </div>
                    </Workspace>
                }.into_any(),
                Ok(Some(_)) => view! { <Refusal text=NOT_AN_ADMIN signed_in=true/> }.into_any(),
                Ok(None) => view! {
                    <Refusal text="Sign in as an administrator of this instance to see its administration." signed_in=false/>
                    <AuthPanel/>
                }.into_any(),
                Err(error) => view! { <p class="form-error center" role="alert">{error_text(&error)}</p> }.into_any(),
            })}
        </Transition>
    }
}

/// The page's answer to someone who may not see it: a sentence, answered 403.
#[component]
fn Refusal(text: &'static str, signed_in: bool) -> AnyView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::FORBIDDEN);
        }
    }
    view! {
        <section class="admin-refusal" aria-labelledby="admin-refusal-title">
            <h1 id="admin-refusal-title">"Administration"</h1>
            <p role="alert">{text}</p>
            {signed_in.then(|| view! { <p><A href="/">"Back to your conversations"</A></p> })}
        </section>
    }
    .into_any()
}

/// Every action of the page. Each one an administrator finishes may change what the lists
/// show, and each one is audited.
#[derive(Clone, Copy)]
struct Actions {
    set_signup: ServerAction<AdminSetSignup>,
    create_invitation: ServerAction<AdminCreateInvitation>,
    revoke: ServerAction<AdminRevokeInvitation>,
    disable: ServerAction<AdminDisableUser>,
    enable: ServerAction<AdminEnableUser>,
    delete: ServerAction<AdminDeleteUser>,
    reset: ServerAction<AdminCreatePasswordReset>,
    /// The actions' version counters, taken once (`set_signup`'s first), as `Auth::changes`
    /// explains: a source read after server rendering dropped the page must not panic.
    versions: [RwSignal<usize>; 7],
}

impl Actions {
    fn new() -> Self {
        let set_signup = ServerAction::<AdminSetSignup>::new();
        let create_invitation = ServerAction::<AdminCreateInvitation>::new();
        let revoke = ServerAction::<AdminRevokeInvitation>::new();
        let disable = ServerAction::<AdminDisableUser>::new();
        let enable = ServerAction::<AdminEnableUser>::new();
        let delete = ServerAction::<AdminDeleteUser>::new();
        let reset = ServerAction::<AdminCreatePasswordReset>::new();
        Actions {
            set_signup,
            create_invitation,
            revoke,
            disable,
            enable,
            delete,
            reset,
            versions: [
                set_signup.version(),
                create_invitation.version(),
                revoke.version(),
                disable.version(),
                enable.version(),
                delete.version(),
                reset.version(),
            ],
        }
    }

    /// How many times the sign-up policy was saved (failed saves too).
    fn saved(&self) -> usize {
        self.versions[0].try_get().unwrap_or_default()
    }

    /// How many actions have finished (failed ones too): the lists load again when it grows.
    /// Every action counts, so none can be missing from the audit log shown.
    fn finished(&self) -> usize {
        self.versions
            .iter()
            .map(|version| version.try_get().unwrap_or_default())
            .sum()
    }
}

async fn users_after(cursor: Option<String>) -> Result<Rows<UserSummary>, AppError> {
    admin_list_users(cursor).await.map(Rows::from)
}

async fn audit_after(cursor: Option<String>) -> Result<Rows<AuditEntry>, AppError> {
    admin_audit(cursor).await.map(Rows::from)
}

/// The page's actions and what it shows. The sections share their actions' outcomes: a sign-up
/// with an invitation adds an account and uses the invitation up, and the audit log follows
/// every action.
#[derive(Clone, Copy)]
struct AdminData {
    actions: Actions,
    settings: Resource<Result<AdminSettings, AppError>>,
    invitations: Resource<Result<Vec<Invitation>, AppError>>,
    users: PagedList<UserSummary>,
    audit: PagedList<AuditEntry>,
}

impl AdminData {
    fn new() -> Self {
        let actions = Actions::new();
        let finished = move || actions.finished();
        AdminData {
            actions,
            settings: Resource::new(move || actions.saved(), |_| admin_get_settings()),
            invitations: Resource::new(finished, |_| admin_list_invitations()),
            users: PagedList::new(finished, users_after),
            audit: PagedList::new(finished, audit_after),
        }
    }
}

#[component]
fn Sections(data: AdminData) -> AnyView {
    let AdminData {
        actions,
        settings,
        invitations,
        users,
        audit,
    } = data;
    view! {
        <SignupSection save=actions.set_signup settings=settings/>
        <InvitationsSection create=actions.create_invitation revoke=actions.revoke invitations=invitations/>
        <UsersSection disable=actions.disable enable=actions.enable delete=actions.delete reset=actions.reset users=users/>
        <AuditSection audit=audit/>
    }
    .into_any()
}

/// Open or closed, saved the moment a button is pressed; says which one is in force.
#[component]
fn SignupSection(
    save: ServerAction<AdminSetSignup>,
    settings: Resource<Result<AdminSettings, AppError>>,
) -> AnyView {
    let error = move || failure(save.value().get());
    let policy = move || {
        settings
            .get()
            .and_then(Result::ok)
            .map(|settings| settings.signup)
    };
    let choice = move |value: SignupPolicy, label: &'static str| {
        view! {
            <ActionForm action=save attr:class="inline-form">
                <input type="hidden" name="signup" value=value.as_str()/>
                <button type="submit" class="segment"
                    aria-pressed=move || (policy() == Some(value)).to_string()
                    disabled=move || save.pending().get()>
                    {label}
                </button>
            </ActionForm>
        }
    };
    view! {
        <section class="admin-section" aria-labelledby="admin-signup-title">
            <h2 id="admin-signup-title">"Sign-up"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || settings.get().map(|answer| match answer {
                    Ok(settings) => view! {
                        <p class="admin-in-force">{match settings.signup {
                            SignupPolicy::Open => "In force: sign-up is open. Anyone may create an account.",
                            SignupPolicy::Closed => "In force: sign-up is closed. Only an invitation's link creates an account.",
                        }}</p>
                    }.into_any(),
                    Err(error) => view! { <p class="form-error" role="alert">{error_text(&error)}</p> }.into_any(),
                })}
                // Inside the Transition, so the page is rendered once the settings are read
                // (outside it, neither button said it was pressed on a freshly loaded page),
                // and outside the match, so a failed reload leaves them to try again.
                <div class="segments" role="group" aria-label="Sign-up policy">
                    {choice(SignupPolicy::Open, "Open")}
                    {choice(SignupPolicy::Closed, "Closed")}
                </div>
            </Transition>
            <p class="form-error" role="alert">{error}</p>
        </section>
    }
    .into_any()
}

/// A link to hand out, in a read-only field to select, with a Copy button.
#[component]
fn LinkField(label: String, link: String, note: String) -> AnyView {
    let copied = RwSignal::new(false);
    let to_copy = link.clone();
    view! {
        <div class="link-field">
            <label>
                {label}
                <input type="text" readonly value=link on:focus=move |event| {
                    #[cfg(feature = "hydrate")]
                    {
                        use wasm_bindgen::JsCast;
                        if let Some(input) = event
                            .target()
                            .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
                        {
                            input.select();
                        }
                    }
                    #[cfg(not(feature = "hydrate"))]
                    let _ = event;
                }/>
            </label>
            <button type="button" on:click=move |_| {
                client::copy(&to_copy);
                copied.set(true);
            }>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
            <p class="muted small">{note}</p>
        </div>
    }
    .into_any()
}

fn invitation_status(status: InvitationStatus) -> &'static str {
    match status {
        InvitationStatus::Pending => "pending",
        InvitationStatus::Used => "used",
        InvitationStatus::Expired => "expired",
    }
}

#[component]
fn InvitationsSection(
    create: ServerAction<AdminCreateInvitation>,
    revoke: ServerAction<AdminRevokeInvitation>,
    invitations: Resource<Result<Vec<Invitation>, AppError>>,
) -> AnyView {
    // The latest outcome of either action: a success clears an earlier failure.
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(result) = create.value().get() {
            error.set(failure(Some(result)));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = revoke.value().get() {
            error.set(failure(Some(result)));
        }
    });
    let created = move || create.value().get().and_then(Result::ok);
    view! {
        <section class="admin-section" aria-labelledby="admin-invitations-title">
            <h2 id="admin-invitations-title">"Invitations"</h2>
            <p class="muted small">"An invitation's link creates one account, even while sign-up is closed. It is valid for 7 days."</p>
            <ActionForm action=create attr:class="admin-form" attr:aria-label="Create an invitation">
                <label>"Email (optional)"<input type="email" name="email" autocomplete="off" placeholder="Anyone with the link"/></label>
                <button type="submit" class="primary" disabled=move || create.pending().get()>"Create invitation"</button>
            </ActionForm>
            {move || created().map(|created| {
                let link = format!("{}{}", client::origin(), created.path);
                let note = format!(
                    "For {}, valid until {}. Send it yourself: it is shown only now.",
                    created.invitation.email.as_deref().unwrap_or("anyone"),
                    when(created.invitation.expires_at),
                );
                view! { <LinkField label="Invitation link".into() link=link note=note/> }
            })}
            <p class="form-error" role="alert">{move || error.get()}</p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || invitations.get().map(|answer| match answer {
                    Ok(list) if list.is_empty() => view! { <p class="muted">"No invitation yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="admin-table" aria-label="Invitations">
                            <thead><tr>
                                <th scope="col">"For"</th><th scope="col">"Created"</th>
                                <th scope="col">"Expires"</th><th scope="col">"Status"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|invitation| view! {
                                    <tr>
                                        <td data-label="For">{invitation.email.clone().unwrap_or_else(|| "anyone".into())}</td>
                                        <td data-label="Created">{when(invitation.created_at)}</td>
                                        <td data-label="Expires">{when(invitation.expires_at)}</td>
                                        <td data-label="Status"><span class=format!("chip status-{}", invitation_status(invitation.status))>{invitation_status(invitation.status)}</span></td>
                                        <td class="row-actions">
                                            {(invitation.status == InvitationStatus::Pending).then(|| view! {
                                                <ActionForm action=revoke attr:class="inline-form">
                                                    <input type="hidden" name="id" value=invitation.id.clone()/>
                                                    <button type="submit" class="small">"Revoke"</button>
                                                </ActionForm>
                                            })}
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <p class="form-error" role="alert">{error_text(&error)}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
    .into_any()
}

#[component]
fn UsersSection(
    disable: ServerAction<AdminDisableUser>,
    enable: ServerAction<AdminEnableUser>,
    delete: ServerAction<AdminDeleteUser>,
    reset: ServerAction<AdminCreatePasswordReset>,
    users: PagedList<UserSummary>,
) -> AnyView {
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(result) = disable.value().get() {
            error.set(failure(Some(result)));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = enable.value().get() {
            error.set(failure(Some(result)));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = reset.value().get() {
            error.set(failure(Some(result)));
        }
    });
    // The account whose deletion is being confirmed: (id, email).
    let deleting = RwSignal::new(None::<(String, String)>);
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            deleting.set(None);
        }
    });
    let email_of = move |id: &str| {
        users
            .get()
            .and_then(Result::ok)
            .and_then(|shown| shown.rows.into_iter().find(|user| user.id == id))
            .map(|user| user.email)
    };
    let reset_link = move || {
        reset.value().get().and_then(Result::ok).map(|created| {
            let email = email_of(&created.user_id).unwrap_or_else(|| "the account".into());
            let link = format!("{}{}", client::origin(), created.path);
            let note = format!(
                "Valid until {}, once. Send it yourself: it is shown only now.",
                when(created.expires_at)
            );
            let label = format!("Password reset link for {email}");
            view! { <LinkField label=label link=link note=note/> }
        })
    };
    let row = move |user: UserSummary| {
        let toggle_id = user.id.clone();
        let reset_id = user.id.clone();
        let id = user.id.clone();
        let email = user.email.clone();
        view! {
            <tr class:disabled-row=user.disabled>
                <td data-label="Email" class="cell-email">{user.email.clone()}</td>
                <td data-label="Name">{user.name.clone()}</td>
                <td data-label="Role">{user.role.as_str()}</td>
                <td data-label="Messages" class="number">{user.message_count}</td>
                <td data-label="Last active">{user.last_active_at.map(when).unwrap_or_else(|| "never".into())}</td>
                <td data-label="Status">
                    {if user.disabled {
                        view! { <span class="chip chip-warn">"disabled"</span> }.into_any()
                    } else {
                        view! { <span class="chip">"active"</span> }.into_any()
                    }}
                </td>
                <td class="row-actions">
                    {if user.disabled {
                        view! {
                            <ActionForm action=enable attr:class="inline-form">
                                <input type="hidden" name="id" value=toggle_id/>
                                <button type="submit" class="small">"Enable"</button>
                            </ActionForm>
                        }.into_any()
                    } else {
                        view! {
                            <ActionForm action=disable attr:class="inline-form">
                                <input type="hidden" name="id" value=toggle_id/>
                                <button type="submit" class="small">"Disable"</button>
                            </ActionForm>
                        }.into_any()
                    }}
                    <ActionForm action=reset attr:class="inline-form">
                        <input type="hidden" name="id" value=reset_id/>
                        <button type="submit" class="small">"Reset password link"</button>
                    </ActionForm>
                    <button type="button" class="small danger-text" on:click=move |_| {
                        delete.value().set(None);
                        deleting.set(Some((id.clone(), email.clone())));
                    }>"Delete…"</button>
                </td>
            </tr>
        }
    };
    view! {
        <section class="admin-section" aria-labelledby="admin-users-title">
            <h2 id="admin-users-title">"Accounts"</h2>
            {reset_link}
            <p class="form-error" role="alert">{move || error.get()}</p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || users.get().map(|answer| match answer {
                    Ok(shown) => view! {
                        <table class="admin-table" aria-label="Accounts">
                            <thead><tr>
                                <th scope="col">"Email"</th><th scope="col">"Name"</th><th scope="col">"Role"</th>
                                <th scope="col" class="number">"Messages"</th><th scope="col">"Last active"</th>
                                <th scope="col">"Status"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
                            </tr></thead>
                            <tbody>{shown.rows.into_iter().map(row).collect_view()}</tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <p class="form-error" role="alert">{error_text(&error)}</p> }.into_any(),
                })}
                {users.show_more("accounts")}
            </Transition>
            {move || deleting.get().map(|(id, email)| view! {
                <DeleteUserDialog id=id email=email action=delete on_cancel=move || deleting.set(None)/>
            })}
        </section>
    }
    .into_any()
}

/// Deleting an account is for good: the dialog names it and waits for a second click.
#[component]
fn DeleteUserDialog(
    id: String,
    email: String,
    action: ServerAction<AdminDeleteUser>,
    on_cancel: impl Fn() + Clone + Send + Sync + 'static,
) -> AnyView {
    let error = move || failure(action.value().get());
    let cancel = on_cancel.clone();
    view! {
        <div class="modal-backdrop">
            <div class="modal" role="dialog" aria-modal="true" aria-labelledby="delete-user-title"
                on:keydown=move |event| if event.key() == "Escape" { cancel() }>
                <h2 id="delete-user-title">"Delete this account?"</h2>
                <p><strong class="cell-email">{email}</strong></p>
                <p>"Every conversation, message and API token of this account is deleted at once and cannot be restored. Its sign-ins end."</p>
                <ActionForm action=action attr:class="auth-form" attr:aria-label="Delete the account">
                    <input type="hidden" name="id" value=id/>
                    <p class="form-error" role="alert">{error}</p>
                    <div class="modal-actions">
                        <button type="button" on:click=move |_| on_cancel()>"Cancel"</button>
                        <button type="submit" class="danger-button" disabled=move || action.pending().get()>
                            "Delete the account"
                        </button>
                    </div>
                </ActionForm>
            </div>
        </div>
    }
    .into_any()
}

/// What an audit entry says was done, in words.
fn audit_what(entry: &AuditEntry) -> String {
    match entry.action {
        AuditAction::Invite => "Created an invitation".into(),
        AuditAction::RevokeInvitation => "Revoked an invitation".into(),
        AuditAction::DisableUser => "Disabled the account".into(),
        AuditAction::EnableUser => "Enabled the account".into(),
        AuditAction::PasswordResetLink => "Created a password reset link".into(),
        AuditAction::DeleteUser => "Deleted the account".into(),
        AuditAction::SignupPolicy => match entry.detail.as_deref() {
            Some(policy) => format!("Set sign-up to {policy}"),
            None => "Changed the sign-up policy".into(),
        },
    }
}

/// Whom or what an audit entry is about.
fn audit_target(entry: &AuditEntry) -> String {
    match (&entry.target_email, entry.action) {
        (Some(email), _) => email.clone(),
        (None, AuditAction::Invite) => "anyone".into(),
        (None, AuditAction::SignupPolicy) => "this instance".into(),
        (None, AuditAction::RevokeInvitation) => "an invitation".into(),
        (None, _) => entry.target_id.clone(),
    }
}

#[component]
fn AuditSection(audit: PagedList<AuditEntry>) -> AnyView {
    view! {
        <section class="admin-section" aria-labelledby="admin-audit-title">
            <h2 id="admin-audit-title">"Audit log"</h2>
            <p class="muted small">"What administrators did, newest first."</p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || audit.get().map(|answer| match answer {
                    Ok(shown) if shown.rows.is_empty() => view! { <p class="muted">"Nothing yet."</p> }.into_any(),
                    Ok(shown) => view! {
                        <table class="admin-table" aria-label="Audit log">
                            <thead><tr>
                                <th scope="col">"When"</th><th scope="col">"Who"</th>
                                <th scope="col">"What"</th><th scope="col">"Target"</th>
                            </tr></thead>
                            <tbody>
                                {shown.rows.into_iter().map(|entry| view! {
                                    <tr>
                                        <td data-label="When">{when(entry.at)}</td>
                                        <td data-label="Who" class="cell-email">{entry.actor_email.clone()}</td>
                                        <td data-label="What">{audit_what(&entry)}</td>
                                        <td data-label="Target" class="cell-email">{audit_target(&entry)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <p class="form-error" role="alert">{error_text(&error)}</p> }.into_any(),
                })}
                {audit.show_more("audit entries")}
            </Transition>
        </section>
    }
    .into_any()
}
