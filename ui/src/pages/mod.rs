//! Screens of the app. Each page gets its data and actions from [`crate::hooks`], never from
//! IPC directly, and renders [`crate::components`].

mod join;
mod queue;
mod review;
mod scan;
mod settings;

pub use join::Join;
pub use queue::Queue;
pub use review::Review;
pub use scan::Scan;
pub use settings::Settings;
