import numpy as np
from PIL import Image

from lgvsc.plots import plot_frame_quality, plot_keyframe_timeline, side_by_side


def test_plots_write_real_pngs(tmp_path):
    p1 = plot_frame_quality(np.linspace(20, 30, 50), np.linspace(0.5, 0.9, 50), [0, 20, 49], tmp_path / "q.png")
    p2 = plot_keyframe_timeline(50, {"sent": [0, 20, 49], "received": [0, 49]}, tmp_path / "t.png",
                                lost={"received": [20]}, fps=24)
    for p in (p1, p2):
        with Image.open(p) as im:
            assert im.format == "PNG" and im.width > 300 and im.height > 50


def test_side_by_side_places_source_left_and_reconstruction_right():
    src = np.full((2, 8, 10, 3), 200, np.uint8)
    rec = np.full((2, 8, 10, 3), 50, np.uint8)
    sbs = side_by_side(src, rec, gap=2)
    assert sbs.shape == (2, 8, 22, 3)
    assert np.all(sbs[:, :, :10] == 200) and np.all(sbs[:, :, 12:] == 50) and np.all(sbs[:, :, 10:12] == 0)
