//! `eventmap-ops dead-letters`: list, show, replay and purge the dead letters of the
//! table's subscriptions (written by `eventmap::nats::Consumer`, see
//! `eventmap::nats::dead_letter` for their headers). Guarantees: `docs/operations.md`.

mod replay;
mod report;
mod select;
pub(crate) mod store;

use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Args, Subcommand};

pub use replay::{REPLAY_OF, message_id as replay_message_id};
pub use report::{
    Group, ListReport, PurgePlan, PurgeReport, ReplayPlan, ReplayReport, Replayed, ShowReport,
    Skipped,
};
pub use select::Selection;
pub use store::{DeadLetter, DeadLetterId, Source};

use eventmap::nats::connect::PermissionViolations;

use crate::confirm::confirm;
use crate::output::print;
use crate::session::Session;
use crate::{OpsError, payload, progress};

/// Publishes awaiting their ack at once during a replay.
const REPLAY_WINDOW: usize = 64;

/// The dead-letter subcommands.
#[derive(Debug, Subcommand)]
pub enum DeadLetterCommand {
    /// Dead letters counted by subscription, event type and error, with the age of the
    /// oldest and newest and their ids
    List(ListArgs),
    /// One dead letter: its headers, the recorded error, and the payload decoded to JSON
    /// with the table's protos (hex when it does not decode)
    ///
    /// The payload is decoded as the proto message of its ce-type in the table, in the
    /// proto3 JSON mapping (camelCase names, 64-bit integers as strings). Bytes that are not
    /// that message, or carry fields it does not declare, are shown in hex with the reason.
    /// Exit 1 when there is no dead letter by that id.
    Show(ShowArgs),
    /// Publish dead letters again on their original subject (same ce-id, fresh Nats-Msg-Id),
    /// then delete them: replaying twice delivers once
    ///
    /// Each replay is the original payload and CloudEvents headers (the same ce-id, so an
    /// inbox consumer applies it once), without the dead-letter headers, with
    /// eventmap-replay-of: STREAM:SEQUENCE, published into the original stream
    /// (Nats-Expected-Stream). Its Nats-Msg-Id is replay-STREAM-SEQUENCE (of the dead letter), not
    /// the original's ce-id, which the duplicate window may still hold. Once JetStream has
    /// stored it, the dead letter is deleted (unless --keep); a replay interrupted between the
    /// two steps is dropped as a duplicate when run again within the window. Every consumer
    /// of the original subject receives the replay. Exit 1 when an id was not found or a dead
    /// letter has no original subject. See docs/operations.md.
    Replay(ReplayArgs),
    /// Delete dead letters for good (asks for confirmation; --yes for scripts)
    ///
    /// Asks on the terminal before deleting anything; when stdin is not a terminal it
    /// refuses (exit 1) unless --yes is given. Exit 1 when an id was not found.
    Purge(PurgeArgs),
}

/// Arguments of `dead-letters list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the dead letters of this subscription (its name in the table, or its durable
    /// consumer's name)
    #[arg(long, value_name = "NAME")]
    pub subscription: Option<String>,
}

/// Arguments of `dead-letters show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The dead letter: its dead-letter stream sequence (as `list` prints it), or
    /// STREAM:SEQUENCE when the table dead-letters into several streams
    pub id: DeadLetterId,
    /// Look only among the dead letters of this subscription
    #[arg(long, value_name = "NAME")]
    pub subscription: Option<String>,
}

/// Arguments of `dead-letters replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Which dead letters.
    #[command(flatten)]
    pub selection: Selection,
    /// Keep the dead letters after replaying them (a second replay within the stream's
    /// duplicate window is then dropped by JetStream; after it, an inbox consumer still
    /// processes the event once)
    #[arg(long)]
    pub keep: bool,
    /// Only print what would be replayed (`would_replay`), publish and delete nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `dead-letters purge`.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Which dead letters.
    #[command(flatten)]
    pub selection: Selection,
    /// Do not ask for confirmation (needed when stdin is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Only print what would be deleted (`would_purge`), delete nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs a dead-letter subcommand; exit code 1 when an id asked for was not found or a dead
/// letter could not be replayed.
///
/// # Errors
///
/// [`OpsError`]: the table, NATS, or a refused confirmation.
pub async fn run(session: &Session, command: DeadLetterCommand) -> Result<ExitCode, OpsError> {
    match command {
        DeadLetterCommand::List(args) => list(session, args).await,
        DeadLetterCommand::Show(args) => show(session, args).await,
        DeadLetterCommand::Replay(args) => replay(session, args).await,
        DeadLetterCommand::Purge(args) => purge(session, args).await,
    }
}

/// The sources of `subscription` and every dead letter there.
async fn read_all(
    session: &Session,
    subscription: Option<&str>,
) -> Result<(Vec<Source>, Vec<DeadLetter>), OpsError> {
    let service = session.service().await?;
    let sources = store::sources(service, subscription)?;
    let jetstream = session.jetstream().await?;
    let stored = store::stored(jetstream, &sources).await?;
    let bar = progress::bar(session.format, stored, "reading dead letters");
    let letters = store::scan(jetstream, &sources, &bar).await;
    bar.finish_and_clear();
    Ok((sources, letters?))
}

/// `list`.
async fn list(session: &Session, args: ListArgs) -> Result<ExitCode, OpsError> {
    let (sources, letters) = read_all(session, args.subscription.as_deref()).await?;
    let report = ListReport::new(&sources, &letters, SystemTime::now());
    print(session.format, &report)?;
    Ok(ExitCode::SUCCESS)
}

/// `show`.
async fn show(session: &Session, args: ShowArgs) -> Result<ExitCode, OpsError> {
    let service = session.service().await?;
    let sources = store::sources(service, args.subscription.as_deref())?;
    let jetstream = session.jetstream().await?;
    let Some(letter) = store::get(jetstream, &sources, &args.id).await? else {
        return Err(OpsError::NotFound(format!(
            "no dead letter {} (never written, replayed, or purged)",
            args.id
        )));
    };
    let decoded = payload::decode(service, letter.event_type(), &letter.payload);
    let report = ShowReport::new(&sources, &letter, decoded, SystemTime::now());
    print(session.format, &report)?;
    Ok(ExitCode::SUCCESS)
}

/// The selected dead letters, the ids not found, and whether ids are to be written with
/// their stream.
async fn selected(
    session: &Session,
    selection: &Selection,
) -> Result<(Vec<DeadLetter>, Vec<DeadLetterId>, bool), OpsError> {
    let service = session.service().await?;
    let sources = store::sources(service, selection.subscription.as_deref())?;
    let streams: Vec<String> = sources.iter().map(|s| s.stream.clone()).collect();
    selection.check_ids(&streams)?;
    let (_, letters) = read_all(session, selection.subscription.as_deref()).await?;
    let chosen: Vec<DeadLetter> = letters
        .into_iter()
        .filter(|letter| selection.matches(letter))
        .collect();
    let missing = selection.missing_ids(&chosen);
    Ok((chosen, missing, streams.len() > 1))
}

/// `replay`.
async fn replay(session: &Session, args: ReplayArgs) -> Result<ExitCode, OpsError> {
    let (chosen, missing, qualified) = selected(session, &args.selection).await?;
    let jetstream = session.jetstream().await?;
    let mut report = ReplayReport {
        selected: chosen.len(),
        kept: args.keep,
        missing_ids: missing.iter().map(ToString::to_string).collect(),
        ..ReplayReport::default()
    };
    let mut replayable = Vec::new();
    for letter in &chosen {
        match replay::target(letter) {
            Ok(target) => replayable.push((letter, target)),
            Err(reason) => report.skipped.push(Skipped {
                id: letter.id(qualified).to_string(),
                reason,
            }),
        }
    }
    if args.dry_run {
        let plan = ReplayPlan {
            dry_run: true,
            selected: report.selected,
            would_replay: replayable
                .iter()
                .map(|(letter, _)| letter.id(qualified).to_string())
                .collect(),
            skipped: report.skipped,
            missing_ids: report.missing_ids,
        };
        print(session.format, &plan)?;
        // As the replay itself would exit.
        return Ok(exit_code(
            plan.skipped.is_empty() && plan.missing_ids.is_empty(),
        ));
    }
    let bar = progress::bar(session.format, replayable.len() as u64, "replaying");
    let outcome = replay_all(
        jetstream,
        session.violations(),
        &replayable,
        args.keep,
        qualified,
        &mut report,
        &bar,
    )
    .await;
    bar.finish_and_clear();
    if let Err(err) = outcome {
        // What was replayed before the failure stays replayed; say so.
        let _ = print(session.format, &report);
        return Err(err);
    }
    print(session.format, &report)?;
    Ok(exit_code(
        report.skipped.is_empty() && report.missing_ids.is_empty(),
    ))
}

/// 0 when everything asked for was found and acted on (a selection that matches nothing
/// included: nothing to do), 1 otherwise (an id not found, a dead letter skipped).
fn exit_code(all_done: bool) -> ExitCode {
    if all_done {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Publishes the replays, `REPLAY_WINDOW` acks in flight, and deletes each dead letter once
/// its replay is stored (unless `keep`). A replay onto a subject the user may not publish on
/// fails at once with the server's `Permissions Violation` (recorded in `violations`), not
/// after the ack timeout; its dead letter and the later ones stay.
async fn replay_all(
    jetstream: &eventmap::nats::async_nats::jetstream::Context,
    violations: &PermissionViolations,
    replayable: &[(&DeadLetter, replay::Target)],
    keep: bool,
    qualified: bool,
    report: &mut ReplayReport,
    bar: &indicatif::ProgressBar,
) -> Result<(), OpsError> {
    for chunk in replayable.chunks(REPLAY_WINDOW) {
        let since = tokio::time::Instant::now();
        let mut acks = Vec::with_capacity(chunk.len());
        for (letter, target) in chunk {
            let ack = jetstream
                .send_publish(target.subject.clone(), replay::message(letter, target))
                .await
                .map_err(|err| {
                    OpsError::jetstream(
                        format!(
                            "cannot replay dead letter {} to `{}`",
                            letter.id(true),
                            target.subject
                        ),
                        err,
                    )
                })?;
            acks.push(ack);
        }
        for ((letter, target), ack) in chunk.iter().zip(acks) {
            let what = || {
                format!(
                    "cannot replay dead letter {} to `{}`",
                    letter.id(true),
                    target.subject
                )
            };
            let ack = tokio::select! {
                ack = ack => ack.map_err(|err| OpsError::jetstream(what(), err))?,
                refused = violations.publish_refused(&target.subject, since) => {
                    return Err(OpsError::jetstream(
                        what(),
                        format!("the server refused the publish: {refused}"),
                    ));
                }
            };
            if !keep {
                store::delete(jetstream, letter).await?;
            }
            report.duplicates += usize::from(ack.duplicate);
            report.replayed.push(Replayed {
                id: letter.id(qualified).to_string(),
                event_type: letter.event_type().map(str::to_owned),
                subject: target.subject.clone(),
                stream: ack.stream,
                sequence: ack.sequence,
                duplicate: ack.duplicate,
            });
            bar.inc(1);
        }
    }
    Ok(())
}

/// `purge`.
async fn purge(session: &Session, args: PurgeArgs) -> Result<ExitCode, OpsError> {
    let (chosen, missing, qualified) = selected(session, &args.selection).await?;
    let jetstream = session.jetstream().await?;
    if args.dry_run {
        let plan = PurgePlan {
            dry_run: true,
            would_purge: chosen.iter().map(|l| l.id(qualified).to_string()).collect(),
            missing_ids: missing.iter().map(ToString::to_string).collect(),
        };
        print(session.format, &plan)?;
        // As the purge itself would exit (without the confirmation).
        return Ok(exit_code(plan.missing_ids.is_empty()));
    }
    if !chosen.is_empty() && !args.yes {
        confirm(&format!("Delete {} dead letter(s) for good?", chosen.len()))?;
    }
    let mut report = PurgeReport {
        missing_ids: missing.iter().map(ToString::to_string).collect(),
        ..PurgeReport::default()
    };
    let bar = progress::bar(session.format, chosen.len() as u64, "purging");
    for letter in &chosen {
        if store::delete(jetstream, letter).await? {
            report.purged.push(letter.id(qualified).to_string());
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    print(session.format, &report)?;
    Ok(exit_code(report.missing_ids.is_empty()))
}
