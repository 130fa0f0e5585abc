"""The course's CIFAR-10 model, defined once and imported everywhere.

``Tudui`` is exactly the network from the notes (P27-P29 完整的模型训练套路):
three 5x5 convolutions, each followed by 2x2 max pooling, then two linear
layers. Shapes for a (N, 3, 32, 32) batch:

    conv 3->32  (N, 32, 32, 32) -> pool (N, 32, 16, 16)
    conv 32->32 (N, 32, 16, 16) -> pool (N, 32,  8,  8)
    conv 32->64 (N, 64,  8,  8) -> pool (N, 64,  4,  4)
    flatten (N, 1024) -> linear (N, 64) -> linear (N, 10)

Note: it has **no activation functions**. Max pooling is the only non-linearity, so the two linear layers
collapse into a single linear map and each conv block is a linear filter followed by a max. That is why the
course's model tops out around 55-65% on CIFAR-10; adding ReLU and BatchNorm is the first thing
``train_gpu.py --recipe improved`` changes (``beyond_course/models.py``).
"""

import torch
from torch import nn

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class Tudui(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(3, 32, 5, 1, 2),  # padding 2 keeps 32x32 (see 04_nn_layers for the formula)
            nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 5, 1, 2),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, 1, 2),
            nn.MaxPool2d(2),
            nn.Flatten(),  # 64 channels * 4 * 4 = 1024
            nn.Linear(1024, 64),
            nn.Linear(64, num_classes),  # 10 for CIFAR-10; 06_pretrained/transfer_learning.py swaps it
        )

    def forward(self, x):
        return self.model(x)


if __name__ == "__main__":
    # The notes' sanity check: a batch of 64 fake images gives 64 rows of 10 scores.
    tudui = Tudui()
    print(tudui(torch.ones((64, 3, 32, 32))).shape)
