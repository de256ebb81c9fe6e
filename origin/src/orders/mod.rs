//! Orders (being written).
pub mod http;
