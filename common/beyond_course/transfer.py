"""06_pretrained/transfer_learning.py's machinery beyond the course, so that the script reads as the lesson.

Its flags; where ResNet-18's ImageNet weights come from (torch.hub's cache, a download, or, without them,
the shipped CIFAR-10 model, said in one line); the line that ends an epoch; and the report on your pictures
after each way (val accuracy per class, the confusion matrix and the val pictures it got wrong in
TensorBoard) and at the end (each way beside the "always the biggest class" baseline).
"""

import os
from contextlib import contextmanager
from pathlib import Path

import torch

from .. import cli
from . import amp, download, pictures
from .lang import _


def add_args(p, ways):
    """transfer_learning.py's own flags; their defaults are the script's DEFAULTS (see runs.settings)."""
    p.add_argument(
        "--data-root",
        metavar="DIR",
        default=None,
        help=_(
            "your pictures: DIR/train/<class>/* and DIR/val/<class>/* (or DIR/test/), or DIR/<class>/* "
            "(split for you); default: the ants/bees (downloaded if missing, else the bundled sample)"
        ),
    )
    p.add_argument("--ways", nargs="+", choices=ways, help=_("which ways to train (default: all)"))
    p.add_argument("--epochs", type=cli.positive_int, help=_("epochs per way (default 5)"))
    p.add_argument("--batch-size", type=cli.positive_int, help=_("pictures per step (default 16)"))
    p.add_argument(
        "--lr",
        type=cli.positive_float,
        help=_(
            "learning rate of the new last layer and from scratch (default 0.01); "
            "fine-tuning gives the pretrained layers a tenth of it"
        ),
    )
    p.add_argument(
        "--image-size",
        type=cli.positive_int,
        help=_(
            "ResNet-18's input size (default 224, as on ImageNet; smaller is faster and less "
            "accurate); the CIFAR-10 model always takes 32"
        ),
    )
    where = _("where to write checkpoints (default: a new folder under checkpoints/)")
    p.add_argument("--checkpoint-dir", metavar="DIR", default=None, help=where)
    p.add_argument("--overwrite", action="store_true", help=_("start afresh in a --logdir/--checkpoint-dir in use"))
    p.add_argument("--seed", type=int, help=_("random seed (default 0): same seed, same run"))
    cli.add_val_fraction(p)
    p.add_argument(
        "--balance",
        action="store_true",
        default=None,
        help=_(
            "weigh each class equally in the loss, however many pictures it has (for unbalanced "
            "folders: 600 cats, 15 dogs)"
        ),
    )
    amp.add_amp_args(p)
    return p


def _cached(weights):
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name


@contextmanager
def fetching(weights, offline):
    """Around ``resnet18(weights=weights)``: torch.hub downloads the file once (45 MB) into
    torch.hub.get_dir()/checkpoints and reads it from there ever after. Says which of the two happened."""
    # torchvision unpickles the cached weights file; weights_only=True makes that safe (see model_pretrained.py)
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    cached = _cached(weights)
    was_cached = cached.is_file()  # asked before the call: it downloads the file when it is missing
    with download.downloading(weights.url, offline=offline, have=was_cached):
        yield
    if was_cached:
        line = _("pretrained: ResNet-18 with ImageNet weights from {path} (already cached: no download)")
    else:
        line = _("pretrained: ResNet-18 with ImageNet weights from {path} (downloaded now; cached for next time)")
    print(line.format(path=cached))


def without(weights, exc, shipped):
    """No usable ImageNet weights (no network, --offline, a damaged file in the cache ...): says why, where
    the file goes, and that the ``shipped`` CIFAR-10 model is the pretrained network instead."""
    cached = _cached(weights)
    if cached.is_file():
        print(
            _(
                "{path} is not a usable ResNet-18 weights file ({problem}) -> the shipped CIFAR-10 model instead; "
                "delete that file and run again"
            ).format(path=cached, problem=type(exc).__name__)
        )
    else:
        download.fallback_note(
            _("ResNet-18's ImageNet weights"),
            exc,
            _("transferring from the CIFAR-10 model {name} instead").format(name=shipped.name),
            _("To use them, put {url} at {path}").format(url=weights.url, path=cached),
        )


def features_line(way, train, val, seconds):
    return _(
        "{way}: features of {train} + {val} pictures computed once ({s:.1f} s): the new layer trains on them"
    ).format(way=way, train=train, val=val, s=seconds)


def print_epoch(name, way, epoch, epochs, loss, acc, seconds, file):
    """The line that ends an epoch of a way."""
    line = _(
        "{name} ({way}) epoch {epoch}/{epochs}: train loss {loss:.4f}, val accuracy {acc:.4f}, {s:.1f} s, saved {file}"
    )
    values = dict(name=name, way=way, epoch=epoch, epochs=epochs, loss=loss, acc=acc, s=seconds, file=file)
    print(line.format(**values), flush=True)


def report(writer, way, preds, train_set, val_set, step):
    """After a way: how each class did (the mean over classes shows what the total can hide), printed; the
    confusion matrix and the val pictures it got wrong, labelled true -> predicted, in TensorBoard."""
    truth, classes = torch.tensor(val_set.targets), val_set.classes
    hint = _("try --balance, more pictures of the smaller classes, or more --epochs")
    lines = pictures.per_class_lines(way, preds, truth, classes, train_set.targets, hint)
    print("\n".join(lines), flush=True)
    matrix, legend = pictures.confusion_picture(truth, preds, classes)
    writer.add_image("confusion_matrix", matrix, step, dataformats="HWC")
    wrong = (preds != truth).nonzero().flatten()[:48].tolist()
    if wrong:
        files, true, pred = [val_set.samples[k][0] for k in wrong], truth[wrong].tolist(), preds[wrong].tolist()
        sheet, legend = pictures.mistakes_picture(files, true, pred, classes, load=val_set.loader)  # no new decode
        writer.add_image("mistakes", sheet, step, dataformats="HWC")
    if legend:  # no font here for these names: the pictures show numbers
        writer.add_text("legend", legend, step)


def summary(results, task_a, ways, train_set, val_set):
    """The table at the end: each way's val accuracy and seconds per epoch (``results``: way -> (accuracy,
    seconds, checkpoint)), and the baseline, always answering the biggest class in train."""
    print(f"\n{_('way'):<9} {_('pretrained on'):<44} {_('val accuracy'):>13} {_('s/epoch'):>8}")
    for way, (acc, secs, _path) in results.items():
        shown = _("- (random start)") if way == "scratch" else task_a
        print(f"{way:<9} {shown:<44} {acc:>13.4f} {secs:>8.2f}  {ways[way]}")
    label, baseline = pictures.biggest_class(train_set.targets, val_set.targets)
    always = _("- (always answers {name}, the biggest class)").format(name=val_set.classes[label])
    print(f"{_('baseline'):<9} {always:<44} {baseline:>13.4f}")
