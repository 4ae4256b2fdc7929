"""Errors a user can act on: the CLI prints them as one line and exits non-zero."""


class UserError(Exception):
    """Bad input or environment; the message says what is wrong and what to do."""

    exit_code = 2
