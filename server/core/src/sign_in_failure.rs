//! Why a sign-in through a provider failed, as the code the callback puts in the sign-in
//! page's address (`/?auth_error=bad_state`). Only the code travels in the link: the page
//! shows Confab's own sentence for it, so a link someone else made cannot put words on the
//! sign-in page.

/// A provider sign-in that did not end signed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInFailure {
    UnknownProvider,
    Denied,
    BadState,
    Expired,
    CodeRejected,
    InvalidToken,
    Unreachable,
    Protocol,
    NoEmail,
    DomainNotAllowed,
    UnverifiedEmail,
    SignupClosed,
    /// An administrator disabled the account.
    AccountDisabled,
    /// The invitation the sign-in carried is unknown or revoked.
    InvitationInvalid,
    InvitationUsed,
    InvitationExpired,
    /// The invitation is bound to another email than the one the provider verified.
    InvitationEmailMismatch,
    /// Anything else, and any code this server does not know.
    NotCompleted,
}

impl SignInFailure {
    /// Every failure, for reading a code back.
    pub const ALL: [SignInFailure; 18] = [
        SignInFailure::UnknownProvider,
        SignInFailure::Denied,
        SignInFailure::BadState,
        SignInFailure::Expired,
        SignInFailure::CodeRejected,
        SignInFailure::InvalidToken,
        SignInFailure::Unreachable,
        SignInFailure::Protocol,
        SignInFailure::NoEmail,
        SignInFailure::DomainNotAllowed,
        SignInFailure::UnverifiedEmail,
        SignInFailure::SignupClosed,
        SignInFailure::AccountDisabled,
        SignInFailure::InvitationInvalid,
        SignInFailure::InvitationUsed,
        SignInFailure::InvitationExpired,
        SignInFailure::InvitationEmailMismatch,
        SignInFailure::NotCompleted,
    ];

    /// The code in the address (ASCII letters and underscores: nothing to escape).
    pub fn code(self) -> &'static str {
        match self {
            SignInFailure::UnknownProvider => "unknown_provider",
            SignInFailure::Denied => "denied",
            SignInFailure::BadState => "bad_state",
            SignInFailure::Expired => "expired",
            SignInFailure::CodeRejected => "code_rejected",
            SignInFailure::InvalidToken => "invalid_token",
            SignInFailure::Unreachable => "unreachable",
            SignInFailure::Protocol => "protocol",
            SignInFailure::NoEmail => "no_email",
            SignInFailure::DomainNotAllowed => "domain_not_allowed",
            SignInFailure::UnverifiedEmail => "unverified_email",
            SignInFailure::SignupClosed => "signup_closed",
            SignInFailure::AccountDisabled => "account_disabled",
            SignInFailure::InvitationInvalid => "invitation_invalid",
            SignInFailure::InvitationUsed => "invitation_used",
            SignInFailure::InvitationExpired => "invitation_expired",
            SignInFailure::InvitationEmailMismatch => "invitation_email_mismatch",
            SignInFailure::NotCompleted => "not_completed",
        }
    }

    /// The failure a code names; a code this server never sends reads as `NotCompleted`.
    pub fn from_code(code: &str) -> SignInFailure {
        SignInFailure::ALL
            .into_iter()
            .find(|failure| failure.code() == code)
            .unwrap_or(SignInFailure::NotCompleted)
    }

    /// What the sign-in page says.
    pub fn sentence(self) -> &'static str {
        match self {
            SignInFailure::UnknownProvider => "this sign-in provider is not set up here.",
            SignInFailure::Denied => "the sign-in was cancelled or refused at the provider.",
            SignInFailure::BadState => {
                "the sign-in request does not match the one this browser started; start again."
            }
            SignInFailure::Expired => "the sign-in took too long; start again.",
            SignInFailure::CodeRejected => "the provider did not accept the sign-in; start again.",
            SignInFailure::InvalidToken => "the provider's answer could not be verified.",
            SignInFailure::Unreachable => "the provider could not be reached; try again later.",
            SignInFailure::Protocol => "the provider answered something unexpected.",
            SignInFailure::NoEmail => "the provider did not share an email address.",
            SignInFailure::DomainNotAllowed => "accounts of this email domain may not sign in here.",
            SignInFailure::UnverifiedEmail => {
                "an account with this email exists; the provider has not verified the email, so it cannot be linked."
            }
            SignInFailure::SignupClosed => {
                "sign-up is closed on this instance; ask an administrator for an account."
            }
            SignInFailure::AccountDisabled => {
                "this account is disabled; ask an administrator."
            }
            SignInFailure::InvitationInvalid => {
                "this invitation is not valid; ask an administrator for a new one."
            }
            SignInFailure::InvitationUsed => {
                "this invitation was used already; ask an administrator for a new one."
            }
            SignInFailure::InvitationExpired => {
                "this invitation has expired; ask an administrator for a new one."
            }
            SignInFailure::InvitationEmailMismatch => {
                "this invitation is for another email address: sign in with the invited one, verified by the provider."
            }
            SignInFailure::NotCompleted => "the sign-in could not be completed; try again.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_as_its_failure() {
        for failure in SignInFailure::ALL {
            assert_eq!(SignInFailure::from_code(failure.code()), failure);
            assert!(failure
                .code()
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte == b'_'));
        }
    }

    #[test]
    fn a_code_this_server_never_sends_reads_as_not_completed() {
        for code in ["", "Denied", "<b>hacked</b>", "denied ", "call +1 555 0100"] {
            assert_eq!(SignInFailure::from_code(code), SignInFailure::NotCompleted);
        }
    }
}
