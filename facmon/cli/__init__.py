"""The `facmon` command (entry layer): main builds the parser and maps every FacmonError to its exit code;
common holds what the subcommands share; one module per command group. Nothing imports this package."""
