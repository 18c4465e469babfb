//! How requests the service refuses and failed commands become gRPC statuses.

use eventmap::StoreError;
use tonic::{Code, Status};

use crate::application::CommandError;
use crate::domain::order::OrderError;

/// A request refused before any command runs (`INVALID_ARGUMENT`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRequest {
    /// A required field is empty.
    #[error("`{0}` is required")]
    Missing(&'static str),
    /// A field holds something the service cannot use.
    #[error("`{field}` {problem}")]
    Malformed {
        /// The field, as the proto names it (`items[1].product_id`).
        field: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

impl From<InvalidRequest> for Status {
    fn from(error: InvalidRequest) -> Status {
        Status::invalid_argument(error.to_string())
    }
}

/// The gRPC code of a failed command:
///
/// | error | code |
/// |---|---|
/// | an order the domain refuses (no items, a quantity of 0, mixed currencies, overflow) | `INVALID_ARGUMENT` |
/// | a transition the order's status does not allow | `FAILED_PRECONDITION` |
/// | unknown order | `NOT_FOUND` |
/// | creating an order whose id is taken (a conflict on a new aggregate) | `ALREADY_EXISTS` |
/// | the order was saved by someone else since it was loaded | `ABORTED` |
/// | the store or the dispatch after save failed | `INTERNAL` |
pub fn code(error: &CommandError) -> Code {
    match error {
        CommandError::Domain(OrderError::IllegalTransition { .. }) => Code::FailedPrecondition,
        CommandError::Domain(_) => Code::InvalidArgument,
        CommandError::Store(StoreError::NotFound { .. }) => Code::NotFound,
        CommandError::Store(StoreError::Conflict { expected: 0, .. }) => Code::AlreadyExists,
        CommandError::Store(StoreError::Conflict { .. }) => Code::Aborted,
        CommandError::Store(_) => Code::Internal,
    }
}

/// The status a failed command answers with: [`code`] and the error's message. Internal
/// failures are also logged (`error` level), since the caller cannot fix them.
pub fn command_status(error: &CommandError) -> Status {
    let code = code(error);
    if code == Code::Internal {
        tracing::error!(error = %error, "command failed");
    }
    Status::new(code, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::OrderStatus;

    fn conflict(expected: u64) -> CommandError {
        CommandError::Store(StoreError::Conflict {
            aggregate: "Order",
            id: "o-1".into(),
            expected,
            actual: expected + 1,
        })
    }

    #[test]
    fn each_failure_has_its_code() {
        let cases = [
            (
                CommandError::Domain(OrderError::NoItems),
                Code::InvalidArgument,
            ),
            (
                CommandError::Domain(OrderError::ZeroQuantity("tea".into())),
                Code::InvalidArgument,
            ),
            (
                CommandError::Domain(OrderError::TotalOverflow),
                Code::InvalidArgument,
            ),
            (
                CommandError::Domain(OrderError::IllegalTransition {
                    action: "complete",
                    status: OrderStatus::Pending,
                }),
                Code::FailedPrecondition,
            ),
            (
                CommandError::Store(StoreError::NotFound {
                    aggregate: "Order",
                    id: "o-1".into(),
                }),
                Code::NotFound,
            ),
            (conflict(0), Code::AlreadyExists),
            (conflict(3), Code::Aborted),
            (
                CommandError::Store(StoreError::Backend("connection refused".into())),
                Code::Internal,
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(code(&error), expected, "{error}");
        }
    }

    #[test]
    fn the_status_carries_the_message() {
        let status = command_status(&conflict(3));
        assert_eq!(status.code(), Code::Aborted);
        assert_eq!(
            status.message(),
            "Order `o-1` was modified concurrently: expected version 3, stored version is 4"
        );
        let invalid = Status::from(InvalidRequest::Missing("order_id"));
        assert_eq!(invalid.code(), Code::InvalidArgument);
        assert_eq!(invalid.message(), "`order_id` is required");
    }
}
