//! Vouch companion server: see docs/ARCHITECTURE.md. Filled in by its own issue.
