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


def brief(value, limit: int = 80) -> str:
    """``repr(value)`` cut to about ``limit`` characters (``reprlib``): safe to put any user value in a message.

    Containers are shortened element-wise and never walked whole, so a huge or deeply nested value
    (a "billion laughs" yaml) costs no more than a small one.
    """
    import reprlib

    r = reprlib.Repr()
    r.maxstring = r.maxother = max(limit - 10, 12)
    r.maxlist = r.maxtuple = r.maxdict = r.maxset = r.maxfrozenset = r.maxdeque = 6
    r.maxlevel = 3
    text = r.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def one_line(text: str, limit: int = 600) -> str:
    """``text`` on one line (line breaks shown as ``\\n``) and at most ``limit`` characters."""
    text = str(text).strip().replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def unwrap_worker_error(e: BaseException) -> str:
    """The message of ``e``; for an exception a PyTorch data-loader worker re-raised (its message holds the
    worker's whole traceback after "Original Traceback"), the original message: the last line, without
    the exception's type name."""
    text = str(e)
    if "Original Traceback" not in text:
        return text
    last = [ln for ln in text.strip().splitlines() if ln.strip()][-1].strip()
    head, sep, rest = last.partition(": ")
    return rest if sep and head.replace(".", "").replace("_", "").isalnum() else last


#: the longest file or folder name, in bytes, that Linux file systems take
NAME_MAX = 255


def name_too_long(path) -> str:
    """Why the OS refused ``path`` as too long (ENAMETOOLONG), naming the component at fault, as the reason
    clause of a one-line error (said the same way whether the path was to be read or written)."""
    import os
    from pathlib import Path

    path = Path(path)
    part = next((p for p in path.parts if len(os.fsencode(p)) > NAME_MAX), path.name)
    which = "the file name" if part == path.name else "a folder name in it"
    return f"{which} is too long ({len(os.fsencode(part))} bytes; at most {NAME_MAX}): choose a shorter name"
