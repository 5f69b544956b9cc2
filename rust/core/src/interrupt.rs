//! Stopping long calls early: a hook, installed for the calling thread, that the long loops of
//! the crate consult now and then, and that ends the call with [`Error::Interrupted`] when it
//! answers `true`.
//!
//! Every loop that can run long (time steps of an [`crate::Rnn`], generated tokens, decoding
//! steps, minibatches of a perplexity, tokens of a [`crate::Vocab`]) calls [`poll`] with a
//! rough count of the work it did since its last call. [`poll`] only adds to a per-thread
//! counter; about every [`CHECK_WORK`] units of work it reads the clock, and at most every
//! [`HOOK_INTERVAL`] it calls the hook. Without a hook (the default) nothing else happens, so
//! the numbers, and the speed, are those of a build without interrupts.
//!
//! An interrupted call returns [`Error::Interrupted`] before it changes anything its caller
//! owns: models are only read by the calls that poll, and a [`crate::Stream`] keeps the state
//! it had after the last token it fed. The parts of a minibatch that run on the engine's helper
//! threads stop with the caller.
//!
//! ```
//! use seqrnn::{interrupt, Error, Init, LanguageModel, LmConfig, SamplingConfig};
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::sync::Arc;
//!
//! // A Ctrl-C handler (of the `ctrlc` crate, say) would set this flag.
//! let stop = Arc::new(AtomicBool::new(true));
//! let lm = LanguageModel::<f32>::new(LmConfig::new(8, 16), Init::Uniform, 0)?;
//! let flag = Arc::clone(&stop);
//! let r = interrupt::with_hook(move || flag.load(Ordering::Relaxed), || {
//!     lm.generate(&[1], 10_000_000, SamplingConfig::GREEDY, 0) // stopped about 50 ms in
//! });
//! assert!(matches!(r, Err(Error::Interrupted)));
//! # Ok::<(), seqrnn::Error>(())
//! ```

use crate::{Error, Result};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Units of work (about one multiply-add or one character of text) between two readings of
/// the clock: a few milliseconds of work at most, and few enough readings not to be measured.
pub const CHECK_WORK: u64 = 1 << 22;

/// Least time between two calls of the hook.
pub const HOOK_INTERVAL: Duration = Duration::from_millis(50);

/// A hook as kept on its thread.
type Hook = Rc<dyn Fn() -> bool>;

/// The hook of a [`with_hook`] call, or only its flag on a helper thread.
struct Scope {
    hook: Option<Hook>,
    /// Set once the hook said stop; shared with the helper threads working for this call.
    stopped: Arc<AtomicBool>,
    last_hook: Instant,
}

thread_local! {
    /// Work done on this thread since the clock was last read.
    static WORK: Cell<u64> = const { Cell::new(0) };
    static SCOPE: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

/// Runs `work` with `hook` installed for the calling thread: the loops inside call it about
/// every [`HOOK_INTERVAL`] (the first time about that long after the start) and stop with
/// [`Error::Interrupted`] once it returns `true`. The
/// previous hook of the thread (of an outer call) is restored afterwards; a hook may itself
/// call into the crate. Calls made by `work` on other threads of its own do not see the hook.
pub fn with_hook<R>(hook: impl Fn() -> bool + 'static, work: impl FnOnce() -> R) -> R {
    let scope = Scope {
        hook: Some(Rc::new(hook)),
        stopped: Arc::new(AtomicBool::new(false)),
        last_hook: Instant::now(),
    };
    enter(Some(scope), work)
}

/// Installs `scope` on this thread for the duration of `f` (also if `f` unwinds).
fn enter<R>(scope: Option<Scope>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Scope>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            // Dropping the replaced scope runs no code of ours; ignore a thread in teardown.
            let _ = SCOPE.try_with(|s| s.replace(previous));
        }
    }
    let _restore = Restore(SCOPE.with(|s| s.replace(scope)));
    f()
}

/// The stop flag of the calling thread's hook, to hand to helper threads with [`within`].
pub(crate) fn current() -> Option<Arc<AtomicBool>> {
    SCOPE.with(|s| s.borrow().as_ref().map(|sc| Arc::clone(&sc.stopped)))
}

/// Runs `f` so that its [`poll`]s stop once `stopped` (from [`current`] on the thread that
/// handed out the work) is set. On that thread itself, its hook stays in place.
pub(crate) fn within<R>(stopped: &Option<Arc<AtomicBool>>, f: impl FnOnce() -> R) -> R {
    let Some(stopped) = stopped else {
        return f();
    };
    let same = SCOPE.with(|s| {
        s.borrow()
            .as_ref()
            .is_some_and(|sc| Arc::ptr_eq(&sc.stopped, stopped))
    });
    if same {
        return f();
    }
    let scope = Scope {
        hook: None,
        stopped: Arc::clone(stopped),
        last_hook: Instant::now(),
    };
    enter(Some(scope), f)
}

/// Records `work` units done since the last call (about one per multiply-add or character of
/// text) and, now and then, asks the hook of [`with_hook`]: [`Error::Interrupted`] once it
/// said stop. Costs an addition per call without a hook, and changes no numbers.
#[inline]
pub fn poll(work: usize) -> Result<()> {
    let due = WORK.with(|w| {
        let n = w.get().saturating_add(work as u64);
        let due = n >= CHECK_WORK;
        w.set(if due { 0 } else { n });
        due
    });
    if due {
        check()
    } else {
        Ok(())
    }
}

/// The slow path of [`poll`]: the flag, the clock, and the hook when its time has come.
#[cold]
fn check() -> Result<()> {
    let hook = SCOPE.with(|s| -> Result<Option<(Hook, Arc<AtomicBool>)>> {
        let mut s = s.borrow_mut();
        let Some(scope) = s.as_mut() else {
            return Ok(None);
        };
        if scope.stopped.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        let Some(hook) = &scope.hook else {
            return Ok(None);
        };
        let now = Instant::now();
        if now.duration_since(scope.last_hook) < HOOK_INTERVAL {
            return Ok(None);
        }
        scope.last_hook = now;
        Ok(Some((Rc::clone(hook), Arc::clone(&scope.stopped))))
    })?;
    // The hook runs with no borrow held, so it may use the crate (and its own hooks) itself.
    match hook {
        Some((hook, stopped)) if hook() => {
            stopped.store(true, Ordering::Relaxed);
            Err(Error::Interrupted)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn spin_until_error(max: Duration) -> (Result<()>, Duration) {
        let start = Instant::now();
        loop {
            if let Err(e) = poll(1000) {
                return (Err(e), start.elapsed());
            }
            if start.elapsed() > max {
                return (Ok(()), start.elapsed());
            }
        }
    }

    #[test]
    fn without_a_hook_poll_never_fails() {
        for _ in 0..1_000_000 {
            assert!(poll(1 << 20).is_ok());
        }
    }

    #[test]
    fn a_hook_that_says_stop_stops_within_its_interval() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&calls);
        let (r, took) = with_hook(
            move || c.fetch_add(1, Ordering::Relaxed) >= 2,
            || spin_until_error(Duration::from_secs(5)),
        );
        assert!(matches!(r, Err(Error::Interrupted)));
        assert_eq!(calls.load(Ordering::Relaxed), 3);
        assert!(
            took >= 2 * HOOK_INTERVAL && took < Duration::from_secs(1),
            "{took:?}"
        );
        // The hook is gone with its call.
        assert!(current().is_none());
        assert!(spin_until_error(Duration::from_millis(120)).0.is_ok());
    }

    #[test]
    fn hooks_nest_and_the_outer_one_comes_back() {
        let r = with_hook(
            || true,
            || {
                let inner = with_hook(|| false, || spin_until_error(Duration::from_millis(150)));
                assert!(inner.0.is_ok());
                spin_until_error(Duration::from_secs(5)).0
            },
        );
        assert!(matches!(r, Err(Error::Interrupted)));
    }

    #[test]
    fn a_hook_may_call_the_crate_itself() {
        let r = with_hook(
            || with_hook(|| true, || spin_until_error(Duration::from_secs(5)).0).is_err(),
            || spin_until_error(Duration::from_secs(5)).0,
        );
        assert!(matches!(r, Err(Error::Interrupted)));
    }

    #[test]
    fn helper_threads_stop_with_the_caller() {
        let (caller, helper) = with_hook(
            || true,
            || {
                let stopped = current();
                assert!(stopped.is_some());
                std::thread::scope(|s| {
                    let helper =
                        s.spawn(|| within(&stopped, || spin_until_error(Duration::from_secs(5))));
                    let caller = spin_until_error(Duration::from_secs(5));
                    (caller, helper.join().ok())
                })
            },
        );
        assert!(matches!(caller.0, Err(Error::Interrupted)));
        // The helper has no hook of its own: it stops once the caller's hook said stop.
        let helper = helper.map(|h| (h.0.is_err(), h.1));
        assert!(
            matches!(helper, Some((true, t)) if t < Duration::from_secs(1)),
            "{helper:?}"
        );
    }
}
