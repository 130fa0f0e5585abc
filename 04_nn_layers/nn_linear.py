"""神经网络-线性层及其他层介绍: nn.Linear after flatten (why 196608), nn.BatchNorm2d and nn.Dropout.

Note 000 §线性层（全连接层） and §model.train()和model.eval(), note 001 【搭建模型】
2.4 正则化层 BatchNorm2d, 2.7 线性层 and 2.8 Dropout层, note 003 §4.6.3 nn.Linear /
nn.BatchNorm2d and §6.2.4 Dropout层; course P21 神经网络-线性层及其他层介绍.

nn.Linear(in_features, out_features) computes x @ W.T + b on the LAST
dimension of x: every row of in_features numbers becomes out_features numbers.

Run:   python 04_nn_layers/nn_linear.py          (--batches 0: the whole test set, as in the course)
Look:  the printed shapes (no TensorBoard in this lesson).
"""

import sys
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors
from common.data import cifar10_download, cifar10_root, instead_of_download, limit_dataset

import torch
import torchvision
from torch import nn
from torch.nn import BatchNorm2d, Dropout, Linear
from torch.utils.data import DataLoader


def fmt(t):
    return "[" + ", ".join(f"{v:.4f}" for v in t.tolist()) + "]"


class Tudui(nn.Module):
    """The course's model around its one layer: a layer is an nn.Module already, but every model is built so."""

    def __init__(self):
        super().__init__()
        self.linear1 = Linear(196608, 10)  # 196608 = 64 * 3 * 32 * 32: one whole batch

    def forward(self, input):
        output = self.linear1(input)
        return output


def main():
    p = cli.parser(__doc__, device=False, logdir=False, seed=True, batches=2)
    args = p.parse_args()
    torch.manual_seed(args.seed)

    # Note 003's example: 3 rows of 5 features -> 3 rows of 10 features.
    X = torch.tensor([[0.1, 0.2, 0.3, 0.3, 0.3], [0.4, 0.5, 0.6, 0.6, 0.6], [0.7, 0.8, 0.9, 0.9, 0.9]])
    print(_("Linear(5, 10) on {shape} -> {result}").format(shape=tuple(X.shape), result=tuple(Linear(5, 10)(X).shape)))

    # ---- the course: flatten a whole batch, Linear(196608, 10) ------------
    # the course's call, into dataset/ under the repo root (its "./dataset"), or --data-root
    root = cifar10_root(args.data_root)
    try:
        with cifar10_download(root, offline=args.offline):
            test_set = torchvision.datasets.CIFAR10(
                root, train=False, transform=torchvision.transforms.ToTensor(), download=True
            )
    except (OSError, RuntimeError) as exc:  # beyond the course: no network, --offline ...: the bundled sample
        test_set = instead_of_download(exc, root, False, torchvision.transforms.ToTensor())
    test_set = limit_dataset(test_set, args.limit)  # --limit N: N of its images
    if len(test_set) < 64:
        raise errors.LessonError(
            _("only {n} test images: drop_last=True leaves no full batch of 64 (use --limit 64 or more)").format(
                n=len(test_set)
            )
        )
    # drop_last=True: Linear(196608, 10) only fits a FULL batch of 64 (see below).
    dataloader = DataLoader(test_set, batch_size=64, drop_last=True)
    tudui = Tudui()
    print(tudui)
    for data in islice(dataloader, args.batches or None):
        imgs, targets = data  # the course's unpacking; the labels are not needed here
        output = torch.flatten(imgs)  # no start_dim: EVERYTHING, the batch dimension too
        print(_("original {shape} -> flatten {flat}").format(shape=tuple(imgs.shape), flat=tuple(output.shape)), end="")
        output = tudui(output)
        print(" -> linear1", tuple(output.shape))
    # So the course's layer sees the 64 images as ONE sample and gives 10 numbers
    # for the whole batch, not 10 scores per image.

    # Why drop_last=True: the last batch is usually smaller.
    rest = len(test_set) % 64
    print(
        _("{n} test images = {full} full batch(es) of 64 + {rest} left over").format(
            n=len(test_set), full=len(test_set) // 64, rest=rest
        )
    )
    if rest:
        try:
            tudui(torch.flatten(torch.zeros(rest, 3, 32, 32)))
        except RuntimeError as exc:
            print(
                _("a last batch of {rest} would give {values} values, not 196608: {problem}").format(
                    rest=rest, values=rest * 3 * 32 * 32, problem=str(exc).splitlines()[0]
                )
            )

    # ---- the usual way: flatten each image, keep the batch dimension -------
    # nn.Flatten() (used by nn.Sequential models) = torch.flatten(x, start_dim=1).
    linear2 = Linear(3 * 32 * 32, 10)
    per_image = torch.flatten(imgs, start_dim=1)
    print(
        _("flatten(start_dim=1) {shape} -> Linear(3072, 10) {result} = 10 scores per image, any batch size").format(
            shape=tuple(per_image.shape), result=tuple(linear2(per_image).shape)
        )
    )

    # ---- 正则化层 BatchNorm2d -----------------------------------------------
    # For each channel (num_features = C = 3 here), normalise over the batch and
    # all pixels to mean 0, std 1, then scale and shift by learnable weight/bias
    # (start: 1 and 0). Well-scaled activations let deeper nets train faster.
    bn = BatchNorm2d(3)
    dims = (0, 2, 3)  # everything except the channel dimension
    print(
        _("before BatchNorm2d: per-channel mean {mean} std {std}").format(
            mean=fmt(imgs.mean(dims)), std=fmt(imgs.std(dims, correction=0))
        )
    )
    out = bn(imgs)  # a new module is in training mode: it uses THIS batch's statistics
    print(
        _("after  BatchNorm2d: per-channel mean {mean} std {std}").format(
            mean=fmt(out.mean(dims)), std=fmt(out.std(dims, correction=0))
        )
    )
    # It also keeps running averages (momentum 0.1: new = 0.9 * old + 0.1 * batch),
    # which eval() mode uses instead of the batch: one image then gives one answer.
    print(
        _("running_mean after one batch {mean} (= 0.1 * batch mean; it started at 0)").format(mean=fmt(bn.running_mean))
    )
    bn.eval()
    print(_("eval() output mean {mean} (running statistics, not the batch's)").format(mean=fmt(bn(imgs).mean(dims))))

    # ---- Dropout层：防止过拟合 -------------------------------------------------
    # In train() mode each value is zeroed with probability p, a new random choice every call,
    # so no feature can be relied on alone; the survivors are multiplied by 1/(1-p) so that
    # the layer's output keeps the same size on average. eval() switches it off.
    drop = Dropout(p=0.5)
    feats = linear2(per_image).detach()  # (64, 10) Linear outputs: where VGG16 has its Dropout layers
    out = drop(feats)  # a new module is in training mode
    kept = out != 0
    print(
        _(
            "Dropout(p=0.5) in train(): zeroed {zeroed:.4f} of {n} values, the rest multiplied by {scales} "
            "(1/(1-p) = {scale})"
        ).format(
            zeroed=1 - kept.float().mean().item(),
            n=feats.numel(),
            scales=sorted(set((out[kept] / feats[kept]).tolist())),
            scale=1 / (1 - 0.5),
        )
    )
    print(_("two train() calls on the same input agree: {same}").format(same=torch.equal(drop(feats), drop(feats))))
    drop.eval()
    print(_("Dropout in eval(): output equals input: {same}").format(same=torch.equal(drop(feats), feats)))
    # That is why the training scripts call tudui.train() before training and tudui.eval()
    # before testing: without eval() a model with Dropout (or BatchNorm) tests with half its
    # features thrown away and gives a different answer each time for the same picture.


if __name__ == "__main__":
    errors.run(main)
