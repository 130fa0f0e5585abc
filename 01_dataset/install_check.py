"""检测安装是否成功: check that PyTorch works, which versions you have and whether it can use
a GPU, then look inside it with the course's two tools dir() and help().

Course P1-P4 (PyTorch环境的配置及安装, 为什么torch.cuda.is_available()返回False, Python学习中的两大法宝函数);
note 003 "4.3 pytorch" (检测安装是否成功), note 000 "两大法宝dir() help()".

The notes check an install with print(torch.__version__) and torch.cuda.is_available(). When the answer is False,
more values say why: torch.version.cuda (the CUDA version this PyTorch was built for; None, or "+cpu" in the
version, for a CPU-only build, which then says how to install the CUDA one), and the CUDA version the NVIDIA driver
supports (nvidia-smi). No GPU is fine: every lesson here runs on the CPU.

Then the two 法宝 (magic tools): dir(x) 打开工具箱, it lists what is inside x;
help(x) 看说明书, it shows the manual of x.

Run:   python 01_dataset/install_check.py
Try:   python 01_dataset/install_check.py --look torch.nn torch.nn.Linear    (dir() and help() on other names)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

import difflib
import inspect
import os
import pydoc
import re
import shutil
import subprocess

from common import _, cli, errors

import torch
import torchvision

SELECTOR = "https://pytorch.org/get-started/locally/"  # pytorch.org's install selector
# what the selector gives for pip and CUDA 13.0 (torch 2.14 has cu130 wheels; the selector lists the others)
CUDA_BUILD_EXAMPLE = "pip install torch torchvision --index-url https://download.pytorch.org/whl/cu130"


def driver_cuda():
    """The CUDA version the NVIDIA driver supports, as nvidia-smi shows it, or (None, why not)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None, _("not found (no NVIDIA driver installed, or no NVIDIA card)")
    try:
        shown = subprocess.run([exe], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, _("nvidia-smi did not answer ({problem})").format(problem=type(exc).__name__)
    m = re.search(r"CUDA Version:\s*([\d.]+)", shown)
    return (m.group(1), None) if m else (None, _("shows no CUDA Version: it found no working card"))


def why_no_gpu():
    """The likely reason PyTorch sees no GPU here, in plain words: a list of lines."""
    built = torch.version.cuda
    if torch.backends.mps.is_built():  # a macOS wheel: Apple GPUs go through MPS, not CUDA
        return [_("MPS needs macOS 12.3 or later on a Mac with Apple silicon (M1 ...) or an AMD GPU.")]
    # a PyTorch without GPU support (pip's default on Windows): "+cpu" in its version, or built for no GPU at all
    if "+cpu" in torch.__version__ or not any((built, torch.version.hip, getattr(torch.version, "xpu", None))):
        driver, problem = driver_cuda()
        unusable = _("CUDA Version {driver}: an NVIDIA card that this build cannot use").format(driver=driver)
        return [
            _(
                "this PyTorch is a CPU-only build ({version}, torch.version.cuda {built}): "
                "it never uses a GPU, even when there is one."
            ).format(version=torch.__version__, built=built),
            f"nvidia-smi: {unusable if driver else problem}",
            _(
                "For an NVIDIA card: pip uninstall torch torchvision, then run the command that pytorch.org's "
                "selector gives ({url}), e.g. for CUDA 13.0:"
            ).format(url=SELECTOR),
            f"    {CUDA_BUILD_EXAMPLE}",
            _(
                '(its CUDA must not be newer than nvidia-smi\'s "CUDA Version"; afterwards torch.__version__ '
                "ends in +cu<version>)"
            ),
        ]
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and hidden.strip() in ("", "-1"):
        return [_("CUDA_VISIBLE_DEVICES={value} hides every GPU from PyTorch: unset it.").format(value=repr(hidden))]
    if built is None:
        return [
            _("a build for AMD (ROCm) or Intel (XPU) GPUs that finds none: rocm-smi or xpu-smi must list your card.")
        ]
    driver, problem = driver_cuda()
    said = [f"nvidia-smi: {'CUDA Version ' + driver if driver else problem}"]
    # "12.4" -> [12, 4]: versions compare as numbers ("12.10" is newer than "12.9")
    if driver and [int(n) for n in driver.split(".")[:2]] < [int(n) for n in built.split(".")[:2]]:
        why = _(
            "the driver supports CUDA {driver}, but this PyTorch was built for CUDA {built}: "
            "update the NVIDIA driver, or install a PyTorch for CUDA <= {driver} ({url})."
        )
    else:
        why = _(
            "this PyTorch can use CUDA {built} but finds no NVIDIA GPU. If there is a card, "
            'nvidia-smi must list it and show a "CUDA Version" >= {built} (else update the driver).'
        )
    return said + [why.format(driver=driver, built=built, url=SELECTOR)]


def resolve(name):
    """The object a dotted name such as torch.cuda.is_available stands for (pydoc imports what it needs)."""
    try:
        obj = pydoc.locate(name)
    except pydoc.ErrorDuringImport as exc:
        failed = _("--look {name}: importing it failed ({problem})")
        raise errors.LessonError(failed.format(name=name, problem=errors.first_line(exc.value))) from None
    if obj is None:
        box, _dot, part = name.rpartition(".")
        inside = dir(pydoc.locate(box)) if box and pydoc.locate(box) is not None else []
        close = difflib.get_close_matches(part, inside, n=1)
        if not close:
            raise errors.LessonError(_("--look {name}: no such module or name").format(name=name))
        guess = _("--look {name}: no such module or name; did you mean {guess}?")
        raise errors.LessonError(guess.format(name=name, guess=f"{box}.{close[0]}"))
    return obj


def look(name, obj):
    """The course's P4: dir() on ``obj`` (the toolbox), then the start of help() (the manual)."""
    public = [n for n in dir(obj) if not n.startswith("_")]  # _names are the tool's own insides
    if public:
        line = _("dir({name}): {count} names without a leading _, the first {n}: {names}")
        print(line.format(name=name, count=len(public), n=len(public[:10]), names=public[:10]))
        questions = [n for n in public if n.startswith("is_")]
        if questions:
            more = _(" and {more} more").format(more=len(questions) - 10) if len(questions) > 10 else ""
            print(_("  the is_... names ask yes/no questions: {names}").format(names=questions[:10]) + more)
    elif "__call__" in dir(obj):
        line = _(
            "dir({name}): only __names__ with underscores, no tools inside; __call__ among them: "
            "not a box of tools but a tool, a function you call with ()"
        )
        print(line.format(name=name))
    else:
        print(_("dir({name}): only __names__ with underscores, no tools inside").format(name=name))
    doc = (inspect.getdoc(obj) or _("(no docstring)")).split("\n\n")[0].splitlines()
    try:
        signature = f"{name.rsplit('.', 1)[-1]}{inspect.signature(obj)}" if callable(obj) else None
    except (TypeError, ValueError):  # some built-in functions don't describe their arguments
        signature = None
    print(_("help({name}) starts with:").format(name=name) + (f"  {signature}" if signature else ""))
    for line in doc[:3]:
        print(f"    {line}")


def main():
    p = cli.parser(__doc__, data=None, device=False, logdir=False)
    names = _(
        "dotted names to open with dir() and help() (default: the course's torch, torch.cuda, torch.cuda.is_available)"
    )
    course = ["torch", "torch.cuda", "torch.cuda.is_available"]
    p.add_argument("--look", nargs="+", metavar="NAME", default=course, help=names)
    args = p.parse_args()
    looks = [(name, resolve(name)) for name in args.look]  # a mistyped name: one line now, not after the checks

    # ---- 检测安装是否成功: the notes' two lines, and what explains their answer ----
    print(f"Python {sys.version.split()[0]}")
    print(f"torch.__version__: {torch.__version__}")
    print(f"torchvision.__version__: {torchvision.__version__}")
    # the CUDA version this wheel was compiled for; a +cpu wheel says None and never sees a GPU
    print(f"torch.version.cuda: {torch.version.cuda}")
    if sys.platform == "darwin":
        print(f"torch.backends.mps.is_built(): {torch.backends.mps.is_built()}  " + _("(Apple GPUs)"))
    print(f"torch.cuda.is_available(): {torch.cuda.is_available()}")
    # torch.accelerator covers CUDA, Apple's MPS, Intel's XPU ... with one API (the lessons use it)
    print(f"torch.accelerator.is_available(): {torch.accelerator.is_available()}")
    if torch.accelerator.is_available():
        device = torch.accelerator.current_accelerator()
        print(f"torch.accelerator.current_accelerator(): {device}")
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                print(f"cuda:{i}: {torch.cuda.get_device_name(i)}")
        line = _("GPU ready: the lessons use {device} by default (--device cpu runs them on the CPU instead)")
        print(line.format(device=device))
    else:
        # not current_accelerator(): on a CUDA build it says "cuda" even with no GPU, as if CUDA were in use
        print(_("no GPU for PyTorch here. The likely reason:"))
        for line in why_no_gpu():
            print(f"  {line}")
        still = _(
            "Without a GPU every lesson still runs: on the CPU, which the scripts pick by themselves "
            "(--device cpu asks for it explicitly); training just takes longer."
        )
        print(still)

    # ---- 两大法宝: dir() 打开工具箱, help() 看说明书 ----
    # dir(torch) lists the boxes and tools in torch; dir(torch.cuda) the ones in that box; a name
    # whose dir() shows only __xxx__ names (with __call__) is a tool itself: a function to call.
    print()
    for name, obj in looks:
        look(name, obj)
    line = _("In Python itself: dir({name}) prints the whole list, help({name}) the whole manual (q leaves it).")
    print(line.format(name=looks[-1][0]))


if __name__ == "__main__":
    errors.run(main)
