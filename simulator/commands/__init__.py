"""The ``barq`` subcommands that live in modules of their own.

Each module has ``register(commands)``, which adds its parser to the
``barq`` subparsers and sets ``handler`` to the function that runs it and
returns the exit code.
"""
