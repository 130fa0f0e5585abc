"""The training scripts learn: one SGD step, checked against the same step computed here.

A run of ``--limit 64 --batch-size 64 --epochs 1`` takes exactly one step on all 64 training
images, so the order the script shuffles them in does not matter. The test computes that step
itself (helpers.sgd_reference: plain ImageFolder + ToTensor, the documented --limit rule,
Tudui seeded with 0, CrossEntropyLoss, SGD lr 0.01) and requires the saved weights, loss and
test accuracy to be the ones it got. A script that skips ``optimizer.step()``, or steps on the
wrong loss, data or learning rate, fails here.
"""

import re

import pytest
import torch

from helpers import max_change, reference_accuracy, sample_split, sgd_reference

ONE_STEP = ["--offline", "--limit", "64", "--batch-size", "64", "--epochs", "1"]
FP32 = ["--no-amp"]  # the scripts with --amp: float32, as the reference, whatever the default (recipe.AMP)
# The scripts add the 64 images' gradients in another order than the reference: measured
# differences of about 1e-8 (float32 rounding); the step itself moves weights by up to ~9e-4
ATOL = 1e-6
MOVED = 1e-4  # the reference step moves some weight by more than this: far above ATOL


@pytest.fixture(scope="module")
def reference():
    initial, model, losses = sgd_reference([list(range(64))], 64)
    images, labels = sample_split("train", 64)
    with torch.no_grad():
        after = torch.nn.CrossEntropyLoss()(model(images), labels).item()
    assert after < losses[0]  # the step goes downhill: the loss on the same batch falls
    assert max_change(model.state_dict(), initial) > MOVED
    test_images, test_labels = sample_split("test", 64)
    with torch.no_grad():  # the mean loss per test image of the model after the step
        test_loss = torch.nn.CrossEntropyLoss()(model(test_images), test_labels).item()
    weights, accuracy = model.state_dict(), reference_accuracy(model, 64)
    return dict(initial=initial, weights=weights, loss=losses[0], accuracy=accuracy, test_loss=test_loss)


def saved(res, epoch=1):
    files = list((res.home / "checkpoints").rglob(f"*_{epoch}.pth"))
    assert len(files) == 1, files
    return torch.load(files[0], weights_only=True)


@pytest.mark.parametrize("script", ["train.py", "train_gpu_1.py", "train_gpu.py", "train_ddp.py"])
def test_each_training_script_takes_the_reference_sgd_step(run_script, reference, script):
    res = run_script(f"08_train/{script}", *ONE_STEP, *(FP32 if script in ("train_gpu.py", "train_ddp.py") else []))
    assert res.returncode == 0, res
    ck = saved(res)
    assert ck["total_train_step"] == 1
    assert sorted(ck["model"]) == sorted(reference["weights"])
    for key, want in reference["weights"].items():
        torch.testing.assert_close(ck["model"][key], want, rtol=0, atol=ATOL, msg=lambda m, k=key: f"{k}: {m}")
    assert ck["train_loss"] == pytest.approx(reference["loss"], abs=1e-5)  # one step: the untrained model's loss
    # the test pass sees the same 64 test images and counts the same right answers
    assert ck["test_accuracy"] == pytest.approx(reference["accuracy"], abs=1e-9)
    printed = float(re.search(r"^整体测试集上的Loss: (\d+\.\d{4})$", res.stdout, re.M).group(1))
    assert printed == pytest.approx(reference["test_loss"], abs=1e-4)  # the test pass's mean loss, rounded


@pytest.mark.parametrize(
    "flag, setting, value", [("--amp=bfloat16", "amp", "bfloat16"), ("--augment", "augment", True)]
)
def test_train_gpu_speed_and_augment_flags_train_and_change_the_step(run_script, reference, flag, setting, value):
    res = run_script("08_train/train_gpu.py", flag, *ONE_STEP, *(FP32 if setting != "amp" else []))
    assert res.returncode == 0, res
    ck = saved(res)
    assert ck["settings"][setting] == value  # recorded, so --resume keeps it
    assert max_change(ck["model"], reference["initial"]) > MOVED  # it trained
    off = max_change(ck["model"], reference["weights"])  # vs the same step without the flag
    if setting == "amp":
        # bfloat16 autocast: measured 2.5e-6 away from the float32 step (float32 alone: 1e-8)
        assert 1e-7 < off < 2.5e-5
    else:
        # random crops and flips change the images, so the gradient: measured 3e-5 away
        assert off > 3e-6


def test_the_classic_loader_takes_the_reference_step_in_the_default_memory_layout(run_script, reference):
    """--loader classic: the course's DataLoader + ToTensor, the same step; --channels-last is for the fast
    loader only, so the conv weights stay in the default (NCHW) layout."""
    res = run_script("08_train/train_gpu.py", "--loader", "classic", *ONE_STEP, *FP32)
    assert res.returncode == 0 and "loader: classic" in res.lines[0], res
    ck = saved(res)
    for key, want in reference["weights"].items():
        torch.testing.assert_close(ck["model"][key], want, rtol=0, atol=ATOL, msg=lambda m, k=key: f"{k}: {m}")
    assert ck["model"]["model.0.weight"].is_contiguous()


def test_compile_takes_the_reference_sgd_step(run_script, reference):
    """--compile puts the model under torch.compile. Inductor's C++ build costs ~40 s on a 2-core
    CPU with a cold cache, so PyTorch's debug switch TORCH_COMPILE_OVERRIDE_BACKENDS runs the compiled
    graphs with aot_eager instead: TorchDynamo captures the model and AOTAutograd traces its backward,
    as under inductor, only without generating C++. The graph log proves the model was captured."""
    # fresh: torch reads TORCH_LOGS when it is imported, which a forked run has done before its env is set
    res = run_script(
        "08_train/train_gpu.py",
        "--compile",
        *ONE_STEP,
        *FP32,
        fresh=True,
        env={
            "TORCH_COMPILE_OVERRIDE_BACKENDS": ">=0:aot_eager",
            "TORCHINDUCTOR_COMPILE_THREADS": "1",
            "TORCH_LOGS": "graph_code",
        },
    )
    assert res.returncode == 0, res
    assert res.stderr.count("TRACED GRAPH") >= 1, res  # the training step (the test pass runs the plain model)
    ck = saved(res)
    assert sorted(ck["model"]) == sorted(reference["weights"])  # no "_orig_mod." prefix: predict.py loads it
    for key, want in reference["weights"].items():
        torch.testing.assert_close(ck["model"][key], want, rtol=0, atol=ATOL, msg=lambda m, k=key: f"{k}: {m}")
    assert ck["test_accuracy"] == pytest.approx(reference["accuracy"], abs=1e-9)


def test_train_shuffles_the_batches_as_a_shuffled_dataloader_does(run_script):
    """Two steps of 32 a run: the batches a plain DataLoader(shuffle=True) draws after the same seed and
    the same Tudui(), then the reference SGD on them. Batches in file order would end elsewhere."""
    from common.model import Tudui

    from torch.utils.data import DataLoader

    torch.manual_seed(0)
    Tudui()  # the script builds the model before it draws the first shuffle
    batches = [b.tolist() for b in DataLoader(range(64), batch_size=32, shuffle=True)]
    assert batches[0] != list(range(32))
    _, model, _ = sgd_reference(batches, 64)
    res = run_script("08_train/train.py", "--offline", "--limit", "64", "--batch-size", "32", "--epochs", "1")
    assert res.returncode == 0, res
    ck = saved(res)
    for key, want in model.state_dict().items():
        torch.testing.assert_close(ck["model"][key], want, rtol=0, atol=ATOL, msg=lambda m, k=key: f"{k}: {m}")
