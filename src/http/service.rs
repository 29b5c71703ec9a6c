//! What every server in this crate is, and the shape of the small tower services that wrap it
//! (the request log, the Origin guard, CORS, bearer auth).

use std::convert::Infallible;

use axum::extract::Request;
use axum::response::Response;
use tower::Service;

/// What every server in this crate is: an HTTP service that always answers (`Infallible`) and
/// can be shared by connections. An [`axum::Router`] is one; so is a router wrapped in the Origin guard
/// (`origin_guard::Guarded`) or in CORS.
pub trait HttpService:
    Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> HttpService for S where
    S: Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// The answer of a layer written as a plain tower service: boxed, once per request.
pub type BoxedResponse =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Infallible>> + Send>>;
