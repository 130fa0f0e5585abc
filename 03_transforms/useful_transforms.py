"""常见的Transforms: Normalize, Resize, Compose, RandomCrop and ToPILImage, each on the ant picture.

Course P12-P13; note 000 "常见的transforms" / "transform.Resize()的使用" / "利用Compose进行resize" /
"随机裁剪RandomCrop", note 001 "三、数据变换工具箱：Transforms" 3.2, note 003
"4.6.1 torchvision.transforms" 2-5.

Each transform is a class: create it with its settings, call it on an image.
Watch the input type each one expects (PIL image or tensor) and the type it
returns; Compose chains them, so one's output must suit the next one's input.

Run:     python 03_transforms/useful_transforms.py
Look:    tensorboard --logdir logs  -> IMAGES: "Normalize", "Resize" (step 0 the (512, 512)
         squash, step 1 Compose with Resize(512), aspect kept), "RandomCrop" (10 steps: drag
         the slider, each is a different random 128x128 window)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors, hymenoptera
from common.paths import lesson_logdir

import torch
from PIL import Image
from torch.utils.tensorboard import SummaryWriter
from torchvision import transforms
from torchvision.transforms import v2


def main():
    p = cli.parser(__doc__, data="ants_bees", device=False, seed=True)
    args = p.parse_args()
    torch.manual_seed(args.seed)  # RandomCrop draws its windows from torch's generator

    img_path = hymenoptera.train_image("ants", "0013035.jpg", offline=args.offline)  # the course's ant picture
    # convert("RGB"): a PNG or GIF may open with 4 channels (RGBA) or a palette (P); see Normalize below
    img = Image.open(img_path).convert("RGB")
    print(img)
    writer = SummaryWriter(str(lesson_logdir(__file__, args.logdir)))

    # ToTensor: PIL -> tensor (C, H, W), 0.0-1.0
    trans_totensor = transforms.ToTensor()
    img_tensor = trans_totensor(img)

    # Normalize (tensor -> tensor): output[c] = (input[c] - mean[c]) / std[c] per channel.
    # mean = std = 0.5 maps 0..1 to -1..1, i.e. 2 * x - 1.
    trans_norm = transforms.Normalize([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    img_norm = trans_norm(img_tensor)
    print(
        f"Normalize: img_tensor[0][0][0] = {img_tensor[0][0][0].item():.4f} -> "
        f"img_norm[0][0][0] = {img_norm[0][0][0].item():.4f}  (2 * x - 1)"
    )
    print(
        _("  range {low:.2f} .. {high:.2f} -> {new_low:.2f} .. {new_high:.2f}").format(
            low=img_tensor.min().item(),
            high=img_tensor.max().item(),
            new_low=img_norm.min().item(),
            new_high=img_norm.max().item(),
        )
    )
    writer.add_image("Normalize", img_norm, 0)  # TensorBoard clips below 0: dark areas turn black

    # The RGBA pitfall: a screenshot PNG opens as RGBA, ToTensor gives 4 channels, and a
    # 3-value Normalize no longer fits. (The note's fix of 4 means/stds keeps the alpha
    # channel, which a 3-channel model can't take either.) The fix is .convert("RGB").
    rgba_tensor = trans_totensor(img.convert("RGBA"))  # what Image.open("screenshot.png") gives
    try:
        trans_norm(rgba_tensor)
    except RuntimeError as exc:
        print(
            _("Normalize on RGBA {shape}: RuntimeError: {problem}").format(
                shape=tuple(rgba_tensor.shape), problem=str(exc).splitlines()[0]
            )
        )
    fixed = trans_totensor(img.convert("RGBA").convert("RGB"))
    print(
        _("after .convert('RGB'): {shape} -> Normalize works: {result}").format(
            shape=tuple(fixed.shape), result=tuple(trans_norm(fixed).shape)
        )
    )

    # Resize on a PIL image: (h, w) squashes to exactly that size; returns a PIL image
    print(_("Resize: original img.size {size}  (W, H)").format(size=img.size))
    trans_resize = transforms.Resize((512, 512))
    img_resize = trans_resize(img)
    print(
        _("  Resize((512, 512)) on PIL -> {kind} size {size}").format(
            kind=type(img_resize).__name__, size=img_resize.size
        )
    )
    img_resize = trans_totensor(img_resize)
    writer.add_image("Resize", img_resize, 0)
    # Resize on a tensor works too (it resizes the last two dims, H and W)
    trans_resize_2 = transforms.Resize((256, 256))
    print(
        _("  Resize((256, 256)) on tensor {shape} -> {result}").format(
            shape=tuple(img_resize.shape), result=tuple(trans_resize_2(img_resize).shape)
        )
    )

    # Compose: a list of transforms applied in order. Resize(512) with one number scales the
    # SHORTER side to 512 and keeps the aspect ratio.
    trans_compose = transforms.Compose([transforms.Resize(512), trans_totensor])
    img_resize_2 = trans_compose(img)
    print(
        _("Compose([Resize(512), ToTensor()]) -> {shape}  (shorter side 512)").format(shape=tuple(img_resize_2.shape))
    )
    writer.add_image("Resize", img_resize_2, 1)

    # RandomCrop: a random size x size window, a new one on every call. Crop size must fit the
    # image (our sample is 200 x 133); pad_if_needed=True would pad smaller images instead of failing.
    trans_random = transforms.RandomCrop(128)
    trans_compose_2 = transforms.Compose([trans_random, trans_totensor])
    for i in range(10):
        img_crop = trans_compose_2(img)
        writer.add_image("RandomCrop", img_crop, i)
    print(_("RandomCrop(128) x10 -> {shape} each, written as steps 0-9").format(shape=tuple(img_crop.shape)))

    # ToPILImage: tensor (C, H, W) 0-1 -> PIL image, e.g. to .save() or .show() a result
    img_back = transforms.ToPILImage()(img_tensor)
    print(
        _("ToPILImage -> {mode} size {size}; back to the same tensor: {same}").format(
            mode=img_back.mode, size=img_back.size, same=torch.equal(trans_totensor(img_back), img_tensor)
        )
    )

    # transforms.v2 (torchvision >= 0.16) is the current API. ToTensor is deprecated there;
    # its replacement is two steps: ToImage (to a uint8 tensor, CHW) + ToDtype(float32, scale=True)
    # (the /255). v2 transforms also take tensors and transform boxes and masks alongside the image.
    to_tensor_v2 = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
    img_v2 = to_tensor_v2(img)
    print(
        _("v2 ToImage + ToDtype(float32, scale=True) -> {shape}, same values as ToTensor: {same}").format(
            shape=tuple(img_v2.shape), same=torch.allclose(img_v2, img_tensor)
        )
    )

    writer.close()
    print(f"tensorboard: {lesson_logdir(__file__, args.logdir)}")


if __name__ == "__main__":
    errors.run(main)
