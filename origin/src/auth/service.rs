//! Auth service (being written).
