"""06_pretrained: VGG16 with and without ImageNet weights, the two classifier edits, the hub cache
(model_pretrained.py); transfer_learning.py on a picture folder a learner might make, and predict.py on its
checkpoints; benchmark_transfer.py."""

import io
import re

import pytest
import torch
import torchvision
from PIL import Image
from torchvision.models import ResNet18_Weights

from helpers import PET_CLASSES, last_line, make_folder, one_line_error, run_forked

PRETRAINED = "06_pretrained/model_pretrained.py"


def test_smoke_model_pretrained_offline_edits(run_script, torch_home):
    res = run_script(PRETRAINED, "--offline", env={"TORCH_HOME": str(torch_home)})
    assert res.returncode == 0, res
    assert "Traceback" not in res.stderr
    out = res.stdout
    # where weights are cached follows TORCH_HOME
    assert f"torch.hub.get_dir(): {torch_home / 'hub'}" in out
    # pretrained=True/False explained with today's spelling
    assert "equivalent to passing `weights=None`" in out
    assert "VGG16_Weights.DEFAULT is VGG16_Weights.IMAGENET1K_V1" in out
    # offline: exactly one line saying what to download and where, then weights=None
    notes = [line for line in res.lines if "ImageNet weights" in line]
    assert len(notes) == 1, out
    assert notes[0].startswith("VGG16's ImageNet weights: not on disk (--offline) -> random weights")
    assert "https://download.pytorch.org/models/vgg16-397923af.pth" in notes[0]
    assert str(torch_home / "hub" / "checkpoints" / "vgg16-397923af.pth") in notes[0]
    assert "weights=None" in notes[0]
    assert "138,357,544 parameters" in out
    assert "before the edits: output shape (1, 1000)" in out
    # edit 1: a Linear(1000 -> 10) appended inside classifier, after the original 4096 -> 1000
    edit1 = out.split("edit 1: vgg16_true.classifier.add_module")[1].split("edit 2:")[0]
    assert "(6): Linear(in_features=4096, out_features=1000, bias=True)" in edit1
    assert "(add_linear): Linear(in_features=1000, out_features=10, bias=True)" in edit1
    assert "edit 1: output shape (1, 10)" in out
    # edit 2: classifier[6] replaced by 4096 -> 10, nothing appended
    edit2 = out.split("edit 2: vgg16_false.classifier[6]")[1]
    assert "(6): Linear(in_features=4096, out_features=10, bias=True)" in edit2
    assert "add_linear" not in edit2
    assert "edit 2: output shape (1, 10)" in out
    # only the changed part is printed after each edit, not the 40-line features block again
    assert out.count("(features): Sequential(") == 1


def test_model_pretrained_damaged_cache_is_one_line(run_script, torch_home, tmp_path):
    hub = tmp_path / "my_hub"  # --hub-dir = torch.hub.set_dir
    (hub / "checkpoints").mkdir(parents=True)
    bad = hub / "checkpoints" / "vgg16-397923af.pth"
    bad.write_bytes(b"not a weights file")
    res = run_script(PRETRAINED, "--offline", "--hub-dir", hub, env={"TORCH_HOME": str(torch_home)})
    assert res.returncode == 0, res
    assert "Traceback" not in res.stderr
    assert f"torch.hub.get_dir(): {hub}" in res.stdout
    notes = [line for line in res.lines if line.startswith(f"{bad} ")]
    assert len(notes) == 1 and str(bad) in notes[0] and "not a usable VGG16 weights file" in notes[0]
    assert re.search(r"^edit 2: output shape \(1, 10\)$", res.stdout, re.M)


# -- transfer_learning.py --------------------------------------------------------------------------

TRANSFER = "06_pretrained/transfer_learning.py"
PREDICT = "09_inference/predict.py"
WEIGHTS_FILE = ResNet18_Weights.DEFAULT.url.rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One run of all three ways from "ImageNet weights" already in the hub cache (a locally made
    ResNet-18 state_dict under the official file name), at 32x32 to stay quick."""
    home = tmp_path_factory.mktemp("transfer")
    folder = make_folder(home / "我的 图片")
    hub = home / "torch_home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18().state_dict(), hub / WEIGHTS_FILE)
    res = run_forked(
        TRANSFER,
        ["--data-root", folder, "--epochs", "1", "--image-size", "32", "--device", "cpu"],
        home,
        env={"TORCH_HOME": str(home / "torch_home")},
    )
    assert res.returncode == 0, res
    return home, folder, res


@pytest.mark.xdist_group("transfer")
def test_every_way_trains_from_cached_imagenet_weights_without_network(trained):
    home, folder, res = trained
    assert (
        f"pretrained: ResNet-18 with ImageNet weights from {home / 'torch_home' / 'hub' / 'checkpoints'}" in res.stdout
        and "(already cached: no download)" in res.stdout
    )
    assert "Downloading" not in res.stdout + res.stderr
    assert "skipped 1 file(s) that are not pictures" in res.stdout and "notes.txt" in res.stdout
    assert "11 train / 6 val pictures, 3 classes (狗, 猫, 鸟)" in res.stdout
    assert re.match(r"^final val accuracy: (0\.\d{4}|1\.0000)$", last_line(res)), res
    run = next((home / "checkpoints" / "transfer_learning").iterdir())
    for way in ("feature", "finetune", "scratch"):
        ck = torch.load(run / f"{way}_resnet18_1.pth", weights_only=True)
        assert ck["classes"] == PET_CLASSES and ck["way"] == way and ck["epoch"] == 1 and ck["input_size"] == 32
        assert ck["model"]["fc.weight"].shape == (3, 512)
        assert ck["pretrained"] == (None if way == "scratch" else "ImageNet (ResNet18_Weights.IMAGENET1K_V1)")
        assert (home / "logs" / "transfer_learning" / run.name / way).is_dir()  # curves per way
    # feature extraction trains only the new layer: everything else is the file's, unchanged
    original = torch.load(home / "torch_home" / "hub" / "checkpoints" / WEIGHTS_FILE, weights_only=True)
    feature = torch.load(run / "feature_resnet18_1.pth", weights_only=True)["model"]
    assert all(torch.equal(v, feature[k]) for k, v in original.items() if not k.startswith("fc."))
    finetuned = torch.load(run / "finetune_resnet18_1.pth", weights_only=True)["model"]
    assert not torch.equal(original["conv1.weight"], finetuned["conv1.weight"])


@pytest.mark.xdist_group("transfer")
def test_resnet18_s_feature_way_trains_on_imagenet_s_preprocessing_of_each_whole_picture(trained):
    """The feature way's one step, computed here with plain torchvision: the hub file's ResNet-18 in eval mode
    (its BatchNorm layers use their running statistics) without fc, on each training picture as
    Resize(36) (the short side, keeping the picture's shape) + CenterCrop(32) + ToTensor + Normalize;
    then Linear(512, 3) as after torch.manual_seed(0): its loss on the 11 pictures, one batch."""
    from test_06_transfer_ways import plain_picture, training_pictures

    home, folder, _ = trained
    T = torchvision.transforms
    prepare = T.Compose([T.Resize(36), T.CenterCrop(32), T.ToTensor(), T.Normalize(**IMAGENET)])
    body = torchvision.models.resnet18()
    body.load_state_dict(torch.load(home / "torch_home" / "hub" / "checkpoints" / WEIGHTS_FILE, weights_only=True))
    body.fc = torch.nn.Identity()
    files = training_pictures(folder)
    with torch.no_grad():
        feats = body.eval()(torch.stack([plain_picture(p, prepare=prepare) for p, _ in files]))
    torch.manual_seed(0)
    loss = torch.nn.CrossEntropyLoss()(torch.nn.Linear(512, 3)(feats), torch.tensor([i for _, i in files]))
    ck = torch.load(next((home / "checkpoints").rglob("feature_resnet18_1.pth")), weights_only=True)
    assert ck["train_loss"] == pytest.approx(loss.item(), abs=1e-5)


@pytest.mark.xdist_group("transfer")
def test_resnet18_s_fine_tuning_step_with_batchnorm_in_training_mode(trained):
    """The fine-tuning way's one step on ResNet-18, computed here with plain torchvision: the hub file's weights,
    fc = Linear(512, 3) drawn after torch.manual_seed(0), the training pictures augmented as they are drawn
    (Resize(36), RandomCrop(32), RandomHorizontalFlip, ToTensor, Normalize) by a DataLoader(shuffle=True),
    the model in train mode: every gradient (SGD's first momentum buffers, the BatchNorm layers' included), and
    the running statistics the BatchNorm layers kept from that batch."""
    from test_06_transfer_ways import first_shuffled_batch

    home, folder, _ = trained
    T = torchvision.transforms
    augment = T.Compose(
        [T.Resize(36), T.RandomCrop(32), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(**IMAGENET)]
    )
    model = torchvision.models.resnet18()
    model.load_state_dict(torch.load(home / "torch_home" / "hub" / "checkpoints" / WEIGHTS_FILE, weights_only=True))
    torch.manual_seed(0)
    model.fc = torch.nn.Linear(512, 3)
    imgs, labels = first_shuffled_batch(folder, augment)
    loss = torch.nn.CrossEntropyLoss()(model.train()(imgs), labels)
    loss.backward()
    ck = torch.load(next((home / "checkpoints").rglob("finetune_resnet18_1.pth")), weights_only=True)
    assert ck["train_loss"] == pytest.approx(loss.item(), abs=1e-5)
    buffers = [s["momentum_buffer"] for s in ck["optimizer"]["state"].values()]
    for buffer, (name, p) in zip(buffers, model.named_parameters(), strict=True):
        torch.testing.assert_close(buffer, p.grad, rtol=0, atol=1e-5, msg=name)
    for name, b in model.named_buffers():  # running_mean, running_var, num_batches_tracked
        torch.testing.assert_close(ck["model"][name], b, rtol=0, atol=1e-5, msg=name)


@pytest.mark.xdist_group("transfer")
def test_predict_a_folder_with_the_run_s_classes(trained, run_script):
    home, folder, _ = trained
    ck = next((home / "checkpoints" / "transfer_learning").rglob("feature_resnet18_1.pth"))
    res = run_script(PREDICT, folder / "train" / "鸟", "--checkpoint", ck)
    assert res.returncode == 0, res
    lines = [line for line in res.lines if re.match(r"^\w+\.jpg: (狗|猫|鸟) \((0\.\d{4}|1\.0000)\)$", line)]
    assert len(lines) == 4, res  # 0.jpg 1.jpg 2.jpg gray.jpg; notes.txt skipped
    assert "skipped 1 file(s) that are not pictures, e.g. notes.txt" in res.stdout
    counts = re.match(r"^counts: 狗 (\d+), 猫 (\d+), 鸟 (\d+)$", last_line(res))
    assert counts and sum(map(int, counts.groups())) == 4, res


@pytest.mark.xdist_group("transfer")
def test_predict_one_picture_prints_one_of_the_class_names(trained, run_script):
    home, folder, _ = trained
    ck = next((home / "checkpoints" / "transfer_learning").rglob("scratch_resnet18_1.pth"))
    res = run_script(PREDICT, folder / "train" / "狗" / "cutout.png", "--checkpoint", ck)
    assert res.returncode == 0, res
    assert "3 classes: 狗, 猫, 鸟" in res.stdout
    assert re.match(r"^prediction: (狗|猫|鸟) \((0\.\d{4}|1\.0000)\)$", last_line(res)), res


def test_transfer_learning_says_a_damaged_weights_file_in_one_line_and_uses_the_cifar10_model(run_script, tmp_path):
    cached = tmp_path / "torch_home" / "hub" / "checkpoints" / WEIGHTS_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not a weights file")
    args = ["--offline", "--ways", "feature", "--epochs", "1", "--device", "cpu"]
    res = run_script(TRANSFER, *args, env={"TORCH_HOME": str(tmp_path / "torch_home")})
    assert res.returncode == 0 and "Traceback" not in res.stderr, res
    notes = [line for line in res.lines if line.startswith(f"{cached} ")]
    assert len(notes) == 1 and "is not a usable ResNet-18 weights file" in notes[0], res
    assert notes[0].endswith("the shipped CIFAR-10 model instead; delete that file and run again"), res
    ck = torch.load(next((tmp_path / "checkpoints").rglob("feature_tudui_1.pth")), weights_only=True)
    assert ck["pretrained"] == "CIFAR-10 (tudui_cifar10.pth)"


def test_smoke_transfer_learning_offline(run_script, tmp_path):
    # no network, no ImageNet weights: one line says where the file goes, then the shipped
    # CIFAR-10 model is the pretrained network, on the bundled ants/bees sample
    torch_home = tmp_path / "torch_home"
    res = run_script(TRANSFER, "--offline", env={"TORCH_HOME": str(torch_home)})
    assert res.returncode == 0, res
    assert "Traceback" not in res.stderr
    notes = [line for line in res.lines if "ImageNet weights" in line]
    assert len(notes) == 1 and str(torch_home / "hub" / "checkpoints" / WEIGHTS_FILE) in notes[0], res
    assert "tudui_cifar10.pth" in notes[0]
    assert "features of 24 + 12 pictures computed once" in res.stdout
    for way in ("feature", "finetune", "scratch"):
        assert re.search(rf"^{way} +CIFAR-10|^{way} +- \(random start\)", res.stdout, re.M), res
    assert re.match(r"^final val accuracy: (0\.\d{4}|1\.0000)$", last_line(res)), res
    run = next((tmp_path / "checkpoints" / "transfer_learning").iterdir())
    ck = torch.load(run / "finetune_tudui_5.pth", weights_only=True)
    assert ck["classes"] == ["ants", "bees"] and ck["pretrained"] == "CIFAR-10 (tudui_cifar10.pth)"
    assert ck["model"]["model.8.weight"].shape == (2, 64) and ck["normalize"] is None


def _truncated_jpeg(path):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(buf, format="JPEG")
    path.write_bytes(buf.getvalue()[:300])


BAD = {
    "one class": (lambda r: make_folder(r, classes=["猫"]), ["has 1 class folder(s) (猫)", "2 or more"]),
    "empty class": (
        lambda r: [make_folder(r), *(p.unlink() for p in (r / "val" / "鸟").iterdir())],
        ["鸟 has no pictures"],
    ),
    "classes differ": (
        lambda r: [make_folder(r), (r / "val" / "鸟").rename(r / "val" / "鱼")],
        ["only in train/: 鸟", "only in val/: 鱼"],
    ),
    "no train": (lambda r: [make_folder(r), (r / "train").rename(r / "training")], ["no train/ folder"]),
    "damaged": (
        lambda r: [make_folder(r), _truncated_jpeg(r / "val" / "猫" / "1.jpg")],
        ["val/猫/1.jpg", "damaged or truncated"],
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_folder_is_one_line_and_writes_nothing(run_script, tmp_path, case):
    make, needles = BAD[case]
    root = tmp_path / "my pictures"
    root.mkdir()
    make(root)
    res = run_script(TRANSFER, "--data-root", root, "--offline", env={"TORCH_HOME": str(tmp_path / "th")})
    one_line_error(res, *needles)
    assert not (tmp_path / "logs").exists() and not (tmp_path / "checkpoints").exists()


def test_benchmark_transfer_runs(run_script):
    res = run_script(
        "06_pretrained/benchmark_transfer.py",
        "--offline",
        "--image-size",
        "32",
        "--repeats",
        "1",
        "--device",
        "cpu",
        "--photos",
        "4",
        "--epochs",
        "2",
    )
    assert res.returncode == 0, res
    # the photo line: four 12-megapixel JPEGs, each decoded once by transfer_learning.py's data path
    assert re.search(
        r"^12-megapixel photos, seconds per 100: one plain decode pass \d+\.\d\d \| .* 2 epochs, "
        r"val, mistakes\) \d+\.\d\d = \d+\.\d\dx the plain pass, of which the check that decodes them "
        r"\d+\.\d\d; each photo decoded 1\.0 time\(s\)$",
        res.stdout,
        re.M,
    ), res
    assert re.search(r"^  cached .* [\d,]+x faster per epoch", res.stdout, re.M), res
    assert re.search(r"^  finetune .* \d+\.\d{3}$", res.stdout, re.M), res


IMAGENET = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])  # torchvision's published ImageNet values


@pytest.mark.xdist_group("transfer")
def test_the_checkpoint_carries_imagenet_s_preprocessing_and_predict_applies_it(trained, run_script):
    """--image-size 32: Resize(32 * 256 // 224 = 36) + CenterCrop(32) + ToTensor + Normalize(ImageNet), as
    weights.transforms() does; predict.py's top 3 equal plain torchvision's answer with those steps."""
    home, folder, _ = trained
    path = next((home / "checkpoints" / "transfer_learning").rglob("finetune_resnet18_1.pth"))
    ck = torch.load(path, weights_only=True)
    assert ck["input_size"] == 32 and ck["resize"] == 36
    assert {k: [round(v, 3) for v in vals] for k, vals in ck["normalize"].items()} == IMAGENET
    picture = folder / "val" / "猫" / "1.jpg"
    res = run_script(PREDICT, picture, "--checkpoint", path)
    assert res.returncode == 0, res
    model = torchvision.models.resnet18(num_classes=3)
    model.load_state_dict(ck["model"])
    prepare = torchvision.transforms.Compose(
        [
            torchvision.transforms.Resize(36),
            torchvision.transforms.CenterCrop(32),
            torchvision.transforms.ToTensor(),
            torchvision.transforms.Normalize(**IMAGENET),
        ]
    )
    with torch.no_grad():
        probs = torch.softmax(model.eval()(prepare(Image.open(picture).convert("RGB"))[None]), dim=1)[0]
    printed = re.findall(r"^  (\S+) +(\d\.\d{4})$", res.stdout, re.M)
    assert [name for name, _ in printed] == [PET_CLASSES[i] for i in probs.argsort(descending=True).tolist()], res
    assert [float(p) for _, p in printed] == pytest.approx(probs.sort(descending=True).values.tolist(), abs=1e-4)


def test_resnet18_checkpoints_at_the_default_size_keep_only_the_newest_epoch(tmp_path):
    """--image-size 224 (the default): Resize(256) + CenterCrop(224), as ImageNet's weights.transforms();
    a ResNet-18 checkpoint is 45 MB, so each epoch's replaces the one before."""
    folder = make_folder(tmp_path / "pics", train=1, val=1)
    hub = tmp_path / "torch_home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18().state_dict(), hub / WEIGHTS_FILE)
    args = ["--data-root", folder, "--ways", "feature", "--epochs", "2", "--device", "cpu"]
    res = run_forked(TRANSFER, args, tmp_path, env={"TORCH_HOME": str(tmp_path / "torch_home")})
    assert res.returncode == 0, res
    run = next((tmp_path / "checkpoints" / "transfer_learning").iterdir())
    assert [p.name for p in run.iterdir()] == ["feature_resnet18_2.pth"]
    ck = torch.load(run / "feature_resnet18_2.pth", weights_only=True)
    assert ck["input_size"] == 224 and ck["resize"] == 256 and ck["epoch"] == 2
