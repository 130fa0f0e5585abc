"""网络模型的保存: save a model the course's two ways, the whole model or only its state_dict.

Course P26 网络模型的保存与读取; note 000 "网络模型的保存与读取", note 002 "p26 网络模型的保存与读取",
note 003 "4.6.7 / 保存模型".

Two ways to save a model, then model_load.py reads them back:
* 保存方式1, ``torch.save(model, path)``: the whole model object, pickled;
* 保存方式2, ``torch.save(model.state_dict(), path)``: only the weights, a dict
  of tensors (官方推荐, the recommended way).
And the course's 陷阱 (trap): method 1 stores a class *by name*, so a custom
class defined in the saving script can't be found by the loading script:
``AttributeError: Can't get attribute 'Tudui' on <module '__main__'>``.

--model tudui (default) uses the course's small trap network ``Tudui`` (one
Conv2d, files of ~10 KB); --model vgg16 is the course's exact version,
``vgg16(weights=None)``: two files of ~528 MB each, so it is not the default.
Files go to checkpoints/07_save_load/ (not next to this script: no 528 MB in
the repository), where model_load.py finds them.

Run:    python 07_save_load/model_save.py                (then: python 07_save_load/model_load.py)
Course: python 07_save_load/model_save.py --model vgg16  (then: python 07_save_load/model_load.py --model vgg16)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

import subprocess

from common import _, cli, errors, paths

import torch
from torch import nn
from torchvision.models import vgg16

SAVE_DIR = paths.SAVE_LOAD_DIR  # checkpoints/07_save_load: git-ignored, skipped by predict.py


class Tudui(nn.Module):
    """The course's 陷阱 network: defined here, in the script that saves it.

    Run as ``python model_save.py``, this module is called ``__main__``, so a
    method-1 file records the class as ``__main__.Tudui``.
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3)

    def forward(self, x):
        return self.conv1(x)


def method_files(model_name):
    """Where method 1 and method 2 files of ``model_name`` go (model_load.py reads the same)."""
    return SAVE_DIR / f"{model_name}_method1.pth", SAVE_DIR / f"{model_name}_method2.pth"


def size(path):
    n = path.stat().st_size
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


# The trap, acted out by a fresh Python process -- like running the course's model_load.py,
# which doesn't define Tudui. weights_only=False is the pre-2.6 default the course relied on;
# it unpickles, i.e. may run code named in the file, and is used here ONLY because this
# script wrote that file a moment ago. Never on a file you got from somewhere else.
# It prints two lines, the error and the class loaded after the fix; main() words them.
TRAP_DEMO = """
import sys, torch
path, lesson_dir = sys.argv[1], sys.argv[2]
try:
    torch.load(path, weights_only=False)
except AttributeError as exc:
    print(exc)
sys.path.insert(0, lesson_dir)
from model_save import Tudui   # the fix: the loading script imports (or defines) the class
model = torch.load(path, weights_only=False)
print(type(model).__name__)
"""


def main():
    p = cli.parser(__doc__, data=None, device=False, logdir=False, seed=True)
    p.add_argument(
        "--model",
        choices=("tudui", "vgg16"),
        default="tudui",
        help=_(
            "tudui: the course's small trap network (default); vgg16: the course's exact version (2 files of ~528 MB)"
        ),
    )
    args = p.parse_args()
    paths.ensure_dir(SAVE_DIR)  # made if missing; one that cannot be written is one line, before any work
    torch.manual_seed(args.seed)

    if args.model == "vgg16":
        model = vgg16(weights=None)  # the course's vgg16(pretrained=False)
    else:
        model = Tudui()
    method1, method2 = method_files(args.model)

    # 保存方式1: 模型结构 + 模型参数 -- the whole object goes through pickle
    torch.save(model, method1)
    # 保存方式2: 模型参数 (官方推荐) -- state_dict() is an ordered dict {"conv1.weight": tensor, ...}
    torch.save(model.state_dict(), method2)
    print(
        _("saved {model}: method 1 (whole model) {path}  {size}").format(
            model=args.model, path=method1, size=size(method1)
        )
    )
    print(
        _("saved {model}: method 2 (state_dict)  {path}  {size}").format(
            model=args.model, path=method2, size=size(method2)
        )
    )
    # the weights are the same in both, so they dominate both sizes; method 1 adds
    # only the pickled description of the objects (class names, layer settings)
    print(
        _("method 1 is {extra:+,} bytes larger: the same weights plus the pickled model structure").format(
            extra=method1.stat().st_size - method2.stat().st_size
        )
    )

    # 陷阱: what method 1 really stored about the model's classes is their import path
    print(_("method 1 names these classes:"), sorted(torch.serialization.get_unsafe_globals_in_checkpoint(method1)))
    if args.model == "tudui":
        print(_("陷阱 (the trap): loading method 1 needs the class under that name, e.g. in a fresh Python:"))
        lesson_dir = str(Path(__file__).resolve().parent)
        try:
            trap = subprocess.run(
                [sys.executable, "-c", TRAP_DEMO, str(method1), lesson_dir], capture_output=True, text=True, timeout=300
            )
            said = trap.stdout.splitlines()
            if len(said) == 2:
                shown = "\n".join(
                    [
                        _("  a script without the class: AttributeError: {problem}").format(problem=said[0]),
                        _("  after `from model_save import Tudui`: loaded a {kind} again").format(kind=said[1]),
                    ]
                )
            else:
                shown = _("  (demo failed: {why})").format(why=trap.stderr.strip().splitlines()[-1:])
        except subprocess.TimeoutExpired:
            shown = _("  (demo skipped: the fresh Python took more than 5 minutes to start)")
        print(shown)
    else:
        print(_("VGG is torchvision's class, importable everywhere: no trap here (--model tudui shows it)"))
    print(
        _("next: {command}").format(
            command="python 07_save_load/model_load.py" + (" --model vgg16" if args.model == "vgg16" else "")
        )
    )


if __name__ == "__main__":
    errors.run(main)
