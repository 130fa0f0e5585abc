"""Transforms的使用: ToTensor, __call__, and what HWC -> CHW means.

Course P10-P11; note 000 "Transforms" / "___call___方法" / "tensor数据类型", note 001
"三、数据变换工具箱：Transforms" 3.1, note 003 "4.6.1 torchvision.transforms" 1 ToTensor
and "6.1.1 图像基础" HWC和CHW.

A transform is an object you create once (the tool) and then call on images.
ToTensor turns a PIL image or a numpy array (H, W, C), uint8 0-255, into a
float tensor (C, H, W) in 0.0-1.0: PyTorch keeps channels first.

Run:     python 03_transforms/P9_transforms.py
Look:    tensorboard --logdir logs  -> IMAGES: "Tensor_img" (the ant), "cv2_BGR_as_RGB" (the same
         ant read by OpenCV without converting: red and blue swapped, a blue-tinted ant)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors, hymenoptera
from common.errors import LessonError
from common.paths import lesson_logdir

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.tensorboard import SummaryWriter
from torchvision import transforms


def main():
    p = cli.parser(__doc__, data="ants_bees", device=False)
    args = p.parse_args()

    img_path = hymenoptera.train_image("ants", "0013035.jpg", offline=args.offline)  # the course's ant picture

    # 1. PIL image -> tensor
    img = Image.open(img_path)
    tensor_trans = transforms.ToTensor()  # create the tool ...
    tensor_img = tensor_trans(img)  # ... then use it: this line runs tensor_trans.__call__(img)
    print(_("PIL {mode} image, img.size {size}  (PIL says W, H)").format(mode=img.mode, size=img.size))
    print(f"ToTensor -> {type(tensor_img).__name__} {tuple(tensor_img.shape)} {tensor_img.dtype}  (C, H, W)")
    print(
        _("tensor_trans(img) is tensor_trans.__call__(img): {same}").format(
            same=torch.equal(tensor_img, tensor_trans.__call__(img))
        )
    )

    # 2. The note's 5x5x3 array: row r holds the value r+1 in all 3 channels (H, W, C = 5, 5, 3)
    data = np.array([[[v, v, v]] * 5 for v in range(1, 6)], dtype=np.uint8)
    torch.set_printoptions(precision=4)  # print tensors the way the notes show them (0.0039 ...)
    tensor_data = transforms.ToTensor()(data)
    print(f"numpy {data.shape} {data.dtype} -> tensor {tuple(tensor_data.shape)}  (HWC -> CHW)")
    print(_("channel 0:"), tensor_data[0], sep="\n")
    print(
        _("values {low:.4f} .. {high:.4f}  (1/255 .. 5/255)").format(
            low=tensor_data.min().item(), high=tensor_data.max().item()
        )
    )
    # What ToTensor computes, by hand: move channels first, then divide by 255
    by_hand = torch.from_numpy(data).permute(2, 0, 1).float() / 255
    print(
        _("same as torch.from_numpy(data).permute(2, 0, 1).float() / 255: {same}").format(
            same=torch.equal(tensor_data, by_hand)
        )
    )
    # ToTensor only divides uint8 input by 255; a float array is taken as already 0-1
    print(
        _("on data.astype(np.float32) the max stays {high}").format(
            high=transforms.ToTensor()(data.astype(np.float32)).max().item()
        )
    )

    # 3. OpenCV gives a numpy array too, but its channels are B, G, R
    cv_img = cv2.imread(str(img_path))
    if cv_img is None:  # imread returns None instead of raising; on Windows also for non-ASCII paths
        raise LessonError(
            _(
                "cv2.imread could not read {path} (for a path with Chinese characters use "
                "cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR))"
            ).format(path=img_path)
        )
    cv_tensor = tensor_trans(cv_img)
    rgb_tensor = tensor_trans(cv2.cvtColor(cv_img, cv2.COLOR_BGR2RGB))
    print(
        _("cv2.imread -> {kind} {shape}, channel means {means}  (B, G, R)").format(
            kind=type(cv_img).__name__, shape=cv_img.shape, means=[round(m, 3) for m in cv_tensor.mean((1, 2)).tolist()]
        )
    )
    print(
        _("PIL image channel means {means}  (R, G, B)").format(
            means=[round(m, 3) for m in tensor_img.mean((1, 2)).tolist()]
        )
    )
    print(
        _("max |PIL - cv2 BGR| = {bgr:.4f}, max |PIL - cv2 after cvtColor(BGR2RGB)| = {rgb:.4f}").format(
            bgr=(tensor_img - cv_tensor).abs().max().item(), rgb=(tensor_img - rgb_tensor).abs().max().item()
        )
    )

    # 4. Tensors go straight into add_image: CHW is its default, no dataformats needed
    writer = SummaryWriter(str(lesson_logdir(__file__, args.logdir)))
    writer.add_image("Tensor_img", tensor_img, 0)
    writer.add_image("cv2_BGR_as_RGB", cv_tensor, 0)
    writer.close()
    print(f"tensorboard: {lesson_logdir(__file__, args.logdir)}")


if __name__ == "__main__":
    errors.run(main)
