//! Helpers shared by the integration tests.

use seqrnn::engine::{supported, with_max_isa};

/// Runs `f` once at every instruction-set level this CPU supports (AVX-512, AVX2 + FMA, the
/// portable kernels), each on this thread with the level capped accordingly.
pub fn at_every_level(f: impl Fn()) {
    for isa in supported() {
        println!("level {isa}");
        with_max_isa(Some(isa), &f);
    }
}
