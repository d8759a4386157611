//! `dispatch`, the one layer every request goes through, in AWS and locally: the operation's
//! shape (`Operation`), its request's idempotency and write context, panics turned into 500s. The
//! route table that names the operations is `operations::routes`.

use crate::http::api::{ApiRequest, ApiResponse};
use crate::http::error::ApiError;
use crate::state::AppState;
use futures::future::BoxFuture;
use futures::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;

/// What an operation answers: a response, or the error that ends the request (`dispatch` turns
/// it into its envelope with the request's id).
pub type Answer = Result<ApiResponse, ApiError>;

pub type Handler = for<'a> fn(&'a AppState, ApiRequest) -> BoxFuture<'a, Answer>;

/// An operation: `async fn handle(&AppState, ApiRequest) -> Answer` (every module under
/// `operations/`), or a route's `Handler`. Spelled as a trait so the future may borrow the state.
pub trait Operation<'a>: Fn(&'a AppState, ApiRequest) -> Self::Future {
    type Future: Future<Output = Answer> + Send + 'a;
}

impl<'a, F, Fut> Operation<'a> for F
where
    F: Fn(&'a AppState, ApiRequest) -> Fut,
    Fut: Future<Output = Answer> + Send + 'a,
{
    type Future = Fut;
}

/// Runs a handler under its `Idempotency-Key` (POST only, see `idempotency`) on the request's own
/// state (`AppState::for_request`), turning a panic (a bug) into a 500 with the request id
/// instead of a dead process. `invocation_deadline` is the Lambda invocation's, less the margin
/// the last write needs (`lambda_adapter::write_deadline`), when the adapter knows one.
pub async fn dispatch<H>(
    state: &AppState,
    handler: H,
    req: ApiRequest,
    invocation_deadline: Option<std::time::Instant>,
) -> ApiResponse
where
    H: for<'a> Operation<'a>,
{
    let request_id = req.request_id.clone();
    let (method, path, org) = (req.method.clone(), req.path.clone(), req.auth.org_id);
    let started = std::time::Instant::now();
    // No storage call of the request waits for its turn past this deadline, and no write starts
    // another attempt after it (`admission`, `linkage_write`).
    let mut deadline = started + state.config.write_request_budget;
    if let Some(earlier) = invocation_deadline {
        deadline = deadline.min(earlier);
    }
    let guarded = crate::http::idempotency::guard(state, req, Some(deadline), |req, context| async move {
        let state = state.for_request(context);
        // Boxed: operation futures are large, and a request's future is polled on the thread's stack.
        match AssertUnwindSafe(Box::pin(handler(&state, req))).catch_unwind().await {
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) => ApiResponse::from(e.for_request(&request_id)),
            Err(_) => {
                tracing::error!("handler panicked");
                ApiResponse::from(ApiError::internal(&request_id))
            }
        }
    });
    let resp = guarded.await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    tracing::info!(%method, %path, org, status = resp.status, elapsed_ms, "request handled");
    resp
}
