"""One exception type for every problem with the user's input, so that scripts and the Snakefile can
print its message alone instead of a traceback."""


class InputError(Exception):
    """Bad input (a file, a line, a config key): the message names it and says what to do."""
