"""PoseEditor's Qt-free inference library: poses, encodings, detection, weights, backends, runtime.

Nothing in this package may import Qt: the app, the trainer and scripts all share it.
"""
__version__ = "0.1.0"
