//! Giving up on a message: dead-lettering it (when the policy has a dead-letter channel) and
//! settling it, for undecodable messages and those past their last allowed delivery.

use async_nats::jetstream::AckKind;
use tracing::Instrument;

use super::guard::Admission;
use super::{ConsumeError, Consumer, ConsumerReport};
use crate::decode::{DecodeError, IntegrationEventSet};
use crate::nats::dead_letter::{self, DeadLetter};
use crate::nats::delivery::{Delivery, Received};

/// How [`Consumer::settle`] left a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Settled {
    /// Handled and acked (the ack may still be lost: then it is redelivered).
    Handled,
    /// Given up: dead-lettered then acked, or terminated.
    GivenUp,
    /// Naked for a later redelivery (a failure before the last delivery, or a dead-letter
    /// publish that failed).
    Retried,
}

impl<E: IntegrationEventSet> Consumer<E> {
    /// Settles `delivery` by the handler's `outcome` and counts it in `report` (see
    /// [`Consumer::run`]): `Ok` acks (confirmed unless `double_ack` is off); `Err` on the
    /// last allowed delivery (or past it) dead-letters and acks; an earlier `Err` naks with
    /// the policy's backoff.
    pub(super) async fn settle(
        &self,
        delivery: Delivery<E>,
        outcome: Result<(), String>,
        report: &mut ConsumerReport,
    ) -> Settled {
        let policy = &self.spec.policy;
        match outcome {
            Ok(()) => {
                report.handled += 1;
                let acked = if policy.double_ack {
                    delivery.ack.send(AckKind::Ack, "ack").await
                } else {
                    delivery.ack.send_unconfirmed(AckKind::Ack, "ack").await
                };
                if let Err(err) = acked {
                    tracing::warn!(error = %crate::error::ErrorChain(&err), "ack failed; the message will be redelivered");
                }
                Settled::Handled
            }
            Err(error) if delivery.delivered >= self.max_deliver() => {
                tracing::error!(%error, "handler failed on the last allowed delivery; giving up");
                let received = Received::from(delivery);
                if self.give_up(&received, &error, AckKind::Ack).await {
                    report.dead_lettered += 1;
                    Settled::GivenUp
                } else {
                    report.failed += 1;
                    Settled::Retried
                }
            }
            Err(error) => {
                report.failed += 1;
                let delay = policy.nak_delay(delivery.delivered);
                tracing::warn!(%error, ?delay, "handler failed; requesting redelivery");
                if let Err(err) = delivery.ack.send(AckKind::Nak(delay), "nak").await {
                    tracing::warn!(error = %crate::error::ErrorChain(&err), "nak failed; the message will be redelivered after the ack wait");
                }
                Settled::Retried
            }
        }
    }

    /// Puts `received` before the contract guard: `Ok(Some)` to decode and handle it;
    /// `Ok(None)` when the guard settled it (dead-lettered and terminated, or naked with the
    /// backoff because the registry could not be read), counted in `report`; `Err` when the
    /// consumer must stop (policy `Refuse`), after naking the message at once.
    pub(super) async fn screen(
        &self,
        received: Received,
        report: &mut ConsumerReport,
    ) -> Result<Option<Received>, ConsumeError> {
        match self.guard.admit(&received).await {
            Admission::Handle => Ok(Some(received)),
            Admission::Refuse(error) => {
                tracing::error!(
                    subject = received.subject(),
                    stream_sequence = received.stream_sequence,
                    error = %crate::error::ErrorChain(&error),
                    "incompatible producer contract: the consumer stops without handling the message"
                );
                if let Err(err) = received.ack.send(AckKind::Nak(None), "nak").await {
                    tracing::warn!(error = %crate::error::ErrorChain(&err), "nak failed; the message will be redelivered after the ack wait");
                }
                Err(ConsumeError::IncompatibleContract(error))
            }
            Admission::DeadLetter(error) => {
                tracing::error!(
                    subject = received.subject(),
                    stream_sequence = received.stream_sequence,
                    %error,
                    "incompatible producer contract: dead-lettering and terminating the message"
                );
                if self.give_up(&received, &error, AckKind::Term).await {
                    report.rejected += 1;
                } else {
                    report.failed += 1;
                }
                Ok(None)
            }
            Admission::Retry(error) => {
                report.failed += 1;
                let delay = self.spec.policy.nak_delay(received.delivered);
                tracing::warn!(%error, ?delay, "contract not judged; requesting redelivery");
                if let Err(err) = received.ack.send(AckKind::Nak(delay), "nak").await {
                    tracing::warn!(error = %crate::error::ErrorChain(&err), "nak failed; the message will be redelivered after the ack wait");
                }
                Ok(None)
            }
        }
    }

    /// Why `delivery` is not handed over again: it was delivered more than
    /// [`max_deliver`](super::DeliveryPolicy::max_deliver) times, so the earlier deliveries
    /// ended without an outcome. `None` while it may be handled.
    pub(super) fn exhausted(&self, delivery: &Delivery<E>) -> Option<String> {
        let max_deliver = self.max_deliver();
        (delivery.delivered > max_deliver).then(|| {
            format!(
                "delivered {} times, more than max_deliver {max_deliver}: the earlier deliveries \
                 ended without an outcome (process stopped, ack lost or dead-letter publish \
                 failed); not handled again",
                delivery.delivered
            )
        })
    }

    /// [`DeliveryPolicy::max_deliver`](super::DeliveryPolicy::max_deliver) as a count.
    pub(super) fn max_deliver(&self) -> u64 {
        u64::try_from(self.spec.policy.max_deliver).unwrap_or(1)
    }

    /// Logs an undecodable message, dead-letters it (if the policy has a channel) and
    /// terminates it, in a `consume` span. Returns `false` when the dead letter could not be
    /// published (the message is then naked with the backoff).
    pub(super) async fn reject(&self, received: &Received, reason: &DecodeError) -> bool {
        let span = tracing::info_span!(
            "consume",
            subject = received.subject(),
            stream_sequence = received.stream_sequence,
            ce_id = received.header(crate::message::headers::ID).unwrap_or(""),
            ce_type = received.header(crate::message::headers::TYPE).unwrap_or(""),
            delivered = received.delivered,
            durable = %self.spec.durable,
        );
        async {
            tracing::error!(
                subject = received.subject(),
                stream_sequence = received.stream_sequence,
                reason = %reason,
                "undecodable integration message; dead-lettering and terminating it"
            );
            let error = dead_letter::error_chain(reason);
            self.give_up(received, &error, AckKind::Term).await
        }
        .instrument(span)
        .await
    }

    /// Dead-letters `received` (if the policy has a channel), then settles it with `settle`
    /// (ack or term). Returns `false` when the dead letter could not be published: the
    /// message is then naked with the backoff, not settled.
    pub(super) async fn give_up(&self, received: &Received, error: &str, settle: AckKind) -> bool {
        let policy = &self.spec.policy;
        let settle_action = if matches!(settle, AckKind::Term) {
            "term"
        } else {
            "ack"
        };
        let settle = match &policy.dead_letter {
            None => {
                tracing::error!(
                    subject = received.subject(),
                    stream_sequence = received.stream_sequence,
                    %error,
                    "no dead-letter channel: terminating the message"
                );
                received.ack.send(AckKind::Term, "term").await
            }
            Some(channel) => {
                let letter = DeadLetter {
                    channel,
                    subject: received.subject(),
                    stream: E::CHANNEL.stream,
                    stream_sequence: received.stream_sequence,
                    delivered: received.delivered,
                    durable: &self.spec.durable,
                    headers: received.ack.headers(),
                    payload: received.ack.payload(),
                    error,
                };
                if let Err(err) = letter.publish(&self.context).await {
                    let delay = policy.nak_delay(received.delivered);
                    tracing::error!(error = %crate::error::ErrorChain(&err), ?delay, "dead-letter publish failed; the message stays and is retried");
                    if let Err(err) = received.ack.send(AckKind::Nak(delay), "nak").await {
                        tracing::warn!(error = %crate::error::ErrorChain(&err), "nak failed; the message will be redelivered after the ack wait");
                    }
                    return false;
                }
                received.ack.send(settle, settle_action).await
            }
        };
        if let Err(err) = settle {
            tracing::warn!(error = %crate::error::ErrorChain(&err), "settling a given-up message failed");
        }
        true
    }
}
