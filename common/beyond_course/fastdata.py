"""A fast data path: decode CIFAR-10 once, keep it as one uint8 tensor, slice batches.

Why the course's loop is slow: ``DataLoader`` + ``ToTensor`` does, for every
image of every epoch, a PIL decode (or a numpy copy), a Python call per
sample, a float conversion and a ``torch.stack`` to build the batch. On a
2-core laptop that bookkeeping costs as much as the model itself, and on a
GPU it starves the device while the CPU assembles batches.

CIFAR-10 is tiny: 60,000 x 3 x 32 x 32 bytes = 184 MB as uint8. So:

1. decode every image once into a ``(N, 3, 32, 32)`` uint8 tensor (and cache
   it under ``dataset/`` so the next run skips even that);
2. put that tensor on the training device once;
3. each epoch, shuffle with one ``randperm`` and slice batches with indexing:
   no Python per sample, no copies to the GPU per batch;
4. convert to float only per batch (``x.float() / 255`` is exactly what
   ``ToTensor`` computes), so memory stays at 1 byte per pixel.
"""

import hashlib
import os
import tempfile
import time
import warnings

import numpy as np
import torch
from torchvision import datasets
from torchvision.io import ImageReadMode, decode_image

from .. import paths
from ..data import unwrap
from ..errors import LessonError
from .lang import _
from .pictures import Pictures


def cache_path(ds):
    """Where the decoded copy of an ImageFolder lives: named by a hash of every file's
    path, size and modification time, so any change to the images invalidates it."""
    key = hashlib.sha1()
    for p, _label in ds.samples:
        st = os.stat(p)
        key.update(f"{p}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return paths.DATASET_DIR / "cache" / f"cifar10-u8-{key.hexdigest()[:16]}.pt"


def _load_cache(cache, count):
    """The cached tensor if it is there and exactly what we need, else None (it is rebuilt)."""
    try:
        images = torch.load(cache, weights_only=True)
    except Exception:  # missing, damaged, half-written by a crashed older version ...
        return None
    if isinstance(images, torch.Tensor) and images.dtype == torch.uint8 and images.shape == (count, 3, 32, 32):
        return images
    return None


def _decode_folder(ds):
    """Decode an ImageFolder's files into uint8 (N, 3, 32, 32), cached under dataset/ (your pictures: from memory)."""
    files = [p for p, _ in ds.samples]
    if isinstance(ds, Pictures):
        # your own pictures, already decoded once and resized by their check (pictures.py): exactly what
        # the classic loader gives, back to bytes (ToTensor divides by 255, so x * 255 rounds back exactly)
        return torch.stack([(ds.transform(ds.loader(p)) * 255).round().to(torch.uint8) for p in files])
    cache = cache_path(ds)
    images = _load_cache(cache, len(files))
    if images is not None:
        return images
    images = torch.empty((len(files), 3, 32, 32), dtype=torch.uint8)
    # torchvision 0.29 deprecates its image decoders in favour of TorchCodec; they still work and
    # are ~1.5x faster than PIL here (same pixels), so we keep them and silence the notice
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*image decoding and encoding", category=DeprecationWarning)
        for i, p in enumerate(files):
            try:
                img = decode_image(str(p), mode=ImageReadMode.RGB)
            except RuntimeError as exc:
                raise LessonError(
                    _("cannot decode {path} as an image ({problem})").format(path=p, problem=str(exc).splitlines()[0])
                ) from None
            if img.shape[1:] != (32, 32):
                raise LessonError(
                    _("{path} is {w}x{h}, CIFAR-10 images are 32x32").format(path=p, w=img.shape[2], h=img.shape[1])
                )
            images[i] = img
    _save_cache(images, cache)
    return images


def _save_cache(images, cache):
    # Several runs may decode the same files at once: each writes a temp file of its own and
    # renames it into place, which is atomic, so a reader sees an old complete cache or a new one.
    cache.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=cache.stem, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(images, tmp)
        os.replace(tmp, cache)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def as_uint8_tensors(dataset):
    """``(images uint8 (N,3,32,32), labels int64 (N,))`` for CIFAR-10 or your own pictures at 32x32."""
    base, indices = unwrap(dataset)
    if isinstance(base, datasets.CIFAR10):
        # torchvision keeps the whole split in memory already, as HWC uint8 numpy.
        images = torch.from_numpy(np.ascontiguousarray(base.data)).permute(0, 3, 1, 2).contiguous()
        labels = torch.as_tensor(base.targets, dtype=torch.long)
    elif isinstance(base, (datasets.ImageFolder, Pictures)):
        images = _decode_folder(base)
        labels = torch.as_tensor(base.targets, dtype=torch.long)
    else:
        raise TypeError(f"don't know how to decode a {type(base).__name__}")
    if indices is not None:
        images, labels = images[indices], labels[indices]
    return images, labels


class TensorBatches:
    """Iterate ``(float images in [0, 1], labels)`` batches from uint8 tensors on ``device``.

    Drop-in for a ``DataLoader(dataset, batch_size, shuffle)`` over CIFAR-10
    with ``ToTensor``: same batch shapes, same values. ``sampler`` (e.g. a
    ``DistributedSampler``) picks the order instead of ``shuffle``, exactly as
    it would for a DataLoader.
    """

    def __init__(self, images, labels, batch_size, shuffle, device, channels_last=False, sampler=None):
        self.images = images.to(device)
        self.labels = labels.to(device)
        self.batch_size, self.shuffle, self.device, self.sampler = batch_size, shuffle, device, sampler
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def __len__(self):
        n = len(self.sampler) if self.sampler is not None else len(self.labels)
        return (n + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        if self.sampler is not None:
            order = torch.as_tensor(list(self.sampler), device=self.device)
        elif self.shuffle:
            order = torch.randperm(len(self.labels), device=self.device)
        else:
            order = None
        n = len(order) if order is not None else len(self.labels)
        for start in range(0, n, self.batch_size):
            if order is None:
                x = self.images[start : start + self.batch_size]
                y = self.labels[start : start + self.batch_size]
            else:
                idx = order[start : start + self.batch_size]
                x, y = self.images[idx], self.labels[idx]
            yield x.float().div_(255).contiguous(memory_format=self.memory_format), y


def loaders(train_data, test_data, batch_size, device, channels_last, sampler=None):
    """The fast path's two loaders, said in one line with their one-time cost: training batches shuffled
    (or in ``sampler``'s order), test batches of 1000 (testing keeps no activations for backward)."""
    t0 = time.perf_counter()
    train = TensorBatches(
        *as_uint8_tensors(train_data),
        batch_size,
        shuffle=sampler is None,
        device=device,
        channels_last=channels_last,
        sampler=sampler,
    )
    test = TensorBatches(*as_uint8_tensors(test_data), 1000, shuffle=False, device=device, channels_last=channels_last)
    print(
        _("fast path: {n} images on {device} in {s:.1f} s").format(
            n=len(train_data) + len(test_data), device=device, s=time.perf_counter() - t0
        )
    )
    return train, test
