// Gives the shared library a soname carrying the major version, so programs linked against
// libsoftadastra_sync.so.0 keep working across compatible upgrades.
fn main() {
    // The C/C++ test harness asks the `cc` crate for the platform compiler of this target.
    println!(
        "cargo:rustc-env=SA_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsoftadastra_sync.so.{major}");
    }
}
