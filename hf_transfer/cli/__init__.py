"""The ``hf-transfer`` command line: one module per subcommand, each with a ``*_command_parser``."""
