"""ResNet by hand: BasicBlock, Bottleneck and ResNet as note 003 builds them, block by block.

Note 003 §7.3 Resnet (7.3.1 BasicBlock, 7.3.2 Bottleneck, 7.3.3 Resnet搭建), beyond the videos. A residual block
outputs relu(F(x) + x): a useless F(x) stays near 0 and x passes on; in backward the "+ x" hands the gradient to
earlier layers, so 100+ layers train. torchvision's names and shapes: its weights load here with strict=True.

Run:   python 04_nn_layers/nn_resnet.py               (offline: shapes and parameter counts)
Real:  python 04_nn_layers/nn_resnet.py --pretrained  (ResNet-18's ImageNet weights in these classes)
"""

import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors, images, paths
from common.beyond_course import download

import torch
from torch import nn
from torchvision.models import ResNet18_Weights


class BasicBlock(nn.Module):  # 7.3.1 Resnet18/34使用的残差块BasicBlock: two 3x3 convs
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


class Bottleneck(nn.Module):  # 7.3.2 Resnet50使用的残差块Bottleneck: 1x1 squeeze, 3x3, 1x1 expand x4
    expansion = 4

    def __init__(self, in_channel, out_channel, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channel, out_channel, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channel)
        # the stride on the 3x3 conv, as torchvision ("v1.5"; the paper's 1x1 conv1 skipped 3 of 4 pixels)
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


class ResNet(nn.Module):  # 7.3.3 Resnet搭建
    def __init__(self, block, blocks_num, num_classes=1000, include_top=True):
        super().__init__()
        self.include_top = include_top
        self.in_channel = 64  # the depth the next block receives; _make_layer updates it
        # 7.3.3.1 conv1: 7x7 stride 2, then max pooling stride 2: H and W / 4
        self.conv1 = nn.Conv2d(3, self.in_channel, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.in_channel)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, blocks_num[0])  # 7.3.3.2 conv2_x ~ conv5_x
        self.layer2 = self._make_layer(block, 128, blocks_num[1], stride=2)
        self.layer3 = self._make_layer(block, 256, blocks_num[2], stride=2)
        self.layer4 = self._make_layer(block, 512, blocks_num[3], stride=2)
        if self.include_top:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))  # any input size ends as 1x1: fc fits any picture size
            self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():  # He initialisation, made for convs followed by ReLU
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, block, channel, block_num, stride=1):
        downsample = None
        if stride != 1 or self.in_channel != channel * block.expansion:  # x and F(x) differ in shape
            conv = nn.Conv2d(self.in_channel, channel * block.expansion, kernel_size=1, stride=stride, bias=False)
            downsample = nn.Sequential(conv, nn.BatchNorm2d(channel * block.expansion))
        layers = [block(self.in_channel, channel, stride=stride, downsample=downsample)]
        self.in_channel = channel * block.expansion
        layers += [block(self.in_channel, channel) for _ in range(1, block_num)]
        return nn.Sequential(*layers)

    def forward(self, x):  # 7.3.3.3 forward()
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        if self.include_top:  # False: return the feature map (transfer learning adds its own head)
            x = self.fc(torch.flatten(self.avgpool(x), 1))
        return x


# 7.3.3.4 定义不同类型的Resnet: resnet50(num_classes=10) = ResNet(Bottleneck, [3, 4, 6, 3], num_classes=10)
resnet18 = partial(ResNet, BasicBlock, [2, 2, 2, 2])
resnet34 = partial(ResNet, BasicBlock, [3, 4, 6, 3])
resnet50 = partial(ResNet, Bottleneck, [3, 4, 6, 3])
resnet101 = partial(ResNet, Bottleneck, [3, 4, 23, 3])  # the blocks per layer: the paper's table
RESNETS = {"resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50, "resnet101": resnet101}


def main():
    p = cli.parser(__doc__, data=None, device=False, logdir=False)
    fetch = _("download ResNet-18's ImageNet weights (45 MB, once) and try them on a bee")
    p.add_argument("--pretrained", action="store_true", help=fetch)
    args = p.parse_args()
    torch.manual_seed(0)
    x = torch.randn(1, 3, 64, 64)  # 64x64, not 224: the adaptive avgpool takes any size
    with torch.no_grad():
        for name, build in RESNETS.items():
            model = build().eval()
            n = sum(p.numel() for p in model.parameters())
            out = model.maxpool(model.relu(model.bn1(model.conv1(x))))  # the shape walk, stage by stage
            line = _("{name}: {m:.1f}M parameters ({n:,}); x {x} -> conv1 7x7 stride 2 + maxpool stride 2 -> {out}")
            print(line.format(name=name, m=n / 1e6, n=n, x=tuple(x.shape), out=tuple(out.shape)))
            for i, layer in enumerate((model.layer1, model.layer2, model.layer3, model.layer4), 1):
                down = layer[0].downsample  # x and F(x) differ in shape: out += identity needs downsample(x)
                identity = "x" if down is None else f"downsample(x) {tuple(down(out).shape)}"
                shape_in, out, block = tuple(out.shape), layer(out), type(layer[0]).__name__
                line = _("  layer{i}: {k} x {block}, {a} -> {b}; its first block adds {identity}")
                print(line.format(i=i, k=len(layer), block=block, a=shape_in, b=tuple(out.shape), identity=identity))
            print(f"  avgpool + flatten + fc -> {tuple(model(x).shape)}")
        features = resnet18(include_top=False).eval()(x)  # the feature map, where 迁移学习 (note 003 §6.4) starts
        head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 2))  # a new head: 2 classes
        line = _("resnet18(include_top=False): feature map {f}; + a new head -> {h}")
        print(line.format(f=tuple(features.shape), h=tuple(head(features).shape)))
    pretrained(args.pretrained)


def pretrained(fetch):
    """ResNet-18's real ImageNet weights (cached, or --pretrained) in our class, on a real picture."""
    weights, mine = ResNet18_Weights.DEFAULT, resnet18().eval()
    if download.hub_weights(weights, fetch, model=mine) is None:  # strict=True: torchvision's names, shapes
        return
    picture = sorted((paths.HYMENOPTERA_SAMPLE / "val" / "bees").glob("*.jpg"))[0]
    with torch.no_grad():  # resize 256, crop 224, normalize: the weights' own preprocessing
        top = mine(weights.transforms()(images.open_image(picture)).unsqueeze(0)).softmax(1).topk(3)  # 3 of 1000
    names = [f"{weights.meta['categories'][i]} {p:.2f}" for p, i in zip(top.values[0], top.indices[0], strict=True)]
    line = _("ImageNet weights in our resnet18 (strict=True); {picture} (a bee): {top}")
    print(line.format(picture=picture.name, top=", ".join(names)))


if __name__ == "__main__":
    errors.run(main)
