//! [`Flusher`]: one background thread that syncs logs under `Durability::Interval`.

/// Syncs registered logs periodically.
pub struct Flusher {}
