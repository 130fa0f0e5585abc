"""ResNet by hand: BasicBlock, Bottleneck and ResNet as note 003 builds them, proved equal to torchvision's.

Note 003 §7.3 Resnet (7.3.1 BasicBlock, 7.3.2 Bottleneck, 7.3.3 Resnet搭建); beyond the course, which
only uses ready-made networks (P25 VGG16, note 004 torchvision's resnet34, 06_pretrained's ResNet-18).

A residual block learns F(x) and outputs relu(F(x) + x): when F(x) is useless it can stay near 0
and the block passes x on, and in backward the "+ x" hands the gradient straight to earlier layers,
so 100+ layers still train. Proof, not trust: torchvision's weights load into these classes with
strict=True (same names, same shapes) and give the same outputs.

Run:   python 04_nn_layers/nn_resnet.py               (offline: the proof uses torchvision's random weights)
       python 04_nn_layers/nn_resnet.py --pretrained  (downloads ResNet-18's ImageNet weights, 45 MB, once)
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # lets `import common` work from any folder
import common  # noqa: F401  (first: a Ctrl-C while torch loads then ends in one line)

# isort: split
import copy

import torch
import torchvision
from torch import nn
from torchvision.models import ResNet18_Weights

from common import cli, errors
from common.beyond_course import download
from common.images import open_image
from common.paths import HYMENOPTERA_SAMPLE


# ---- 7.3.1 Resnet18/34使用的残差块BasicBlock: two 3x3 convs ------------------------------------
class BasicBlock(nn.Module):
    expansion = 1  # the block's output depth = out_channel * expansion

    def __init__(self, in_channel, out_channel, stride=1, downsample=None):
        super().__init__()
        # stride 2 on the first conv halves H and W (the first block of layer2-4)
        self.conv1 = nn.Conv2d(in_channel, out_channel, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channel)  # bias=False above: BatchNorm's own bias does that job
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channel, out_channel, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channel)
        self.downsample = downsample  # None, or 1x1 conv + BN making x the shape of F(x)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity  # the residual connection: F(x) + x
        return self.relu(out)


# ---- 7.3.2 Resnet50使用的残差块Bottleneck: 1x1 squeeze, 3x3, 1x1 expand x4 ---------------------
class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_channel, out_channel, stride=1, downsample=None):
        super().__init__()
        # (the note's groups / width_per_group are for ResNeXt; for ResNet width = out_channel)
        self.conv1 = nn.Conv2d(in_channel, out_channel, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channel)
        # The stride sits on the 3x3 conv, as in torchvision ("ResNet v1.5"); the paper put it on the
        # 1x1 conv1, which then simply skips 3 of every 4 pixels. About 0.5% better top-1 (note 003).
        self.conv2 = nn.Conv2d(out_channel, out_channel, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channel)
        self.conv3 = nn.Conv2d(out_channel, out_channel * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channel * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


# ---- 7.3.3 Resnet搭建 ------------------------------------------------------------------------------
class ResNet(nn.Module):
    def __init__(self, block, blocks_num, num_classes=1000, include_top=True):
        super().__init__()
        self.include_top = include_top
        self.in_channel = 64  # the depth the next block receives; _make_layer updates it
        # 7.3.3.1 conv1: 7x7 stride 2, then max pooling stride 2: H and W / 4
        self.conv1 = nn.Conv2d(3, self.in_channel, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.in_channel)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        # 7.3.3.2 conv2_x ~ conv5_x
        self.layer1 = self._make_layer(block, 64, blocks_num[0])
        self.layer2 = self._make_layer(block, 128, blocks_num[1], stride=2)
        self.layer3 = self._make_layer(block, 256, blocks_num[2], stride=2)
        self.layer4 = self._make_layer(block, 512, blocks_num[3], stride=2)
        if self.include_top:
            # adaptive: any input size ends as 1x1 here, so the fc layer fits any picture size
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():  # He initialisation, made for convs followed by ReLU
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, block, channel, block_num, stride=1):
        downsample = None
        if stride != 1 or self.in_channel != channel * block.expansion:  # x and F(x) differ in shape
            downsample = nn.Sequential(
                nn.Conv2d(self.in_channel, channel * block.expansion, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(channel * block.expansion))
        layers = [block(self.in_channel, channel, stride=stride, downsample=downsample)]
        self.in_channel = channel * block.expansion
        layers += [block(self.in_channel, channel) for _ in range(1, block_num)]
        return nn.Sequential(*layers)

    # 7.3.3.3 forward()
    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        if self.include_top:  # False: return the feature map (transfer learning adds its own head)
            x = self.avgpool(x)
            x = torch.flatten(x, 1)
            x = self.fc(x)
        return x


# ---- 7.3.3.4 定义不同类型的Resnet: blocks per layer, as in the paper's table ----------------------
def resnet18(num_classes=1000, include_top=True):
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, include_top=include_top)


def resnet34(num_classes=1000, include_top=True):
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes=num_classes, include_top=include_top)


def resnet50(num_classes=1000, include_top=True):
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes, include_top=include_top)


def resnet101(num_classes=1000, include_top=True):
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes=num_classes, include_top=include_top)


def give_batchnorm_statistics(model):
    """A fresh BatchNorm2d in eval() changes nothing (weight 1, bias 0, running mean 0, var 1), so a
    BN in the wrong place would go unnoticed; random statistics, like trained ones, make each one count."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)


def shape(t):
    return tuple(t.shape)


def walk(name, block, x):
    """The block's forward again, one step per line, printing shapes; then checked against block(x)."""
    print(f"{name} ({type(block).__name__}), x {shape(x)}:")
    out = x
    convs = [n for n in ("conv1", "conv2", "conv3") if hasattr(block, n)]
    for n in convs:
        conv = getattr(block, n)
        out = getattr(block, "bn" + n[-1])(conv(out))
        if n != convs[-1]:  # no ReLU before the addition
            out = block.relu(out)
        print(f"  {n} {conv.kernel_size[0]}x{conv.kernel_size[0]} stride {conv.stride[0]}, bn -> {shape(out)}")
    if block.downsample is None:
        identity = x
        print(f"  identity = x                             -> {shape(identity)}")
    else:
        identity = block.downsample(x)
        conv = block.downsample[0]
        print(f"  identity = downsample(x): 1x1 stride {conv.stride[0]}, bn -> {shape(identity)}")
        try:
            out + x
        except RuntimeError as exc:
            print(f"  (without downsample, out + x fails: {errors.first_line(exc)})")
    out = block.relu(out + identity)
    print(f"  out += identity, relu                    -> {shape(out)}; "
          f"equals block(x): {torch.allclose(out, block(x))}")
    return out


def main():
    p = cli.parser(__doc__, data=None, device=False, logdir=False)
    p.add_argument("--pretrained", action="store_true",
                   help="download ResNet-18's ImageNet weights (45 MB) if they are not cached yet, and use them")
    args = p.parse_args()
    torch.manual_seed(0)
    # 1x3x64x64, not 224: the adaptive avgpool takes any size, and every conv, BN and addition still
    # runs (layer4 sees 2x2 instead of 7x7), so a wrong layer still shows; 12x less work than 224
    x = torch.randn(1, 3, 64, 64)

    # ---- the proof: torchvision's weights in our classes, the same outputs -----------------------
    models = {}
    with torch.no_grad():
        for name, build in [("resnet18", resnet18), ("resnet34", resnet34),
                            ("resnet50", resnet50), ("resnet101", resnet101)]:
            reference = getattr(torchvision.models, name)(weights=None).eval()
            give_batchnorm_statistics(reference)
            # ours on the "meta" device: shapes without numbers (random ones would be overwritten at
            # once); assign=True then makes the loaded tensors our weights. strict=True: every name and
            # shape must match, none missing, none left over
            with torch.device("meta"):
                mine = build().eval()
            mine.load_state_dict(reference.state_dict(), strict=True, assign=True)
            n = sum(p.numel() for p in mine.parameters())
            ours, theirs = mine(x), reference(x)
            diff = (ours - theirs).abs().max().item()
            print(f"{name:9s} {n / 1e6:4.1f}M parameters ({n:,}); torchvision's state_dict loads with "
                  f"strict=True; output {shape(ours)}, max |mine - torchvision| = {diff:.3g} "
                  f"(outputs up to {theirs.abs().max().item():.3g})")
            models[name] = mine

        # strict=True only compares names and shapes: the paper's Bottleneck (stride on the 1x1 conv1)
        # has the very same ones, so it loads too; only the outputs tell the two apart
        v1 = copy.deepcopy(models["resnet50"])
        for layer in (v1.layer2, v1.layer3, v1.layer4):
            layer[0].conv1.stride, layer[0].conv2.stride = (2, 2), (1, 1)
        print(f"resnet50 with the stride on conv1 (the paper's v1): loads too, but its output differs by "
              f"up to {(v1(x) - models['resnet50'](x)).abs().max().item():.3g}")

        # ---- out += identity, shape by shape --------------------------------------------------------
        r18, r50 = models["resnet18"], models["resnet50"]
        stem = r18.maxpool(r18.relu(r18.bn1(r18.conv1(x))))
        print(f"conv1 7x7 stride 2 + maxpool stride 2: x {shape(x)} -> {shape(stem)}")
        out = walk("resnet18.layer1[0]", r18.layer1[0], stem)
        walk("resnet18.layer2[0]", r18.layer2[0], out)
        stem50 = r50.maxpool(r50.relu(r50.bn1(r50.conv1(x))))
        walk("resnet50.layer2[0]", r50.layer2[0], r50.layer1(stem50))

        # ---- include_top=False: the feature map, where 迁移学习 (note 003 §6.4) starts ----------------
        backbone = resnet18(include_top=False).eval()
        state = {k: v for k, v in r18.state_dict().items() if not k.startswith("fc.")}  # no fc here
        backbone.load_state_dict(state, strict=True)
        features = backbone(x)
        same = torch.allclose(features, r18.layer4(r18.layer3(r18.layer2(r18.layer1(stem)))))
        print(f"resnet18(include_top=False): {shape(x)} -> feature map {shape(features)}, "
              f"the same as resnet18 up to layer4: {same}")
        # Transfer learning keeps this backbone (its weights frozen or trained slowly) and trains a new
        # head for its own classes, e.g. ants and bees (06_pretrained/transfer_learning.py)
        head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 2))
        print(f"a new head for 2 classes (avgpool, flatten, Linear(512, 2)): {shape(head(features))}")
    pretrained(args.pretrained)


def pretrained(download_if_missing):
    """The real ImageNet weights of ResNet-18 in our class, if cached (or --pretrained): a real picture."""
    weights = ResNet18_Weights.DEFAULT
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if not cached.is_file() and not download_if_missing:
        print(f"ImageNet weights: not in {cached.parent} -> only the random weights above; "
              f"--pretrained downloads them ({weights.url}, 45 MB)")
        return
    try:
        with download.downloading(weights.url, have=cached.is_file()):
            # weights_only=True: the file is a plain dict of tensors, so nothing else gets unpickled
            # check_hash: a download must match the hash in the file's name (resnet18-f37072fd.pth)
            state = torch.hub.load_state_dict_from_url(weights.url, progress=False, check_hash=True,
                                                       weights_only=True)
        mine, reference = resnet18().eval(), torchvision.models.resnet18().eval()
        mine.load_state_dict(state, strict=True)
        reference.load_state_dict(state, strict=True)
    except Exception as exc:  # no network, a damaged or foreign file in the cache ...
        if cached.is_file():
            print(f"!! {cached} is not a usable ResNet-18 weights file ({type(exc).__name__}); delete it and "
                  "run again")
        else:
            print(f"!! could not download ResNet-18's ImageNet weights ({download.why_not(exc)}) -> only the "
                  f"random weights above. To use them, put {weights.url} at {cached}")
        return
    picture = sorted((HYMENOPTERA_SAMPLE / "val" / "bees").glob("*.jpg"))[0]
    batch = weights.transforms()(open_image(picture)).unsqueeze(0)  # resize 256, crop 224, normalize
    with torch.no_grad():
        ours, theirs = mine(batch), reference(batch)
    top = ours.softmax(1).topk(3)  # the 3 most likely of ImageNet's 1000 classes
    names = [f"{weights.meta['categories'][i]} {p:.2f}" for p, i in zip(top.values[0], top.indices[0], strict=True)]
    print(f"ImageNet weights from {cached} in our resnet18 (strict=True); {picture.name} (a bee): "
          f"{', '.join(names)}; max |mine - torchvision| = {(ours - theirs).abs().max().item():.3g}")


if __name__ == "__main__":
    errors.run(main)
