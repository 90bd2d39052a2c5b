//! The rules of each feature, used by REST and the gateway alike: pure
//! functions that take plain data and return decisions, unit-tested beside them.

pub mod privacy;
pub mod relationships;
