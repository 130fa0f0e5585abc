"""common/beyond_course/fastdata.py, train_gpu.py's default data path, against the course's pipeline built here
from plain torchvision: ImageFolder(<split>, transform=ToTensor()) in the real set's order
(helpers.in_real_set_order) and a DataLoader.

The reference uses neither common.data nor common.beyond_course.fastdata: a defect in how the fast path decodes,
orders, scales or labels the pictures makes these tests fail."""

from common import paths
from common.beyond_course import download, fastdata

import pytest
import torch
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

from course_data import cifar10
from helpers import REPO, in_real_set_order

SAMPLE = REPO / "01_dataset" / "samples" / "cifar10"


def reference(split):
    """The course's pipeline on the bundled sample: plain ImageFolder with ToTensor, in the real set's order."""
    return in_real_set_order(datasets.ImageFolder(str(SAMPLE / split), transform=transforms.ToTensor()), split)


def as_tensors(dataset):
    batch = next(iter(DataLoader(dataset, batch_size=len(dataset))))
    return batch[0], batch[1]


@pytest.fixture(autouse=True)
def lessons_home(tmp_path, monkeypatch):
    # the decode cache and the fallback note land in the temp folder, not in the repo
    monkeypatch.setattr(paths, "DATASET_DIR", tmp_path / "dataset")
    monkeypatch.setattr(download, "_said", set())


def fast_batches(dataset, batch_size, shuffle):
    # as train_gpu.py builds them (channels_last is its default)
    return fastdata.TensorBatches(
        *fastdata.as_uint8_tensors(dataset), batch_size, shuffle=shuffle, device=torch.device("cpu"), channels_last=True
    )


def assert_same_batches(fast, course):
    fast, course = list(fast), list(course)
    assert len(fast) == len(course)
    for (x, y), (rx, ry) in zip(fast, course, strict=True):
        assert x.dtype == rx.dtype == torch.float32 and x.shape == rx.shape
        assert torch.equal(x, rx), (x - rx).abs().max()
        assert torch.equal(y, ry)


def test_fast_test_batches_equal_imagefolder_with_totensor():
    test = cifar10(train=False, download=False)  # as train_gpu.py --offline gets it
    assert_same_batches(fast_batches(test, 1000, shuffle=False), DataLoader(reference("test"), batch_size=1000))
    # the second time from the decode cache: the same again
    assert list(paths.DATASET_DIR.glob("cache/cifar10-u8-*.pt"))
    assert_same_batches(fast_batches(test, 64, shuffle=False), DataLoader(reference("test"), batch_size=64))


def test_fast_train_limit_subset_equals_the_documented_rule():
    sub = cifar10(train=True, download=False, limit=300)
    picked = torch.randperm(2500, generator=torch.Generator().manual_seed(0))[:300]
    course = Subset(reference("train"), picked.tolist())
    assert_same_batches(fast_batches(sub, 64, shuffle=False), DataLoader(course, batch_size=64))


def test_fast_shuffled_train_epochs_hold_every_picture_once():
    images, labels = as_tensors(reference("train"))
    key = {img.tobytes(): i for i, img in enumerate(images.numpy())}
    labels = labels.tolist()
    assert len(key) == len(labels)  # no two sample pictures alike, so a picture names its index
    batches = fast_batches(cifar10(train=True, download=False), 64, shuffle=True)
    orders = []
    for _ in range(2):
        order = []
        for x, y in batches:
            assert len(y) == 64 or len(order) + len(y) == 2500
            for img, label in zip(x.contiguous().numpy(), y.tolist(), strict=True):
                i = key.get(img.tobytes())
                assert i is not None, "a batch holds a picture that is not one of the course's ToTensor images"
                assert label == labels[i]
                order.append(i)
        assert sorted(order) == list(range(2500))  # every picture once per epoch
        orders.append(order)
    assert orders[0] != list(range(2500)) and orders[0] != orders[1]  # shuffled, differently each epoch
