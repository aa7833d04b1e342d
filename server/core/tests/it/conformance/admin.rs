//! Administration (issue 14), told through the service layer: the user list and its counters,
//! disabled accounts, invitations, password resets, the stored sign-up policy and the audit
//! log.

use chrono::{DateTime, Duration, Utc};
use confab_core::api::{
    AdminSettings, AuditAction, AuditEntry, InvitationInput, InvitationStatus, PageInput,
    SignupPolicy, UserSummary,
};
use confab_core::auth::oidc::ExternalIdentity;
use confab_core::model::{User, UserRole};
use confab_core::service::accounts::ExternalSignInError;
use confab_core::service::{ServiceConfig, ServiceError, Services};
use confab_core::sign_in_failure::SignInFailure;
use confab_core::store::{
    AdminChange, AuthSessionRecord, DynStore, NewIdentity, NewUser, StoreError, StoredInvitation,
    StoredPasswordReset,
};

use super::{message, services, user};

const PASSWORD: &str = "a good password";

fn code<T: std::fmt::Debug>(result: Result<T, ServiceError>) -> (u16, &'static str, String) {
    let error = result.expect_err("refused");
    (super::status(&error), error.code(), error.to_string())
}

fn page(limit: i64, cursor: Option<String>) -> PageInput {
    PageInput {
        limit: Some(limit),
        cursor,
    }
}

fn summary(user: &User) -> UserSummary {
    UserSummary {
        id: user.id.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
        role: user.role,
        created_at: user.created_at,
        disabled: false,
        disabled_at: None,
        message_count: 0,
        last_active_at: None,
    }
}

/// Every admin method refuses an account that is not an administrator, before anything.
async fn refused_to(services: &Services, bob: &User, someone: &str) {
    let expected = (
        403,
        "admin_required",
        "only an administrator of this instance may do this".to_owned(),
    );
    let all = [
        code(services.admin_list_users(bob, &PageInput::default()).await),
        code(services.admin_disable_user(bob, someone).await),
        code(services.admin_enable_user(bob, someone).await),
        code(services.admin_delete_user(bob, someone).await),
        code(services.admin_create_password_reset(bob, someone).await),
        code(
            services
                .admin_create_invitation(bob, &InvitationInput::default())
                .await,
        ),
        code(services.admin_list_invitations(bob).await),
        code(services.admin_revoke_invitation(bob, someone).await),
        code(services.admin_settings(bob).await),
        code(
            services
                .admin_update_settings(
                    bob,
                    AdminSettings {
                        signup: SignupPolicy::Closed,
                    },
                )
                .await,
        ),
        code(services.admin_audit(bob, &PageInput::default()).await),
    ];
    for refusal in all {
        assert_eq!(refusal, expected);
    }
}

pub async fn admin_user_list_and_counters(store: DynStore) {
    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;
    let carol = user(&services, "carol@example.com").await;
    refused_to(&services, &bob, &carol.id).await;

    // Bob writes five messages in two conversations; Carol only signs in.
    let first = services
        .append_message(&bob, message(None, "user", "one"))
        .await
        .unwrap();
    let one = first.session.id.clone();
    for content in ["two", "three"] {
        services
            .append_message(&bob, message(Some(&one), "user", content))
            .await
            .unwrap();
    }
    let other = services
        .append_message(&bob, message(None, "user", "four"))
        .await
        .unwrap();
    let two = other.session.id.clone();
    let last = services
        .append_message(&bob, message(Some(&two), "user", "five"))
        .await
        .unwrap();
    let before = Utc::now();
    services
        .login("carol@example.com", PASSWORD, "c")
        .await
        .unwrap();
    let after = Utc::now();

    let listed = services
        .admin_list_users(&ada, &page(2, None))
        .await
        .unwrap();
    let bob_summary = UserSummary {
        message_count: 5,
        last_active_at: Some(last.message.created_at),
        ..summary(&bob)
    };
    assert_eq!(listed.users, [summary(&ada), bob_summary.clone()]);
    let rest = services
        .admin_list_users(&ada, &page(2, listed.next_cursor.clone()))
        .await
        .unwrap();
    assert_eq!(rest.next_cursor, None);
    assert_eq!(rest.users.len(), 1);
    let carol_listed = &rest.users[0];
    let signed_in = carol_listed.last_active_at.expect("signed in");
    assert!(
        signed_in >= before - Duration::milliseconds(1) && signed_in <= after,
        "{signed_in} within {before}..{after}"
    );
    assert_eq!(
        carol_listed,
        &UserSummary {
            last_active_at: Some(signed_in),
            ..summary(&carol)
        }
    );
    assert_eq!(
        code(
            services
                .admin_list_users(&ada, &page(2, Some("not a cursor".into())))
                .await
        ),
        (
            422,
            "invalid_cursor",
            "the cursor is not one this server gave".into()
        )
    );

    // The counters follow clears, deletions (counted until purged) and purges.
    services.clear_session(&bob, &two).await.unwrap();
    services.delete_session(&bob, &one).await.unwrap();
    let count = |services: Services, ada: User| async move {
        services
            .admin_list_users(&ada, &page(10, None))
            .await
            .unwrap()
            .users
            .into_iter()
            .find(|listed| listed.email == "bob@example.com")
            .expect("bob listed")
            .message_count
    };
    assert_eq!(count(services.clone(), ada.clone()).await, 3);
    let purging = Services::new(
        store.clone(),
        ServiceConfig {
            deleted_retention: std::time::Duration::ZERO,
            ..ServiceConfig::default()
        },
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(purging.purge_deleted_sessions().await.unwrap(), 1);
    assert_eq!(count(services.clone(), ada.clone()).await, 0);
}

pub async fn disabling_an_account(store: DynStore) {
    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;
    let token = services
        .create_token(&bob, "script", None)
        .await
        .unwrap()
        .token;
    assert_eq!(services.user_for_token(&token).await.unwrap().0, bob);
    let later = Utc::now() + Duration::hours(1);
    for key in ["bob-laptop", "bob-phone"] {
        store
            .save_auth_session(
                key,
                AuthSessionRecord {
                    user_id: Some(bob.id.clone()),
                    data: b"{}".to_vec(),
                    expires_at: later,
                },
            )
            .await
            .unwrap();
    }
    store
        .save_auth_session(
            "ada-laptop",
            AuthSessionRecord {
                user_id: Some(ada.id.clone()),
                data: b"{}".to_vec(),
                expires_at: later,
            },
        )
        .await
        .unwrap();

    // Bob also signs in through a provider.
    let at_provider = |subject: &str| ExternalIdentity {
        provider: "idp".into(),
        subject: subject.into(),
        email: Some("bob@example.com".into()),
        email_verified: true,
        name: None,
    };
    assert_eq!(
        services
            .external_sign_in(at_provider("bob-at-idp"))
            .await
            .unwrap(),
        bob
    );

    services.admin_disable_user(&ada, &bob.id).await.unwrap();
    assert!(store
        .active_credentials_by_id(&bob.id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.user_by_id(&bob.id).await.unwrap(), Some(bob.clone()));
    // Through the provider, by the subject linked before or by a new one with his email.
    for subject in ["bob-at-idp", "bob-elsewhere"] {
        let refused = services.external_sign_in(at_provider(subject)).await;
        assert!(
            matches!(refused, Err(ExternalSignInError::AccountDisabled)),
            "{refused:?}"
        );
    }
    assert_eq!(
        store
            .user_by_identity("idp", "bob-elsewhere")
            .await
            .unwrap(),
        None,
        "nothing linked to a disabled account"
    );
    assert!(store
        .load_auth_session("bob-laptop")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .load_auth_session("bob-phone")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .load_auth_session("ada-laptop")
        .await
        .unwrap()
        .is_some());
    assert!(matches!(
        services.user_for_token(&token).await,
        Err(ServiceError::Unauthorized)
    ));
    let disabled = (
        403,
        "account_disabled",
        "this account is disabled; ask an administrator".to_owned(),
    );
    assert_eq!(
        code(services.login("bob@example.com", PASSWORD, "b").await),
        disabled
    );
    // A wrong password says nothing about the account.
    assert!(matches!(
        services
            .login("bob@example.com", "not the password", "b")
            .await,
        Err(ServiceError::BadCredentials)
    ));
    let listed = services
        .admin_list_users(&ada, &PageInput::default())
        .await
        .unwrap();
    let bob_listed = &listed.users[1];
    assert!(bob_listed.disabled);
    assert!(bob_listed.disabled_at.is_some());
    // Disabled again: since the first time.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    services.admin_disable_user(&ada, &bob.id).await.unwrap();
    let again = services
        .admin_list_users(&ada, &PageInput::default())
        .await
        .unwrap();
    assert_eq!(&again.users[1], bob_listed);

    let last_admin = (
        403,
        "last_admin",
        "the only administrator cannot be disabled or deleted".to_owned(),
    );
    assert_eq!(
        code(services.admin_disable_user(&ada, &ada.id).await),
        last_admin
    );
    assert_eq!(
        code(services.admin_delete_user(&ada, &ada.id).await),
        last_admin
    );
    assert_eq!(
        code(services.admin_disable_user(&ada, "no-such-user").await),
        (404, "not_found", "not found".into())
    );

    services.admin_enable_user(&ada, &bob.id).await.unwrap();
    let signed_in = services
        .login("bob@example.com", PASSWORD, "b")
        .await
        .unwrap();
    assert_eq!(signed_in, bob);
    assert_eq!(services.user_for_token(&token).await.unwrap().0, bob);
    assert_eq!(
        store
            .active_credentials_by_id(&bob.id)
            .await
            .unwrap()
            .map(|found| (found.user, found.disabled_at)),
        Some((bob.clone(), None))
    );
    assert_eq!(
        services
            .external_sign_in(at_provider("bob-at-idp"))
            .await
            .unwrap(),
        bob
    );
    let listed = services
        .admin_list_users(&ada, &PageInput::default())
        .await
        .unwrap();
    assert!(!listed.users[1].disabled);
    assert_eq!(listed.users[1].disabled_at, None);

    services.admin_delete_user(&ada, &bob.id).await.unwrap();
    assert_eq!(store.user_by_id(&bob.id).await.unwrap(), None);
    assert!(matches!(
        services.user_for_token(&token).await,
        Err(ServiceError::Unauthorized)
    ));
    assert_eq!(
        code(services.admin_delete_user(&ada, &bob.id).await),
        (404, "not_found", "not found".into())
    );
}

pub async fn invitations_work_once(store: DynStore) {
    let services = Services::new(
        store.clone(),
        ServiceConfig {
            signup: SignupPolicy::Closed,
            ..ServiceConfig::default()
        },
    );
    let ada = user(&services, "ada@example.com").await;
    let bound = services
        .admin_create_invitation(
            &ada,
            &InvitationInput {
                email: Some(" Carol@Example.com ".into()),
                expires_in_hours: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(bound.invitation.email.as_deref(), Some("carol@example.com"));
    assert_eq!(bound.invitation.created_by, "ada@example.com");
    assert_eq!(bound.invitation.status, InvitationStatus::Pending);
    assert_eq!(
        bound.invitation.expires_at - bound.invitation.created_at,
        Duration::days(7)
    );
    let signup = |email: &'static str, invitation: Option<String>, client: &'static str| {
        let services = services.clone();
        async move {
            services
                .signup_with_invitation(email, PASSWORD, None, invitation.as_deref(), client)
                .await
                .map(|signed_in| signed_in.user)
        }
    };
    assert_eq!(
        code(signup("dave@example.com", None, "d").await),
        (
            403,
            "forbidden",
            "sign-up is closed on this instance; ask an administrator for an account".into()
        )
    );
    assert_eq!(
        code(signup("dave@example.com", Some(bound.token.clone()), "d").await),
        (
            403,
            "invitation_email_mismatch",
            "this invitation is for another email address".into()
        )
    );
    let carol = signup("carol@example.com", Some(bound.token.clone()), "c")
        .await
        .unwrap();
    assert_eq!(carol.role, UserRole::User);
    let used = (
        403,
        "invitation_used",
        "this invitation was used already; ask an administrator for a new one".to_owned(),
    );
    assert_eq!(
        code(signup("carol2@example.com", Some(bound.token.clone()), "c").await),
        used
    );
    let listed = services.admin_list_invitations(&ada).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, InvitationStatus::Used);
    assert_eq!(listed[0].used_by.as_deref(), Some(carol.id.as_str()));
    assert!(listed[0].used_at.is_some());

    // Eight sign-ups with one open invitation at once, on one node: one account. (On SQLite one
    // writer orders them; `one_time_secrets_race_across_nodes` races two.)
    let open = services
        .admin_create_invitation(&ada, &InvitationInput::default())
        .await
        .unwrap();
    let emails = [
        "p0@example.com",
        "p1@example.com",
        "p2@example.com",
        "p3@example.com",
        "p4@example.com",
        "p5@example.com",
        "p6@example.com",
        "p7@example.com",
    ];
    let racing = emails.map(|email| {
        let services = services.clone();
        let token = open.token.clone();
        tokio::spawn(async move {
            services
                .signup_with_invitation(email, PASSWORD, None, Some(&token), email)
                .await
        })
    });
    let mut created = 0;
    for outcome in futures::future::join_all(racing).await {
        match outcome.unwrap() {
            Ok(_) => created += 1,
            Err(error) => assert_eq!(error.code(), "invitation_used"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(store.count_users().await.unwrap(), 3);

    // A sign-up that fails (the email is taken) leaves the invitation usable.
    let spare = services
        .admin_create_invitation(&ada, &InvitationInput::default())
        .await
        .unwrap();
    assert_eq!(
        code(signup("ada@example.com", Some(spare.token.clone()), "s").await),
        (
            409,
            "conflict",
            "an account with this email exists already".into()
        )
    );
    let frank = signup("frank@example.com", Some(spare.token.clone()), "s")
        .await
        .unwrap();
    assert_eq!(frank.email, "frank@example.com");

    // Expired and revoked ones.
    StoredInvitation::store_expired(&*store, "expired-invitation", "expired-secret")
        .await
        .unwrap();
    assert_eq!(
        code(signup("late@example.com", Some("expired-secret".into()), "l").await),
        (
            403,
            "invitation_expired",
            "this invitation has expired; ask an administrator for a new one".into()
        )
    );
    let revoked = services
        .admin_create_invitation(&ada, &InvitationInput::default())
        .await
        .unwrap();
    services
        .admin_revoke_invitation(&ada, &revoked.invitation.id)
        .await
        .unwrap();
    let invalid = (
        403,
        "invitation_invalid",
        "this invitation is not valid; ask an administrator for a new one".to_owned(),
    );
    assert_eq!(
        code(signup("eve@example.com", Some(revoked.token.clone()), "e").await),
        invalid
    );
    assert_eq!(
        code(signup("eve@example.com", Some("made up".into()), "e").await),
        invalid
    );
    assert_eq!(
        code(
            services
                .admin_revoke_invitation(&ada, &revoked.invitation.id)
                .await
        ),
        (404, "not_found", "not found".into())
    );
    assert_eq!(
        code(
            services
                .admin_create_invitation(
                    &ada,
                    &InvitationInput {
                        email: None,
                        expires_in_hours: Some(0),
                    },
                )
                .await
        ),
        (
            422,
            "invalid_expiry",
            "an invitation expires in 1 to 720 hours".into()
        )
    );
    let statuses: Vec<_> = services
        .admin_list_invitations(&ada)
        .await
        .unwrap()
        .into_iter()
        .map(|invitation| (invitation.id, invitation.status))
        .collect();
    assert_eq!(
        statuses,
        [
            (spare.invitation.id.clone(), InvitationStatus::Used),
            (open.invitation.id.clone(), InvitationStatus::Used),
            (bound.invitation.id.clone(), InvitationStatus::Used),
            ("expired-invitation".to_owned(), InvitationStatus::Expired),
        ]
    );
}

/// Invitations used through a provider, on an instance with sign-up closed and no local
/// accounts: the invitation lets one account in, made with its identity in the same step;
/// a bad one is refused with its own failure; someone who has an account just signs in.
pub async fn invitations_through_a_provider(store: DynStore) {
    let services = Services::new(
        store.clone(),
        ServiceConfig {
            signup: SignupPolicy::Closed,
            local_accounts: false,
            ..ServiceConfig::default()
        },
    );
    let identity = |subject: &str, email: &str, verified: bool| ExternalIdentity {
        provider: "idp".into(),
        subject: subject.into(),
        email: Some(email.into()),
        email_verified: verified,
        name: None,
    };
    let refusal =
        |result: Result<User, ExternalSignInError>| result.expect_err("refused").failure();
    let ada = services
        .external_sign_in(identity("ada", "ada@example.com", true))
        .await
        .unwrap();
    assert_eq!(
        ada.role,
        UserRole::Admin,
        "the first account needs no invitation"
    );
    let invite = |email: Option<&str>| {
        let (services, ada) = (services.clone(), ada.clone());
        let email = email.map(str::to_owned);
        async move {
            services
                .admin_create_invitation(
                    &ada,
                    &InvitationInput {
                        email,
                        expires_in_hours: None,
                    },
                )
                .await
                .unwrap()
        }
    };
    let status_of = |id: String| {
        let (services, ada) = (services.clone(), ada.clone());
        async move {
            services
                .admin_list_invitations(&ada)
                .await
                .unwrap()
                .into_iter()
                .find(|invitation| invitation.id == id)
                .expect("listed")
        }
    };

    // Who signs in at the provider, with what invitation.
    let sign_in = |subject: &str, email: &str, verified: bool, invitation: Option<&str>| {
        let services = services.clone();
        let identity = identity(subject, email, verified);
        let invitation = invitation.map(str::to_owned);
        async move {
            services
                .external_sign_in_with_invitation(identity, invitation.as_deref())
                .await
                .map(|signed_in| signed_in.user)
        }
    };

    // Without an invitation: closed.
    assert_eq!(
        refusal(sign_in("bob", "bob@example.com", true, None).await),
        SignInFailure::SignupClosed
    );

    // With one: the account, linked to its provider's account, and the invitation used by it.
    let open = invite(None).await;
    let padded = format!(" {} ", open.token);
    let grace = sign_in("grace", "Grace@Example.com", true, Some(&padded))
        .await
        .unwrap();
    assert_eq!(
        (grace.email.as_str(), grace.role),
        ("grace@example.com", UserRole::User)
    );
    assert_eq!(
        store.user_by_identity("idp", "grace").await.unwrap(),
        Some(grace.clone())
    );
    let used = status_of(open.invitation.id.clone()).await;
    assert_eq!(used.status, InvitationStatus::Used);
    assert_eq!(used.used_by.as_deref(), Some(grace.id.as_str()));
    assert_eq!(
        refusal(sign_in("bob", "bob@example.com", true, Some(&open.token)).await),
        SignInFailure::InvitationUsed
    );
    // Grace again, with the link she used: she signs in.
    let again = sign_in("grace", "grace@example.com", true, Some(&open.token))
        .await
        .unwrap();
    assert_eq!(again.id, grace.id);

    // Bound to an email: only the provider's verified email of that address opens it.
    let bound = invite(Some("carol@example.com")).await;
    for (subject, email, verified) in [
        ("dave", "dave@example.com", true),
        ("carol-unverified", "carol@example.com", false),
    ] {
        assert_eq!(
            refusal(sign_in(subject, email, verified, Some(&bound.token)).await),
            SignInFailure::InvitationEmailMismatch,
            "{email} verified: {verified}"
        );
    }
    assert_eq!(
        status_of(bound.invitation.id.clone()).await.status,
        InvitationStatus::Pending
    );
    let carol = sign_in("carol", "CAROL@example.com", true, Some(&bound.token))
        .await
        .unwrap();
    assert_eq!(carol.email, "carol@example.com");
    assert_eq!(
        status_of(bound.invitation.id.clone()).await.used_by,
        Some(carol.id.clone())
    );

    // Expired, revoked, made up, too long.
    StoredInvitation::store_expired(&*store, "old", "old-secret")
        .await
        .unwrap();
    let revoked = invite(None).await;
    services
        .admin_revoke_invitation(&ada, &revoked.invitation.id)
        .await
        .unwrap();
    let too_long = "x".repeat(201);
    for (token, failure) in [
        ("old-secret", SignInFailure::InvitationExpired),
        (revoked.token.as_str(), SignInFailure::InvitationInvalid),
        ("made up", SignInFailure::InvitationInvalid),
        (too_long.as_str(), SignInFailure::InvitationInvalid),
    ] {
        assert_eq!(
            refusal(sign_in("eve", "eve@example.com", true, Some(token)).await),
            failure
        );
    }
    assert_eq!(store.count_users().await.unwrap(), 3, "ada, grace, carol");

    // Someone with an account who follows an invitation signs in; the invitation stays unused.
    let spare = invite(None).await;
    let linked = sign_in("ada-elsewhere", "ada@example.com", true, Some(&spare.token))
        .await
        .unwrap();
    assert_eq!(linked.id, ada.id);
    assert_eq!(
        status_of(spare.invitation.id.clone()).await.status,
        InvitationStatus::Pending
    );

    // Eight people with one invitation at once, on one node: one account (across two nodes:
    // `one_time_secrets_race_across_nodes`).
    let racing = (0..8).map(|n| {
        let subject = format!("p{n}");
        let racer = sign_in(
            &subject,
            &format!("{subject}@example.com"),
            true,
            Some(&spare.token),
        );
        tokio::spawn(racer)
    });
    let mut created = Vec::new();
    for outcome in futures::future::join_all(racing).await {
        match outcome.unwrap() {
            Ok(user) => created.push(user),
            Err(error) => assert_eq!(error.failure(), SignInFailure::InvitationUsed),
        }
    }
    assert_eq!(created.len(), 1);
    assert_eq!(store.count_users().await.unwrap(), 4);
    assert_eq!(
        status_of(spare.invitation.id.clone()).await.used_by,
        Some(created[0].id.clone())
    );

    // Allowed email domains are the deployment's rule: an invitation does not override them,
    // and a refused sign-in leaves the invitation unused.
    let listed = Services::new(
        store.clone(),
        ServiceConfig {
            signup: SignupPolicy::Closed,
            local_accounts: false,
            allowed_email_domains: vec!["example.com".into()],
            ..ServiceConfig::default()
        },
    );
    let outside = invite(None).await;
    let refused = listed
        .external_sign_in_with_invitation(
            identity("eve", "eve@elsewhere.org", true),
            Some(&outside.token),
        )
        .await
        .map(|signed_in| signed_in.user);
    assert_eq!(refusal(refused), SignInFailure::DomainNotAllowed);
    assert_eq!(
        status_of(outside.invitation.id.clone()).await.status,
        InvitationStatus::Pending
    );
    assert_eq!(store.count_users().await.unwrap(), 4);
}

/// A user is created with its provider's identity in one step: when the identity is linked to
/// another user already, neither the user nor (with an invitation) the invitation's use is
/// left behind.
pub async fn users_are_created_with_their_identity(store: DynStore) {
    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let new = |email: &str, subject: &str| NewUser {
        email: email.into(),
        name: "New".into(),
        password_hash: None,
        identity: Some(NewIdentity {
            provider: "idp".into(),
            subject: subject.into(),
            email: Some(email.into()),
        }),
    };
    let bob = store
        .create_user(new("bob@example.com", "bob"))
        .await
        .unwrap();
    assert_eq!(
        store.user_by_identity("idp", "bob").await.unwrap(),
        Some(bob.clone())
    );

    let invitation = services
        .admin_create_invitation(&ada, &InvitationInput::default())
        .await
        .unwrap();
    let id = invitation.invitation.id.clone();
    let taken = [
        store
            .create_user(new("other@example.com", "bob"))
            .await
            .map(Some),
        store
            .create_invited_user(&id, new("other@example.com", "bob"), Utc::now())
            .await,
    ];
    for taken in taken {
        assert!(matches!(taken, Err(StoreError::Duplicate(_))), "{taken:?}");
    }
    assert!(store
        .credentials_by_email("other@example.com")
        .await
        .unwrap()
        .is_none());
    let stored = store
        .invitation_by_token_hash(&confab_core::auth::tokens::hash_secret(&invitation.token))
        .await
        .unwrap()
        .expect("kept");
    assert_eq!((stored.used_at, stored.used_by), (None, None));

    let carol = store
        .create_invited_user(&id, new("carol@example.com", "carol"), Utc::now())
        .await
        .unwrap()
        .expect("created");
    assert_eq!(
        store.user_by_identity("idp", "carol").await.unwrap(),
        Some(carol.clone())
    );
    assert_eq!(store.count_users().await.unwrap(), 3);
}

pub async fn password_resets(store: DynStore) {
    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;
    store
        .save_auth_session(
            "bob-laptop",
            AuthSessionRecord {
                user_id: Some(bob.id.clone()),
                data: b"{}".to_vec(),
                expires_at: Utc::now() + Duration::hours(1),
            },
        )
        .await
        .unwrap();
    let reset = services
        .admin_create_password_reset(&ada, &bob.id)
        .await
        .unwrap();
    assert_eq!(reset.user_id, bob.id);
    let valid_for = reset.expires_at - Utc::now();
    assert!(valid_for > Duration::hours(23) && valid_for <= Duration::hours(24));

    assert_eq!(
        code(services.reset_password(&reset.token, "short").await),
        (
            422,
            "weak_password",
            "the password needs at least 8 characters".into()
        )
    );
    services
        .reset_password(&reset.token, "a new good password")
        .await
        .unwrap();
    assert!(store
        .load_auth_session("bob-laptop")
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        services.login("bob@example.com", PASSWORD, "b").await,
        Err(ServiceError::BadCredentials)
    ));
    assert_eq!(
        services
            .login("bob@example.com", "a new good password", "b")
            .await
            .unwrap(),
        bob
    );
    let invalid = (
        403,
        "reset_token_invalid",
        "this password reset link is not valid or was used already; ask an administrator for a new one"
            .to_owned(),
    );
    assert_eq!(
        code(
            services
                .reset_password(&reset.token, "another password")
                .await
        ),
        invalid
    );
    assert_eq!(
        code(services.reset_password("", "another password").await),
        invalid
    );

    // Two links made one after the other: using the newer uses up the older too, so an older
    // link that leaked cannot take the account back after its owner chose a password.
    let older = services
        .admin_create_password_reset(&ada, &bob.id)
        .await
        .unwrap();
    let newer = services
        .admin_create_password_reset(&ada, &bob.id)
        .await
        .unwrap();
    services
        .reset_password(&newer.token, "the newer password")
        .await
        .unwrap();
    assert_eq!(
        code(
            services
                .reset_password(&older.token, "the attacker's password")
                .await
        ),
        invalid
    );
    assert_eq!(
        services
            .login("bob@example.com", "the newer password", "b")
            .await
            .unwrap(),
        bob
    );

    // Four uses of one link at once, on one node: one sets its password, the others are
    // refused (across two nodes: `one_time_secrets_race_across_nodes`).
    let racing = services
        .admin_create_password_reset(&ada, &bob.id)
        .await
        .unwrap();
    let attempts = [
        "password one",
        "password two",
        "password three",
        "password four",
    ]
    .map(|password| {
        let services = services.clone();
        let token = racing.token.clone();
        tokio::spawn(async move { (password, services.reset_password(&token, password).await) })
    });
    let mut set = Vec::new();
    for attempt in futures::future::join_all(attempts).await {
        match attempt.unwrap() {
            (password, Ok(())) => set.push(password),
            (_, Err(error)) => assert_eq!(error.code(), "reset_token_invalid"),
        }
    }
    assert_eq!(set.len(), 1, "{set:?}");
    assert_eq!(
        services
            .login("bob@example.com", set[0], "b")
            .await
            .unwrap(),
        bob
    );
    let now = Utc::now();
    let expired = StoredPasswordReset {
        id: "expired-reset".into(),
        token_hash: confab_core::auth::tokens::hash_secret("expired-secret"),
        user_id: bob.id.clone(),
        created_at: now - Duration::hours(25),
        expires_at: now - Duration::hours(1),
        used_at: None,
    };
    let entry = entry_by(&ada, AuditAction::PasswordResetLink, &bob.id);
    assert!(store
        .audited(AdminChange::CreatePasswordReset(expired), entry)
        .await
        .unwrap());
    assert_eq!(
        code(
            services
                .reset_password("expired-secret", "another password")
                .await
        ),
        (
            403,
            "reset_token_expired",
            "this password reset link has expired; ask an administrator for a new one".into()
        )
    );
    assert_eq!(
        code(services.admin_create_password_reset(&ada, "nobody").await),
        (404, "not_found", "not found".into())
    );

    // Locked out by guesses at the old password (each from another address, so only the
    // email's count fills), Bob signs in with the password a reset gave him at once.
    for number in 0..10 {
        let guess = services
            .login("bob@example.com", "a guess", &format!("10.1.0.{number}"))
            .await;
        assert!(
            matches!(guess, Err(ServiceError::BadCredentials)),
            "{guess:?}"
        );
    }
    assert!(matches!(
        services.login("bob@example.com", set[0], "10.1.1.1").await,
        Err(ServiceError::TooManyRequests { .. })
    ));
    let unlock = services
        .admin_create_password_reset(&ada, &bob.id)
        .await
        .unwrap();
    services
        .reset_password(&unlock.token, "after the lockout")
        .await
        .unwrap();
    assert_eq!(
        services
            .login("bob@example.com", "after the lockout", "10.1.1.2")
            .await
            .unwrap(),
        bob
    );
}

pub async fn stored_policy_and_audit_log(store: DynStore) {
    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;
    assert_eq!(
        services.admin_settings(&ada).await.unwrap(),
        AdminSettings {
            signup: SignupPolicy::Open
        }
    );
    let closed = AdminSettings {
        signup: SignupPolicy::Closed,
    };
    assert_eq!(
        services.admin_update_settings(&ada, closed).await.unwrap(),
        closed
    );
    // Another process on the same database, configured open: the stored policy wins.
    let restarted = super::services(store.clone());
    assert_eq!(
        restarted.signup_policy().await.unwrap(),
        SignupPolicy::Closed
    );
    assert_eq!(
        code(
            restarted
                .signup("carol@example.com", PASSWORD, None, "c")
                .await
        )
        .0,
        403
    );

    let invitation = services
        .admin_create_invitation(
            &ada,
            &InvitationInput {
                email: Some("Erin@Example.com".into()),
                ..InvitationInput::default()
            },
        )
        .await
        .unwrap();
    services
        .admin_revoke_invitation(&ada, &invitation.invitation.id)
        .await
        .unwrap();
    // What changes nothing records nothing: enabling an enabled account, disabling a
    // disabled one.
    services.admin_enable_user(&ada, &bob.id).await.unwrap();
    services.admin_disable_user(&ada, &bob.id).await.unwrap();
    services.admin_disable_user(&ada, &bob.id).await.unwrap();
    services.admin_enable_user(&ada, &bob.id).await.unwrap();
    services.admin_enable_user(&ada, &bob.id).await.unwrap();
    services
        .admin_create_password_reset(&ada, &bob.id)
        .await
        .unwrap();
    services.admin_delete_user(&ada, &bob.id).await.unwrap();

    let mut entries = Vec::new();
    let mut cursor = None;
    loop {
        let page = services
            .admin_audit(&ada, &page(2, cursor.take()))
            .await
            .unwrap();
        assert!(page.entries.len() <= 2);
        entries.extend(page.entries);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let seen: Vec<_> = entries
        .iter()
        .map(|entry| {
            (
                entry.action,
                entry.target_id.clone(),
                entry.target_email.clone(),
                entry.detail.clone(),
            )
        })
        .collect();
    let bob_target = |action| (action, bob.id.clone(), Some(bob.email.clone()), None);
    assert_eq!(
        seen,
        [
            bob_target(AuditAction::DeleteUser),
            bob_target(AuditAction::PasswordResetLink),
            bob_target(AuditAction::EnableUser),
            bob_target(AuditAction::DisableUser),
            (
                AuditAction::RevokeInvitation,
                invitation.invitation.id.clone(),
                Some("erin@example.com".to_owned()),
                None
            ),
            (
                AuditAction::Invite,
                invitation.invitation.id.clone(),
                Some("erin@example.com".to_owned()),
                Some(format!(
                    "expires {}",
                    invitation.invitation.expires_at.to_rfc3339()
                ))
            ),
            (
                AuditAction::SignupPolicy,
                "signup".to_owned(),
                None,
                Some("closed".to_owned())
            ),
        ]
    );
    for entry in &entries {
        assert_eq!(entry.actor_id, ada.id);
        assert_eq!(entry.actor_email, "ada@example.com");
    }
    let times: Vec<_> = entries
        .iter()
        .map(|entry| (entry.at, entry.id.clone()))
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
}

/// An audit entry by `actor`, made by hand for changes a test makes through the store.
fn entry_by(actor: &User, action: AuditAction, target_id: &str) -> AuditEntry {
    AuditEntry {
        id: confab_core::ids::new_id(),
        at: DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("now"),
        actor_id: actor.id.clone(),
        actor_email: actor.email.clone(),
        action,
        target_id: target_id.to_owned(),
        target_email: None,
        detail: None,
    }
}

/// Every audit entry, newest first.
async fn whole_audit_log(store: &DynStore) -> Vec<AuditEntry> {
    store.list_audit(None, 1_000).await.unwrap()
}

/// An administrator's change and its audit entry are one: a change whose entry cannot be
/// written is not made (here the entry's id is taken, which fails its insert on either store),
/// and a change that finds nothing to change leaves no entry.
pub async fn an_admin_change_and_its_audit_entry_are_one(store: DynStore) {
    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;
    let first = entry_by(&ada, AuditAction::SignupPolicy, "signup");
    let set_closed = AdminChange::SetSetting {
        key: "signup".into(),
        value: "closed".into(),
    };
    assert!(store.audited(set_closed, first.clone()).await.unwrap());
    assert_eq!(whole_audit_log(&store).await, std::slice::from_ref(&first));

    // Every kind of change, each with an entry whose id is taken: refused, nothing changed.
    let invitation = StoredInvitation {
        id: "never-created".into(),
        token_hash: confab_core::auth::tokens::hash_secret("never-created"),
        email: None,
        created_by: ada.email.clone(),
        created_at: first.at,
        expires_at: first.at + Duration::days(1),
        used_at: None,
        used_by: None,
    };
    let reset = StoredPasswordReset {
        id: "never-created".into(),
        token_hash: confab_core::auth::tokens::hash_secret("never-created"),
        user_id: bob.id.clone(),
        created_at: first.at,
        expires_at: first.at + Duration::days(1),
        used_at: None,
    };
    let refused = [
        AdminChange::SetSetting {
            key: "signup".into(),
            value: "open".into(),
        },
        AdminChange::DisableUser {
            id: bob.id.clone(),
            at: first.at,
        },
        AdminChange::DeleteUser { id: bob.id.clone() },
        AdminChange::CreateInvitation(invitation),
        AdminChange::CreatePasswordReset(reset),
    ];
    for change in refused {
        let mut clash = entry_by(&ada, AuditAction::DeleteUser, &bob.id);
        clash.id = first.id.clone();
        assert!(
            store.audited(change.clone(), clash).await.is_err(),
            "{change:?} with a taken entry id"
        );
    }
    assert_eq!(whole_audit_log(&store).await, std::slice::from_ref(&first));
    assert_eq!(
        store.setting("signup").await.unwrap().as_deref(),
        Some("closed")
    );
    let found = store
        .credentials_by_email("bob@example.com")
        .await
        .unwrap()
        .expect("Bob is still there");
    assert_eq!((found.user, found.disabled_at), (bob.clone(), None));
    assert!(store
        .invitation_by_token_hash(&confab_core::auth::tokens::hash_secret("never-created"))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .password_reset_by_token_hash(&confab_core::auth::tokens::hash_secret("never-created"))
        .await
        .unwrap()
        .is_none());

    // Nothing to change, nothing recorded.
    let nothing = [
        AdminChange::EnableUser { id: bob.id.clone() },
        AdminChange::DeleteUser {
            id: "nobody".into(),
        },
        AdminChange::DeleteInvitation {
            id: "no-invitation".into(),
        },
    ];
    for change in nothing {
        let entry = entry_by(&ada, AuditAction::EnableUser, &bob.id);
        assert!(
            !store.audited(change.clone(), entry).await.unwrap(),
            "{change:?}"
        );
    }
    let disable = AdminChange::DisableUser {
        id: bob.id.clone(),
        at: first.at,
    };
    let disabled = entry_by(&ada, AuditAction::DisableUser, &bob.id);
    assert!(store
        .audited(disable.clone(), disabled.clone())
        .await
        .unwrap());
    let again = entry_by(&ada, AuditAction::DisableUser, &bob.id);
    assert!(!store.audited(disable, again).await.unwrap());
    let mut log = whole_audit_log(&store).await;
    log.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected = vec![first, disabled];
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(log, expected);
}

/// One-time secrets used at once from two nodes (two stores on one database: two SQLite
/// connections with a writer each, or two MongoDB clients), so the race is one the database
/// decides and not one a node's own writer orders. Eight sign-ups with one invitation, eight
/// provider sign-ins with another, four uses of one reset link: one of each wins.
pub async fn one_time_secrets_race_across_nodes(nodes: Vec<DynStore>) {
    assert!(nodes.len() >= 2, "two nodes at least");
    let config = ServiceConfig {
        signup: SignupPolicy::Closed,
        ..ServiceConfig::default()
    };
    let nodes: Vec<Services> = nodes
        .into_iter()
        .map(|store| Services::new(store, config.clone()))
        .collect();
    let node = |n: usize| nodes[n % nodes.len()].clone();
    let store = nodes[0].store().clone();
    let ada = user(&nodes[0], "ada@example.com").await;
    let no_terms = InvitationInput::default();
    let invite = || nodes[0].admin_create_invitation(&ada, &no_terms);
    let bobs = invite().await.unwrap();
    let bob = nodes[1]
        .signup_with_invitation("bob@example.com", PASSWORD, None, Some(&bobs.token), "b")
        .await
        .unwrap()
        .user;

    // Local sign-ups.
    let invitation = invite().await.unwrap();
    let local_token = invitation.token.clone();
    let racing = (0..8).map(|n| {
        let (services, token) = (node(n), invitation.token.clone());
        tokio::spawn(async move {
            let email = format!("local{n}@example.com");
            services
                .signup_with_invitation(&email, PASSWORD, None, Some(&token), &email)
                .await
                .map(|signed_in| signed_in.user)
        })
    });
    let created = the_one_winner(racing, |error: ServiceError| {
        assert_eq!(error.code(), "invitation_used")
    })
    .await;
    assert_eq!(store.count_users().await.unwrap(), 3);
    used_by(&store, &invitation.invitation.id, &created).await;

    // Provider sign-ins.
    let invitation = invite().await.unwrap();
    let provider_token = invitation.token.clone();
    let racing = (0..8).map(|n| {
        let (services, token) = (node(n), invitation.token.clone());
        tokio::spawn(async move {
            let identity = ExternalIdentity {
                provider: "idp".into(),
                subject: format!("p{n}"),
                email: Some(format!("p{n}@example.com")),
                email_verified: true,
                name: None,
            };
            services
                .external_sign_in_with_invitation(identity, Some(&token))
                .await
                .map(|signed_in| signed_in.user)
        })
    });
    let created = the_one_winner(racing, |error: ExternalSignInError| {
        assert_eq!(error.failure(), SignInFailure::InvitationUsed)
    })
    .await;
    assert_eq!(store.count_users().await.unwrap(), 4);
    used_by(&store, &invitation.invitation.id, &created).await;

    // One reset link.
    let link = node(1)
        .admin_create_password_reset(&ada, &bob.id)
        .await
        .unwrap();
    let racing = (0..4).map(|n| {
        let (services, token) = (node(n), link.token.clone());
        tokio::spawn(async move {
            let password = format!("new password {n}");
            services
                .reset_password(&token, &password)
                .await
                .map(|()| password)
        })
    });
    let set = the_one_winner(racing, |error: ServiceError| {
        assert_eq!(error.code(), "reset_token_invalid")
    })
    .await;
    for n in 0..2 {
        assert_eq!(
            node(n).login("bob@example.com", &set, "b").await.unwrap(),
            bob
        );
    }
    // Only the winner's password is in force: the old one and the losers' are refused.
    let refused = std::iter::once(PASSWORD.to_owned())
        .chain((0..4).map(|n| format!("new password {n}")))
        .filter(|password| *password != set);
    for password in refused {
        let attempt = node(0).login("bob@example.com", &password, "b").await;
        assert_eq!(
            code(attempt),
            (401, "bad_credentials", "invalid email or password".into()),
            "{password}"
        );
    }
    // The losers gave nothing back: the link stays used up, and so do both invitations.
    let link_again = node(1).reset_password(&link.token, "yet another one").await;
    assert_eq!(code(link_again).1, "reset_token_invalid");
    for (token, email) in [
        (&local_token, "late-local@example.com"),
        (&provider_token, "late-provider@example.com"),
    ] {
        let late = node(0)
            .signup_with_invitation(email, PASSWORD, None, Some(token), email)
            .await;
        assert_eq!(code(late).1, "invitation_used", "{email}");
    }
}

/// The one racer that succeeded; every other was refused as `refused` checks.
async fn the_one_winner<T: std::fmt::Debug, E>(
    racing: impl IntoIterator<Item = tokio::task::JoinHandle<Result<T, E>>>,
    refused: impl Fn(E),
) -> T {
    let mut won = Vec::new();
    for outcome in futures::future::join_all(racing).await {
        match outcome.expect("the racer ran") {
            Ok(value) => won.push(value),
            Err(error) => refused(error),
        }
    }
    assert_eq!(won.len(), 1, "{won:?}");
    won.remove(0)
}

/// The invitation `id` is stored as used by `user`.
async fn used_by(store: &DynStore, id: &str, user: &User) {
    let invitation = store.invitation_by_id(id).await.unwrap().expect("kept");
    assert_eq!(invitation.used_by.as_deref(), Some(user.id.as_str()));
    assert!(invitation.used_at.is_some());
}

/// API tokens are made under the credentials stamp of what asked for them (a sign-in, or a
/// token), and count only while the account's password is the one they were made under. A
/// request that checked the old password before a reset and writes its new token after the
/// reset's sweep makes a token that never works; one made under the new password works.
pub async fn a_reset_stops_the_tokens_of_the_old_password(store: DynStore) {
    use confab_core::auth::tokens::{generate_secret, hash_secret};
    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;
    let old = services
        .authenticate("bob@example.com", PASSWORD, "b")
        .await
        .unwrap();
    let old_stamp = old.stamp().to_owned();

    // A token from the sign-in, and one that token made: both under the old password.
    let first = services
        .create_token(&bob, "laptop", Some(&old_stamp))
        .await
        .unwrap();
    let (holder, made_under) = services.user_for_token(&first.token).await.unwrap();
    assert_eq!(
        (holder, made_under.as_deref()),
        (bob.clone(), Some(old_stamp.as_str()))
    );
    let second = services
        .create_token(&bob, "script", made_under.as_deref())
        .await
        .unwrap();
    assert_eq!(services.user_for_token(&second.token).await.unwrap().0, bob);

    let link = services
        .admin_create_password_reset(&ada, &bob.id)
        .await
        .unwrap();
    services
        .reset_password(&link.token, "a new password")
        .await
        .unwrap();
    // The late write: a token of the old password, stored after the reset.
    let late = generate_secret();
    store
        .create_token(
            &bob.id,
            "late",
            "late",
            &hash_secret(&late),
            Some(&old_stamp),
        )
        .await
        .unwrap();
    for token in [first.token.as_str(), second.token.as_str(), late.as_str()] {
        assert!(
            matches!(
                services.user_for_token(token).await,
                Err(ServiceError::Unauthorized)
            ),
            "{token}"
        );
    }
    // Another node, with nothing cached, agrees about the late one.
    let elsewhere = super::services(store.clone());
    assert!(matches!(
        elsewhere.user_for_token(&late).await,
        Err(ServiceError::Unauthorized)
    ));

    // Made under the new password, a token works.
    let new = services
        .authenticate("bob@example.com", "a new password", "b")
        .await
        .unwrap();
    assert_ne!(new.stamp(), old_stamp);
    let fresh = services
        .create_token(&bob, "laptop", Some(new.stamp()))
        .await
        .unwrap();
    let (holder, made_under) = services.user_for_token(&fresh.token).await.unwrap();
    assert_eq!((holder, made_under.as_deref()), (bob, Some(new.stamp())));
}
