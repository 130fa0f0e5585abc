"""Which device to run on: the machine's accelerator, else the CPU.

``torch.accelerator`` (PyTorch >= 2.6) covers CUDA, ROCm, Apple's MPS, Intel's
XPU ... with one API, so lessons no longer hard-code ``"cuda"``. Careful:
``torch.accelerator.current_accelerator()`` describes the *build*, so on a
CUDA wheel without a GPU it still says ``cuda``; ``is_available()`` is the
question that asks the hardware.
"""
import torch

from .errors import LessonError


def check_device(requested):
    """``torch.device(requested)`` for a --device value, or a one-line error saying what this machine has."""
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise LessonError(f"--device {requested!r} is not a device name "
                          "(try cpu, cuda, cuda:0, mps or xpu)") from None
    if device.type == "cpu":
        return device
    have = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else None
    if have != device.type:
        raise LessonError(f"--device {requested} asked for, but this machine has {have or 'no accelerator'}; "
                          "run with --device cpu (or leave --device out to pick automatically)")
    if device.index is not None and device.index >= torch.accelerator.device_count():
        raise LessonError(f"--device {requested}: only {torch.accelerator.device_count()} "
                          f"{device.type} device(s) here (numbered from 0)")
    return device


def pick_device(requested=None):
    """--device if given (checked), else the accelerator if there is one, else the CPU."""
    if requested:
        return check_device(requested)
    if torch.accelerator.is_available():
        return torch.accelerator.current_accelerator()
    return torch.device("cpu")


# -- mixed precision (--amp, README "Speed") ---------------------------------------------------------
# autocast computes convolutions and matmuls in a 16-bit float. That is only faster where the hardware
# has instructions for it; elsewhere torch emulates it, correctly but slower than float32.

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
            return ["bfloat16", "float16"], "native on this GPU"
        cc = torch.cuda.get_device_capability(device)
        if cc >= (8, 0):  # RTX 30, A100 and newer (what torch.cuda.is_bf16_supported(including_emulation=False) checks)
            return ["bfloat16", "float16"], "native on this GPU"
        if cc >= (7, 0) or cc in ((5, 3), (6, 0), (6, 2)):  # T4, RTX 20, GTX 16, V100, P100, Jetson: fast float16
            return ["float16"], "this GPU has no native bfloat16"
        # GTX 10 (6.1) computes float16 at 1/64 of its float32 speed (CUDA guide, arithmetic throughput)
        return [], f"no native bfloat16 or fast float16 on this GPU (compute capability {cc[0]}.{cc[1]})"
    if device.type == "cpu":
        caps = _cpu_capabilities()
        if caps.get("avx512_bf16") or caps.get("amx_bf16"):  # recent Xeons, AMD Zen 4 and newer; few Core laptops
            return ["bfloat16"], "native on this CPU"
        return [], "no native bfloat16 or float16 on this CPU"
    if device.type == "xpu":  # Intel GPUs
        if getattr(torch.xpu.get_device_properties(device), "has_bfloat16_conversions", False):
            return ["bfloat16", "float16"], "native on this GPU"
        return ["float16"], "this GPU has no native bfloat16"
    if device.type == "mps":  # Apple GPUs compute float16 natively; GradScaler runs on them from torch 2.8
        if tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 8):
            return ["float16"], "native on Apple GPUs"
        return [], "float16 on Apple GPUs needs torch 2.8 or newer (its GradScaler)"
    return [], f"no mixed precision is chosen for {device.type} devices here"


def amp_precision(wanted, device):
    """The precision autocast uses for --amp ``wanted`` on ``device``: "bfloat16", "float16" or
    "float32" (autocast off). "auto": the device's native 16-bit float, else float32. Says which."""
    if wanted == "float32":
        return wanted
    native, why = native_amp(device)
    if wanted == "auto" and not native:
        print(f"amp: off — {why}; training stays float32", flush=True)
        return "float32"
    if wanted == "auto":
        wanted = native[0]
    elif wanted not in native:  # asked for by name, or kept from the resumed run: torch emulates it
        why = f"not native on this {'CPU' if device.type == 'cpu' else 'GPU'}: emulated, correct but far slower"
    print(f"amp: {wanted}{' + GradScaler' if wanted == 'float16' else ''} ({why})", flush=True)
    return wanted
