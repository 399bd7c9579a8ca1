//! `dockgrade man`: manual pages in roff, generated from the clap
//! definitions: `dockgrade.1` on standard output, or with `--out DIR` one
//! page for dockgrade and one per subcommand (`dockgrade-check.1`…).

use std::path::PathBuf;

use clap::{Args, CommandFactory};

use super::Cli;
use crate::error::Error;
use crate::exit;

#[derive(Debug, Args)]
#[command(after_help = "Install, for example:\n  \
    dockgrade man --out ~/.local/share/man/man1 && man dockgrade-check\n\n\
    Exit codes:\n  0    done\n  2    bad command line, or DIR cannot be written")]
pub(super) struct ManArgs {
    /// Write every page into this folder instead of printing dockgrade.1.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub(super) fn run(args: ManArgs) -> Result<i32, Error> {
    let cli = Cli::command();
    let Some(dir) = args.out else {
        say_raw!("{}", String::from_utf8_lossy(&page(cli)?));
        return Ok(exit::SUCCESS);
    };
    let failed = |source| Error::Write {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(failed)?;
    let mut written = vec![("dockgrade.1".to_string(), page(cli.clone())?)];
    for sub in cli.get_subcommands() {
        let name = format!("dockgrade-{}", sub.get_name());
        let sub = sub.clone().name(name.clone());
        written.push((format!("{name}.1"), page(sub)?));
    }
    for (name, bytes) in &written {
        crate::report::ReportFile::create(&dir.join(name))?.write(bytes)?;
    }
    say!(
        "wrote {} manual pages into {}",
        written.len(),
        dir.display()
    );
    Ok(exit::SUCCESS)
}

fn page(cmd: clap::Command) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| Error::Infrastructure(format!("cannot render the manual: {e}")))?;
    Ok(out)
}
