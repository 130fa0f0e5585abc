"""完整的模型验证套路: classify one picture you choose with a trained CIFAR-10 model.

Course P32; note 003 "4.6.9 完整模型验证套路", note 004 "模型的使用，验证", note 000
"GPU训练" for map_location. Use a trained model on a picture it has never seen,
e.g. a dog photo from the internet: open it, make it RGB, resize to CIFAR-10's
32x32, ToTensor, add the batch dimension, load the model (map_location),
eval(), no_grad(), and argmax -> class name. Which model: --checkpoint if
given; else your newest checkpoint trained on the full CIFAR-10; else the
model shipped in 09_inference/weights/ (it always says which, and why). A checkpoint of
06_pretrained/transfer_learning.py names its own classes, input size and normalization: they
are used instead of CIFAR-10's. A folder instead of a picture: every picture in it, one line
each, then how many went to each class.

Run:    python 09_inference/predict.py                        (09_inference/imgs/dog.png)
Yours:  python 09_inference/predict.py my_cat.jpg --checkpoint checkpoints/train_gpu/<run>/tudui_10.pth
Folder: python 09_inference/predict.py "my photos" --checkpoint checkpoints/transfer_learning/<run>/finetune_tudui_5.pth
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors, paths
from common.beyond_course import checkpoint
from common.beyond_course.pictures import is_heic, is_picture, named
from common.device import check_device
from common.images import HEIC_HOW, has_transparency, on_white, open_image
from common.model import CIFAR10_CLASSES

import torch
import torchvision

DEFAULT_IMAGE = paths.REPO_ROOT / "09_inference" / "imgs" / "dog.png"
SHIPPED = paths.REPO_ROOT / "09_inference" / "weights" / "tudui_cifar10.pth"


def prepare(image_path, transform, quiet=False):
    """A picture file -> a batch of one, as the model was trained: RGB, resized, ToTensor (+ Normalize)."""
    # Image.open, with one-line errors for missing/damaged files; mode=None keeps the file's mode
    # (max_side: a huge JPEG is decoded at a reduced scale; it ends up 32x32 anyway)
    image = open_image(image_path, mode=None, max_side=512, flag=None)
    width, height = image.info["full_size"]
    if not quiet:
        print(
            _("image: {path} ({format}, {mode}, {w}x{h})").format(
                path=image_path, format=image.format, mode=image.mode, w=width, h=height
            )
        )
    # PNGs are often RGBA (4 channels: RGB + transparency), scans "L" (1 channel, gray);
    # the model was trained on 3-channel RGB, hence convert("RGB")
    if has_transparency(image):
        # convert("RGB") would keep whatever color hides under the transparent pixels (often
        # black); an image viewer shows them over a white page, so that is what the model gets
        image = on_white(image)
        if not quiet:
            print(_("transparent parts: shown over white, as an image viewer does"))
    image = image.convert("RGB")
    image = transform(image)  # (3, 32, 32)
    return torch.reshape(image, (1, *image.shape))  # a batch of one: models take (N, C, H, W)


def main():
    p = cli.parser(__doc__, data=None, logdir=False)
    p.add_argument(
        "picture", nargs="?", default=None, help=_("picture to classify, or a folder of pictures (default: the dog)")
    )
    p.add_argument("--image", metavar="IMAGE", default=None, help=_("one picture, as a flag"))
    p.add_argument(
        "--checkpoint",
        metavar="PATH",
        default=None,
        help=_("model file (default: your newest trained on the full CIFAR-10, else the shipped one)"),
    )
    args = p.parse_args()
    if args.picture and args.image:
        p.error(_("give the picture once: as PICTURE or as --image"))
    image_path = Path(args.picture or args.image or DEFAULT_IMAGE)
    folder = sorted(f for f in image_path.iterdir() if f.is_file()) if image_path.is_dir() else None
    if folder is not None and not any(is_picture(f) for f in folder):
        heic = [f for f in folder if is_heic(f)]
        if heic:  # iPhone photos, and no pillow-heif here
            raise errors.LessonError(
                _(
                    "{path} holds only HEIC photos (iPhone; {names}), which need pillow-heif: {how}, then run again"
                ).format(path=image_path, names=named(heic), how=HEIC_HOW)
            )
        raise errors.LessonError(
            _("{path} is a folder with no pictures in it (.jpg, .png, ...)").format(path=image_path)
        )
    # 定义设备. The course: torch.device("cuda" if torch.cuda.is_available() else "cpu");
    # torch.accelerator asks the same of whatever GPU this PyTorch build knows (cuda, mps, xpu ...)
    if args.device:
        device = check_device(args.device)  # e.g. --device cuda without an NVIDIA GPU: one line, not a crash
    elif torch.accelerator.is_available():
        device = torch.accelerator.current_accelerator()
    else:
        device = torch.device("cpu")
    # first, so a missing model is reported at once; lesson 07's files are untrained demos: never picked
    path, why = checkpoint.choose_model(args.checkpoint, paths.CHECKPOINT_DIR, SHIPPED, exclude=[paths.SAVE_LOAD_DIR])

    # Load the model. map_location: a checkpoint saved on a GPU holds CUDA tensors, and this puts
    # them on our device. weights_only=True (the default since torch 2.6): tensors and plain
    # values only, nothing in the file can run code. The course's own whole-model files
    # (torch.save(tudui)) fail that test: they are read with an allowlist of layer classes.
    try:
        loaded = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        loaded = checkpoint.load_whole_model(path, device, exc)
    ckpt = checkpoint.as_checkpoint(loaded, path)
    model = checkpoint.model_from_checkpoint(ckpt, str(path))  # rebuilds ckpt["arch"], loads the weights
    model = model.to(device)
    # the class names, in label order: CIFAR-10's unless the checkpoint names its own
    classes = ckpt.get("classes") or CIFAR10_CLASSES

    # the same preparation as the training pictures. CIFAR-10 images are 32x32: Resize((32, 32))
    # squashes a non-square photo, as the model only ever saw 32x32. A transfer_learning.py
    # checkpoint records its own: e.g. Resize(256) + CenterCrop(224) + Normalize (ImageNet's mean/std)
    size = ckpt.get("input_size", 32)
    steps = (
        [torchvision.transforms.Resize(ckpt["resize"]), torchvision.transforms.CenterCrop(size)]
        if ckpt.get("resize")
        else [torchvision.transforms.Resize((size, size))]
    )
    steps.append(torchvision.transforms.ToTensor())
    if ckpt.get("normalize"):
        steps.append(torchvision.transforms.Normalize(**ckpt["normalize"]))
    transform = torchvision.transforms.Compose(steps)

    print(_("checkpoint: {path} ({why})").format(path=path, why=why))
    info = [_("arch {arch}").format(arch=ckpt["arch"])]
    if ckpt.get("epoch") is not None:
        info.append(_("epoch {n}").format(n=ckpt["epoch"]))
    if ckpt.get("val_accuracy") is not None:  # transfer_learning.py measures on your val pictures
        info.append(_("val accuracy {acc:.4f}").format(acc=ckpt["val_accuracy"]))
    if ckpt.get("test_accuracy") is not None:  # train_gpu.py on the test set
        info.append(_("test accuracy {acc:.4f}").format(acc=ckpt["test_accuracy"]))
    if ckpt.get("classes"):
        info.append(_("{n} classes: {names}").format(n=len(classes), names=", ".join(classes)))
    print(_("model: {info}").format(info=_(", ").join(info)))
    model.eval()  # e.g. BatchNorm in tudui_bn/resnet: use the averages learned in training

    if folder is not None:  # every picture in the folder: one line each, then a count per class
        counts = dict.fromkeys(classes, 0)
        heic = [f for f in folder if is_heic(f) and not is_picture(f)]
        skipped = [f for f in folder if not is_picture(f) and f not in heic]
        for f in (f for f in folder if is_picture(f)):
            with torch.no_grad():
                probs = torch.softmax(model(prepare(f, transform, quiet=True).to(device)), dim=1)[0]
            pred = probs.argmax().item()
            counts[classes[pred]] += 1
            print(f"{f.name}: {classes[pred]} ({probs[pred].item():.4f})")
        if skipped:
            print(
                _("skipped {n} file(s) that are not pictures, e.g. {name}").format(n=len(skipped), name=skipped[0].name)
            )
        if heic:
            print(
                _(
                    "note: {n} HEIC photo(s) (iPhone) skipped, as this Python cannot read them: {names}; to use "
                    "them: {how}"
                ).format(n=len(heic), names=named(heic), how=HEIC_HOW)
            )
        print(_("counts: {counts}").format(counts=_(", ").join(f"{name} {n}" for name, n in counts.items())))
        return

    image = prepare(image_path, transform)
    with torch.no_grad():  # no training here, so no graph for backward
        output = model(image.to(device))
    # raw scores -> probabilities that sum to 1 (argmax is the same either way)
    probs = torch.softmax(output, dim=1)[0]
    top = torch.topk(probs, min(3, len(classes)))
    print(_("top {n}:").format(n=len(top.indices)))
    for prob, idx in zip(top.values.tolist(), top.indices.tolist(), strict=True):
        print(f"  {classes[idx]:<10} {prob:.4f}")
    pred = output.argmax(1).item()  # the course's output.argmax(1): index of the largest score
    print(f"prediction: {classes[pred]} ({probs[pred].item():.4f})")


if __name__ == "__main__":
    errors.run(main)
