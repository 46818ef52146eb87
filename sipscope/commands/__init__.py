"""CLI subcommands other than report, one module each (add_arguments + run)."""
