"""Beyond the course: mixed precision (``--amp``) and the speed flags (README "Speed").

autocast computes convolutions and matmuls in a 16-bit float. That is only faster where the hardware
has instructions for it; elsewhere torch emulates it, correctly but slower than float32.
"""

import argparse

import torch

from . import recipe
from .lang import _


def _cpu_capabilities():
    """What the CPU's instruction set offers, as torch sees it (newer torch: a public dict; older torch:
    private probes, which may be missing: then treated as absent)."""
    if hasattr(torch.cpu, "get_capabilities"):
        return torch.cpu.get_capabilities()
    probe = lambda name: getattr(torch.cpu, name, lambda: False)()  # noqa: E731
    return {"avx512_bf16": probe("_is_avx512_bf16_supported"), "amx_bf16": probe("_is_amx_tile_supported")}


def native_amp(device):
    """(the 16-bit floats ``device`` computes natively, best first: [] if none; why, in a few words)."""
    if device.type == "cuda":
        if torch.version.hip:  # AMD GPUs (ROCm): torch reports bfloat16 on every one
            return ["bfloat16", "float16"], _("native on this GPU")
        cc = torch.cuda.get_device_capability(device)
        if cc >= (8, 0):  # RTX 30, A100 and newer (what torch.cuda.is_bf16_supported(including_emulation=False) checks)
            return ["bfloat16", "float16"], _("native on this GPU")
        if cc >= (7, 0) or cc in ((5, 3), (6, 0), (6, 2)):  # T4, RTX 20, GTX 16, V100, P100, Jetson: fast float16
            return ["float16"], _("this GPU has no native bfloat16")
        # GTX 10 (6.1) computes float16 at 1/64 of its float32 speed (CUDA guide, arithmetic throughput)
        return [], _("no native bfloat16 or fast float16 on this GPU (compute capability {0}.{1})").format(*cc)
    if device.type == "cpu":
        caps = _cpu_capabilities()
        if caps.get("avx512_bf16") or caps.get("amx_bf16"):  # recent Xeons, AMD Zen 4 and newer; few Core laptops
            return ["bfloat16"], _("native on this CPU")
        return [], _("no native bfloat16 or float16 on this CPU")
    if device.type == "xpu":  # Intel GPUs
        if getattr(torch.xpu.get_device_properties(device), "has_bfloat16_conversions", False):
            return ["bfloat16", "float16"], _("native on this GPU")
        return ["float16"], _("this GPU has no native bfloat16")
    if device.type == "mps":  # Apple GPUs compute float16 natively; GradScaler runs on them from torch 2.8
        if tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 8):
            return ["float16"], _("native on Apple GPUs")
        return [], _("float16 on Apple GPUs needs torch 2.8 or newer (its GradScaler)")
    return [], _("no mixed precision is chosen for {kind} devices here").format(kind=device.type)


def amp_precision(wanted, device):
    """The precision autocast uses for --amp ``wanted`` on ``device``: "bfloat16", "float16" or
    "float32" (autocast off). "auto": the device's native 16-bit float, else float32. Says which."""
    if wanted == "float32":
        return wanted
    native, why = native_amp(device)
    if wanted == "auto" and not native:
        print(_("amp: off — {why}; training stays float32").format(why=why), flush=True)
        return "float32"
    if wanted == "auto":
        wanted = native[0]
    elif wanted not in native:  # asked for by name, or kept from the resumed run: torch emulates it
        why = (
            _("not native on this CPU: emulated, correct but far slower")
            if device.type == "cpu"
            else _("not native on this GPU: emulated, correct but far slower")
        )
    print(
        _("amp: {precision} ({why})").format(
            precision=wanted + (" + GradScaler" if wanted == "float16" else ""), why=why
        ),
        flush=True,
    )
    return wanted


def autocast(device, precision):
    """``with amp.autocast(device, s.amp):`` convolutions and matmuls in the 16-bit float ``precision``,
    weights and loss kept in float32; "float32": off, the course's numbers."""
    return torch.autocast(device.type, dtype=getattr(torch, precision), enabled=precision != "float32")


def add_speed_args(p):
    """Beyond the course: how fast the same training runs (README "Speed"); the math stays the same."""
    g = p.add_argument_group(_("speed (beyond the course)"))
    g.add_argument(
        "--loader",
        choices=("fast", "classic"),
        default="fast",
        help=_(
            "fast: the whole dataset as one uint8 tensor on the device (default); "
            "classic: the course's DataLoader + ToTensor"
        ),
    )
    g.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=_("NHWC memory layout for model and batches with the fast loader (default on)"),
    )
    add_amp_args(g)
    g.add_argument("--compile", action="store_true", help=_("torch.compile the model (slow start, faster steps)"))
    return p


def add_amp_args(p):
    """--amp[=PRECISION] and --no-amp (README "Speed"); left out: recipe.AMP, or the resumed run's."""
    p.add_argument(
        "--amp",
        nargs="?",
        const="auto",
        choices=("auto", "bfloat16", "float16", "float32"),
        default=None,
        help=_(
            "mixed precision: autocast in the 16-bit float this device computes natively (bfloat16 on "
            "recent CPUs and GPUs, float16 + GradScaler on older NVIDIA GPUs), else float32; a name "
            "forces that one. Default: {flag}"
        ).format(flag="--amp" if recipe.AMP == "auto" else "--no-amp"),
    )
    p.add_argument(
        "--no-amp",
        dest="amp",
        action="store_const",
        const="float32",
        help=_("float32 throughout, as the course computes"),
    )
    return p
