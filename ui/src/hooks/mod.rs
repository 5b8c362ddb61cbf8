//! Yew hooks that load data from the Tauri shell through [`crate::ipc`].

mod app_version;

pub use app_version::use_app_version;

use crate::error::IpcError;

/// A value that is fetched from the shell: still on its way, there, or failed.
#[derive(Clone, Debug, PartialEq)]
pub enum Remote<T> {
    /// The call has not answered yet.
    Loading,
    /// The call answered with this value.
    Ready(T),
    /// The call failed.
    Failed(IpcError),
}

impl<T> From<Result<T, IpcError>> for Remote<T> {
    fn from(result: Result<T, IpcError>) -> Self {
        match result {
            Ok(value) => Self::Ready(value),
            Err(err) => Self::Failed(err),
        }
    }
}
