"""The base class of errors a user can fix: the CLI prints their message in one line, no traceback."""


class UserFacingError(Exception):
    """Bad input (a name, a value, a file): the message says what is wrong and what to do."""
