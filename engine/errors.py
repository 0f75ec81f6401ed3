"""User-facing errors. Each carries a one-line message that the CLI prints and the app shows as-is."""


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
