//! Part 2, steps 5–8: the resource server's side of OAuth — keys and the JWKS, token minting,
//! bearer authentication, the caller's identity, OAuth metadata, the scope policy and the
//! verified-token cache.

pub mod bearer_auth;
pub mod dpop;
pub mod identity;
pub mod jwks;
pub mod keys;
pub mod metadata;
pub mod policy;
pub mod token;
pub mod token_cache;
