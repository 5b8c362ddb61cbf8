//! Screens of the app. Each page gets its data from [`crate::hooks`], never from IPC directly.

mod about;

pub use about::About;
