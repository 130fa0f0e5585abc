"""完整的模型验证套路: classify one picture you choose with a trained CIFAR-10 model.

Course P32; note 003 "4.6.9 完整模型验证套路", note 004 "模型的使用，验证", note 000
"GPU训练" for map_location. Use a trained model on a picture it has never seen,
e.g. a dog photo from the internet: open it, make it RGB, resize to CIFAR-10's
32x32, ToTensor, add the batch dimension, load the model (map_location),
eval(), no_grad(), and argmax -> class name. Which model: --checkpoint if
given; else your newest checkpoint trained on the full CIFAR-10; else the
model shipped in 09_inference/weights/ (it always says which, and why).

Run:    python 09_inference/predict.py                        (09_inference/imgs/dog.png)
Yours:  python 09_inference/predict.py my_cat.jpg --checkpoint checkpoints/train_gpu/<run>/tudui_10.pth
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # lets `import common` work from any folder
import common  # noqa: F401  (first: a Ctrl-C while torch loads then ends in one line)

# isort: split
import torch
import torchvision

from common import checkpoint, cli, errors, paths
from common.device import pick_device
from common.images import has_transparency, on_white, open_image
from common.model import CIFAR10_CLASSES

DEFAULT_IMAGE = paths.REPO_ROOT / "09_inference" / "imgs" / "dog.png"
SHIPPED = paths.REPO_ROOT / "09_inference" / "weights" / "tudui_cifar10.pth"


def main():
    p = cli.parser(__doc__, data=None, logdir=False)
    p.add_argument("picture", nargs="?", default=None, help="picture to classify (default: the dog)")
    p.add_argument("--image", metavar="IMAGE", default=None, help="the same, as a flag")
    p.add_argument("--checkpoint", metavar="PATH", default=None,
                   help="model file (default: your newest trained on the full CIFAR-10, else the shipped one)")
    args = p.parse_args()
    if args.picture and args.image:
        p.error("give the picture once: as PICTURE or as --image")
    image_path = args.picture or args.image or DEFAULT_IMAGE
    device = pick_device(args.device)
    # first, so a missing model is reported at once; lesson 07's files are untrained demos: never picked
    path, why = checkpoint.choose_model(args.checkpoint, paths.CHECKPOINT_DIR, SHIPPED, exclude=[paths.SAVE_LOAD_DIR])

    # Image.open, with one-line errors for missing/damaged files; mode=None keeps the file's mode
    # (max_side: a huge JPEG is decoded at a reduced scale; it ends up 32x32 anyway)
    image = open_image(image_path, mode=None, max_side=512, flag=None)
    width, height = image.info["full_size"]
    print(f"image: {image_path} ({image.format}, {image.mode}, {width}x{height})")
    # PNGs are often RGBA (4 channels: RGB + transparency), scans "L" (1 channel, gray);
    # the model was trained on 3-channel RGB, hence convert("RGB")
    if has_transparency(image):
        # convert("RGB") would keep whatever color hides under the transparent pixels (often
        # black); an image viewer shows them over a white page, so that is what the model gets
        image = on_white(image)
        print("transparent parts: shown over white, as an image viewer does")
    image = image.convert("RGB")

    # the same preparation as the training pictures, plus Resize: CIFAR-10 images are 32x32
    # (Resize((32, 32)) squashes a non-square photo; the model only ever saw 32x32)
    transform = torchvision.transforms.Compose([torchvision.transforms.Resize((32, 32)),
                                                torchvision.transforms.ToTensor()])
    image = transform(image)                         # (3, 32, 32)
    image = torch.reshape(image, (1, 3, 32, 32))     # a batch of one: models take (N, C, H, W)

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
    for prob, idx in zip(top.values.tolist(), top.indices.tolist(), strict=True):
        print(f"  {CIFAR10_CLASSES[idx]:<10} {prob:.4f}")
    pred = output.argmax(1).item()  # the course's output.argmax(1): index of the largest score
    print(f"prediction: {CIFAR10_CLASSES[pred]} ({probs[pred].item():.4f})")


if __name__ == "__main__":
    errors.run(main)
