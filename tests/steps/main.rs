//! The integration-test crate: one module per step, each talking real HTTP to the library's layers.

mod properties;
mod step10;
mod step9;
