// Group commit, included by each SQL store after `shared.rs`.
//
// Every appended message must reach the disk before it is acknowledged, and with one writer a
// commit per message caps a server at one fsync per message. So appends go through one task
// that takes every append waiting at that moment (up to `GROUP_LIMIT`), runs each in a savepoint
// of one transaction and commits them together: alone, an append commits at once; under load,
// one fsync acknowledges a whole group. Other writes as frequent as messages (a new
// participant, read marks, a customer's last interaction, a connector's acknowledgements) join
// the groups through `run`, rather than committing alone on the one writer with every append
// queued behind their fsync.
// A failing append rolls back to its savepoint and fails alone; a failing commit fails the
// whole group, and nobody is told "done" before the commit is.
// Appends of one conversation never share a group out of order: the core serialises them.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The most appends one commit carries.
const GROUP_LIMIT: usize = 256;

struct GroupJob {
    /// Runs inside the group's transaction; `false` if it failed (its savepoint is undone).
    work: GroupWork,
    /// Told how the group's commit went; answers the caller.
    done: Box<dyn FnOnce(Result<(), String>) + Send>,
}

#[derive(Clone)]
struct GroupCommit {
    jobs: tokio::sync::mpsc::Sender<GroupJob>,
}

impl GroupCommit {
    fn start(writer: sqlx::Pool<Db>) -> GroupCommit {
        let (jobs, mut queue) = tokio::sync::mpsc::channel::<GroupJob>(4 * GROUP_LIMIT);
        let commits = async move {
            let mut group = Vec::with_capacity(GROUP_LIMIT);
            while queue.recv_many(&mut group, GROUP_LIMIT).await > 0 {
                commit_group(&writer, std::mem::take(&mut group)).await;
            }
        };
        // The writer is the one thing every append waits for, and each of its statements is a
        // round trip to SQLite's thread. On a runtime of its own, the answer to each wakes it at
        // once rather than after the tasks queued before it on a busy server's runtime. It ends
        // when the last sender is dropped (the store is gone).
        let own_runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        match own_runtime {
            Ok(runtime) => {
                let spawned = std::thread::Builder::new()
                    .name("chatgate-writer".into())
                    .spawn(move || runtime.block_on(commits));
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "cannot start the store's writer thread");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the store's writer shares the server's runtime");
                tokio::spawn(commits);
            }
        }
        GroupCommit { jobs }
    }

    /// Runs `work` in the next group's transaction and answers once that transaction committed.
    async fn run<T: Send + 'static>(
        &self,
        work: impl for<'t> FnOnce(&'t mut Tx) -> BoxFuture<'t, StoreResult<T>> + Send + 'static,
    ) -> StoreResult<T> {
        self.submit(work).await?.await
    }

    /// Queues `work` for a group and returns once it is queued, with the answer to await. Works
    /// run in the order they were queued, within a group and from one group to the next.
    async fn submit<T: Send + 'static>(
        &self,
        work: impl for<'t> FnOnce(&'t mut Tx) -> BoxFuture<'t, StoreResult<T>> + Send + 'static,
    ) -> StoreResult<impl Future<Output = StoreResult<T>> + Send + 'static> {
        let outcome: Arc<Mutex<Option<StoreResult<T>>>> = Arc::new(Mutex::new(None));
        let (reply, answer) = tokio::sync::oneshot::channel();
        let slot = outcome.clone();
        let job = GroupJob {
            work: Box::new(move |tx| {
                Box::pin(async move {
                    let result = work(tx).await;
                    let ok = result.is_ok();
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                    ok
                })
            }),
            done: Box::new(move |committed| {
                let own = outcome.lock().unwrap_or_else(|p| p.into_inner()).take();
                let answer = match (own, committed) {
                    (Some(Err(e)), _) => Err(e),
                    (Some(Ok(value)), Ok(())) => Ok(value),
                    (_, Err(e)) => Err(StoreError::Backend(e)),
                    (None, Ok(())) => Err(StoreError::Backend("the write was not run".into())),
                };
                let _ = reply.send(answer);
            }),
        };
        let stopped = || StoreError::Backend("the store's writer has stopped".into());
        self.jobs.send(job).await.map_err(|_| stopped())?;
        Ok(async move { answer.await.map_err(|_| stopped())? })
    }
}

/// Runs the group in one transaction and tells every job how it ended.
async fn commit_group(writer: &sqlx::Pool<Db>, group: Vec<GroupJob>) {
    let (works, done): (Vec<_>, Vec<_>) = group.into_iter().map(|j| (j.work, j.done)).unzip();
    let committed = run_in_one_transaction(writer, works).await.map_err(|e| e.to_string());
    for d in done {
        d(committed.clone());
    }
}

type GroupWork = Box<dyn for<'t> FnOnce(&'t mut Tx) -> BoxFuture<'t, bool> + Send>;

async fn run_in_one_transaction(writer: &sqlx::Pool<Db>, works: Vec<GroupWork>) -> Result<(), sqlx::Error> {
    let mut tx = writer.begin().await?;
    if works.len() == 1 {
        // Alone it needs no savepoint: a failure (answered by its own error) rolls back.
        for work in works {
            if !work(&mut tx).await {
                return tx.rollback().await;
            }
        }
        return tx.commit().await;
    }
    for (i, work) in works.into_iter().enumerate() {
        // One round trip between two appends: the last one's savepoint released, the next one's
        // made. The commit releases the last.
        let boundary = if i == 0 { "SAVEPOINT grouped" } else { "RELEASE grouped; SAVEPOINT grouped" };
        sqlx::query(boundary).execute(&mut *tx).await?;
        if !work(&mut tx).await {
            sqlx::query("ROLLBACK TO grouped").execute(&mut *tx).await?;
        }
    }
    tx.commit().await
}
