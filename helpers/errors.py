"""The one exception type that the CLI turns into a one-line, actionable message."""


class HelpersError(Exception):
    """A problem the user can fix: bad input, a missing file, an unavailable backend.

    The message is a single line that says what is wrong and what to do about it.
    """
