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

pin_project_lite::pin_project! {
    /// The future of a layer that either answers itself or hands the request on: an answer ready
    /// at once, the inner service's own future (not boxed: the common path allocates nothing
    /// here), or a boxed one for the rare path that has to wait for something else first.
    #[project = AnswerProj]
    pub enum Answer<F> {
        /// An answer given by the layer itself (e.g. a refusal).
        Now { response: Option<Response> },
        /// The inner service's answer.
        Inner { #[pin] future: F },
        /// Work of the layer's own before or around the inner service.
        Boxed { future: BoxedResponse },
    }
}

impl<F> Answer<F> {
    /// An answer given at once.
    pub fn now(response: Response) -> Self {
        Self::Now {
            response: Some(response),
        }
    }
}

impl<F: std::future::Future<Output = Result<Response, Infallible>>> std::future::Future
    for Answer<F>
{
    type Output = Result<Response, Infallible>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match self.project() {
            AnswerProj::Now { response } => std::task::Poll::Ready(Ok(response
                .take()
                .expect("an Answer is not polled after it is ready"))),
            AnswerProj::Inner { future } => future.poll(cx),
            AnswerProj::Boxed { future } => future.as_mut().poll(cx),
        }
    }
}

/// Does the request announce a body (RFC 9112 §6.3: `Transfer-Encoding`, or a `Content-Length`
/// above 0)?
pub fn announces_body(headers: &axum::http::HeaderMap) -> bool {
    use axum::http::header;
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes().trim_ascii() != b"0")
}

/// Marks an answer given before the request's body was read: the server will not read the rest
/// of that body, so the connection cannot carry another request. `Connection: close` says so,
/// and a client opens a new connection instead of writing into a closed one (RFC 9112 §9.6).
pub fn close_after(response: &mut Response) {
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
}
