"""完整的模型验证套路 (course P32, note 003 "4.6.9 完整模型验证套路",
note 004 "模型的使用，验证"; note 000 "GPU训练" for map_location).

Use a trained model on a picture it has never seen, e.g. a dog photo from the
internet: open it, make it RGB, resize to CIFAR-10's 32x32, ToTensor, add the
batch dimension, load the model (map_location), eval(), no_grad(), and argmax
-> class name.

The model comes from a checkpoint: by default the newest one the training
scripts wrote (checkpoints/), else the small trained model shipped in
09_inference/weights/. Checkpoints record their architecture (tudui, tudui_bn,
resnet34), so the right network is rebuilt. The course's whole-model files
(``torch.save(tudui, "tudui_9.pth")``) are accepted too, through an allowlist
of layer classes: a checkpoint is never unpickled blindly (see 07_save_load).

Run:    python 09_inference/predict.py                          (09_inference/imgs/dog.png)
Yours:  python 09_inference/predict.py --image my_cat.jpg --checkpoint checkpoints/train_gpu/<run>/tudui_10.pth
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # lets `import common` work from any folder

import torch
from torchvision import transforms

from common import cli, paths
from common.checkpoint import load_checkpoint, model_from_checkpoint, newest_checkpoint
from common.cli import LessonError
from common.device import pick_device
from common.images import open_image
from common.model import CIFAR10_CLASSES

DEFAULT_IMAGE = paths.REPO_ROOT / "09_inference" / "imgs" / "dog.png"
SHIPPED = paths.REPO_ROOT / "09_inference" / "weights" / "tudui_cifar10.pth"


def find_checkpoint(requested):
    """The checkpoint to use and a few words on why that one."""
    if requested:
        return Path(requested), "--checkpoint"
    # lesson 07's files are untrained demos, not training runs: don't pick those
    newest = newest_checkpoint(paths.CHECKPOINT_DIR, exclude=[paths.SAVE_LOAD_DIR])
    if newest is not None:
        return newest, f"the newest in {paths.CHECKPOINT_DIR}"
    if SHIPPED.is_file():
        return SHIPPED, "shipped with the lessons; train your own with 08_train/train_gpu.py"
    raise LessonError(f"no trained model: nothing in {paths.CHECKPOINT_DIR} and no {SHIPPED}; "
                      "train one with `python 08_train/train_gpu.py` or pass --checkpoint PATH")


def main():
    p = cli.parser(__doc__.splitlines()[0], data=False, logdir=False)
    p.add_argument("--image", default=str(DEFAULT_IMAGE), help="picture to classify (default: the dog)")
    p.add_argument("--checkpoint", metavar="PATH", default=None,
                   help="model file (default: newest under checkpoints/, else 09_inference/weights/)")
    args = p.parse_args()
    device = pick_device(args.device)
    path, why = find_checkpoint(args.checkpoint)  # first, so a missing model is reported at once

    # Image.open + one-line errors for missing/damaged files; mode=None keeps the file's mode
    # (max_side: a huge JPEG is decoded at a reduced scale; it ends up 32x32 anyway)
    image = open_image(args.image, mode=None, max_side=512)
    print(f"image: {args.image} ({image.format}, {image.mode}, {image.size[0]}x{image.size[1]})")
    # PNGs are often RGBA (4 channels: RGB + transparency), scans "L" (1 channel, gray);
    # the model was trained on 3-channel RGB, hence convert("RGB")
    image = image.convert("RGB")

    # the same preparation as the training pictures, plus Resize: CIFAR-10 images are 32x32
    # (Resize((32, 32)) squashes a non-square photo; the model only ever saw 32x32)
    transform = transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])
    image = transform(image)                         # (3, 32, 32)
    image = torch.reshape(image, (1, 3, 32, 32))     # a batch of one: models take (N, C, H, W)

    # map_location: a checkpoint saved on a GPU holds CUDA tensors; this puts them on our device
    ckpt = load_checkpoint(path, map_location=device)  # weights_only=True inside: no code runs
    model = model_from_checkpoint(ckpt, str(path)).to(device)  # rebuilds ckpt["arch"], loads weights
    print(f"checkpoint: {path} ({why})")
    info = [f"arch {ckpt['arch']}"]
    if ckpt.get("epoch") is not None:
        info.append(f"epoch {ckpt['epoch']}")
    if ckpt.get("test_accuracy") is not None:
        info.append(f"test accuracy {ckpt['test_accuracy']:.4f}")
    print("model: " + ", ".join(info))

    model.eval()            # e.g. BatchNorm in tudui_bn/resnet34: use the averages learned in training
    with torch.no_grad():   # no training here, so no graph for backward
        output = model(image.to(device))
    # 10 raw scores -> probabilities that sum to 1 (argmax is the same either way)
    probs = torch.softmax(output, dim=1)[0]
    top = torch.topk(probs, 3)
    print("top 3:")
    for prob, idx in zip(top.values.tolist(), top.indices.tolist()):
        print(f"  {CIFAR10_CLASSES[idx]:<10} {prob:.4f}")
    pred = output.argmax(1).item()  # the course's output.argmax(1): index of the largest score
    print(f"prediction: {CIFAR10_CLASSES[pred]} ({probs[pred].item():.4f})")


if __name__ == "__main__":
    cli.run(main)
