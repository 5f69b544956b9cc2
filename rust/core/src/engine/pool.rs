//! The helper threads that take tasks (blocks of a product, parts of a minibatch) alongside the
//! calling thread.
//!
//! Up to [`num_threads`]` - 1` helpers are started on first use and kept; after each job they
//! poll for about 0.5 ms, then sleep. One caller at a time uses them: a thread that finds them
//! busy (another caller, or a task of the running job asking for threads itself) runs all its
//! tasks alone, so nested and concurrent calls never wait for each other. A forked child starts
//! helpers of its own (or, if the fork happened while a job ran, runs everything alone).
//!
//! A panic in a task reaches the caller with its original payload, once every helper is done
//! with the job; the pool stays usable. The caller's thread cap of the instruction-set level
//! ([`super::with_max_isa`]) applies to the tasks the helpers run for it.

use super::isa;
use std::any::Any;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, TryLockError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Largest default of [`num_threads`]: past 2 threads these products were not measured to gain.
const MAX_DEFAULT_THREADS: usize = 2;

static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets the number of threads products and minibatch parts may use (the caller's included);
/// 0 restores the default.
pub fn set_num_threads(n: usize) {
    NUM_THREADS.store(n, std::sync::atomic::Ordering::Relaxed);
}

/// The number of threads products and minibatch parts may use: what [`set_num_threads`] set,
/// else the available parallelism capped at 2.
pub fn num_threads() -> usize {
    match NUM_THREADS.load(std::sync::atomic::Ordering::Relaxed) {
        0 => default_num_threads(),
        n => n,
    }
}

fn default_num_threads() -> usize {
    static DEFAULT: OnceLock<usize> = OnceLock::new();
    *DEFAULT.get_or_init(|| {
        thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_DEFAULT_THREADS)
    })
}

/// Runs `f(0)`, ..., `f(tasks - 1)`, each once, on the calling thread and up to
/// [`num_threads`]` - 1` helper threads; returns when all are done. Products inside `f` run on
/// the thread that calls them. When the helpers are busy, the caller runs every task itself.
/// A panic in a task is raised here, with its payload, after all tasks have stopped.
pub fn parallel_tasks(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
    let threads = num_threads().min(tasks);
    if threads <= 1 {
        (0..tasks).for_each(f);
    } else {
        run(threads - 1, tasks, f);
    }
}

/// How long an idle helper keeps polling for the next job before it sleeps: longer than the
/// gap between two products of a recurrent time step. (Polling with `pause`, not
/// `sched_yield`, which costs more on a virtual machine than it gives back.)
const POLL: Duration = Duration::from_micros(500);
/// How long the caller busy-waits for a helper's last task before it yields.
const SPIN: Duration = Duration::from_millis(2);

/// No job; the owner may write `job`.
const IDLE: u8 = 0;
/// A job is offered; the owner may take it back (to IDLE) until the helper takes it.
const POSTED: u8 = 1;
/// The helper took the job and is using it.
const RUNNING: u8 = 2;
/// The helper is done with the job (set by a drop guard, so also if it unwinds).
const DONE: u8 = 3;

/// A job with its lifetime erased; [`run`] outlives every use of it.
type Job = *const (dyn Fn() + Sync + 'static);

struct Slot {
    state: AtomicU8,
    sleeping: AtomicBool,
    /// The payload of a panic in the helper's last job.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// Written by the pool's owner while `state` is IDLE, read by the helper after it moved
    /// `state` from POSTED to RUNNING; cleared by the owner once the job is over.
    job: UnsafeCell<Option<Job>>,
}

// SAFETY: `job` is only accessed by one thread at a time, handed over through `state` (SeqCst
// stores, loads and swaps): by the owner while IDLE, by the helper while RUNNING.
unsafe impl Send for Slot {}
// SAFETY: as above.
unsafe impl Sync for Slot {}

struct Helper {
    slot: Arc<Slot>,
    thread: Thread,
}

/// The helpers, and the process they were started in (a forked child has none of them).
static HELPERS: Mutex<(u32, Vec<Helper>)> = Mutex::new((0, Vec::new()));

/// Unclaimed tasks `front..back`, packed in one word (`front << 32 | back`): the caller takes
/// them from the front, the helpers from the back, so each thread tends to get the same tasks,
/// and their operands stay in its cache, from one product to the next.
struct Tasks(AtomicU64);

impl Tasks {
    /// `None` when `n` does not fit the packing.
    fn new(n: usize) -> Option<Self> {
        let n = u32::try_from(n).ok()?;
        Some(Tasks(AtomicU64::new(u64::from(n))))
    }

    fn claim(&self, from_front: bool) -> Option<usize> {
        let mut cur = self.0.load(SeqCst);
        loop {
            let (front, back) = (cur >> 32, cur & 0xffff_ffff);
            if front >= back {
                return None;
            }
            let (i, new) = if from_front {
                (front, (front + 1) << 32 | back)
            } else {
                (back - 1, front << 32 | (back - 1))
            };
            match self.0.compare_exchange(cur, new, SeqCst, SeqCst) {
                Ok(_) => return usize::try_from(i).ok(),
                Err(now) => cur = now,
            }
        }
    }
}

/// Runs `f(0)`, ..., `f(tasks - 1)`, each once, on this thread and up to `helpers` helper
/// threads; returns when all are done. Which thread runs which task varies; the tasks do not.
pub(super) fn run(helpers: usize, tasks: usize, f: &(dyn Fn(usize) + Sync)) {
    let Some(queue) = Tasks::new(tasks) else {
        return (0..tasks).for_each(f);
    };
    let work_from = |from_front: bool| {
        while let Some(i) = queue.claim(from_front) {
            f(i);
        }
    };
    let cap = isa::scoped_max_isa();
    let work = || isa::with_max_isa(cap, || work_from(false));
    let mut guard = match HELPERS.try_lock() {
        Ok(g) => g,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => return work_from(true),
    };
    let (pid, pool) = &mut *guard;
    if *pid != std::process::id() {
        // Threads do not survive a fork: forget the parent's (their slots stay allocated).
        std::mem::forget(std::mem::take(pool));
        *pid = std::process::id();
    }
    while pool.len() < helpers {
        match spawn() {
            Some(h) => pool.push(h),
            None => break,
        }
    }
    let used = &pool[..helpers.min(pool.len())];
    let job: &(dyn Fn() + Sync) = &work;
    // SAFETY: only the lifetime is erased; `recall` below outlives every use of `work` by a
    // helper: its drop waits until each posted slot is IDLE again, even if a task panics here.
    let job: Job = unsafe { std::mem::transmute::<&(dyn Fn() + Sync), Job>(job) };
    let mut recall = Recall {
        helpers: used,
        posted: 0,
    };
    for h in used {
        // SAFETY: the slot is IDLE (every job ends with IDLE, see `Recall`), so its helper
        // does not touch `job` now.
        unsafe { *h.slot.job.get() = Some(job) };
        h.slot.state.store(POSTED, SeqCst);
        recall.posted += 1;
        if h.slot.sleeping.load(SeqCst) {
            h.thread.unpark();
        }
    }
    work_from(true);
    let payload = recall.finish();
    drop(guard);
    if let Some(payload) = payload {
        std::panic::resume_unwind(payload);
    }
}

/// Takes back the jobs no helper took and waits for the helpers that took one; in every case
/// (also when the caller unwinds) leaves each posted slot IDLE, its job cleared and its panic
/// taken.
struct Recall<'a> {
    helpers: &'a [Helper],
    /// How many of `helpers` (from the first) were given the job.
    posted: usize,
}

impl Recall<'_> {
    /// Ends the job; the first helper panic's payload, if any.
    fn finish(mut self) -> Option<Box<dyn Any + Send>> {
        let mut first = None;
        for h in self.release() {
            let payload = h
                .slot
                .panic
                .lock()
                .map_or_else(|p| p.into_inner().take(), |mut g| g.take());
            first = first.or(payload);
        }
        first
    }

    /// Waits for every posted slot and returns them (idempotent).
    fn release(&mut self) -> &[Helper] {
        let posted = &self.helpers[..self.posted];
        for h in posted {
            let s = &h.slot;
            if s.state
                .compare_exchange(POSTED, IDLE, SeqCst, SeqCst)
                .is_err()
            {
                let start = Instant::now();
                while s.state.load(SeqCst) != DONE && s.state.load(SeqCst) != IDLE {
                    if start.elapsed() < SPIN {
                        std::hint::spin_loop();
                    } else {
                        thread::yield_now();
                    }
                }
            }
            // SAFETY: the helper is done with the job (DONE) or never took it (IDLE).
            unsafe { *s.job.get() = None };
            s.state.store(IDLE, SeqCst);
        }
        self.posted = 0;
        posted
    }
}

impl Drop for Recall<'_> {
    fn drop(&mut self) {
        // Only reached with slots still posted when the caller unwinds: its own panic goes
        // on, and the helpers' panics are dropped.
        for h in self.release() {
            drop(h.slot.panic.lock().map(|mut g| g.take()));
        }
    }
}

fn spawn() -> Option<Helper> {
    let slot = Arc::new(Slot {
        state: AtomicU8::new(IDLE),
        sleeping: AtomicBool::new(false),
        panic: Mutex::new(None),
        job: UnsafeCell::new(None),
    });
    let mine = Arc::clone(&slot);
    let handle = thread::Builder::new()
        .name("seqrnn-helper".into())
        .spawn(move || helper(&mine))
        .ok()?;
    Some(Helper {
        slot,
        thread: handle.thread().clone(),
    })
}

/// Marks the slot DONE when dropped: after the job, and also if the helper unwinds.
struct MarkDone<'a>(&'a Slot);

impl Drop for MarkDone<'_> {
    fn drop(&mut self) {
        self.0.state.store(DONE, SeqCst);
    }
}

fn helper(slot: &Slot) {
    loop {
        let mut start = Instant::now();
        while slot
            .state
            .compare_exchange(POSTED, RUNNING, SeqCst, SeqCst)
            .is_err()
        {
            if start.elapsed() < POLL {
                for _ in 0..32 {
                    std::hint::spin_loop();
                }
            } else {
                slot.sleeping.store(true, SeqCst);
                if slot.state.load(SeqCst) != POSTED {
                    thread::park();
                }
                slot.sleeping.store(false, SeqCst);
                // Woken for a job: more are likely to follow soon.
                start = Instant::now();
            }
        }
        let _done = MarkDone(slot);
        // SAFETY: RUNNING: the owner wrote `job` before posting and does not touch it until
        // DONE.
        if let Some(job) = unsafe { *slot.job.get() } {
            // SAFETY: the job outlives this call (see `run`).
            let work = unsafe { &*job };
            if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
                *slot.panic.lock().unwrap_or_else(PoisonError::into_inner) = Some(payload);
            }
        }
    }
}
