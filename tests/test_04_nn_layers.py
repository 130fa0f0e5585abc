"""Smoke tests for 04_nn_layers: each script run as a learner would, offline, checked on what it printed and
logged. Beyond P16-P22: ResNet by hand (nn_resnet.py, whose classes are also checked in-process against
torchvision's: the same names, shapes and outputs), RNN/LSTM (nn_rnn.py), the other layers of P21
(nn_other_layers.py)."""

import importlib.util
import math
import re

import pytest
import torch

from helpers import REPO, read_events

NUM = r"-?\d+(?:\.\d*)?(?:e[-+]?\d+)?"


def tensor_after(stdout, header):
    """The numbers of the tensor printed on the lines right after ``header``."""
    block = stdout.split(header + "\n", 1)[1]
    block = block[: block.index("])") + 2]
    return [float(v) for v in re.findall(NUM, block)]


def events(result, script):
    """TensorBoard's own reader on logs/04_nn_layers/<script>, after checking an event file is there."""
    return read_events(result.home / "logs" / "04_nn_layers" / script)


def image_size(acc, tag):
    """(width, height, steps) of an add_images grid (8 images per row, no padding)."""
    imgs = acc.Images(tag)
    return imgs[0].width, imgs[0].height, [e.step for e in imgs]


def test_smoke_nn_module(run_script):
    r = run_script("04_nn_layers/nn_module.py")
    assert r.returncode == 0, r
    assert "tudui(tensor(1.)) = tensor(2.)" in r.stdout
    assert "batch (4, 3, 32, 32) -> (4, 3, 32, 32), equal to imgs + 1: True" in r.stdout
    assert "parameters to learn: 0" in r.stdout
    assert "cannot assign module before Module.__init__() call" in r.stdout


def test_smoke_nn_conv_matrices_and_output_size_from_its_own_folder(run_script):
    r = run_script("04_nn_layers/nn_conv.py", cwd=REPO / "04_nn_layers")
    assert r.returncode == 0, r
    assert "(input[:3, :3] * kernel).sum() = 10" in r.stdout
    assert tensor_after(r.stdout, "F.conv2d stride=1:") == [10, 12, 12, 18, 16, 16, 13, 9, 3]
    assert tensor_after(r.stdout, "F.conv2d stride=2:") == [10, 12, 13, 3]
    assert tensor_after(r.stdout, "F.conv2d stride=1, padding=1:") == [
        1,
        3,
        4,
        10,
        8,
        5,
        10,
        12,
        12,
        6,
        7,
        18,
        16,
        16,
        8,
        11,
        13,
        9,
        3,
        4,
        14,
        13,
        9,
        7,
        4,
    ]
    sizes = re.findall(r"-> formula (\d+), PyTorch (\d+)", r.stdout)
    assert [int(f) for f, _ in sizes] == [3, 2, 5, 30, 32, 1, 2, 10, 11, 16]
    assert all(f == real for f, real in sizes)


def test_smoke_nn_conv2d_shapes_and_images(run_script):
    r = run_script("04_nn_layers/nn_conv2d.py", "--offline", "--limit", "128", "--batches", "0")
    assert r.returncode == 0, r
    assert "using the bundled sample" in r.stdout
    assert "weight (6, 3, 3, 3)" in r.stdout
    assert "input  (64, 3, 32, 32)" in r.stdout
    assert "conv   (64, 6, 30, 30)" in r.stdout
    assert "reshaped for add_images (128, 3, 30, 30)" in r.stdout
    assert "logged 2 batch(es)" in r.stdout  # --batches 0: all of them
    acc = events(r, "nn_conv2d")
    assert image_size(acc, "input") == (8 * 32, 8 * 32, [0, 1])
    # the reshape hack doubles the picture count: 128 fake RGB images, 16 rows of 8
    assert image_size(acc, "Conv_output") == (8 * 30, 16 * 30, [0, 1])
    assert image_size(acc, "Conv_output_channels") == (6 * 30, 30, [0, 1])


def test_smoke_nn_maxpool_ceil_mode_and_images(run_script):
    r = run_script("04_nn_layers/nn_maxpool.py", "--offline", "--limit", "256")  # 4 batches, 3 by default
    assert r.returncode == 0, r
    assert tensor_after(r.stdout, "MaxPool2d(3, ceil_mode=True):") == [2, 3, 5, 1]
    assert tensor_after(r.stdout, "MaxPool2d(3, ceil_mode=False):") == [2]
    assert "images (64, 3, 32, 32) -> ceil_mode=False (64, 3, 10, 10), ceil_mode=True (64, 3, 11, 11)" in r.stdout
    assert "values per image: 3072 -> 300" in r.stdout
    acc = events(r, "nn_maxpool")
    assert image_size(acc, "maxpool_input") == (256, 256, [0, 1, 2])
    assert image_size(acc, "maxpool_output") == (80, 80, [0, 1, 2])


def test_smoke_nn_relu_and_sigmoid(run_script):
    r = run_script("04_nn_layers/nn_relu.py", "--offline", "--limit", "64")
    assert r.returncode == 0, r
    assert tensor_after(r.stdout, "ReLU:") == [1, 0, 0, 3]
    assert tensor_after(r.stdout, "Sigmoid:") == pytest.approx([0.7311, 0.3775, 0.2689, 0.9526], abs=1e-4)
    assert "the input itself is: [[1.0, 0.0], [0.0, 3.0]]" in r.stdout
    assert "lin2(lin1(v)) equals one merged Linear: True" in r.stdout
    assert "lin2(relu(lin1(v))) equals it too:      False" in r.stdout
    lo, hi = map(float, re.search(rf"-> sigmoid in \[({NUM}), ({NUM})\]", r.stdout).groups())
    assert 0.5 <= lo < hi <= 0.7311
    assert "ReLU on the raw images changes them by at most 0.0" in r.stdout
    zeroed = float(re.search(r"zeroes (\d+\.\d)% of the pixels", r.stdout).group(1))
    assert 5 < zeroed < 95
    acc = events(r, "nn_relu")
    assert {"before_activate", "after_sigmoid", "after_relu"} <= set(acc.Tags()["images"])


def test_smoke_nn_linear_flatten_batchnorm_and_dropout(run_script):
    r = run_script("04_nn_layers/nn_linear.py", "--offline", "--limit", "100")
    assert r.returncode == 0, r
    assert "Linear(5, 10) on (3, 5) -> (3, 10)" in r.stdout
    assert "original (64, 3, 32, 32) -> flatten (196608,) -> linear1 (10,)" in r.stdout
    assert "100 test images = 1 full batch(es) of 64 + 36 left over" in r.stdout
    assert "a last batch of 36 would give 110592 values, not 196608" in r.stdout
    assert "(64, 3072) -> Linear(3072, 10) (64, 10)" in r.stdout

    def triple(label):
        m = re.search(label + r" \[(" + NUM + "), (" + NUM + "), (" + NUM + r")\]", r.stdout)
        return [float(v) for v in m.groups()]

    before = triple("before BatchNorm2d: per-channel mean")
    assert all(0.2 < m < 0.8 for m in before)
    assert triple("after  BatchNorm2d: per-channel mean") == pytest.approx([0, 0, 0], abs=1e-4)
    assert triple(r"after  BatchNorm2d: per-channel mean \S+ \S+ \S+ std") == pytest.approx([1, 1, 1], abs=1e-3)
    assert triple("running_mean after one batch") == pytest.approx([0.1 * m for m in before], abs=1e-4)

    # Dropout(p=0.5): in train() each value is zeroed with probability 0.5, independently, so the
    # zeroed fraction of n values has standard deviation sqrt(0.5 * 0.5 / n); allow 4 of those
    m = re.search(
        r"Dropout\(p=0\.5\) in train\(\): zeroed (\d\.\d+) of (\d+) values, "
        r"the rest multiplied by \[(\S+)\]",
        r.stdout,
    )
    assert m, r
    zeroed, n, scale = float(m.group(1)), int(m.group(2)), float(m.group(3))
    assert n == 64 * 10  # Linear(3072, 10) on one batch of 64
    assert abs(zeroed - 0.5) <= 4 * (0.25 / n) ** 0.5
    assert scale == 1 / (1 - 0.5)
    assert "two train() calls on the same input agree: False" in r.stdout
    assert "Dropout in eval(): output equals input: True" in r.stdout


def test_nn_linear_dropout_is_the_same_for_the_same_seed(run_script):
    def zeroed(*args):
        res = run_script("04_nn_layers/nn_linear.py", "--offline", "--limit", "64", "--batches", "1", *args)
        assert res.returncode == 0, res
        return re.search(r"zeroed (\S+) of", res.stdout).group(1)

    # --seed fixes which values Dropout drops: the same seed twice, the same result; another seed,
    # another choice (for seeds 0 and 1 the fractions differ; a clash of k/640 values is possible
    # for other pairs)
    assert zeroed("--seed", "0") == zeroed("--seed", "0") != zeroed("--seed", "1")


def test_smoke_nn_seq_shape_params_and_graph(run_script):
    r = run_script("04_nn_layers/nn_seq.py")
    assert r.returncode == 0, r
    assert "output shape: torch.Size([64, 10])" in r.stdout
    shapes = re.findall(r"^  (\w+)\s+-> (\(.*\))$", r.stdout, re.M)
    assert shapes[0] == ("Conv2d", "(64, 32, 32, 32)")
    assert shapes[5] == ("MaxPool2d", "(64, 64, 4, 4)")
    assert shapes[6] == ("Flatten", "(64, 1024)")
    assert shapes[-1] == ("Linear", "(64, 10)") and len(shapes) == 9
    assert "parameters: 145,578 (common.model.Tudui, used by the later lessons: 145,578)" in r.stdout
    assert "Warning" not in r.stderr  # the jit-trace FutureWarning of add_graph is handled
    acc = events(r, "nn_seq")
    assert acc.Tags()["graph"]
    graph = str(acc.Graph())
    assert "Conv2d" in graph and "Linear" in graph


# -- beyond P16-P22 --------------------------------------------------------------------------------


def test_p22_s_weights_load_into_common_s_tudui_only_under_its_names():
    """The README: the same weights as common.model.Tudui, named model1.* instead of model.*: a state_dict loads
    only into a class with the same names (and, renamed, gives the same outputs)."""
    from common.model import Tudui

    spec = importlib.util.spec_from_file_location("nn_seq_under_test", REPO / "04_nn_layers" / "nn_seq.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    p22, later = module.Tudui(), Tudui()
    with pytest.raises(RuntimeError, match=r'Missing key\(s\).*"model\.0\.weight"'):
        later.load_state_dict(p22.state_dict())
    later.load_state_dict({k.replace("model1.", "model.", 1): v for k, v in p22.state_dict().items()})
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(later(x), p22(x))


RESNET = "04_nn_layers/nn_resnet.py"


def number(pattern, text):
    """The number captured by the one group of ``pattern`` (NUM stands for any number)."""
    m = re.search(pattern.replace("NUM", f"({NUM})"), text)
    assert m, f"not found: {pattern}\n{text}"
    return float(m.group(1))


def numbers(pattern, text):
    """The numbers of the list captured by ``pattern``'s one group."""
    m = re.search(pattern, text)
    assert m, f"not found: {pattern}\n{text}"
    return [float(v) for v in re.findall(NUM, m.group(1))]


# -- nn_resnet.py ----------------------------------------------------------------------------------


def test_smoke_nn_resnet_shapes_and_parameter_counts(run_script):
    r = run_script(RESNET)
    assert r.returncode == 0, r
    assert "Traceback" not in r.stderr, r
    out = r.stdout
    rows = re.findall(
        r"^(resnet\d+): ([\d.]+)M parameters \(([\d,]+)\); x \(1, 3, 64, 64\) -> conv1 7x7 stride 2 \+ "
        r"maxpool stride 2 -> \(1, 64, 16, 16\)$",
        out,
        re.M,
    )
    # torchvision's own counts (test_nn_resnet_gives_torchvision_s_outputs checks they are the same networks)
    assert [(name, m, int(n.replace(",", ""))) for name, m, n in rows] == [
        ("resnet18", "11.7", 11_689_512),
        ("resnet34", "21.8", 21_797_672),
        ("resnet50", "25.6", 25_557_032),
        ("resnet101", "44.5", 44_549_160),
    ], out
    walks = dict(zip([name for name, _, _ in rows], re.split(r"^resnet\d+: .*$", out, flags=re.M)[1:], strict=True))
    # BasicBlock: layer1 keeps 64 channels, so its first block adds x itself; layer2-4 halve H and W and
    # double the channels, so x needs the 1x1 downsample
    assert (
        "  layer1: 2 x BasicBlock, (1, 64, 16, 16) -> (1, 64, 16, 16); its first block adds x\n"
        "  layer2: 2 x BasicBlock, (1, 64, 16, 16) -> (1, 128, 8, 8); its first block adds downsample(x) "
        "(1, 128, 8, 8)\n"
    ) in walks["resnet18"], out
    assert "  layer4: 2 x BasicBlock, (1, 256, 4, 4) -> (1, 512, 2, 2)" in walks["resnet18"], out
    assert "  layer3: 6 x BasicBlock, (1, 128, 8, 8) -> (1, 256, 4, 4)" in walks["resnet34"], out
    # Bottleneck: 4x the channels out, so even layer1's first block needs a downsample (stride 1)
    assert (
        "  layer1: 3 x Bottleneck, (1, 64, 16, 16) -> (1, 256, 16, 16); its first block adds downsample(x) "
        "(1, 256, 16, 16)"
    ) in walks["resnet50"], out
    assert "  layer3: 23 x Bottleneck, (1, 512, 8, 8) -> (1, 1024, 4, 4)" in walks["resnet101"], out
    for walk in walks.values():
        assert "  avgpool + flatten + fc -> (1, 1000)" in walk, out
    assert "resnet18(include_top=False): feature map (1, 512, 2, 2); + a new head -> (1, 2)" in out


@pytest.fixture(scope="module")
def nn_resnet():
    """The script imported as a module (not run): its classes and functions."""
    spec = importlib.util.spec_from_file_location("nn_resnet_under_test", REPO / RESNET)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_importing_nn_resnet_runs_no_demo_and_bottleneck_strides_on_conv2(capsys):
    spec = importlib.util.spec_from_file_location("nn_resnet_import_check", REPO / RESNET)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert capsys.readouterr() == ("", "")  # the demo sits under if __name__ == "__main__"
    import torch

    with torch.device("meta"):  # shapes only: no weights to fill
        r50, r18, r101 = module.resnet50(), module.resnet18(), module.resnet101(include_top=False)
        r50_10 = module.resnet50(num_classes=10)
    assert (module.BasicBlock.expansion, module.Bottleneck.expansion) == (1, 4)
    assert [len(layer) for layer in (r18.layer1, r18.layer2, r18.layer3, r18.layer4)] == [2, 2, 2, 2]
    assert [len(layer) for layer in (r101.layer1, r101.layer2, r101.layer3, r101.layer4)] == [3, 4, 23, 3]
    assert not hasattr(r101, "fc") and r50.fc.in_features == 2048
    # the README: resnet50(num_classes=10) is ResNet(Bottleneck, [3, 4, 6, 3], num_classes=10)
    assert isinstance(r50_10.layer1[0], module.Bottleneck) and r50_10.fc.out_features == 10
    assert [len(layer) for layer in (r50_10.layer1, r50_10.layer2, r50_10.layer3, r50_10.layer4)] == [3, 4, 6, 3]
    assert r50.layer1[0].downsample is not None and r50.layer1[0].downsample[0].stride == (1, 1)  # 64 -> 256
    for layer in (r50.layer2, r50.layer3, r50.layer4):
        first = layer[0]
        assert isinstance(first, module.Bottleneck)
        assert (first.conv1.stride, first.conv2.stride, first.downsample[0].stride) == ((1, 1), (2, 2), (2, 2))
        assert all(block.downsample is None and block.conv2.stride == (1, 1) for block in layer[1:])


def give_batchnorm_statistics(model):
    """A fresh BatchNorm2d in eval() changes nothing (weight 1, bias 0, running mean 0, var 1), so a BN in
    the wrong place would go unnoticed; random statistics, like trained ones, make each one count."""
    import torch

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)


def test_nn_resnet_gives_torchvision_s_outputs(nn_resnet):
    """torchvision's state_dict loads into the hand-built classes with strict=True (every name and shape,
    none missing, none left over) and gives the same outputs: on a random batch, and on a bee photo as the
    ImageNet weights' own transforms prepare it (resize 256, crop 224, normalize). strict=True alone cannot
    tell the stride's place in a Bottleneck (v1 vs v1.5); the outputs can."""
    import copy

    from common.images import open_image
    from common.paths import HYMENOPTERA_SAMPLE

    import torch
    import torchvision
    from torchvision.models import ResNet18_Weights

    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    bee = sorted((HYMENOPTERA_SAMPLE / "val" / "bees").glob("*.jpg"))[0]
    photo = ResNet18_Weights.DEFAULT.transforms()(open_image(bee)).unsqueeze(0)
    for name in ("resnet18", "resnet34", "resnet50", "resnet101"):
        build = getattr(nn_resnet, name)
        if name in ("resnet34", "resnet101"):  # the same blocks as 18 and 50, more of them: names and shapes
            with torch.device("meta"):
                reference, mine = getattr(torchvision.models, name)(), build()
            mine.load_state_dict(reference.state_dict(), strict=True, assign=True)
            assert sum(p.numel() for p in mine.parameters()) == sum(p.numel() for p in reference.parameters())
            continue
        reference = getattr(torchvision.models, name)(weights=None).eval()
        give_batchnorm_statistics(reference)
        with torch.device("meta"):  # shapes without numbers: assign=True makes the loaded tensors its weights
            mine = build().eval()
        mine.load_state_dict(reference.state_dict(), strict=True, assign=True)
        with torch.no_grad():
            for batch in (x, photo) if name == "resnet18" else (x,):
                theirs = reference(batch)
                torch.testing.assert_close(mine(batch), theirs, rtol=0, atol=1e-5 * max(1.0, theirs.abs().max()))
            if name == "resnet50":  # the paper's v1: the stride on the 1x1 conv1 loads too, computes otherwise
                v1 = copy.deepcopy(mine)
                for layer in (v1.layer2, v1.layer3, v1.layer4):
                    layer[0].conv1.stride, layer[0].conv2.stride = (2, 2), (1, 1)
                assert (v1(x) - theirs).abs().max() > 1e-2
            if name == "resnet18":  # include_top=False: the same network up to layer4, no fc
                backbone = nn_resnet.resnet18(include_top=False).eval()
                backbone.load_state_dict(
                    {k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")}, strict=True
                )
                stem = reference.maxpool(reference.relu(reference.bn1(reference.conv1(x))))
                features = reference.layer4(reference.layer3(reference.layer2(reference.layer1(stem))))
                torch.testing.assert_close(backbone(x), features, rtol=0, atol=1e-5 * max(1.0, features.abs().max()))


# -- nn_rnn.py -------------------------------------------------------------------------------------


def test_smoke_nn_rnn_shapes_steps_by_hand_and_sine_wave(run_script):
    r = run_script("04_nn_layers/nn_rnn.py")
    assert r.returncode == 0, r
    out = r.stdout
    assert "nn.RNN(3, 4): x (5, 2, 3) -> output (5, 2, 4) (h of every step), h_n (1, 2, 4)" in out
    assert "output[-1] equals h_n[0]: True" in out
    assert "nn.RNN(3, 4, batch_first=True): x (2, 5, 3) -> output (2, 5, 4), h_n (1, 2, 4) (not batch first!)" in out
    by_hand = numbers(r"step 1 by hand, sequence 0: (\[.*\])", out)
    assert len(by_hand) == 4 and by_hand == numbers(r"nn.RNN's output\[0\]\[0\]: +(\[.*\])", out)
    assert all(-1 < v < 1 for v in by_hand)  # tanh
    assert number(r"all 5 steps by hand vs h_n: max difference NUM", out) < 1e-5

    assert "nn.LSTM(3, 4): output (5, 2, 4), h_n (1, 2, 4), c_n (1, 2, 4)" in out
    assert (
        "nn.LSTM(3, 4, num_layers=2): output (5, 2, 4) (the top layer's h), h_n (2, 2, 4), c_n (2, 2, 4) "
        "(one per layer); output[-1] equals h_n[-1]: True"
    ) in out
    assert number(r"one LSTM step by hand vs nn.LSTM: h max difference NUM", out) < 1e-5
    assert number(r"one LSTM step by hand vs nn.LSTM: h max difference \S+, c max difference NUM", out) < 1e-5

    first = number(r"LSTM on the sine wave \(64, 10, 1\): loss NUM ->", out)
    last = number(r"LSTM on the sine wave \(64, 10, 1\): loss \S+ -> NUM after 200 steps", out)
    assert 0.1 < first < 2  # an untrained guess on a wave between -1 and 1
    assert first / last >= 10
    assert number(r"steps, NUMx lower", out) == pytest.approx(first / last, rel=0.05)
    predicted = number(r"next value of an unseen window: predicted NUM", out)
    true = number(r"next value of an unseen window: predicted \S+, true NUM", out)
    assert true == pytest.approx(math.sin(0.2 * 10 + 0.1), abs=1e-4)
    assert abs(predicted - true) < 0.05


# -- nn_other_layers.py ----------------------------------------------------------------------------


def test_smoke_nn_other_layers_checked_by_hand(run_script):
    r = run_script("04_nn_layers/nn_other_layers.py")
    assert r.returncode == 0, r
    assert "Traceback" not in r.stderr and "Warning" not in r.stderr, r
    out = r.stdout
    # 2.9 Embedding: a lookup is a row of the weight
    assert "nn.Embedding(10, 4): tokens (2, 4) -> (2, 4, 4)" in out
    row = numbers(r"embedding\(tokens\)\[0, 2\] \(word 4\): (\[.*\])", out)
    assert len(row) == 4 and row == numbers(r"embedding\.weight\[4\]: +(\[.*\])", out)
    assert "equals one_hot(tokens) @ weight: True" in out
    assert "embedding(tensor([10])): IndexError: index out of range" in out
    # 2.6 Transformer: the shape stays; attention mixes words within a sentence, never across the batch
    assert ("nn.TransformerEncoderLayer(d_model=4, nhead=2, batch_first=True): (2, 4, 4) -> (2, 4, 4)") in out
    assert "every word of sentence 0 moves: True, sentence 1 stays: True" in out
    assert number(r"without batch_first, same input: no error, but sentence 1 moves by NUM", out) > 1e-3
    # 2.10 distances, against the formulas computed here
    cos = 32 / math.sqrt(14 * 77)
    assert number(r"nn.CosineSimilarity: NUM", out) == pytest.approx(cos, abs=1e-4)
    assert number(
        r"nn.CosineSimilarity: \S+ +\(by hand: 32 / \(sqrt\(14\) \* sqrt\(77\)\) = NUM", out
    ) == pytest.approx(cos, abs=1e-4)
    assert number(r"nn.PairwiseDistance: NUM", out) == pytest.approx(math.sqrt(27), abs=1e-4)
    assert number(r"a vs 2a: cosine NUM", out) == pytest.approx(1, abs=1e-4)
    assert number(r"a vs 2a: cosine \S+, distance NUM", out) == pytest.approx(math.sqrt(14), abs=1e-4)
    # Softmax on the note's [3, 1, -3]
    e = [math.exp(v) for v in (3, 1, -3)]
    assert numbers(r"nn.Softmax on \[3, 1, -3\]: (\[.*?\])", out) == pytest.approx([v / sum(e) for v in e], abs=1e-4)
    assert number(r"by hand: e\^3 / \(e\^3 \+ e\^1 \+ e\^-3\) = NUM", out) == pytest.approx(e[0] / sum(e), abs=1e-4)
    assert numbers(r"dim=1: each sample's probabilities sum to (\[.*?\])", out) == pytest.approx([1, 1], abs=1e-4)
    # along dim=0 the columns sum to 1, the samples' rows don't: [3, 1, -3] vs [1, 2, 3], column by column
    col = [(math.exp(a) / (math.exp(a) + math.exp(b))) for a, b in ((3, 1), (1, 2), (-3, 3))]
    wrong = numbers(r"dim=0: each sample's 'probabilities' sum to (\[.*?\])", out)
    assert wrong == pytest.approx([sum(col), 3 - sum(col)], abs=1e-4) and abs(wrong[0] - 1) > 0.1
    assert "dim=0: changing sample 1 changes sample 0's answer: True" in out
    assert "argmax of logits [0, 2] = argmax of probabilities [0, 2]" in out
    # 7.4 MLP
    assert "MLP 4 -> 8 -> 3: (5, 4) -> (5, 3), 67 parameters (by hand: 4*8 + 8 + 8*3 + 3 = 67)" in out
    assert number(r"relu\(x W1\^T \+ b1\) W2\^T \+ b2 vs mlp\(x\): max difference NUM", out) < 1e-5


def test_nn_resnet_uses_cached_imagenet_weights(nn_resnet, tmp_path, monkeypatch, capsys):
    """--pretrained's code path with the official file name in the hub cache (a locally made ResNet-18
    state_dict): loaded with strict=True, the bee gets torchvision's own top 3; a damaged or foreign file
    is one line, not a traceback; nothing cached and no --pretrained: one line saying how to get them."""
    from common.images import open_image
    from common.paths import HYMENOPTERA_SAMPLE

    import torch
    import torchvision
    from torchvision.models import ResNet18_Weights

    weights = ResNet18_Weights.DEFAULT
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = tmp_path / "hub" / "checkpoints" / weights.url.rsplit("/", 1)[-1]
    nn_resnet.pretrained(False)
    assert capsys.readouterr().out.startswith(f"ImageNet weights: not in {cached.parent}; --pretrained downloads")
    cached.parent.mkdir(parents=True)
    torch.manual_seed(0)
    reference = torchvision.models.resnet18().eval()
    torch.save(reference.state_dict(), cached)
    nn_resnet.pretrained(False)
    out = capsys.readouterr().out
    m = re.search(
        rf"^ImageNet weights in our resnet18 \(strict=True\); (\S+\.jpg) \(a bee\): "
        rf"(.+) ({NUM}), (.+) ({NUM}), (.+) ({NUM})$",
        out,
        re.M,
    )
    assert m, out
    with torch.no_grad():
        image = open_image(HYMENOPTERA_SAMPLE / "val" / "bees" / m.group(1))
        top = reference(weights.transforms()(image).unsqueeze(0)).softmax(1)[0].topk(3)
    assert [m.group(2), m.group(4), m.group(6)] == [weights.meta["categories"][i] for i in top.indices]
    assert [float(m.group(k)) for k in (3, 5, 7)] == pytest.approx(top.values.tolist(), abs=0.006)
    for content in (b"not a weights file", {"fc.weight": torch.zeros(2)}):  # junk; another model's weights
        if isinstance(content, bytes):
            cached.write_bytes(content)
        else:
            torch.save(content, cached)
        nn_resnet.pretrained(False)
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{cached} is not a usable weights file for this model")
