"""The one exception type that the CLI turns into a one-line, actionable message."""


class HelpersError(Exception):
    """A problem the user can fix: bad input, a missing file, an unavailable backend.

    The message is a single line that says what is wrong and what to do about it.
    """


class RandomWeightsWarning(UserWarning):
    """A model was built with random weights: its outputs mean nothing.

    Issued once where the model is made; whoever presents results shows it once, as one box
    (the CLI on stdout, the notebooks as a coloured box), instead of a stack of repeats.
    """


def first_line(e: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type name if empty), cut to ``limit`` characters."""
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:limit]
