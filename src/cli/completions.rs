//! `dockgrade completions SHELL`: the shell's completion script, generated
//! from the same clap definitions as the command line itself.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;
use crate::error::Error;
use crate::exit;

#[derive(Debug, Args)]
#[command(after_help = "Install, for example:\n  \
    bash: dockgrade completions bash > ~/.local/share/bash-completion/completions/dockgrade\n  \
    zsh:  dockgrade completions zsh > ~/.zfunc/_dockgrade   (with fpath+=~/.zfunc)\n  \
    fish: dockgrade completions fish > ~/.config/fish/completions/dockgrade.fish\n\n\
    Exit codes:\n  0    done\n  2    bad command line")]
pub(super) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

pub(super) fn run(args: CompletionsArgs) -> Result<i32, Error> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "dockgrade", &mut out);
    say_raw!("{}", String::from_utf8_lossy(&out));
    Ok(exit::SUCCESS)
}
