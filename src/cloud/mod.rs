//! Everything that knows the cloud: endpoints, credentials, the AK/SK signer, the HTTP client and
//! the wire model. This is the only place where API strings become domain enums.

pub mod auth;
pub mod client;
pub mod described;
pub mod endpoint;
pub mod error;
pub mod http;
pub mod iam;
pub mod service;
pub mod service_ref;
pub mod shapes;
pub mod signer;
pub mod wire;
