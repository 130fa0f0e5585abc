"""现有网络模型的使用及修改: use torchvision's VGG16, with or without its trained weights, and adapt it to 10 classes.

Course P25; note 000 "使用网络模型VGG16", note 002 "p25 现有网络模型的使用与修改", note 003
"4.6.7 torchvision.models / 1 VGG".

Use a network somebody else designed (and trained): torchvision's VGG16.
* ``vgg16(weights=None)``: the architecture with random weights;
  ``vgg16(weights=VGG16_Weights.DEFAULT)``: the same, with weights trained on
  ImageNet (downloaded once, 528 MB, and cached). The course's
  ``pretrained=False/True`` is the old spelling of these two.
* Where downloads are cached: ``torch.hub.get_dir()``, ``TORCH_HOME``, ``torch.hub.set_dir``.
* Adapting VGG16's 1000 ImageNet classes to CIFAR-10's 10, the notes' two ways:
  add a layer (``classifier.add_module``) or replace one (``classifier[6] = ...``).

Run:      python 06_pretrained/model_pretrained.py             (downloads the weights if it can)
Offline:  python 06_pretrained/model_pretrained.py --offline   (never touches the network: weights=None)
Cache:    python 06_pretrained/model_pretrained.py --hub-dir D:/torch_cache   (= torch.hub.set_dir)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

import copy
import os
import warnings

from common import _, cli, errors, paths
from common.beyond_course import download

import torch
from torch import nn
from torchvision.models import VGG16_Weights, vgg16


def main():
    p = cli.parser(__doc__, data="weights", device=False, logdir=False, seed=True)
    p.add_argument(
        "--hub-dir",
        metavar="DIR",
        default=None,
        help=_("cache downloaded weights in DIR (torch.hub.set_dir) instead of torch.hub.get_dir()"),
    )
    args = p.parse_args()
    torch.manual_seed(args.seed)
    # torchvision reads the cached weights file with torch.load(weights_only=False), i.e. it
    # unpickles whatever sits in the cache folder (which --hub-dir / TORCH_HOME can point
    # anywhere). Forcing weights_only=True in this process costs nothing: the file is a
    # plain state_dict of tensors.
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"

    # Where do downloaded weights go? torch.hub.get_dir(): $TORCH_HOME/hub, and TORCH_HOME
    # defaults to ~/.cache/torch (on Windows C:\Users\<you>\.cache\torch: the notes'
    # "下载路径在c盘"). Set TORCH_HOME before starting Python, or call torch.hub.set_dir(...).
    if args.hub_dir:
        torch.hub.set_dir(paths.ensure_dir(args.hub_dir, "--hub-dir"))
    print(f"torch.hub.get_dir(): {torch.hub.get_dir()}   (TORCH_HOME={os.environ.get('TORCH_HOME', _('not set'))})")
    print(_("weights files live in {path}").format(path=Path(torch.hub.get_dir()) / "checkpoints"))

    # The course's spelling and today's. pretrained= still works but warns; to see the warning
    # without building 138 million random weights, build on the "meta" device (shapes, no data).
    with warnings.catch_warnings(record=True) as caught, torch.device("meta"):
        warnings.simplefilter("always")
        try:
            vgg16(pretrained=False)
        except TypeError:  # a torchvision that finally removed the old argument
            pass
    said = caught[-1].message if caught else _("nothing: this torchvision no longer accepts pretrained=")
    print(_("vgg16(pretrained=False) warns: {said}").format(said=said))
    print(
        _(
            "vgg16(pretrained=True)  is now vgg16(weights=VGG16_Weights.IMAGENET1K_V1); VGG16_Weights.DEFAULT is "
            "{default} (the best weights torchvision has)"
        ).format(default=VGG16_Weights.DEFAULT)
    )

    # vgg16_false: the architecture only, random weights (the notes' pretrained=False)
    vgg16_false = vgg16(weights=None)
    print(vgg16_false)
    print(_("{n:,} parameters").format(n=sum(p.numel() for p in vgg16_false.parameters())))

    # vgg16_true: ImageNet-trained weights (the notes' pretrained=True): downloaded once
    # (528 MB, its hash checked) into the folder above, read from there ever after
    url = VGG16_Weights.DEFAULT.url
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    had_file = cached.is_file()
    try:
        # beyond the course: fail in seconds when the network is down or blocked; --offline skips the attempt
        with download.downloading(url, offline=args.offline, have=had_file):
            vgg16_true = vgg16(weights=VGG16_Weights.DEFAULT)
        same = torch.equal(vgg16_true.features[0].weight, vgg16_false.features[0].weight)
        print(_("pretrained weights loaded: first conv layer equal to the random one? {same}").format(same=same))
    except Exception as exc:  # no network, --offline, a file in the cache that is not VGG16's weights ...
        if had_file:
            print(
                _(
                    "{path} is not a usable VGG16 weights file ({problem}) -> random weights (weights=None) instead; "
                    "delete that file and run again"
                ).format(path=cached, problem=type(exc).__name__)
            )
        else:
            download.fallback_note(
                _("VGG16's ImageNet weights"),
                exc,
                _("random weights (weights=None) instead"),
                _("To use them, download {url} to {path}").format(url=url, path=cached),
            )
        # same architecture, random weights: the edits below look exactly the same
        vgg16_true = copy.deepcopy(vgg16_false)

    # VGG16 ends in 1000 scores, one per ImageNet class; CIFAR-10 has 10 classes.
    # AdaptiveAvgPool2d((7, 7)) lets VGG take a CIFAR-sized 32x32 image as well.
    x = torch.ones((1, 3, 32, 32))
    vgg16_true.eval()  # eval(): switch off Dropout, so outputs are repeatable
    vgg16_false.eval()
    with torch.no_grad():
        print(_("before the edits: output shape {shape}").format(shape=tuple(vgg16_true(x).shape)))

        # 修改方法1: 添加一层 -- a new Linear(1000 -> 10) at the end of classifier.
        # (vgg16_true.add_module(...) on the whole model would show in print() too, but
        # VGG.forward() only calls features/avgpool/classifier, so it would never run.)
        vgg16_true.classifier.add_module("add_linear", nn.Linear(1000, 10))
        print(
            _("edit {n}: {code}").format(
                n=1, code="vgg16_true.classifier.add_module('add_linear', nn.Linear(1000, 10))"
            )
        )
        print(vgg16_true.classifier)
        print(_("edit {n}: output shape {shape}").format(n=1, shape=tuple(vgg16_true(x).shape)))

        # 修改方法2: 修改一层 -- replace classifier[6], the Linear(4096 -> 1000), by 4096 -> 10.
        # Its old trained weights are gone; the new layer starts random and must be trained.
        vgg16_false.classifier[6] = nn.Linear(4096, 10)
        print(_("edit {n}: {code}").format(n=2, code="vgg16_false.classifier[6] = nn.Linear(4096, 10)"))
        print(vgg16_false.classifier)
        print(_("edit {n}: output shape {shape}").format(n=2, shape=tuple(vgg16_false(x).shape)))
    # The edits only change the model in this Python process; 07_save_load saves one.


if __name__ == "__main__":
    errors.run(main)
