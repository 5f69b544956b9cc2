//! Sets `cfg(x86_kernels)` when the x86-64 kernels (AVX2 + FMA, AVX-512) are compiled: on
//! x86-64, unless the `portable` feature asks for the portable kernels only (as every other
//! architecture gets), so that they can be built and tested on any machine.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(x86_kernels)");
    println!("cargo::rerun-if-changed=build.rs");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if arch == "x86_64" && std::env::var_os("CARGO_FEATURE_PORTABLE").is_none() {
        println!("cargo::rustc-cfg=x86_kernels");
    }
}
