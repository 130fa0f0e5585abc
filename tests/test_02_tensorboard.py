"""Smoke test for 02_tensorboard: scalars and images read back from the event file."""

from helpers import read_events


def test_smoke_p8_tensorboard_scalars_and_hwc_images(run_script):
    r = run_script("02_tensorboard/P8_Tensorboard.py", "--offline")
    assert r.returncode == 0, r
    assert "JpegImageFile -> ndarray (133, 200, 3) uint8  (H, W, C)" in r.stdout
    # the mistake is shown, not crashed on: add_image without dataformats raises
    assert "add_image without dataformats fails: " in r.stdout
    assert "--port 6007" in r.stdout

    acc = read_events(r.home / "logs" / "02_tensorboard" / "P8_Tensorboard")
    assert sorted(acc.Tags()["scalars"]) == ["y=2x", "y=x", "y=x^2"]
    for tag, f in (("y=x", lambda x: x), ("y=2x", lambda x: 2 * x), ("y=x^2", lambda x: x * x)):
        events = acc.Scalars(tag)
        assert [e.step for e in events] == list(range(100))
        assert [e.value for e in events] == [float(f(e.step)) for e in events]
    # only the HWC images were written; the failed CHW call left nothing behind
    assert acc.Tags()["images"] == ["test"]
    images = acc.Images("test")
    assert [e.step for e in images] == [1, 2]
    assert [(e.width, e.height) for e in images] == [(200, 133), (200, 180)]
