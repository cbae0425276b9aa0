//! A worker pool with a timeout per job and a deadline for the whole pool.
//!
//! A feeder sends jobs into a channel; a fixed pool of worker green threads
//! takes them. Each job runs in a green thread of its own (simulated work:
//! it sleeps, then computes) and its worker waits for the result in a
//! `select!` with `default(timeout)`: a job that takes too long is reported
//! as timed out and cancelled through a child context, so it stops at once.
//! The whole pool runs under `goro::context::with_timeout`: when that
//! deadline passes, the feeder stops feeding, every worker stops taking
//! jobs, and every job still running is cancelled. A `goro::sync::WaitGroup`
//! tells the feeder when every worker has returned; then it collects the
//! results and prints a summary: how many jobs finished, timed out, were
//! cancelled by the pool's deadline or never started.
//!
//! Every few jobs is slow (ten times the per-job timeout), and there is
//! more work than fits before the pool's deadline, so every outcome shows.
//!
//! ```text
//! cargo run --release --example worker_pool
//! ```
//!
//! `cargo test --example worker_pool` (or plain `cargo test`) runs it small.

use std::time::{Duration, Instant};

use goro::context::{self, Context, ContextError};
use goro::sync::WaitGroup;
use goro::{Receiver, Sender};

/// One unit of work.
#[derive(Debug, Clone, Copy)]
struct Job {
    id: u32,
    /// How long it takes (the simulated part).
    cost: Duration,
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// It finished in time with this value.
    Done(u32),
    /// It took longer than the per-job timeout.
    TimedOut,
    /// The pool's context was cancelled while it ran.
    Canceled,
}

#[derive(Debug)]
struct JobResult {
    id: u32,
    worker: usize,
    outcome: Outcome,
}

/// The sizes of a run.
struct Config {
    workers: usize,
    jobs: u32,
    /// Every `slow_every`-th job takes ten times `job_timeout`.
    slow_every: u32,
    job_timeout: Duration,
    pool_timeout: Duration,
}

/// What a run did.
#[derive(Debug)]
struct Report {
    workers: usize,
    results: Vec<JobResult>,
    /// Jobs no worker took before the pool's deadline.
    not_started: Vec<u32>,
    /// Why the pool's context ended, if it did.
    pool_err: Option<ContextError>,
    elapsed: Duration,
}

/// The computation: the number of Collatz steps from `n` down to 1.
fn collatz_steps(mut n: u64) -> u32 {
    let mut steps = 0;
    while n > 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        steps += 1;
    }
    steps
}

fn make_jobs(cfg: &Config) -> Vec<Job> {
    (1..=cfg.jobs)
        .map(|id| {
            let cost = if id % cfg.slow_every == 0 {
                cfg.job_timeout * 10
            } else {
                Duration::from_millis(1 + u64::from(id % 4))
            };
            Job { id, cost }
        })
        .collect()
}

/// Runs one job in a green thread of its own and waits for it, at most
/// `timeout`, and no longer than `pool` lives.
fn run_job(pool: &Context, job: Job, timeout: Duration) -> Outcome {
    // A child of the pool's context: cancelled by us on a timeout, or by
    // the pool's deadline.
    let (job_ctx, cancel_job) = context::with_cancel(pool);
    // Buffered, so a job that finishes after we gave up does not block.
    let (tx, rx) = goro::bounded(1);
    goro::go!(move || {
        goro::select! {
            recv(goro::after(job.cost)) -> _ => {
                let _ = tx.send(collatz_steps(u64::from(job.id)));
            }
            recv(job_ctx.done()) -> _ => {} // cancelled: stop working
        }
    });
    let outcome = goro::select! {
        recv(rx) -> v => match v {
            Ok(v) => Outcome::Done(v),
            // The job stopped without a result: it was cancelled.
            Err(_) => Outcome::Canceled,
        },
        recv(pool.done()) -> _ => Outcome::Canceled,
        default(timeout) => Outcome::TimedOut,
    };
    cancel_job.cancel(); // stops the job if it still runs
    outcome
}

/// Takes jobs until there are no more or the pool is cancelled.
fn worker(
    id: usize,
    pool: Context,
    jobs: Receiver<Job>,
    results: Sender<JobResult>,
    job_timeout: Duration,
    wg: WaitGroup,
) {
    loop {
        let job = goro::select! {
            recv(jobs) -> job => match job {
                Ok(job) => job,
                Err(_) => break, // no more jobs
            },
            recv(pool.done()) -> _ => break,
        };
        let outcome = run_job(&pool, job, job_timeout);
        let result = JobResult {
            id: job.id,
            worker: id,
            outcome,
        };
        results.send(result).expect("the collector is alive");
    }
    wg.done();
}

fn run_with(cfg: Config) -> Report {
    goro::run(move || {
        let start = Instant::now();
        let (pool, _cancel) = context::with_timeout(&Context::background(), cfg.pool_timeout);
        let (jobs_tx, jobs_rx) = goro::bounded::<Job>(cfg.workers);
        let (results_tx, results_rx) = goro::unbounded();

        let job_timeout = cfg.job_timeout;
        let wg = WaitGroup::new();
        for id in 0..cfg.workers {
            wg.add(1);
            let (pool, jobs, results, wg) = (
                pool.clone(),
                jobs_rx.clone(),
                results_tx.clone(),
                wg.clone(),
            );
            goro::go!(move || worker(id, pool, jobs, results, job_timeout, wg));
        }

        // Feed the pool until every job is queued or the deadline passes.
        let mut not_started = Vec::new();
        let mut jobs = make_jobs(&cfg).into_iter();
        for job in jobs.by_ref() {
            let queued = goro::select! {
                send(jobs_tx, job) -> res => res.is_ok(),
                recv(pool.done()) -> _ => false,
            };
            if !queued {
                not_started.push(job.id);
                break;
            }
        }
        not_started.extend(jobs.map(|j| j.id));
        drop(jobs_tx); // closed: workers take what is queued, then return

        wg.wait();
        // Every worker has returned, so every result is in (each `send`
        // came before its worker's `done`), and a job still queued never
        // started.
        let results = results_rx.try_iter().collect();
        not_started.extend(jobs_rx.try_iter().map(|j| j.id));
        Report {
            workers: cfg.workers,
            results,
            not_started,
            pool_err: pool.err(),
            elapsed: start.elapsed(),
        }
    })
}

/// The default size, or a small one for tests.
fn run(quick: bool) -> Report {
    run_with(if quick {
        Config {
            workers: 4,
            jobs: 80,
            slow_every: 4,
            job_timeout: Duration::from_millis(20),
            pool_timeout: Duration::from_millis(50),
        }
    } else {
        Config {
            workers: 8,
            jobs: 400,
            slow_every: 5,
            job_timeout: Duration::from_millis(30),
            pool_timeout: Duration::from_millis(300),
        }
    })
}

fn main() {
    let r = run(false);
    let count = |f: fn(&Outcome) -> bool| r.results.iter().filter(|j| f(&j.outcome)).count();
    let done = count(|o| matches!(o, Outcome::Done(_)));
    let timed_out = count(|o| *o == Outcome::TimedOut);
    let canceled = count(|o| *o == Outcome::Canceled);
    let workers = r.workers;
    println!(
        "pool of {workers} workers, {} jobs, stopped after {:.2?} ({})",
        r.results.len() + r.not_started.len(),
        r.elapsed,
        r.pool_err
            .map_or("all jobs handled".to_string(), |e| e.to_string()),
    );
    println!("  done:        {done}");
    println!("  timed out:   {timed_out}  (each slow job: its own timeout)");
    println!("  cancelled:   {canceled}  (running when the pool's deadline passed)");
    println!("  not started: {}", r.not_started.len());
    let per_worker: Vec<String> = (0..workers)
        .map(|w| {
            r.results
                .iter()
                .filter(|j| j.worker == w)
                .count()
                .to_string()
        })
        .collect();
    println!("  jobs per worker: {}", per_worker.join(", "));
    let timed_out_ids: Vec<String> = r
        .results
        .iter()
        .filter(|j| j.outcome == Outcome::TimedOut)
        .take(12)
        .map(|j| j.id.to_string())
        .collect();
    println!("  timed-out jobs: {} ...", timed_out_ids.join(" "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_is_accounted_for_once() {
        let r = run(true);
        let mut ids: Vec<u32> = r.results.iter().map(|j| j.id).collect();
        ids.extend(&r.not_started);
        ids.sort_unstable();
        assert_eq!(ids, (1..=80).collect::<Vec<_>>());
        for j in &r.results {
            assert!(j.worker < 4);
            match j.outcome {
                Outcome::Done(v) => {
                    assert_eq!(v, collatz_steps(u64::from(j.id)));
                    // A slow job sleeps ten times its timeout: it cannot
                    // finish in time.
                    assert_ne!(j.id % 4, 0, "slow job {} finished in time", j.id);
                }
                Outcome::TimedOut | Outcome::Canceled => {}
            }
        }
        // The jobs need at least 20 * 20 ms + 60 * 2.5 ms of worker time,
        // over 4 workers, so the pool cannot be through before its 50 ms
        // deadline.
        assert_eq!(r.pool_err, Some(ContextError::DeadlineExceeded));
        let cut_short = r.not_started.len()
            + r.results
                .iter()
                .filter(|j| j.outcome == Outcome::Canceled)
                .count();
        assert!(cut_short > 0, "{r:?}");
    }
}
