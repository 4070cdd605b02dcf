//! Who is signed in, and what stands in the way of signing in: the header's user badge (name,
//! roles, sign out) and the banner that says why the page cannot go on.

use leptos::prelude::*;

use crate::store::use_store;

/// The signed-in user's name and roles with a sign-out button; nothing when the page does
/// not sign in.
#[component]
pub fn UserBadge() -> impl IntoView {
    let store = use_store();
    move || {
        let identity = store.identity.get()?;
        let name = identity.name.clone().or(identity.user_id.clone()).unwrap_or_default();
        let (roles, open) = if identity.signed_in {
            let roles = if identity.roles.is_empty() { "no role".to_string() } else { identity.roles.join(", ") };
            (roles, false)
        } else {
            ("the functions are open to anyone".to_string(), true)
        };
        let sites = match &identity.sites {
            Some(sites) if sites.is_empty() => "no site".to_string(),
            Some(sites) => sites.join(", "),
            None => "every site".to_string(),
        };
        Some(view! {
            <span class="user-badge" class:warn=open data-testid="signed-in">
                <span class="user-name" data-testid="signed-in-user" title=format!("sites: {sites}")>{name}</span>
                " "
                <span class="user-roles" data-testid="signed-in-roles">{roles}</span>
                " "
                <button type="button" data-testid="sign-out" on:click=|_| crate::auth::sign_out()>"Sign out"</button>
            </span>
        })
    }
}

/// Why signing in failed, or what the functions refused, with a way to sign in again.
#[component]
pub fn AuthProblem() -> impl IntoView {
    let store = use_store();
    move || {
        let problem = store.auth_problem.get()?;
        Some(view! {
            <p class="note auth-problem" role="alert" data-testid="auth-problem">
                {problem} " "
                // Only where the page signs in (a functions side that wants a sign-in the
                // config does not offer has nothing to retry).
                <button type="button" data-testid="sign-in-again" hidden=!crate::auth::configured() on:click=|_| {
                    leptos::task::spawn_local(crate::auth::sign_in_again());
                }>"Sign in again"</button>
            </p>
        })
    }
}
