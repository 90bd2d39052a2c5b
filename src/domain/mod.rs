//! The rules of each feature, in one place, used by the REST routes and the
//! gateway alike.

pub mod patch;
