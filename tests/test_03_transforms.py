"""Smoke tests for 03_transforms: the values the notes state, and the images in TensorBoard."""

import io
import re

from common.model import CIFAR10_CLASSES

import numpy as np
from PIL import Image

from helpers import read_events


def decode(image_event):
    return np.asarray(Image.open(io.BytesIO(image_event.encoded_image_string)).convert("RGB"), dtype=float)


def test_smoke_p9_transforms_totensor_facts(run_script):
    r = run_script("03_transforms/P9_transforms.py", "--offline")
    assert r.returncode == 0, r
    out = r.stdout
    assert "img.size (200, 133)  (PIL says W, H)" in out
    assert "ToTensor -> Tensor (3, 133, 200) torch.float32  (C, H, W)" in out
    assert "tensor_trans(img) is tensor_trans.__call__(img): True" in out
    # note 003's 5x5x3 array: shape (3, 5, 5), rows 1/255 .. 5/255
    assert "numpy (5, 5, 3) uint8 -> tensor (3, 5, 5)  (HWC -> CHW)" in out
    assert "values 0.0039 .. 0.0196  (1/255 .. 5/255)" in out
    for v in ("0.0039", "0.0078", "0.0118", "0.0157", "0.0196"):
        assert f"[{v}, {v}, {v}, {v}, {v}]" in out
    assert "permute(2, 0, 1).float() / 255: True" in out
    assert "on data.astype(np.float32) the max stays 5.0" in out
    # OpenCV: the same channel means in reverse order; cvtColor makes it match PIL
    bgr = re.search(r"cv2\.imread -> ndarray \(133, 200, 3\), channel means \[(.*)\]  \(B, G, R\)", out)
    rgb = re.search(r"PIL image channel means \[(.*)\]  \(R, G, B\)", out)
    assert bgr and rgb, r
    bgr_means = [float(x) for x in bgr.group(1).split(",")]
    rgb_means = [float(x) for x in rgb.group(1).split(",")]
    assert max(abs(a - b) for a, b in zip(bgr_means, rgb_means[::-1], strict=True)) < 0.01
    assert abs(bgr_means[0] - rgb_means[0]) > 0.1  # this ant photo: red and blue means differ a lot
    m = re.search(r"max \|PIL - cv2 BGR\| = ([\d.]+), max \|PIL - cv2 after cvtColor\(BGR2RGB\)\| = ([\d.]+)", out)
    assert m and float(m.group(1)) > 0.3 and float(m.group(2)) < 0.05, r

    acc = read_events(r.home / "logs" / "03_transforms" / "P9_transforms")
    assert sorted(acc.Tags()["images"]) == ["Tensor_img", "cv2_BGR_as_RGB"]
    pil, cv = decode(acc.Images("Tensor_img")[0]), decode(acc.Images("cv2_BGR_as_RGB")[0])
    assert pil.shape == cv.shape == (133, 200, 3)
    # in TensorBoard the OpenCV picture has red and blue swapped
    assert np.abs(pil[..., ::-1] - cv).mean() < 1.0 < np.abs(pil - cv).mean()


def test_smoke_useful_transforms(run_script):
    r = run_script("03_transforms/useful_transforms.py", "--offline")
    assert r.returncode == 0, r
    out = r.stdout
    m = re.search(r"img_tensor\[0\]\[0\]\[0\] = ([\d.]+) -> img_norm\[0\]\[0\]\[0\] = (-?[\d.]+)", out)
    assert m, r
    assert abs(float(m.group(2)) - (2 * float(m.group(1)) - 1)) < 2e-4  # (x - 0.5) / 0.5
    assert "range 0.00 .. 1.00 -> -1.00 .. 1.00" in out
    # the RGBA pitfall is shown and fixed, not crashed on
    assert (
        "Normalize on RGBA (4, 133, 200): RuntimeError: The size of tensor a (4) must match the size of tensor b (3)"
    ) in out
    assert "after .convert('RGB'): (3, 133, 200) -> Normalize works: (3, 133, 200)" in out
    assert "Resize((512, 512)) on PIL -> Image size (512, 512)" in out
    assert "Resize((256, 256)) on tensor (3, 512, 512) -> (3, 256, 256)" in out
    assert "Compose([Resize(512), ToTensor()]) -> (3, 512, 769)  (shorter side 512)" in out
    assert "ToPILImage -> RGB size (200, 133); back to the same tensor: True" in out
    assert "same values as ToTensor: True" in out

    acc = read_events(r.home / "logs" / "03_transforms" / "useful_transforms")
    assert sorted(acc.Tags()["images"]) == ["Normalize", "RandomCrop", "Resize"]
    assert [(e.step, e.width, e.height) for e in acc.Images("Resize")] == [(0, 512, 512), (1, 769, 512)]
    crops = acc.Images("RandomCrop")
    assert [e.step for e in crops] == list(range(10))
    assert {(e.width, e.height) for e in crops} == {(128, 128)}
    assert len({e.encoded_image_string for e in crops}) > 1  # random windows, not ten copies


def test_smoke_p10_dataset_transform(run_script, tmp_path):
    # a learner who did P6-P7 (read_data) has the course's folders in dataset/: not CIFAR-10, ignored
    for folder in ("ants_image", "ants_label", "bees_image", "bees_label"):
        (tmp_path / "dataset" / "train" / folder).mkdir(parents=True)
    r = run_script("03_transforms/P10_dataset_transform.py", "--offline")
    assert r.returncode == 0, r
    out = r.stdout
    assert "using the bundled sample" in out
    assert "len(train_set) = 2500, len(test_set) = 500" in out
    assert f"test_set.classes: {list(CIFAR10_CLASSES)}" in out
    # the bundled sample in the real test set's order: a cat first and a mix, as in the video
    assert "test_set[0]: img Tensor (3, 32, 32) torch.float32, target 3" in out
    assert "test_set.classes[target] = 'cat'" in out
    assert (
        "first 10 test images (steps 0-9): cat, ship, ship, airplane, frog, frog, automobile, frog, cat, automobile\n"
    ) in out

    acc = read_events(r.home / "logs" / "03_transforms" / "P10_dataset_transform")
    images = acc.Images("test_set")
    assert [e.step for e in images] == list(range(10))
    assert {(e.width, e.height) for e in images} == {(32, 32)}
