"""The animation export: its frames are the chosen backend's own renders of the in-between poses (no halo)."""
import numpy as np
import pytest

from engine.pose import J
from poseeditor.animation import pose_sequence
from tests.app.driver import close_window, drag_joint, new_window, wait_engine, wait_idle_result, wait_loaded


def read_frames(path):
    import imageio.v3 as iio

    return [f[..., :3] for f in iio.imread(path, index=None)]


@pytest.mark.parametrize("backend", ["warp", "dgan"])
def test_middle_frame_is_the_backends_own_render_of_that_pose(qtbot, procedural_photos, tmp_path, backend):
    from engine import registry

    if backend not in registry.backend_names():
        pytest.skip(f"{backend} is not registered in this checkout")
    win = new_window(qtbot, [procedural_photos[0][0]])
    wait_loaded(qtbot, win)
    wait_engine(qtbot, win)
    if backend != "warp":
        win.set_backend(backend)
        qtbot.waitUntil(lambda: win.backend_info["name"] == backend, timeout=60000)
        if not win.backend_info["ready"]:
            pytest.skip(f"{backend} has no starter weights here")
    wait_idle_result(qtbot, win, timeout=60000)
    drag_joint(qtbot, win, J["r_wrist"], 20, -40)
    wait_idle_result(qtbot, win, timeout=60000)
    done = []
    win.client.worker.animationDone.connect(done.append)
    gif = tmp_path / "a.gif"
    assert win.export_animation(gif, frames=5, fps=8)
    qtbot.waitUntil(lambda: len(done) == 1, timeout=120000)
    frames = read_frames(gif)
    mid_pose = pose_sequence(win.doc.main.pose, win.doc.target, 5)[2]
    # the backend's own render of that pose, as the window shows it when the pose is set
    win.doc.set_target(mid_pose)
    own = wait_idle_result(qtbot, win, timeout=60000)
    assert own.backend == backend and own.pose == mid_pose
    diff = np.abs(frames[2].astype(np.int16) - own.image.astype(np.int16)).max(-1)
    # a GIF keeps 256 colours: small differences everywhere, but no band of changed pixels round the body
    assert np.percentile(diff, 99) < 40, np.percentile(diff, [50, 90, 99])
    assert (diff > 60).mean() < 0.002
    if backend == "warp":
        # warp keeps the photo where nothing moved: away from the moved arm the middle frame is the photo
        photo = win.doc.main.image.astype(np.int16)
        arm = [J["r_shoulder"], J["r_elbow"], J["r_wrist"]]
        pts = np.concatenate([win.doc.main.pose.xy[arm], mid_pose.xy[arm]])
        x0, y0 = np.maximum(pts.min(0) - 30, 0).astype(int)
        x1, y1 = (pts.max(0) + 30).astype(int)
        away = np.ones(photo.shape[:2], bool)
        away[y0:y1 + 1, x0:x1 + 1] = False
        off = np.abs(own.image.astype(np.int16) - photo).max(-1)[away]
        assert (off > 20).mean() < 0.001, (off > 20).mean()
    close_window(win)


def test_unmoved_joints_keep_their_exact_place_in_every_in_between_pose(procedural_photos):
    a = procedural_photos[0][1]
    b = a.moved("r_wrist", 100.3, 120.7)
    for p in pose_sequence(a, b, 9)[1:-1]:
        still = [j for j in range(18) if j != J["r_wrist"]]
        assert np.array_equal(p.xy[still], a.xy[still])       # bit for bit, not to a float rounding
        assert 0 < np.linalg.norm(p.xy[J["r_wrist"]] - a.xy[J["r_wrist"]]) < np.linalg.norm(b.xy[J["r_wrist"]]
                                                                                           - a.xy[J["r_wrist"]])
