//! The domain: ids, permissions and the records Hearth keeps, with the pure
//! rules that govern them. Nothing here does I/O.

pub mod embed;
pub mod emoji;
pub mod ids;
pub mod limits;
pub mod mentions;
pub mod message;
pub mod permissions;
pub mod relationships;
pub mod snapshot;
pub mod types;
pub mod validate;

pub use ids::Id;
pub use message::*;
pub use permissions::Permissions;
pub use types::*;
