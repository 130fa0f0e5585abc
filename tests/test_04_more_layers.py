"""04_nn_layers beyond P16-P22: ResNet by hand (nn_resnet.py), RNN/LSTM (nn_rnn.py), the other layers of P21
(nn_other_layers.py). Each script run as a learner would, checked on the numbers it printed; nn_resnet's
classes and its pretrained-weights path also in-process."""
import importlib.util
import math
import re

import pytest

from conftest import REPO

NUM = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
RESNET = "04_nn_layers/nn_resnet.py"
WEIGHTS_FILE = "resnet18-f37072fd.pth"  # the official ResNet-18 file name (ResNet18_Weights.DEFAULT.url)


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

def test_smoke_nn_resnet_matches_torchvision(run_script, tmp_path):
    torch_home = tmp_path / "torch_home"  # empty: weights a machine has cached don't change the run
    r = run_script(RESNET, env={"TORCH_HOME": str(torch_home)})
    assert r.returncode == 0, r
    assert "Traceback" not in r.stderr, r
    out = r.stdout
    rows = re.findall(rf"^(resnet\d+)\s+({NUM})M parameters \(([\d,]+)\); torchvision's state_dict loads with "
                      rf"strict=True; output \(1, 1000\), max \|mine - torchvision\| = ({NUM}) "
                      rf"\(outputs up to ({NUM})\)$", out, re.M)
    assert [(name, m, int(n.replace(",", ""))) for name, m, n, _, _ in rows] == [
        ("resnet18", "11.7", 11_689_512), ("resnet34", "21.8", 21_797_672),
        ("resnet50", "25.6", 25_557_032), ("resnet101", "44.5", 44_549_160)], out
    for _, _, _, diff, scale in rows:  # the same computation: equal up to float rounding
        assert float(diff) <= 1e-5 * max(1.0, float(scale)), out
    # strict=True alone cannot tell v1 from v1.5; the outputs can
    assert number(r"stride on conv1 \(the paper's v1\): loads too, but its output differs by up to NUM", out) > 1e-2

    assert "conv1 7x7 stride 2 + maxpool stride 2: x (1, 3, 64, 64) -> (1, 64, 16, 16)" in out
    walks = out.split("(BasicBlock), x ")[1:] + out.split("(Bottleneck), x ")[1:]
    assert len(walks) == 3, out
    plain, down, bottleneck = walks
    assert plain.startswith("(1, 64, 16, 16):")  # resnet18.layer1[0]: no downsample, the shape stays
    assert "conv2 3x3 stride 1, bn -> (1, 64, 16, 16)" in plain
    assert re.search(r"identity = x\s+-> \(1, 64, 16, 16\)", plain)
    assert re.search(r"out \+= identity, relu\s+-> \(1, 64, 16, 16\); equals block\(x\): True", plain)
    # resnet18.layer2[0]: stride 2 halves H and W and doubles the channels, so x needs the 1x1 downsample
    assert "conv1 3x3 stride 2, bn -> (1, 128, 8, 8)" in down
    assert "identity = downsample(x): 1x1 stride 2, bn -> (1, 128, 8, 8)" in down
    assert "without downsample, out + x fails: The size of tensor a (8) must match the size of tensor b (16)" in down
    assert re.search(r"out \+= identity, relu\s+-> \(1, 128, 8, 8\); equals block\(x\): True", down)
    # resnet50.layer2[0]: 1x1 squeeze (stride 1), 3x3 with the stride, 1x1 expand x4
    assert bottleneck.startswith("(1, 256, 16, 16):")
    for line in ("conv1 1x1 stride 1, bn -> (1, 128, 16, 16)", "conv2 3x3 stride 2, bn -> (1, 128, 8, 8)",
                 "conv3 1x1 stride 1, bn -> (1, 512, 8, 8)",
                 "identity = downsample(x): 1x1 stride 2, bn -> (1, 512, 8, 8)"):
        assert line in bottleneck, bottleneck
    assert re.search(r"out \+= identity, relu\s+-> \(1, 512, 8, 8\); equals block\(x\): True", bottleneck)

    assert ("resnet18(include_top=False): (1, 3, 64, 64) -> feature map (1, 512, 2, 2), "
            "the same as resnet18 up to layer4: True") in out
    assert "a new head for 2 classes (avgpool, flatten, Linear(512, 2)): (1, 2)" in out
    assert (f"ImageNet weights: not in {torch_home / 'hub' / 'checkpoints'} -> only the random weights above; "
            f"--pretrained downloads them (https://download.pytorch.org/models/{WEIGHTS_FILE}, 45 MB)") in out


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
    assert (module.BasicBlock.expansion, module.Bottleneck.expansion) == (1, 4)
    assert [len(layer) for layer in (r18.layer1, r18.layer2, r18.layer3, r18.layer4)] == [2, 2, 2, 2]
    assert [len(layer) for layer in (r101.layer1, r101.layer2, r101.layer3, r101.layer4)] == [3, 4, 23, 3]
    assert not hasattr(r101, "fc") and r50.fc.in_features == 2048
    assert r50.layer1[0].downsample is not None and r50.layer1[0].downsample[0].stride == (1, 1)  # 64 -> 256
    for layer in (r50.layer2, r50.layer3, r50.layer4):
        first = layer[0]
        assert isinstance(first, module.Bottleneck)
        assert (first.conv1.stride, first.conv2.stride, first.downsample[0].stride) == ((1, 1), (2, 2), (2, 2))
        assert all(block.downsample is None and block.conv2.stride == (1, 1) for block in layer[1:])


def test_nn_resnet_uses_cached_imagenet_weights(nn_resnet, tmp_path, monkeypatch, capsys):
    """The official file name in the hub cache (a locally made ResNet-18 state_dict): loaded with strict=True,
    the picture gets torchvision's own top-3; a damaged or foreign file is one line, not a traceback."""
    import torch
    import torchvision
    from torchvision.models import ResNet18_Weights

    from common.images import open_image
    from common.paths import HYMENOPTERA_SAMPLE
    assert ResNet18_Weights.DEFAULT.url.endswith(WEIGHTS_FILE)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = tmp_path / "hub" / "checkpoints" / WEIGHTS_FILE
    cached.parent.mkdir(parents=True)
    torch.manual_seed(0)
    reference = torchvision.models.resnet18().eval()
    torch.save(reference.state_dict(), cached)

    nn_resnet.pretrained(False)
    out = capsys.readouterr().out
    m = re.search(rf"^ImageNet weights from {re.escape(str(cached))} in our resnet18 \(strict=True\); "
                  rf"(\S+\.jpg) \(a bee\): (.+) ({NUM}), (.+) ({NUM}), (.+) ({NUM}); "
                  rf"max \|mine - torchvision\| = ({NUM})$", out, re.M)
    assert m, out
    picture = HYMENOPTERA_SAMPLE / "val" / "bees" / m.group(1)
    with torch.no_grad():
        probs = reference(ResNet18_Weights.DEFAULT.transforms()(open_image(picture)).unsqueeze(0)).softmax(1)[0]
    top = probs.topk(3)
    categories = ResNet18_Weights.DEFAULT.meta["categories"]
    assert [m.group(2), m.group(4), m.group(6)] == [categories[i] for i in top.indices]
    assert [float(m.group(k)) for k in (3, 5, 7)] == pytest.approx(top.values.tolist(), abs=0.006)
    assert float(m.group(8)) <= 1e-5

    for content in (b"not a weights file", {"fc.weight": torch.zeros(2)}):  # junk; another model's weights
        if isinstance(content, bytes):
            cached.write_bytes(content)
        else:
            torch.save(content, cached)
        nn_resnet.pretrained(False)
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"!! {cached} is not a usable ResNet-18 weights file")


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
    assert ("nn.LSTM(3, 4, num_layers=2): output (5, 2, 4) (the top layer's h), h_n (2, 2, 4), c_n (2, 2, 4) "
            "(one per layer); output[-1] equals h_n[-1]: True") in out
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
    assert number(r"nn.CosineSimilarity: \S+ +\(by hand: 32 / \(sqrt\(14\) \* sqrt\(77\)\) = NUM", out) == \
        pytest.approx(cos, abs=1e-4)
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
