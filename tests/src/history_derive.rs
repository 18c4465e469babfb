//! A domain event of the history (`crate::history`) converted by `#[derive(IntegrationEvent)]`
//! (`fixtures/history/derive.yaml`): a recursive named message mapping and a value computed
//! from the whole event.

use crate::history::domain::Failure;

/// An activity failed.
#[derive(Debug, Clone, PartialEq, eventmap::IntegrationEvent)]
#[integration(mappings = "fixtures/history/derive.yaml")]
pub struct ActivityFailed {
    /// The workflow.
    pub workflow_id: String,
    /// The activity's number in the workflow.
    pub sequence: u32,
    /// Why it failed.
    pub failure: Failure,
    /// The attempt that failed.
    pub attempt: i32,
}

/// `<workflow id>/<sequence>`: the activity's id, computed from the whole event.
pub fn activity_id(event: &ActivityFailed) -> String {
    format!("{}/{}", event.workflow_id, event.sequence)
}
