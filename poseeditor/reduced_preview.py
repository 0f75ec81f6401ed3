"""Drags on a big photo are drawn on a reduced copy of it, enlarged back: live at a phone photo's size.

A 12-megapixel phone photo is edited at its own size (up to engine.images.MAX_SIDE), and the warp engine
renders 2731x4096 pixels in ~560 ms here: a drag at 60 moves a second showed 2 pictures for 40 moves, 1.5 s
behind the hand (benchmarks/bench_app_latency.py). Like the proxies of photo editors, a drag on a photo longer than
PREVIEW_SIDE is drawn by the warp engine on copies of the photos reduced to that side (~10x fewer pixels) and
enlarged to the photo's size for the result pane; the drag's end is drawn at the photo's own size, by the chosen
backend, as every final render. Qt-free: the render worker owns one (worker.RenderWorker._live_warp)."""
from __future__ import annotations

import numpy as np

PREVIEW_SIDE = 1280  # the long side drags are drawn at on bigger photos: 64 ms a warp render of 853x1280 here


def reduction(shape) -> float:
    """The scale a photo of ``shape`` is drawn at during a drag (1 for a photo no longer than PREVIEW_SIDE)."""
    return min(1.0, PREVIEW_SIDE / max(shape[:2]))


def is_big(image) -> bool:
    return image is not None and reduction(np.shape(image)) < 1.0


class ReducedPreview:
    """A warp Engine on reduced copies of the photos being edited, used as the worker uses any Engine:
    ``set_sources`` (each photo reduced by its own scale, its pose and mask with it), ``state`` (the encode, once
    per set), ``render`` (a pose of the edited photo, its picture enlarged to the photo's size)."""

    def __init__(self):
        from engine.runtime import Engine

        self.engine = Engine("warp", device="cpu")
        self.scale = 1.0            # the edited photo's
        self.size = (0, 0)          # the edited photo's (w, h)

    @property
    def backend(self):
        return self.engine.backend

    @property
    def state(self):
        return self.engine.state

    def set_sources(self, images, poses, masks=None) -> None:
        import cv2

        small_images, small_poses, small_masks = [], [], []
        for k, (img, pose) in enumerate(zip(images, poses)):
            s = reduction(img.shape)
            h, w = img.shape[:2]
            size = (max(1, round(w * s)), max(1, round(h * s)))
            small_images.append(cv2.resize(img, size, interpolation=cv2.INTER_AREA) if s < 1 else img)
            small_poses.append(pose.scaled(s, width=size[0], height=size[1]) if s < 1 else pose)
            if masks is not None:
                m = masks[k]
                small_masks.append(m if m is None or s >= 1 else
                                   cv2.resize(np.asarray(m, np.float32), size, interpolation=cv2.INTER_AREA))
        self.engine.set_sources(small_images, small_poses, small_masks if masks is not None else None)
        self.scale = reduction(images[0].shape)
        self.size = (images[0].shape[1], images[0].shape[0])

    def render(self, pose, live: bool = True) -> np.ndarray:
        """The edited photo in ``pose`` (its own pixel frame), drawn reduced and enlarged to the photo's size
        (always a drag's render: ``live`` is the Engine's argument, for the caller's one call)."""
        import cv2

        w, h = self.size
        small = self.engine.render(pose.scaled(self.scale, width=max(1, round(w * self.scale)),
                                               height=max(1, round(h * self.scale))), live=True)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
