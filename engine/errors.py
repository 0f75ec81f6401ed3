"""User-facing errors. Each carries a one-line message that the CLI prints and the app shows as-is."""
import argparse


class PoseEditorError(Exception):
    """Base class: a problem with the user's input, described in words a user can act on."""


class ImageReadError(PoseEditorError):
    """A file that is not a readable image (corrupt, truncated, not an image at all)."""


class NoPersonError(PoseEditorError):
    """The detector found no person in a photo."""


class PoseFormatError(PoseEditorError):
    """A pose file or annotation row that does not follow its format."""


class WeightsError(PoseEditorError):
    """A weights file that cannot be used: wrong backend, wrong shapes, truncated, pickled."""


class DatasetError(PoseEditorError):
    """A dataset folder that cannot be used as it is."""


def user_message(e: BaseException, expected: tuple = ()) -> str:
    """The line a user is shown for ``e``: a user error's own words (a PoseEditorError, or one of ``expected``);
    anything else is a bug, whose trace goes to the terminal while the user reads one line."""
    if isinstance(e, (PoseEditorError, *expected)):
        return str(e) or type(e).__name__
    import sys
    import traceback

    traceback.print_exception(e, file=sys.stderr)
    return f"unexpected error: {type(e).__name__}: {e}"


def error_line(prog: str, error) -> str:
    """The one line a CLI prints for a user error: ``prog: error: message``, whitespace folded. An error raised in
    a DataLoader worker comes back carrying the worker's whole traceback (torch re-raises it with that as its
    message): its own last line is the message."""
    text = str(error)
    if "Original Traceback" in text:
        last = [line for line in text.splitlines() if line.strip()][-1]
        head, sep, rest = last.partition(": ")
        text = rest if sep and " " not in head else last  # "training.datasets.DatasetError: x.png: ..."
    return f"{prog}: error: {' '.join(text.split()) or type(error).__name__}"


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are error_line (exit status 2) instead of a usage block and then the error:
    every failure of a CLI is one line."""

    def error(self, message):
        prog, *command = self.prog.split()  # a subcommand's parser is "prog command"
        where = f"{' '.join(command)}: " if command else ""
        self.exit(2, error_line(prog, f"{where}{message} (see --help)") + "\n")
