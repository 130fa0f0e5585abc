"""网络模型的读取: read back both files of model_save.py, safely, on today's PyTorch.

Course P26 网络模型的保存与读取; note 000 "网络模型的保存与读取", note 002 "p26 网络模型的保存与读取",
note 003 "4.6.7 / 加载模型".

Reads back the two files model_save.py wrote:
* 方式2 (state_dict): build the model, then ``load_state_dict(torch.load(path))``.
  Plain tensors, so ``torch.load`` reads it with its safe default.
* 方式1 (whole model): since PyTorch 2.6 ``torch.load`` defaults to
  ``weights_only=True`` and refuses it, because unpickling a model can run
  code. The safe fix: ask the file which classes it names
  (``torch.serialization.get_unsafe_globals_in_checkpoint``), then allow exactly
  those with ``torch.serialization.safe_globals([...])``.
* ``map_location``: a file saved on a GPU holds CUDA tensors; ``map_location="cpu"``
  lets a machine without CUDA read it.
Both ways then give identical outputs for the same input.

The course imports the class with ``from model_save import *``, which also re-ran
all of model_save.py (the course's scripts save at import time). Our
model_save.py saves only inside main(), so importing Tudui from it is harmless.

Run:    python 07_save_load/model_save.py && python 07_save_load/model_load.py
Course: python 07_save_load/model_load.py --model vgg16     (after model_save.py --model vgg16)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

import pickle
import re

from common import _, cli, errors
from common.errors import LessonError

import torch
from torch import nn
from torchvision.models import VGG, vgg16

from model_save import Tudui, method_files  # the fix for the trap: import the class (no saving happens)

# 方式1's safe allowlist: exactly the classes get_unsafe_globals_in_checkpoint lists for
# each file. model_save.py ran as a script, so its file names the class "__main__.Tudui";
# the (class, "name") pair says "read that name as this class".
ALLOWED = {
    "tudui": [(Tudui, "__main__.Tudui"), nn.Conv2d],
    "vgg16": [VGG, nn.Sequential, nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.Linear, nn.Dropout],
}


def refused(exc):
    """The part of torch's long weights_only message that says what was refused."""
    m = re.search(r"Unsupported global: GLOBAL \S+ was not an allowed global by default", str(exc))
    return m.group(0) if m else errors.first_line(exc)


def main():
    p = cli.parser(__doc__, data=None, device=False, logdir=False, seed=True)
    p.add_argument(
        "--model",
        choices=("tudui", "vgg16"),
        default="tudui",
        help=_("which files of model_save.py to read (default tudui)"),
    )
    args = p.parse_args()
    torch.manual_seed(args.seed)  # the random input below
    method1, method2 = method_files(args.model)
    for f in (method1, method2):
        if not f.is_file():
            flag = " --model vgg16" if args.model == "vgg16" else ""
            raise LessonError(
                _("{path} not found: run {command} first").format(path=f, command="07_save_load/model_save.py" + flag)
            )
    # a file that is damaged, or not what model_save.py writes, ends the lesson in one line
    with errors.explain(
        _("{folder} holds files model_save.py did not write; run it again").format(folder=method1.parent),
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        ValueError,
        KeyError,
        TypeError,
    ):
        model1, model2 = load_both(args.model, method1, method2)

    # same input through both: the same weights must give the same numbers
    x = torch.rand((1, 3, 32, 32))
    model1.eval()
    model2.eval()
    with torch.no_grad():
        out1, out2 = model1(x), model2(x)
    diff = (out1 - out2).abs().max().item()
    print(
        _("same input, both models: output shape {shape}, identical outputs: {same} (max difference {diff})").format(
            shape=tuple(out1.shape), same=torch.equal(out1, out2), diff=diff
        )
    )


def load_both(name, method1, method2):
    # map_location="cpu": tensors saved from a GPU are restored onto the CPU; without it, a
    # file saved with CUDA tensors fails on a machine without CUDA (the notes' fix for that)
    map_location = "cpu"

    # 方式1, the course's line: model = torch.load("tudui_method1.pth")
    try:
        torch.load(method1, map_location=map_location)
        print(_("unexpected: torch.load read a whole model with its defaults (PyTorch < 2.6?)"))
    except pickle.UnpicklingError as exc:
        print(f"方式1 torch.load({method1.name}) -> UnpicklingError: {refused(exc)}")

    # Which classes would loading it need? Read from the file, without loading it.
    names = sorted(torch.serialization.get_unsafe_globals_in_checkpoint(method1))
    print(_("the file names: {names}").format(names=names))
    expected = {e[1] if isinstance(e, tuple) else f"{e.__module__}.{e.__qualname__}" for e in ALLOWED[name]}
    if set(names) - expected:
        # the file was replaced by something model_save.py doesn't write: don't widen the allowlist
        raise LessonError(
            _(
                "{path} names {names}, which this lesson doesn't expect; not loading it (run model_save.py again)"
            ).format(path=method1, names=", ".join(sorted(set(names) - expected)))
        )
    # Allow exactly those classes, only inside this `with`: anything else in the file
    # would still be refused. (weights_only=False would allow *everything*: only for
    # files you made yourself, since a pickle can run any code when it is loaded.)
    with torch.serialization.safe_globals(ALLOWED[name]):
        model1 = torch.load(method1, map_location=map_location)
    print(
        _(
            "方式1 with safe_globals: loaded a {kind} (weights_only=False would load it too, but lets the file "
            "run any code: only for files you made)"
        ).format(kind=type(model1).__name__)
    )
    if name == "tudui":
        print(model1)

    # 方式2: build the architecture first, then fill in the weights. Plain tensors: torch.load's
    # safe default reads them
    model2 = vgg16(weights=None) if name == "vgg16" else Tudui()
    state_dict = torch.load(method2, map_location=map_location)
    first = next(iter(state_dict))
    print(
        _("方式2 torch.load({file}, map_location={where}) -> {kind} of {n} tensors, e.g. {first} on {device}").format(
            file=method2.name,
            where=repr(map_location),
            kind=type(state_dict).__name__,
            n=len(state_dict),
            first=first,
            device=state_dict[first].device,
        )
    )
    model2.load_state_dict(state_dict)
    # (A model edited before saving, e.g. vgg16 with classifier[6] = nn.Linear(4096, 10),
    # needs the same edit here *before* load_state_dict, or the shapes don't match.)
    return model1, model2


if __name__ == "__main__":
    errors.run(main)
