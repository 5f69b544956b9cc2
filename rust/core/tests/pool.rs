//! The engine's helper threads under failure: panics in helpers and in the caller, several
//! panicking helpers, nested calls, and products right after each of them.
//!
//! One test function, so that nothing else in this process uses the helpers meanwhile.

use ndarray::Array2;
use seqrnn::engine::{gemm, parallel_tasks, set_num_threads};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

/// Runs `tasks` tasks; `job(i, on_helper)` for each. Every task of the caller waits (up to
/// 10 s) until `helpers_wanted` helpers have started a task, so the helpers surely take part.
fn run(tasks: usize, helpers_wanted: usize, job: impl Fn(usize, bool) + Sync) {
    let caller: ThreadId = thread::current().id();
    let started = AtomicUsize::new(0);
    parallel_tasks(tasks, &|i| {
        let on_helper = thread::current().id() != caller;
        if on_helper {
            started.fetch_add(1, Ordering::SeqCst);
        } else {
            let t0 = Instant::now();
            while started.load(Ordering::SeqCst) < helpers_wanted
                && t0.elapsed() < Duration::from_secs(10)
            {
                thread::sleep(Duration::from_micros(100));
            }
        }
        job(i, on_helper);
    });
}

fn message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast::<&str>().map_or("?".into(), |s| s.to_string()),
    }
}

/// A product big enough to be split across every thread, checked against a plain sum.
fn clean_product() {
    let (m, n, k) = (64, 1024, 64);
    let a = Array2::from_shape_fn((m, k), |(i, p)| ((i * 7 + p) % 5) as f64 - 2.0);
    let b = Array2::from_shape_fn((k, n), |(p, j)| ((p + 3 * j) % 7) as f64 - 3.0);
    let mut c = Array2::<f64>::zeros((m, n));
    gemm(1.0, &a.view(), &b.view(), 0.0, &mut c.view_mut());
    assert_eq!(c, a.dot(&b));
}

#[test]
fn helpers_survive_panics_and_nesting() {
    // Keep panics of the tests out of the output.
    std::panic::set_hook(Box::new(|_| {}));
    set_num_threads(4);
    clean_product();

    // A helper panics: the caller gets the original message, after every task stopped.
    let done = AtomicUsize::new(0);
    let r = catch_unwind(AssertUnwindSafe(|| {
        run(16, 1, |_, on_helper| {
            if on_helper {
                panic!("helper task failed: 42");
            }
            done.fetch_add(1, Ordering::SeqCst);
        })
    }));
    assert_eq!(message(r.unwrap_err()), "helper task failed: 42");
    clean_product();

    // Every helper panics (3 of them): one payload comes back, no flag is left behind.
    for _ in 0..3 {
        let r = catch_unwind(AssertUnwindSafe(|| {
            run(64, 3, |i, on_helper| {
                if on_helper {
                    panic!("helper {i}");
                }
            })
        }));
        assert!(message(r.unwrap_err()).starts_with("helper "));
        clean_product();
    }

    // The caller panics while helpers work: its own panic comes back, helpers are recalled.
    let r = catch_unwind(AssertUnwindSafe(|| {
        run(16, 1, |_, on_helper| {
            if !on_helper {
                panic!("caller task failed");
            }
            thread::sleep(Duration::from_millis(2));
        })
    }));
    assert_eq!(message(r.unwrap_err()), "caller task failed");
    clean_product();

    // Nested calls: tasks that split products themselves (the helpers are busy, so each runs
    // its products alone) and tasks that ask for tasks.
    let count = AtomicUsize::new(0);
    run(8, 1, |_, _| {
        clean_product();
        parallel_tasks(4, &|_| {
            count.fetch_add(1, Ordering::SeqCst);
        });
    });
    assert_eq!(count.load(Ordering::SeqCst), 32);

    // Every task runs exactly once, also with more tasks than threads.
    let hits: Vec<AtomicUsize> = (0..1000).map(|_| AtomicUsize::new(0)).collect();
    parallel_tasks(hits.len(), &|i| {
        hits[i].fetch_add(1, Ordering::SeqCst);
    });
    assert!(hits.iter().all(|h| h.load(Ordering::SeqCst) == 1));
    set_num_threads(0);
    let _ = std::panic::take_hook();
}
