"""Beyond the course: the other models ``train_gpu.py --model`` trains and predict.py rebuilds.

``TuduiBN`` is the course's Tudui plus BatchNorm and ReLU (``--recipe improved``);
``build_model`` rebuilds any of them by the name recorded in a checkpoint.
"""

from torch import nn
from torchvision.models import resnet18, resnet34

from ..model import Tudui


class TuduiBN(nn.Module):
    """The same three convolutions, plus what the course's model lacks.

    BatchNorm after each conv keeps activations well scaled (so a higher
    learning rate trains stably) and ReLU makes the stack non-linear.
    Used by ``train_gpu.py --recipe improved``.
    """

    def __init__(self, num_classes=10):
        super().__init__()

        def block(c_in, c_out):
            return [
                nn.Conv2d(c_in, c_out, 5, 1, 2, bias=False),  # BN has its own bias
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]

        self.model = nn.Sequential(
            *block(3, 32),
            *block(32, 32),
            *block(32, 64),
            nn.Flatten(),
            nn.Linear(1024, 64),
            nn.ReLU(inplace=True),
            nn.Linear(64, num_classes),
        )

    def forward(self, x):
        return self.model(x)


ARCHS = ("tudui", "tudui_bn", "resnet34")  # what train_gpu.py --model trains
ALL_ARCHS = (*ARCHS, "resnet18")  # + 06_pretrained/transfer_learning.py's


def build_model(arch: str, num_classes: int = 10) -> nn.Module:
    """Rebuild an architecture by the name recorded in our checkpoints."""
    if arch == "tudui":
        return Tudui(num_classes)
    if arch == "tudui_bn":
        return TuduiBN(num_classes)
    if arch == "resnet34":
        # torchvision's ImageNet ResNet-34, trained from scratch with a num_classes-way head.
        return resnet34(weights=None, num_classes=num_classes)
    if arch == "resnet18":
        # torchvision's ResNet-18 (06_pretrained/transfer_learning.py), random weights, num_classes outputs
        return resnet18(weights=None, num_classes=num_classes)
    raise ValueError(f"unknown architecture {arch!r} (known: {', '.join(ALL_ARCHS)})")
