"""PoseEditor's Qt-free inference library: poses, encodings, detection, weights, backends, runtime.

Nothing in this package may import Qt: the app, the trainer and scripts all share it.
"""
import os

__version__ = "0.1.0"

# FFmpeg's own log ("moov atom not found", ...) would print before the one-line error about a damaged video.
# OpenCV reads this level once, at the process's first video opened or written, so it is set when the library is
# first imported: set in the module that reads videos, a video written before (a test, the app's probe) kept
# FFmpeg talking.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
