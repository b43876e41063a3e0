"""One module per ``aligngames solve`` command.

Each module is named like its command; its docstring's first line is the command's one-line description
(the one registered in :mod:`aligngames.cli.registrations`), and it defines
``add_arguments(parser: argparse.ArgumentParser) -> None`` and ``run(args: argparse.Namespace) -> int``.
A command whose flags depend on the game its arguments name (``mpo``: tabular or language mode, each with
its own defaults) defines ``add_arguments(parser, argv)`` instead and is given them
(:func:`aligngames.cli.solve_parser`). Game loading and run-folder writing shared by the commands live in :mod:`aligngames.cli.driver`.
"""
