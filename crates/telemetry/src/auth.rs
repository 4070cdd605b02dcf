//! Who is calling: what the functions tell a dashboard about its signed-in user
//! (`GET {apiBase}/me`), so the page can name them and say what they may not do before they
//! try. The functions decide every request themselves; this only describes their decision.
//!
//! When the functions require no sign-in (`signedIn: false`), anyone who reaches them may read
//! every site and acknowledge under any name: the deployment is open.

use serde::{Deserialize, Serialize};

/// `GET {apiBase}/me`.
pub const ME_PATH: &str = "me";

/// The role that reads (snapshot, catalog, history, live data of its sites).
pub const ROLE_VIEWER: &str = "viewer";
/// The role that also acknowledges, shelves, takes devices out of service and edits geofences.
pub const ROLE_OPERATOR: &str = "operator";

/// The caller as the functions see them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// Whether the functions checked a bearer token (false: an open deployment, everything
    /// below is then empty and `mayOperate` true).
    pub signed_in: bool,
    /// The user's id (the token's subject), also the SignalR user id (`nameid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The name acknowledgements and shelving are recorded under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The roles granted (`viewer`, `operator`).
    #[serde(default)]
    pub roles: Vec<String>,
    /// The sites the user may see; absent: every site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sites: Option<Vec<String>>,
    /// Whether the user may acknowledge, shelve, take out of service and edit geofences.
    pub may_operate: bool,
}

impl Identity {
    /// The identity of every caller of an open deployment.
    pub fn open() -> Self {
        Self { may_operate: true, ..Self::default() }
    }

    /// Whether `site` is one the user may see.
    pub fn sees(&self, site: &str) -> bool {
        self.sites.as_ref().is_none_or(|sites| sites.iter().any(|s| s == site))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_shape_is_camel_case_and_every_site_is_no_list() {
        let open = serde_json::to_value(Identity::open()).unwrap();
        assert_eq!(open, serde_json::json!({"signedIn": false, "roles": [], "mayOperate": true}));
        let alice = Identity {
            signed_in: true,
            user_id: Some("alice".into()),
            name: Some("Alice".into()),
            roles: vec![ROLE_OPERATOR.into()],
            sites: Some(vec!["north".into()]),
            may_operate: true,
        };
        let wire = serde_json::to_string(&alice).unwrap();
        assert_eq!(serde_json::from_str::<Identity>(&wire).unwrap(), alice);
        assert!(wire.contains("\"userId\":\"alice\""), "{wire}");
        assert!(alice.sees("north") && !alice.sees("south"));
        assert!(Identity::open().sees("anywhere"));
    }
}
