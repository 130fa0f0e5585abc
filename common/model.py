"""The course's CIFAR-10 model, defined once and imported everywhere.

``Tudui`` is exactly the network from the notes (P27-P29 完整的模型训练套路):
three 5x5 convolutions, each followed by 2x2 max pooling, then two linear
layers. Shapes for a (N, 3, 32, 32) batch:

    conv 3->32  (N, 32, 32, 32) -> pool (N, 32, 16, 16)
    conv 32->32 (N, 32, 16, 16) -> pool (N, 32,  8,  8)
    conv 32->64 (N, 64,  8,  8) -> pool (N, 64,  4,  4)
    flatten (N, 1024) -> linear (N, 64) -> linear (N, 10)

Note: it has **no activation functions**. Max pooling is the only
non-linearity, so the two linear layers collapse into a single linear map and
each conv block is a linear filter followed by a max. That is why the course's
model tops out around 55-65% on CIFAR-10; adding ReLU and BatchNorm is the
first thing ``train_gpu.py --recipe improved`` changes.
"""
import torch
from torch import nn
from torchvision.models import resnet18, resnet34

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")


class Tudui(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(3, 32, 5, 1, 2),   # padding 2 keeps 32x32 (see 04_nn_layers for the formula)
            nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 5, 1, 2),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, 1, 2),
            nn.MaxPool2d(2),
            nn.Flatten(),                # 64 channels * 4 * 4 = 1024
            nn.Linear(1024, 64),
            nn.Linear(64, num_classes),  # 10 for CIFAR-10; 06_pretrained/transfer_learning.py swaps it
        )

    def forward(self, x):
        return self.model(x)


class TuduiBN(nn.Module):
    """The same three convolutions, plus what the course's model lacks.

    BatchNorm after each conv keeps activations well scaled (so a higher
    learning rate trains stably) and ReLU makes the stack non-linear.
    Used by ``train_gpu.py --recipe improved``.
    """

    def __init__(self):
        super().__init__()

        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 5, 1, 2, bias=False),  # BN has its own bias
                    nn.BatchNorm2d(c_out), nn.ReLU(inplace=True), nn.MaxPool2d(2)]

        self.model = nn.Sequential(
            *block(3, 32), *block(32, 32), *block(32, 64),
            nn.Flatten(),
            nn.Linear(1024, 64), nn.ReLU(inplace=True),
            nn.Linear(64, 10),
        )

    def forward(self, x):
        return self.model(x)


ARCHS = ("tudui", "tudui_bn", "resnet34")          # what train_gpu.py --model trains
ALL_ARCHS = (*ARCHS, "resnet18")                  # + 06_pretrained/transfer_learning.py's


def build_model(arch: str, num_classes: int = 10) -> nn.Module:
    """Rebuild an architecture by the name recorded in our checkpoints."""
    if arch == "tudui":
        return Tudui(num_classes)
    if arch == "tudui_bn":
        return TuduiBN()
    if arch == "resnet34":
        # torchvision's ImageNet ResNet-34, trained from scratch with a 10-way head.
        return resnet34(weights=None, num_classes=num_classes)
    if arch == "resnet18":
        # torchvision's ResNet-18 (06_pretrained/transfer_learning.py), random weights, num_classes outputs
        return resnet18(weights=None, num_classes=num_classes)
    raise ValueError(f"unknown architecture {arch!r} (known: {', '.join(ALL_ARCHS)})")


if __name__ == "__main__":
    # The notes' sanity check: a batch of 64 fake images gives 64 rows of 10 scores.
    tudui = Tudui()
    print(tudui(torch.ones((64, 3, 32, 32))).shape)
