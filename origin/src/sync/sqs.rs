//! The sync queue on Amazon SQS FIFO, or on any SQS-compatible server
//! (moto, LocalStack, ElasticMQ) at `--sqs-endpoint`.
//!
//! How the [contract](super::queue) maps onto SQS:
//!
//! - **Ordering per group** is SQS FIFO's own: [`Outgoing::group`] is the
//!   `MessageGroupId`. One receive may return several messages of a group
//!   (in order); the next receive returns none of that group until they are
//!   deleted or their visibility runs out.
//! - **Deduplication** is SQS's: [`Outgoing::dedup_id`] is the
//!   `MessageDeduplicationId`, remembered five minutes after the send, even
//!   once the message is deleted. (moto only compares against messages still
//!   in the queue; see `tests/sync_sqs.rs`.)
//! - **Visibility, receive counts and dead letters** are SQS's too: the main
//!   queue's `RedrivePolicy` names the dead-letter queue and
//!   `maxReceiveCount`, so `--sync-max-receives` does not apply here; set it
//!   where the queues are created ([`create_fifo_pair`]). SQS moves a message
//!   when a receive would deliver it for the `maxReceiveCount + 1`th time.
//! - **Dead letters** are read from the dead-letter queue (`--sqs-dlq-url`) by
//!   receiving them and handing them straight back (see
//!   [`SqsQueue::dead_letters`] for what that means for FIFO queues), and
//!   redriven by sending copies to the main queue and deleting the originals.
//!
//! A redriven message gets a fresh deduplication id (SQS would drop it as a
//! duplicate of the original for five minutes otherwise) and carries the
//! original in the message attribute [`ORIGINAL_ID_ATTRIBUTE`], which is what
//! [`Delivery::dedup_id`] and [`DeadLetter::id`] report for it. The handlers
//! deduplicate by the event id inside the body anyway.

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::Credentials;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use chrono::{DateTime, Utc};

use super::config::SyncConfig;
use super::queue::{DeadLetter, Delivery, MAX_BATCH, Outgoing, Queue, QueueError, QueueStats, valid_dedup_id};

/// The message attribute holding a redriven message's original
/// deduplication id (its own is a fresh one).
pub const ORIGINAL_ID_ATTRIBUTE: &str = "vitrine-original-dedup-id";

/// Most bytes of message bodies in one `SendMessageBatch` (SQS's payload
/// limit for a batch, as moto and older regions still enforce it).
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// Longest long-polling wait SQS allows, in seconds.
const MAX_WAIT_SECS: u64 = 20;

/// Longest visibility timeout SQS allows, in seconds (12 hours).
const MAX_VISIBILITY_SECS: u64 = 43_200;

/// How long listing or redriving dead letters keeps the ones it has looked
/// at hidden, so that the next receive from the dead-letter queue returns
/// others. They are handed back (made visible) as soon as the call is done;
/// this only bounds how long a crash in between hides them.
const PEEK_HOLD_SECS: i32 = 30;

/// The SQS FIFO queue (and its dead-letter queue) that the sync pipeline uses.
#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
    dlq_url: Option<String>,
}

/// A message as received from either queue, before it becomes a
/// [`Delivery`] or a [`DeadLetter`].
struct Received {
    message_id: String,
    group: String,
    /// The original deduplication id (see [`ORIGINAL_ID_ATTRIBUTE`]).
    dedup_id: String,
    body: String,
    receipt: String,
    receive_count: u32,
    sent_at: DateTime<Utc>,
}

/// One message to send: an [`Outgoing`], or a redriven dead letter.
struct Entry<'a> {
    group: &'a str,
    dedup_id: String,
    body: &'a str,
    /// For a redriven message, its original deduplication id.
    original_id: Option<&'a str>,
}

/// An SQS client for `config`'s region and endpoint.
///
/// Credentials come from the standard AWS chain (environment variables
/// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, profile,
/// web identity, ECS, instance metadata). When `--sqs-endpoint` is set and the
/// environment names no credentials at all (no access key, profile, web
/// identity or container credentials variables and no `~/.aws` files), static
/// dummy credentials are used instead: a local SQS-compatible server accepts
/// any, and the chain would otherwise end up probing the instance metadata
/// service, which takes seconds to fail off EC2.
pub async fn client(config: &SyncConfig) -> Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    // Every call ends: a server that stops answering mid-request must not
    // hold a worker forever. An attempt may take a whole long poll (at most
    // 20 s) and then some; retries of a failed attempt share the operation's
    // budget.
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(30))
        .operation_timeout(Duration::from_secs(90))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(config.sqs_region.clone()))
        .timeout_config(timeouts)
        .http_client(http);
    if let Some(endpoint) = &config.sqs_endpoint {
        loader = loader.endpoint_url(endpoint);
        if !credentials_configured() {
            tracing::info!(endpoint = %endpoint, "no AWS credentials configured; using dummy ones for the local SQS endpoint");
            loader = loader.credentials_provider(Credentials::new(
                "vitrine-local",
                "vitrine-local",
                None,
                None,
                "vitrine-local-endpoint",
            ));
        }
    }
    Client::new(&loader.load().await)
}

/// Whether the environment points the standard credential chain at
/// credentials short of the instance metadata service.
fn credentials_configured() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONFIG_FILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]
    .into_iter()
    .any(set)
        || std::env::var_os("HOME").is_some_and(|home| {
            let aws = std::path::Path::new(&home).join(".aws");
            aws.join("credentials").exists() || aws.join("config").exists()
        })
}

/// Creates the FIFO queue `<name>.fifo` and its dead-letter queue
/// `<name>-dlq.fifo` (explicit deduplication ids, no content-based
/// deduplication), and points the main queue's redrive policy at the
/// dead-letter queue with `maxReceiveCount` = `max_receives`. Returns
/// `(queue_url, dlq_url)`.
///
/// Safe to run again on an existing pair with the same settings: SQS returns
/// the existing queues, and the redrive policy is set anew.
pub async fn create_fifo_pair(config: &SyncConfig, name: &str, max_receives: u32) -> anyhow::Result<(String, String)> {
    // 80 characters at most per queue name, `-dlq.fifo` included.
    anyhow::ensure!(
        (1..=71).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "queue name `{name}` must be 1 to 71 letters, digits, `-` or `_`"
    );
    anyhow::ensure!(
        (1..=1000).contains(&max_receives),
        "max receives {max_receives} must be between 1 and 1000 (SQS's maxReceiveCount)"
    );
    let client = client(config).await;
    let create = |queue_name: String| {
        let client = client.clone();
        async move {
            let out = client
                .create_queue()
                .queue_name(&queue_name)
                .attributes(QueueAttributeName::FifoQueue, "true")
                .attributes(QueueAttributeName::ContentBasedDeduplication, "false")
                // The longest SQS allows (14 days) rather than the default
                // 4: an event must not expire while the workers are down,
                // nor a dead letter before someone has looked at it.
                .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))
                .with_context(|| format!("creating SQS queue `{queue_name}`"))?;
            out.queue_url()
                .map(str::to_owned)
                .with_context(|| format!("creating SQS queue `{queue_name}`: no queue url in the answer"))
        }
    };
    let dlq_url = create(format!("{name}-dlq.fifo")).await?;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))
        .and_then(|out| {
            out.attributes()
                .and_then(|a| a.get(&QueueAttributeName::QueueArn))
                .cloned()
                .context("no QueueArn in the answer")
        })
        .with_context(|| format!("reading the ARN of dead-letter queue {dlq_url}"))?;
    let queue_url = create(format!("{name}.fifo")).await?;
    let policy = serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives }).to_string();
    client
        .set_queue_attributes()
        .queue_url(&queue_url)
        .attributes(QueueAttributeName::RedrivePolicy, policy)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))
        .with_context(|| format!("setting the redrive policy of {queue_url} to {dlq_arn}"))?;
    Ok((queue_url, dlq_url))
}

impl SqsQueue {
    /// The queue at `config.sqs_queue_url` (dead letters at
    /// `config.sqs_dlq_url`, if set). Makes no call yet: an unreachable or
    /// wrong queue shows in the first operation's error.
    pub async fn connect(config: &SyncConfig) -> anyhow::Result<Self> {
        let queue_url = config
            .sqs_queue_url
            .clone()
            .context("connecting to SQS: --sync-queue sqs needs --sqs-queue-url (VITRINE_SQS_QUEUE_URL)")?;
        Ok(Self {
            client: client(config).await,
            queue_url,
            dlq_url: config.sqs_dlq_url.clone(),
        })
    }

    /// The main queue's URL.
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// The dead-letter queue's URL, or the error saying it is not configured.
    fn dlq(&self) -> Result<&str, QueueError> {
        self.dlq_url.as_deref().ok_or_else(|| {
            QueueError::Refused(
                "no SQS dead-letter queue configured: set --sqs-dlq-url (VITRINE_SQS_DLQ_URL) to the queue that \
                 the main queue's redrive policy names"
                    .into(),
            )
        })
    }

    /// Sends `entries` to `queue_url` in order, in batches of at most ten
    /// and [`MAX_BATCH_BYTES`].
    async fn send_entries(&self, queue_url: &str, entries: &[Entry<'_>]) -> Result<(), QueueError> {
        let mut start = 0;
        while start < entries.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < entries.len() && end - start < MAX_BATCH {
                let size = entries[end].body.len();
                if end > start && bytes + size > MAX_BATCH_BYTES {
                    break;
                }
                bytes += size;
                end += 1;
            }
            self.send_batch(queue_url, &entries[start..end]).await?;
            start = end;
        }
        Ok(())
    }

    async fn send_batch(&self, queue_url: &str, batch: &[Entry<'_>]) -> Result<(), QueueError> {
        let mut request = self.client.send_message_batch().queue_url(queue_url);
        for (i, entry) in batch.iter().enumerate() {
            let mut builder = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_group_id(entry.group)
                .message_deduplication_id(&entry.dedup_id)
                .message_body(entry.body);
            if let Some(original) = entry.original_id {
                let value = MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(original)
                    .build()
                    .map_err(|e| {
                        QueueError::Refused(format!("building the attributes of message `{original}`: {e}"))
                    })?;
                builder = builder.message_attributes(ORIGINAL_ID_ATTRIBUTE, value);
            }
            let built = builder.build().map_err(|e| {
                QueueError::Refused(format!(
                    "building the send of message `{}` to {queue_url}: {e}",
                    entry.dedup_id
                ))
            })?;
            request = request.entries(built);
        }
        let out = request
            .send()
            .await
            .map_err(|e| sdk_error(format_args!("sending {} messages to {queue_url}", batch.len()), e))?;
        let Some(failed) = out.failed().first() else {
            return Ok(());
        };
        let entry = failed.id().parse::<usize>().ok().and_then(|i| batch.get(i));
        let what = match entry {
            Some(e) => format!("message `{}` (group `{}`)", e.dedup_id, e.group),
            None => format!("batch entry `{}`", failed.id()),
        };
        Err(batch_error(
            failed,
            format_args!(
                "sending {what} to {queue_url} ({} of {} in the batch failed)",
                out.failed().len(),
                batch.len()
            ),
        ))
    }

    /// One `ReceiveMessage` on `queue_url`.
    async fn receive_from(
        &self,
        queue_url: &str,
        max: usize,
        wait_secs: i32,
        visibility_secs: i32,
    ) -> Result<Vec<Received>, QueueError> {
        let max = i32::try_from(max.clamp(1, MAX_BATCH)).unwrap_or(1);
        let out = self
            .client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(max)
            .wait_time_seconds(wait_secs)
            .visibility_timeout(visibility_secs)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .message_system_attribute_names(MessageSystemAttributeName::MessageDeduplicationId)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_attribute_names(ORIGINAL_ID_ATTRIBUTE)
            .send()
            .await
            .map_err(|e| sdk_error(format_args!("receiving from {queue_url}"), e))?;
        out.messages().iter().map(|m| received(queue_url, m)).collect()
    }

    /// Receives up to `limit` dead letters and keeps them hidden for
    /// [`PEEK_HOLD_SECS`]; the caller hands back what it does not delete.
    /// Stops early where the dead-letter queue shows no more, or once a
    /// message comes round a second time (the hold ran out).
    async fn hold_dead(&self, dlq: &str, limit: usize) -> Result<Vec<Received>, QueueError> {
        let mut held: Vec<Received> = Vec::new();
        let mut seen = HashSet::new();
        while held.len() < limit {
            let batch = match self.receive_from(dlq, limit - held.len(), 0, PEEK_HOLD_SECS).await {
                Ok(batch) => batch,
                Err(e) => {
                    self.release(dlq, &held).await;
                    return Err(e);
                }
            };
            let before = held.len();
            for message in batch {
                if seen.insert(message.message_id.clone()) {
                    held.push(message);
                }
            }
            if held.len() == before {
                break;
            }
        }
        Ok(held)
    }

    /// Makes `messages` of `queue_url` visible again at once. Best effort: a
    /// failure only leaves them hidden until their hold runs out.
    async fn release(&self, queue_url: &str, messages: &[Received]) {
        for chunk in messages.chunks(MAX_BATCH) {
            let entries = chunk.iter().enumerate().map(|(i, m)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&m.receipt)
                    .visibility_timeout(0)
                    .build()
            });
            let entries = match entries.collect::<Result<Vec<_>, _>>() {
                Ok(entries) => entries,
                Err(e) => {
                    tracing::warn!(queue = %queue_url, error = %e, "could not build the release of held messages");
                    continue;
                }
            };
            match self
                .client
                .change_message_visibility_batch()
                .queue_url(queue_url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) if out.failed().is_empty() => {}
                Ok(out) => tracing::warn!(
                    queue = %queue_url,
                    failed = out.failed().len(),
                    code = %out.failed().first().map_or("", |f| f.code()),
                    hold_secs = PEEK_HOLD_SECS,
                    "could not hand back some held messages; they reappear when the hold runs out"
                ),
                Err(e) => tracing::warn!(
                    queue = %queue_url,
                    error = %DisplayErrorContext(&e),
                    hold_secs = PEEK_HOLD_SECS,
                    "could not hand back held messages; they reappear when the hold runs out"
                ),
            }
        }
    }

    /// Deletes `messages` from `queue_url`.
    async fn delete_all(&self, queue_url: &str, messages: &[Received]) -> Result<(), QueueError> {
        for chunk in messages.chunks(MAX_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&m.receipt)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| QueueError::Refused(format!("building a delete from {queue_url}: {e}")))?;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sdk_error(format_args!("deleting {} messages from {queue_url}", chunk.len()), e))?;
            if let Some(failed) = out.failed().first() {
                let id = failed
                    .id()
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| chunk.get(i))
                    .map_or("?", |m| &m.dedup_id);
                return Err(batch_error(
                    failed,
                    format_args!("deleting message `{id}` from {queue_url}"),
                ));
            }
        }
        Ok(())
    }

    /// The message counts `names` of `queue_url`, in one `GetQueueAttributes`.
    async fn counts<const N: usize>(
        &self,
        queue_url: &str,
        names: [QueueAttributeName; N],
    ) -> Result<[u64; N], QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(queue_url)
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(|e| sdk_error(format_args!("reading the message counts of {queue_url}"), e))?;
        let mut counts = [0u64; N];
        for (count, name) in counts.iter_mut().zip(&names) {
            let value = out.attributes().and_then(|a| a.get(name)).ok_or_else(|| {
                QueueError::Unavailable(format!(
                    "reading the message counts of {queue_url}: no {} in the answer",
                    name.as_str()
                ))
            })?;
            *count = value.parse::<u64>().map_err(|e| {
                QueueError::Unavailable(format!(
                    "reading the message counts of {queue_url}: {} is `{value}`: {e}",
                    name.as_str()
                ))
            })?;
        }
        Ok(counts)
    }
}

impl Queue for SqsQueue {
    /// `SendMessageBatch`es of up to ten. Every deduplication id is checked
    /// before anything is sent. If SQS refuses an entry, the error names it;
    /// the entries before it (and possibly some after it) are in the queue,
    /// so a retry of the whole call re-sends them and SQS drops them as
    /// duplicates.
    async fn send(&self, messages: &[Outgoing]) -> Result<(), QueueError> {
        if let Some(bad) = messages.iter().find(|m| !valid_dedup_id(&m.dedup_id)) {
            return Err(QueueError::Refused(format!(
                "sending to {}: deduplication id `{}` is not 1 to 128 printable ASCII characters",
                self.queue_url, bad.dedup_id
            )));
        }
        let entries: Vec<Entry<'_>> = messages
            .iter()
            .map(|m| Entry {
                group: &m.group,
                dedup_id: m.dedup_id.clone(),
                body: &m.body,
                original_id: None,
            })
            .collect();
        self.send_entries(&self.queue_url, &entries).await
    }

    /// One `ReceiveMessage`. `wait` and `visibility` are rounded up to whole
    /// seconds (so any wait above zero long-polls) and capped at SQS's
    /// limits, 20 s and 12 h.
    async fn receive(&self, max: usize, wait: Duration, visibility: Duration) -> Result<Vec<Delivery>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let messages = self
            .receive_from(
                &self.queue_url,
                max,
                whole_secs(wait, MAX_WAIT_SECS),
                whole_secs(visibility, MAX_VISIBILITY_SECS),
            )
            .await?;
        Ok(messages
            .into_iter()
            .map(|m| Delivery {
                group: m.group,
                dedup_id: m.dedup_id,
                body: m.body,
                receipt: m.receipt,
                receive_count: m.receive_count,
                sent_at: m.sent_at,
            })
            .collect())
    }

    /// `ChangeMessageVisibility`, rounded up to whole seconds, at most 12 h.
    async fn extend(&self, receipt: &str, visibility: Duration) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(whole_secs(visibility, MAX_VISIBILITY_SECS))
            .send()
            .await
            .map_err(|e| {
                sdk_error(
                    format_args!("extending the visibility of a message of {}", self.queue_url),
                    e,
                )
            })?;
        Ok(())
    }

    /// `DeleteMessage`.
    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| sdk_error(format_args!("deleting a message from {}", self.queue_url), e))?;
        Ok(())
    }

    /// SQS's approximate counts. `dead` counts the dead-letter queue's
    /// visible and in-flight messages (a listing or redrive in progress holds
    /// some in flight), 0 without `--sqs-dlq-url`. `oldest_age_secs` is
    /// `None`: SQS only tells it through CloudWatch.
    async fn stats(&self) -> Result<QueueStats, QueueError> {
        let visible_and_not = [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ];
        let [backlog, in_flight] = self.counts(&self.queue_url, visible_and_not.clone()).await?;
        let dead = match &self.dlq_url {
            Some(dlq) => self.counts(dlq, visible_and_not).await?.iter().sum(),
            None => 0,
        };
        Ok(QueueStats {
            backlog,
            in_flight,
            dead,
            oldest_age_secs: None,
        })
    }

    /// Reads the dead-letter queue without consuming it: receives up to
    /// `limit` messages with a short hold (so successive receives return
    /// others), then makes them all visible again.
    ///
    /// What FIFO implies: while a group's dead letters are held, SQS shows
    /// none of that group's later ones, so each group contributes only what
    /// one receive returned of it (SQS: up to ten; moto: as many as fit in
    /// the batch). A group with more dead letters than that shows its oldest
    /// ones; redriving them (or `redrive(None)`) brings the rest into view.
    /// Each listing is a receive of the dead letters, which SQS counts:
    /// `receive_count` leaves this listing's own receive out, but a dead
    /// letter listed before shows one more per earlier listing.
    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let dlq = self.dlq()?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let held = self.hold_dead(dlq, limit).await?;
        self.release(dlq, &held).await;
        let mut letters: Vec<DeadLetter> = held
            .into_iter()
            .map(|m| DeadLetter {
                id: m.dedup_id,
                group: m.group,
                body: m.body,
                receive_count: m.receive_count.saturating_sub(1).max(1),
                sent_at: m.sent_at,
            })
            .collect();
        letters.sort_by_key(|l| l.sent_at);
        Ok(letters)
    }

    /// Moves dead letters back to the end of the main queue: each is sent
    /// again (same group and body, a fresh deduplication id derived from the
    /// original, see the module docs), then deleted from the dead-letter
    /// queue. If the delete fails after the send, the message is in both
    /// queues; the handlers' idempotency makes the second copy harmless.
    ///
    /// With `Some(id)`, only dead letters whose id is `id` move; the others
    /// looked at on the way are handed back. As with
    /// [`dead_letters`](Self::dead_letters), a dead letter behind more than
    /// one receive's worth of its own group's is out of view, and then
    /// nothing moves (0).
    async fn redrive(&self, id: Option<&str>) -> Result<u64, QueueError> {
        let dlq = self.dlq()?;
        let mut kept: Vec<Received> = Vec::new();
        let mut seen = HashSet::new();
        let mut moved = 0u64;
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let result: Result<(), QueueError> = async {
            loop {
                let batch = self.receive_from(dlq, MAX_BATCH, 0, PEEK_HOLD_SECS).await?;
                // Back where we started: every message has been looked at.
                if batch.is_empty() || batch.iter().all(|m| seen.contains(&m.message_id)) {
                    return Ok(());
                }
                let (take, keep): (Vec<Received>, Vec<Received>) = batch.into_iter().partition(|m| {
                    seen.insert(m.message_id.clone());
                    id.is_none_or(|id| m.dedup_id == id)
                });
                kept.extend(keep);
                if take.is_empty() {
                    continue;
                }
                let entries: Vec<Entry<'_>> = take
                    .iter()
                    .enumerate()
                    .map(|(i, m)| Entry {
                        group: &m.group,
                        dedup_id: fresh_dedup_id(&m.dedup_id, stamp, moved + i as u64),
                        body: &m.body,
                        original_id: Some(&m.dedup_id),
                    })
                    .collect();
                let sent = self.send_entries(&self.queue_url, &entries).await;
                drop(entries);
                if let Err(e) = sent {
                    kept.extend(take);
                    return Err(e);
                }
                self.delete_all(dlq, &take).await?;
                moved += take.len() as u64;
                if id.is_some() {
                    return Ok(());
                }
            }
        }
        .await;
        self.release(dlq, &kept).await;
        result.map(|()| moved)
    }
}

/// `message` of `queue_url` as a [`Received`].
fn received(queue_url: &str, message: &Message) -> Result<Received, QueueError> {
    let message_id = message.message_id().unwrap_or_default().to_owned();
    let attribute = |name: MessageSystemAttributeName| {
        let value = message.attributes().and_then(|a| a.get(&name)).map(String::as_str);
        value.ok_or_else(|| {
            QueueError::Refused(format!(
                "message {message_id} from {queue_url} has no {} attribute: is it a FIFO queue?",
                name.as_str()
            ))
        })
    };
    let group = attribute(MessageSystemAttributeName::MessageGroupId)?.to_owned();
    let own_dedup_id = attribute(MessageSystemAttributeName::MessageDeduplicationId)?;
    let dedup_id = message
        .message_attributes()
        .and_then(|a| a.get(ORIGINAL_ID_ATTRIBUTE))
        .and_then(|v| v.string_value())
        .unwrap_or(own_dedup_id)
        .to_owned();
    let count = attribute(MessageSystemAttributeName::ApproximateReceiveCount)?;
    let receive_count = count.parse::<u32>().map_err(|e| {
        QueueError::Unavailable(format!(
            "message {message_id} from {queue_url}: ApproximateReceiveCount `{count}`: {e}"
        ))
    })?;
    let sent = attribute(MessageSystemAttributeName::SentTimestamp)?;
    let sent_at = sent
        .parse::<i64>()
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .ok_or_else(|| {
            QueueError::Unavailable(format!(
                "message {message_id} from {queue_url}: SentTimestamp `{sent}` is not epoch milliseconds"
            ))
        })?;
    let receipt = message
        .receipt_handle()
        .ok_or_else(|| {
            QueueError::Unavailable(format!(
                "message {message_id} from {queue_url} came without a receipt handle"
            ))
        })?
        .to_owned();
    Ok(Received {
        message_id,
        group,
        dedup_id,
        body: message.body().unwrap_or_default().to_owned(),
        receipt,
        receive_count,
        sent_at,
    })
}

/// `original` with a suffix unique to this redrive (`.r<unix-ms>-<n>`), cut
/// so the whole stays within SQS's 128 characters.
fn fresh_dedup_id(original: &str, stamp_ms: u128, n: u64) -> String {
    let suffix = format!(".r{stamp_ms}-{n}");
    let mut keep = 128usize.saturating_sub(suffix.len()).min(original.len());
    while !original.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}{suffix}", &original[..keep])
}

/// `d` in whole seconds, rounded up, at most `max`.
fn whole_secs(d: Duration, max: u64) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs.min(max)).unwrap_or(i32::MAX)
}

/// A failed batch entry as a [`QueueError`]: [`QueueError::Refused`] when
/// SQS blames the sender.
fn batch_error(failed: &BatchResultErrorEntry, doing: fmt::Arguments<'_>) -> QueueError {
    let text = format!("{doing}: {}: {}", failed.code(), failed.message().unwrap_or_default());
    if failed.sender_fault() {
        QueueError::Refused(text)
    } else {
        QueueError::Unavailable(text)
    }
}

/// An SDK error as a [`QueueError`]: [`QueueError::Refused`] for requests
/// SQS turns down as wrong (4xx other than throttling; requests that could
/// not even be built), [`QueueError::Unavailable`] for everything worth
/// retrying (network, timeouts, 5xx, throttling).
fn sdk_error<E>(doing: fmt::Arguments<'_>, err: SdkError<E>) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let refused = match &err {
        SdkError::ConstructionFailure(_) => true,
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = err.code().unwrap_or_default();
            (400..500).contains(&status) && status != 429 && !code.contains("Throttl") && !code.contains("OverLimit")
        }
        _ => false,
    };
    let text = format!("{doing}: {}", DisplayErrorContext(&err));
    if refused {
        QueueError::Refused(text)
    } else {
        QueueError::Unavailable(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_dedup_ids_stay_valid_and_distinct() {
        let long = "e".repeat(128);
        let a = fresh_dedup_id(&long, 1_700_000_000_000, 0);
        let b = fresh_dedup_id(&long, 1_700_000_000_000, 1);
        assert!(valid_dedup_id(&a) && valid_dedup_id(&b), "{a} / {b}");
        assert_ne!(a, b);
        assert_ne!(a, long);
        assert_eq!(fresh_dedup_id("evt-1", 5, 0), "evt-1.r5-0");
    }

    #[test]
    fn durations_round_up_to_whole_seconds_within_limits() {
        assert_eq!(whole_secs(Duration::ZERO, 20), 0);
        assert_eq!(whole_secs(Duration::from_millis(1), 20), 1);
        assert_eq!(whole_secs(Duration::from_millis(1500), 20), 2);
        assert_eq!(whole_secs(Duration::from_secs(60), 20), 20);
    }
}
