//! Plain components shared by the pages: they render what they are given and call no hooks
//! that talk to the shell.

mod icons;
mod identity;
mod notice;
mod progress;

pub use icons::Icon;
pub use identity::{role_name, IdentityCard};
pub use notice::{Notice, NoticeKind};
pub use progress::ProgressBar;
