//! Who this install is, and whether the server can be reached.

use serde_json::Value;
use vouch_protocol::wire::AppErrorCode;
use yew::prelude::*;

use super::{use_interval, use_remote, Remote};
use crate::error::IpcError;
use crate::ipc::{self, Whoami};

/// The install's identity, shared through a context by the app.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// `Ready(who)` once joined; `Failed` with code `not_registered` before joining.
    pub who: Remote<Whoami>,
    /// The invite the app was launched with, if any (joined automatically on first run).
    pub launch_invite: Option<String>,
    /// Reads the identity again (after joining).
    pub refresh: Callback<()>,
    /// Who joined a moment ago, while the join screen still shows the identity card.
    pub just_joined: Option<Whoami>,
    /// Tells the app who just joined (the header follows at once).
    pub announce: Callback<Whoami>,
}

impl Session {
    /// Whether the install has not joined a server yet.
    pub fn needs_join(&self) -> bool {
        matches!(&self.who, Remote::Failed(e) if e.is(AppErrorCode::NotRegistered))
    }

    /// The identity, once joined (or just joined).
    pub fn joined(&self) -> Option<&Whoami> {
        self.who.ready().or(self.just_joined.as_ref())
    }
}

/// Loads the identity and the launch invite (used once, by the app, to provide the context).
#[hook]
pub fn use_session() -> Session {
    let who = use_remote((), |()| ipc::whoami());
    let invite = use_remote((), |()| ipc::launch_invite());
    let just_joined = use_state(|| None::<Whoami>);
    let announce = {
        let just_joined = just_joined.clone();
        Callback::from(move |who: Whoami| just_joined.set(Some(who)))
    };
    Session {
        who: who.value,
        launch_invite: invite.value.ready().cloned().flatten(),
        refresh: who.reload,
        just_joined: (*just_joined).clone(),
        announce,
    }
}

/// Whether the server answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Connectivity {
    /// Not checked yet (or not joined).
    Unknown,
    /// The server answered and accepts this install.
    Online,
    /// The server cannot be reached.
    Offline(String),
    /// The server answered but refused this install (revoked, certificate problem).
    Refused(String),
}

/// Connectivity and a way to check again, shared through a context by the app.
#[derive(Clone, Debug, PartialEq)]
pub struct Online {
    /// The last result.
    pub state: Connectivity,
    /// Checks again now.
    pub check: Callback<()>,
}

/// How often the server is asked, in milliseconds.
const CHECK_EVERY_MS: u32 = 20_000;

fn connectivity(result: &Remote<Value>) -> Connectivity {
    match result {
        Remote::Loading => Connectivity::Unknown,
        Remote::Ready(_) => Connectivity::Online,
        Remote::Failed(e) if e.is(AppErrorCode::Offline) => Connectivity::Offline(e.to_string()),
        Remote::Failed(e)
            if e.is(AppErrorCode::NotRegistered) || e.is(AppErrorCode::NotInTauri) =>
        {
            Connectivity::Unknown
        }
        Remote::Failed(e) => Connectivity::Refused(e.to_string()),
    }
}

/// Asks the server who this install is every 20 seconds while `joined` (`GET /v1/me`).
#[hook]
pub fn use_connectivity(joined: bool) -> Online {
    let status = use_remote(joined, |joined| async move {
        if joined {
            ipc::server_status().await
        } else {
            Err(IpcError::Command {
                command: "server_status".into(),
                code: AppErrorCode::NotRegistered.as_str().into(),
                message: "not joined yet".into(),
                detail: None,
                facts: None,
            })
        }
    });
    use_interval(CHECK_EVERY_MS, status.reload.clone());
    Online {
        state: connectivity(&status.value),
        check: status.reload,
    }
}
