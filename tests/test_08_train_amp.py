"""--amp: the precision each device gets, float16 + GradScaler trained on the CPU, and --resume keeping it.

The choice is tested with torch's capability probes replaced (the GPUs and CPUs in question are not
here). The runs force float16 on this CPU with --amp=float16: torch emulates it there (correct, far
slower: a step on 4 images takes about half a second), which is what these tests need, not speed.
"""

import argparse
import math
from types import SimpleNamespace

from common.beyond_course import amp
from common.beyond_course.amp import amp_precision

import pytest
import torch

from helpers import max_change, one_line_error, run_forked, sgd_reference

TRAIN = "08_train/train_gpu.py"
TINY = ["--offline", "--limit", "4", "--batch-size", "4"]  # one step an epoch
EMULATED = "amp: float16 + GradScaler (not native on this CPU: emulated, correct but far slower)"


def gpu(cc, hip=None):
    def setup(mp):
        mp.setattr(torch.version, "hip", hip)
        mp.setattr(torch.cuda, "get_device_capability", lambda device=None: cc)
        return torch.device("cuda:0")

    return setup


def cpu(**caps):
    def setup(mp):
        mp.setattr(torch.cpu, "get_capabilities", lambda: {"avx2": True, **caps})
        return torch.device("cpu")

    return setup


def old_torch_cpu(**probes):  # before torch.cpu.get_capabilities: private probes, maybe missing
    def setup(mp):
        mp.delattr(torch.cpu, "get_capabilities", raising=False)
        for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
            if name in probes:
                mp.setattr(torch.cpu, name, lambda v=probes[name]: v)
            else:
                mp.delattr(torch.cpu, name, raising=False)
        return torch.device("cpu")

    return setup


def mps(version):
    def setup(mp):
        mp.setattr(torch, "__version__", version)
        return torch.device("mps")

    return setup


def xpu(bf16):
    def setup(mp):
        mp.setattr(torch.xpu, "get_device_properties", lambda d=None: SimpleNamespace(has_bfloat16_conversions=bf16))
        return torch.device("xpu:0")

    return setup


OFF = "; training stays float32"
FP16 = "amp: float16 + GradScaler (this GPU has no native bfloat16)"
CASES = {  # device, --amp, -> precision, the line printed ("": none)
    "T4 (Colab, Kaggle)": (gpu((7, 5)), "auto", "float16", FP16),
    "RTX 3060": (gpu((8, 6)), "auto", "bfloat16", "amp: bfloat16 (native on this GPU)"),
    "P100": (gpu((6, 0)), "auto", "float16", FP16),
    "GTX 1060": (
        gpu((6, 1)),
        "auto",
        "float32",
        "amp: off — no native bfloat16 or fast float16 on this GPU (compute capability 6.1)" + OFF,
    ),
    "AMD GPU (ROCm)": (gpu((9, 0), hip="6.2"), "auto", "bfloat16", "amp: bfloat16 (native on this GPU)"),
    "CPU with AVX512-BF16": (cpu(avx512_bf16=True), "auto", "bfloat16", "amp: bfloat16 (native on this CPU)"),
    "CPU with AMX": (cpu(avx512_bf16=False, amx_bf16=True), "auto", "bfloat16", "amp: bfloat16 (native on this CPU)"),
    "CPU without": (
        cpu(avx512_bf16=False),
        "auto",
        "float32",
        "amp: off — no native bfloat16 or float16 on this CPU" + OFF,
    ),
    "older torch, probe says bf16": (
        old_torch_cpu(_is_avx512_bf16_supported=True),
        "auto",
        "bfloat16",
        "amp: bfloat16 (native on this CPU)",
    ),
    "older torch, no probes": (
        old_torch_cpu(),
        "auto",
        "float32",
        "amp: off — no native bfloat16 or float16 on this CPU" + OFF,
    ),
    "Apple GPU": (mps("2.14.1"), "auto", "float16", "amp: float16 + GradScaler (native on Apple GPUs)"),
    "Apple GPU, torch 2.7": (
        mps("2.7.1"),
        "auto",
        "float32",
        "amp: off — float16 on Apple GPUs needs torch 2.8 or newer (its GradScaler)" + OFF,
    ),
    "Intel Arc": (xpu(True), "auto", "bfloat16", "amp: bfloat16 (native on this GPU)"),
    "Intel GPU without bf16": (xpu(False), "auto", "float16", FP16),
    "float16 forced on a CPU": (cpu(avx512_bf16=True), "float16", "float16", EMULATED),
    "bfloat16 kept on a T4": (
        gpu((7, 5)),
        "bfloat16",
        "bfloat16",
        "amp: bfloat16 (not native on this GPU: emulated, correct but far slower)",
    ),
    "--no-amp": (cpu(avx512_bf16=True), "float32", "float32", ""),
}


@pytest.mark.parametrize("case", CASES)
def test_each_device_gets_the_precision_it_computes_natively(case, monkeypatch, capsys):
    setup, wanted, precision, line = CASES[case]
    assert amp_precision(wanted, setup(monkeypatch)) == precision
    assert capsys.readouterr().out == (line + "\n" if line else "")  # said once, or nothing for float32


def test_the_flags_name_a_precision():
    p = amp.add_speed_args(argparse.ArgumentParser())
    seen = {
        tuple(a): p.parse_args(a).amp for a in ([], ["--amp"], ["--amp=float16"], ["--amp", "bfloat16"], ["--no-amp"])
    }
    assert seen == {
        (): None,
        ("--amp",): "auto",
        ("--amp=float16",): "float16",
        ("--amp", "bfloat16"): "bfloat16",
        ("--no-amp",): "float32",
    }  # None: the recipe's default, or the resumed run's
    with pytest.raises(SystemExit):
        p.parse_args(["--amp=fp8"])


@pytest.fixture(scope="module")
def fp16(tmp_path_factory):
    """One float16 + GradScaler step on the CPU, then --resume for a second epoch."""
    home = tmp_path_factory.mktemp("amp")
    first = run_forked(TRAIN, [*TINY, "--amp=float16", "--epochs", "1", "--checkpoint-dir", home / "ck"], home)
    assert first.returncode == 0, first
    resumed = run_forked(TRAIN, ["--offline", "--resume", home / "ck", "--epochs", "2"], home)
    return SimpleNamespace(
        home=home, first=first, resumed=resumed, ck1=torch.load(home / "ck" / "tudui_1.pth", weights_only=True)
    )


@pytest.mark.xdist_group("amp")  # shares the module fixture `fp16`: one worker, one run
def test_float16_with_gradscaler_takes_the_float32_step_on_the_cpu(fp16):
    assert EMULATED in fp16.first.lines
    ck = fp16.ck1
    assert ck["settings"]["amp"] == "float16"  # the precision's name, for --resume
    # GradScaler's state: the factor it multiplied the loss by, and 1 step without overflow since it was set
    assert ck["scaler"]["scale"] == 2.0**16 and ck["scaler"]["_growth_tracker"] == 1
    # the step is float32's (computed here, helpers.sgd_reference) up to float16 rounding: the gradients
    # were divided back by the factor (else the step would be 65536 times too long); measured 8e-6 apart,
    # on a step of 1.6e-3 (float32 alone: ~1e-8 apart)
    initial, model, losses = sgd_reference([list(range(4))], 4)
    assert max_change(ck["model"], initial) > 5e-4  # it trained
    assert 1e-7 < max_change(ck["model"], model.state_dict()) < 5e-5
    assert math.isfinite(ck["train_loss"]) and ck["train_loss"] == pytest.approx(losses[0], abs=1e-4)


@pytest.mark.xdist_group("amp")
def test_a_float16_run_resumed_stays_float16_with_its_scaler(fp16):
    res = fp16.resumed
    assert res.returncode == 0, res
    assert "amp float16" in res.lines[0] and EMULATED in res.lines  # the resume line, then the choice
    ck2 = torch.load(fp16.home / "ck" / "tudui_2.pth", weights_only=True)
    assert ck2["settings"] == dict(fp16.ck1["settings"], epochs=2)
    assert ck2["scaler"]["_growth_tracker"] == 2  # continued from the checkpoint's 1 (a new scaler: 1)
    assert max_change(ck2["model"], fp16.ck1["model"]) > 5e-4
    # --amp (no value: the device chooses) keeps the run's choice, so only the finished run stops it
    # (a torchrun restart passes the job's flags again); --no-amp does not fit
    one_line_error(
        run_forked(TRAIN, ["--offline", "--resume", fp16.home / "ck", "--amp"], fp16.home),
        "that run is finished (2 of 2 epochs",
    )
    one_line_error(
        run_forked(TRAIN, ["--offline", "--resume", fp16.home / "ck", "--no-amp", "--epochs", "3"], fp16.home),
        "that run used --amp float16, you gave --amp float32",
    )


@pytest.mark.xdist_group("amp")
def test_a_checkpoint_from_before_the_precision_names_resumes(fp16, tmp_path):
    """Older checkpoints recorded --amp as True/False (True: bfloat16 autocast) and hold no scaler."""
    old = dict(fp16.ck1, settings=dict(fp16.ck1["settings"], amp=True))
    del old["scaler"]
    (tmp_path / "old").mkdir()
    torch.save(old, tmp_path / "old" / "tudui_1.pth")
    res = run_forked(TRAIN, ["--offline", "--resume", tmp_path / "old", "--epochs", "2"], tmp_path)
    assert res.returncode == 0, res
    assert "amp bfloat16" in res.lines[0]
    assert any(line.startswith("amp: bfloat16 (") for line in res.lines), res  # native here or not, it says which
    assert torch.load(tmp_path / "old" / "tudui_2.pth", weights_only=True)["settings"]["amp"] == "bfloat16"
    # False meant float32
    torch.save(dict(old, settings=dict(old["settings"], amp=False)), tmp_path / "old" / "tudui_1.pth")
    one_line_error(
        run_forked(
            TRAIN,
            ["--offline", "--resume", tmp_path / "old" / "tudui_1.pth", "--amp=bfloat16", "--epochs", "3"],
            tmp_path,
        ),
        "that run used --amp float32, you gave --amp bfloat16",
    )
