//! Who is signed in, shared through context, and the sign-in / sign-up forms.

use crate::error::AppError;
use confab_core::api::SignupPolicy;
use confab_core::model::User;
use confab_core::sign_in_failure::SignInFailure;
use leptos::prelude::*;

use leptos_router::hooks::use_query_map;

use crate::server_fns::{current_user, sign_in_options, DeleteAccount, SignIn, SignOut, SignUp};

/// The sign-in state every component can read.
#[derive(Clone, Copy)]
pub struct Auth {
    pub user: Resource<Result<Option<User>, AppError>>,
    pub sign_in: ServerAction<SignIn>,
    pub sign_up: ServerAction<SignUp>,
    pub sign_out: ServerAction<SignOut>,
    /// Not followed by `user`: a refused attempt would re-render the top bar and close the
    /// dialog before its error could be read; success loads a new page instead.
    pub delete_account: ServerAction<DeleteAccount>,
    /// The three actions' version counters, taken once when they were made (see `changes`).
    versions: [RwSignal<usize>; 3],
}

/// How many times someone signed in, signed up and signed out in this tab.
pub type SignInChanges = (usize, usize, usize);

impl Auth {
    /// The source of everything that belongs to the signed-in account: it changes whenever
    /// someone signs in, up or out in this tab.
    ///
    /// Reads counters taken once, never the actions themselves: server rendering can run a
    /// resource's source once more after it dropped the page's owner, and `Action::version`
    /// on a disposed action panicked there ("Tried to access a reactive value that has already
    /// been disposed", seen in CI). A disposed counter reads as 0, as it is on every server
    /// render, so the source does not change then.
    pub fn changes(&self) -> SignInChanges {
        changes(self.versions)
    }
}

fn changes([sign_in, sign_up, sign_out]: [RwSignal<usize>; 3]) -> SignInChanges {
    (
        sign_in.try_get().unwrap_or_default(),
        sign_up.try_get().unwrap_or_default(),
        sign_out.try_get().unwrap_or_default(),
    )
}

pub fn provide_auth() {
    let sign_in = ServerAction::<SignIn>::new();
    let sign_up = ServerAction::<SignUp>::new();
    let sign_out = ServerAction::<SignOut>::new();
    let delete_account = ServerAction::<DeleteAccount>::new();
    let versions = [sign_in.version(), sign_up.version(), sign_out.version()];
    provide_context(Auth {
        user: Resource::new(move || changes(versions), |_| current_user()),
        sign_in,
        sign_up,
        sign_out,
        delete_account,
        versions,
    });
}

pub fn use_auth() -> Auth {
    expect_context::<Auth>()
}

fn error_text(result: Option<Result<User, AppError>>) -> Option<String> {
    match result {
        Some(Err(error)) => Some(error.sentence()),
        _ => None,
    }
}

/// What the "Create account" tab says while sign-up is closed and the visitor has no invitation.
pub const SIGNUP_CLOSED: &str =
    "Sign-up is closed on this instance: an account is created with an invitation from an administrator.";

/// What the page says in place of the forms when the instance has no local accounts.
pub const PROVIDERS_ONLY: &str = "This instance signs in through its identity providers only.";

/// What the page says to someone who follows an invitation while the instance has no local
/// accounts: the provider buttons carry the invitation.
pub const INVITED_THROUGH_PROVIDER: &str =
    "Continue with a provider below: the invitation creates your account when you first sign in.";

/// What the page says first: who it greets, and how an invitation is used.
fn lede(invited: bool, local_accounts: bool) -> &'static str {
    match (invited, local_accounts) {
        (false, _) => "Every conversation saved the moment it exists, found again in milliseconds.",
        (true, true) => "Create your account below: the invitation lets you in.",
        (true, false) => INVITED_THROUGH_PROVIDER,
    }
}

/// Sign in or create an account. Works as plain HTML forms before the WASM loads.
#[component]
pub fn AuthPanel() -> AnyView {
    let auth = use_auth();
    let query = use_query_map();
    // The secret of an invitation's link (`/?invitation=TOKEN`): the page opens on "Create
    // account" and sends it with the sign-up, which then works while sign-up is closed; the
    // provider buttons carry it too, for an account made through a provider.
    let invitation = query
        .read_untracked()
        .get("invitation")
        .filter(|token| !token.trim().is_empty());
    let invited = invitation.is_some();
    let invitation = StoredValue::new(invitation.unwrap_or_default());
    let creating = RwSignal::new(invited);
    let sign_in_error = move || error_text(auth.sign_in.value().get());
    let sign_up_error = move || error_text(auth.sign_up.value().get());
    let options = Resource::new(|| (), |_| sign_in_options());
    // Off only when the server says so: an unanswered question keeps the forms.
    let local_accounts = move || {
        options
            .get()
            .and_then(Result::ok)
            .is_none_or(|options| options.local_accounts)
    };
    // Closed only when the server says so: an unanswered question keeps the form.
    let signup_open = move || {
        options
            .get()
            .and_then(Result::ok)
            .is_none_or(|options| options.signup == SignupPolicy::Open)
    };
    // A provider sign-in that failed comes back as `/?auth_error=CODE`. Only Confab's own
    // sentence for the code is shown: anyone can make a link with any text in it.
    let provider_error = move || {
        query
            .read()
            .get("auth_error")
            .map(|code| SignInFailure::from_code(&code).sentence())
    };
    view! {
        <section class="auth-panel" aria-labelledby="auth-title">
            <h1 id="auth-title" class="auth-title">
                {if invited { "You were invited to Confab" } else { "Welcome to Confab" }}
            </h1>
            <Transition fallback=|| ()>
                <p class="auth-lede">{move || lede(invited, local_accounts())}</p>
            </Transition>
            {move || provider_error().map(|message| view! {
                <p class="form-error provider-error" role="alert">{format!("Sign-in failed: {message}")}</p>
            })}
            <Transition fallback=|| ()>
                {move || options.get().and_then(Result::ok).filter(|options| !options.providers.is_empty()).map(|options| view! {
                    <div class="provider-buttons">
                        {options.providers.into_iter().map(|provider| {
                            // The invitation goes along to the provider sign-in, which can
                            // create the account with it.
                            let href = if invited {
                                provider.login_url_with_invitation(&invitation.get_value())
                            } else {
                                provider.login_url.clone()
                            };
                            view! {
                                <a class="provider-button" href=href rel="external">
                                    {format!("Continue with {}", provider.display_name)}
                                </a>
                            }
                        }).collect_view()}
                    </div>
                    {options.local_accounts.then(|| view! {
                        <p class="auth-divider"><span>"or"</span></p>
                    })}
                })}
            </Transition>
            <Transition fallback=|| ()>
            <Show
                when=local_accounts
                fallback=move || (!invited).then(|| view! {
                    <p class="auth-note" role="status">{PROVIDERS_ONLY}</p>
                })
            >
                <div class="auth-tabs" role="tablist">
                    <button role="tab" class="tab" aria-selected=move || (!creating.get()).to_string()
                        on:click=move |_| creating.set(false)>"Sign in"</button>
                    <button role="tab" class="tab" aria-selected=move || creating.get().to_string()
                        on:click=move |_| creating.set(true)>"Create account"</button>
                </div>
                <Show
                    when=move || creating.get()
                    fallback=move || view! {
                        <ActionForm action=auth.sign_in attr:class="auth-form" attr:aria-label="Sign in">
                            <label>"Email"<input type="email" name="email" autocomplete="email" required/></label>
                            <label>"Password"<input type="password" name="password" autocomplete="current-password" required/></label>
                            <p class="form-error" role="alert">{sign_in_error}</p>
                            <button type="submit" class="primary">"Sign in"</button>
                        </ActionForm>
                    }
                >
                    <Transition fallback=|| ()>
                    <Show
                        when=move || invited || signup_open()
                        fallback=|| view! {
                            <p class="auth-note" role="status">{SIGNUP_CLOSED}</p>
                        }
                    >
                        <ActionForm action=auth.sign_up attr:class="auth-form" attr:aria-label="Create account">
                            <input type="hidden" name="invitation" value=invitation.get_value()/>
                            <label>"Name"<input type="text" name="name" autocomplete="name" placeholder="Optional"/></label>
                            <label>"Email"<input type="email" name="email" autocomplete="email" required/></label>
                            <label>"Password"<input type="password" name="password" autocomplete="new-password" minlength="8" required/></label>
                            <p class="form-error" role="alert">{sign_up_error}</p>
                            <button type="submit" class="primary">"Create account"</button>
                        </ActionForm>
                    </Show>
                    </Transition>
                </Show>
            </Show>
            </Transition>
        </section>
    }
    .into_any()
}
