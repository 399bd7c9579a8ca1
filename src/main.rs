//! The `dockgrade` binary: everything lives in the library; see `cli`.

fn main() {
    std::process::exit(dockgrade::cli::main());
}
