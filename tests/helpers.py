"""Shared test helpers (the fixtures are in conftest.py).

Running a lesson as a learner would: ``run_fresh(script, args, home)`` starts a fresh Python process in
``home`` with ``PYTORCH_LESSONS_HOME`` pointing there, so ``dataset/``, ``logs/`` and ``checkpoints/`` land
in the temp folder and the repository stays clean. No network is used: pass ``--offline`` (the bundled
samples are used), or the download fails at once (``CIFAR10_URL`` points nowhere). ``run_forked`` takes
the same arguments and returns the same result, from a process forked from one that already imported
torch (see launch.py): for the many short runs that check flags and bad input.

Then: reading what a run wrote (TensorBoard events, one-line errors, pasted commands), an independent
reference for what training and predict.py must compute (plain torch/torchvision, not common/), and
picture folders as a learner makes them.
"""

import ctypes
import errno
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import launch as launcher

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `import common` in the tests
# The tests read the lessons' English (a test of another language asks for it: env={"LESSONS_LANG": "zh"}),
# whatever the language of the machine running them; set before anything imports common
os.environ["LESSONS_LANG"] = "en"


class Result:
    def __init__(self, returncode, stdout, stderr, home, args=(), again=None):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.home = Path(home)
        self.args = [str(a) for a in args]  # what the script was given
        self.again = again  # again(env): the same run once more, with these variables changed

    @property
    def lines(self):
        return [line for line in self.stdout.splitlines() if line.strip()]

    def __repr__(self):  # shown by pytest when an assertion fails
        return f"<exit {self.returncode}\n--- stdout:\n{self.stdout[-3000:]}\n--- stderr:\n{self.stderr[-3000:]}>"


def lesson_env(home, env=None):
    # one thread per process: the suite runs two processes at a time on two cores (pytest -n 2);
    # unreachable download servers keep runs without --offline from ever downloading
    e = dict(
        os.environ,
        PYTORCH_LESSONS_HOME=str(home),
        PYTHONUNBUFFERED="1",
        PYTHONIOENCODING="utf-8",
        TQDM_DISABLE="1",
        OMP_NUM_THREADS="1",
        LESSONS_LANG="en",
        CIFAR10_URL="https://cifar10.invalid/cifar-10-python.tar.gz",
    )
    e.update(env or {})
    return e


def run_fresh(script, args, home, cwd=None, timeout=300, env=None, input=None, preexec_fn=None, before=None):
    """A fresh ``python script args...``; ``before``: functions of tests/hooks.py called in it first."""
    proc = subprocess.run(
        launcher.command(REPO / script, list(map(str, args)), launcher.names(before)),
        cwd=str(cwd or home),
        env=lesson_env(home, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        preexec_fn=preexec_fn,
    )

    def again(more):
        return run_fresh(script, args, home, cwd, timeout, {**(env or {}), **more}, input, preexec_fn, before)

    return Result(proc.returncode, proc.stdout, proc.stderr, home, args, again)


def run_forked(script, args, home, cwd=None, timeout=120, env=None, preexec_fn=None, before=None):
    """``before``: a function of tests/hooks.py, called in the run's process just before the script."""
    out, err = Path(home) / ".launch.out", Path(home) / ".launch.err"
    argv = [str(a) for a in args]
    code = launcher.launch(
        str(REPO / script), argv, cwd or home, lesson_env(home, env), out, err, timeout, preexec_fn, before
    )

    def again(more):
        return run_forked(script, args, home, cwd, timeout, {**(env or {}), **more}, preexec_fn, before)

    result = Result(code, out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8"), home, args, again)
    out.unlink()
    err.unlink()
    return result


def cannot_override_permissions():
    """preexec_fn for a child of root, which ignores file permissions: make it obey them as any user's
    process does (Linux). Without CAP_DAC_OVERRIDE in the capability bounding set, a program the child
    starts (a fresh python) never gets it; without it in the effective set, a forked run has lost it now."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(24, 1, 0, 0, 0):  # PR_CAPBSET_DROP, CAP_DAC_OVERRIDE
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    sets = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable of capabilities 0-31, then of 32-63
    if libc.capget(header, sets):
        raise OSError(ctypes.get_errno(), "capget failed")
    sets[0] &= ~(1 << 1)  # CAP_DAC_OVERRIDE is capability 1
    if libc.capset(header, sets):
        raise OSError(ctypes.get_errno(), "capset failed")


def sigint_as_in_a_terminal():
    """``preexec_fn`` for a child a test will Ctrl-C. A shell starts background jobs with SIGINT
    ignored, and Python keeps an ignored SIGINT ignored; a terminal's foreground program has the
    default, which Python turns into KeyboardInterrupt. So the test's child gets that default,
    however pytest itself was started."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def windows_split(line):
    """A command line as a Windows program gets it from cmd or PowerShell (python.exe and tensorboard.exe
    use the Microsoft C runtime's rules): spaces separate arguments outside double quotes; the quotes
    group and are dropped; 2n backslashes before a quote are n backslashes, 2n+1 escape the quote."""
    args, arg, quoted, started, i = [], "", False, False, 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            n = len(line) - i - len(line[i:].lstrip("\\"))
            before_quote = line[i + n : i + n + 1] == '"'
            arg += "\\" * (n // 2 if before_quote else n) + ('"' if before_quote and n % 2 else "")
            i += n + (1 if before_quote and n % 2 else 0)
            started = True
            continue
        if c == '"':
            quoted, started = not quoted, True
        elif c in " \t" and not quoted:
            if started:
                args.append(arg)
            arg, started = "", False
        else:
            arg, started = arg + c, True
        i += 1
    return args + [arg] if started else args


def shell_split(line):
    """A printed command split as this machine's shell splits it when the learner pastes it."""
    return windows_split(line) if sys.platform == "win32" else shlex.split(line)


def last_line(result):
    return result.lines[-1] if result.lines else ""


ZH = {"LESSONS_LANG": "zh"}  # a run in Chinese, whatever the system's language


def one_line_error(res, *needles, prefix="error: ", zh=(), zh_env=ZH):
    """Assert an expected problem was reported as one stderr line (exit 2, no traceback) starting with
    ``prefix``, containing every needle and no Chinese but names; return that line. Then the same run
    again in Chinese (``zh_env``; None: not again) must say it in one Chinese line (chinese_error),
    containing every needle of ``zh``."""
    from common.paths import shell_arg

    line = _one_line(res, prefix, needles)
    names = [a for a in [*res.args, str(res.home)] if len(a) > 2]  # (not "1" out of "10 images")
    names += [shell_arg(n) for n in names]  # as printed for pasting, quoted
    names += [p.name for p in res.home.rglob("*") if CJK.search(p.name)]  # a class folder 猫 ...
    assert not CJK.search(without_names(line, names)), res
    if zh_env is not None:
        chinese_error(res.again(zh_env), prefix, *zh, names=names)
    return line


def chinese_error(res, prefix, *needles, names=()):
    """Assert a run in Chinese reported its problem as one line (exit 2, no traceback) starting with
    ``prefix`` in Chinese ("error: " -> "错误："), containing every needle, with Chinese in it and no
    English sentence beyond ``names`` (english_sentences); return that line."""
    line = _one_line(res, prefix.replace(": error: ", "：错误：").replace("error: ", "错误："), needles)
    assert CJK.search(without_names(line.partition("错误：")[2], names)), res
    assert not english_sentences(line, names), (english_sentences(line, names), res)
    return line


def _one_line(res, prefix, needles):
    assert res.returncode == 2, res
    assert "Traceback" not in res.stderr, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), res
    for n in needles:
        assert n in lines[0], res
    return lines[0]


# -- the learner's language: what is English, what Chinese ---------------------------------------------

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+")
# an English sentence: two or more English words in a row ("is not", "the bundled sample")
ENGLISH = re.compile(r"\b[A-Za-z]{2,}(?:[ ,;]+[A-Za-z]{2,}\b)+")
# what a line may hold in either language: flags with their value, file paths, the quoted text of Python's
# and PyTorch's own errors, the commands printed for pasting, a "quoted" name, a keyword=argument, PyTorch's
# own manual as install_check.py quotes it (help(), indented by 4), dotted names (torch.nn.ReLU, tudui_1.pth),
# PIL's and torchvision's words for a picture they cannot decode, torch.distributed's for a peer that never
# came, CIFAR-10's and the ants/bees' class names, transfer_learning.py's --ways
NAMES = re.compile(
    r"--?[a-z][\w-]*(?: [\w:/.-]+)?|\S*[/\\]\S*|`[^`]*`|python \S+|tensorboard|\"[^\"]*\"|\w+=\S+"
    r"|^ {4}.*|\b[A-Z]\w*Error: .*|could not infer output dtype.*|\b\w+(?:\.\w+)+"
    r"|image file is truncated(?: \(\d+ bytes not processed\))?|Truncated File Read"
    r"|Unsupported image file\. .* directly\.|Timed out after \d+ seconds waiting for clients\. [\d/]+ clients joined\."
    r"|\b(?:airplane|automobile|bird|cat|deer|dog|frog|horse|ship|truck|ants|bees"
    r"|feature|finetune|scratch)\b"
)
# the system's own words for an OSError, quoted in brackets as the system says them: "(Permission denied)"
OS_ERRORS = [f"{a}{os.strerror(n)}{b}" for n in errno.errorcode for a, b in ("()", "（）")]
# the stable keys that scripts, tests and learners grep for: the same words in every language
STABLE_KEYS = re.compile(
    r"^(final test accuracy|final val accuracy|next, the (?:\w+ )?model on a picture|prediction)"
    r": "
)


def without_names(line, names=()):
    """``line`` without the ``names`` a run was given (its arguments, its folder; first, as they may hold
    spaces; each leaves a NUL, no word and no indent) and the system's OS_ERRORS, then without what NAMES
    matches and the stable keys."""
    for name in [*sorted(names, key=len, reverse=True), *OS_ERRORS]:
        line = line.replace(name, "\0")
    return NAMES.sub(" ", STABLE_KEYS.sub("", line))


def english_sentences(text, names=()):
    """The English sentences in ``text`` once names are taken out (without_names), line by line."""
    return [m for line in text.splitlines() for m in ENGLISH.findall(without_names(line, names))]


def read_events(logdir):
    """TensorBoard's own reader on the event files in ``logdir`` (every scalar and image kept)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert list(Path(logdir).glob("events.out.tfevents.*")), f"no event file in {logdir}"
    acc = EventAccumulator(str(logdir), size_guidance={"images": 0, "scalars": 0})  # 0 = keep all
    acc.Reload()
    return acc


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def block_network(monkeypatch):
    """No network for common.data: the probe and torchvision's download calls fail; each call is recorded
    in the list returned."""
    import urllib.error

    from common.beyond_course import download

    from torchvision.datasets import utils as tv_utils

    calls = []

    def no_network(*args, **kwargs):
        calls.append(args)
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setattr(
        download, "_probe", lambda url, seconds: calls.append(url) or OSError("[Errno -2] Name or service not known")
    )
    monkeypatch.setattr(tv_utils, "_get_redirect_url", no_network)
    monkeypatch.setattr(tv_utils, "_urlretrieve", no_network)
    return calls


def as_saved_on_gpu(cpu_file, gpu_file):
    """Write gpu_file: cpu_file as if torch.save had run on cuda:0. Made without a GPU by
    relabelling the storages' location in the archive's data.pkl (the tensor bytes are the same)."""
    with zipfile.ZipFile(cpu_file) as zin, zipfile.ZipFile(gpu_file, "w", zipfile.ZIP_STORED) as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name.endswith("data.pkl"):
                assert b"X\x03\x00\x00\x00cpu" in data
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            zout.writestr(name, data)
    return gpu_file


def make_cifar10_archive(folder, monkeypatch):
    """A small cifar-10-python.tar.gz in torchvision's layout (2 pictures a batch, 4 in test_batch),
    with torchvision's MD5s of the real files switched to this one's. Returns {file: (data, labels)}."""
    import hashlib
    import io
    import pickle
    import tarfile

    import numpy as np
    from torchvision import datasets

    rng = np.random.default_rng(0)
    batches, parts, md5s = {}, {}, {}
    for name, n in [*((f"data_batch_{i}", 2) for i in range(1, 6)), ("test_batch", 4)]:
        batches[name] = (rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n).tolist())
        parts[name] = pickle.dumps({"data": batches[name][0], "labels": batches[name][1]})
    parts["batches.meta"] = pickle.dumps({"label_names": CIFAR10_ORDER})
    archive = folder / datasets.CIFAR10.filename
    folder.mkdir(parents=True)
    with tarfile.open(archive, "w:gz") as tar:
        for name, blob in parts.items():
            info = tarfile.TarInfo(f"{datasets.CIFAR10.base_folder}/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
            md5s[name] = hashlib.md5(blob).hexdigest()
    monkeypatch.setattr(datasets.CIFAR10, "tgz_md5", hashlib.md5(archive.read_bytes()).hexdigest())
    monkeypatch.setattr(
        datasets.CIFAR10, "train_list", [[f"data_batch_{i}", md5s[f"data_batch_{i}"]] for i in range(1, 6)]
    )
    monkeypatch.setattr(datasets.CIFAR10, "test_list", [["test_batch", md5s["test_batch"]]])
    monkeypatch.setattr(datasets.CIFAR10, "meta", dict(datasets.CIFAR10.meta, md5=md5s["batches.meta"]))
    return batches


# -- an independent reference for "the scripts learn" ------------------------------------------------
# What a training run on the bundled sample must compute, rebuilt here from plain torchvision and
# torch, not from the code under test (common.data, common.beyond_course's fastdata and runs): only
# the model's definition (common.model.Tudui) is shared.

SAMPLE = REPO / "01_dataset" / "samples" / "cifar10"
# CIFAR-10's label order (torchvision.datasets.CIFAR10.classes), written out: the scripts' CIFAR10Folder
# numbers the sample's classes this way; plain ImageFolder numbers them alphabetically, the same here
CIFAR10_ORDER = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
# The order the scripts put the bundled sample in (stored class by class): the labels the real CIFAR-10
# splits start with (data_batch_1, test_batch), then one picture of each class in turn, in label order
# until none is left; each class's files in name order
REAL_FIRST_LABELS = {
    "train": [6, 9, 9, 4, 1, 1, 2, 7, 8, 3],
    "test": [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6],
}
_reference_cache = {}


def in_real_set_order(folder, split):
    """A plain ImageFolder over the sample's ``split``, put in that order (in place)."""
    per_class = [[s for s in folder.samples if s[1] == c] for c in range(len(folder.classes))]
    used = [0] * len(per_class)
    order = []

    def take(c):
        if used[c] < len(per_class[c]):
            order.append(per_class[c][used[c]])
            used[c] += 1

    for c in REAL_FIRST_LABELS[split]:
        take(c)
    while len(order) < len(folder.samples):
        for c in range(len(per_class)):
            take(c)
    folder.samples = folder.imgs = order
    folder.targets = [label for _, label in order]
    return folder


def sample_split(split, limit):
    """(images float (N,3,32,32) in [0, 1], labels) of the bundled sample's ``split`` after ``--limit``:
    ImageFolder + ToTensor in the order above, and the documented subset rule (randperm with seed 0,
    first ``limit``)."""
    key = (split, limit)
    if key not in _reference_cache:
        from common.model import CIFAR10_CLASSES  # the order the scripts' CIFAR10Folder labels by

        import torch
        from torchvision.datasets import ImageFolder
        from torchvision.transforms import ToTensor

        ds = in_real_set_order(ImageFolder(str(SAMPLE / split), transform=ToTensor()), split)
        assert ds.classes == CIFAR10_ORDER == list(CIFAR10_CLASSES)  # so label i means the same class here
        keep = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))[:limit].tolist()
        images = torch.stack([ds[i][0] for i in keep])
        labels = torch.tensor([ds.targets[i] for i in keep])
        _reference_cache[key] = images, labels
    return _reference_cache[key]


def sgd_reference(batches, limit, lr=0.01, seed=0):
    """Tudui seeded with ``seed``, trained with CrossEntropyLoss and plain SGD on the batches
    ``batches`` (lists of positions in the limited training split), in that order. Returns
    (initial weights, model, losses of the steps)."""
    from common.model import Tudui

    import torch
    from torch import nn

    images, labels = sample_split("train", limit)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the runs (OMP_NUM_THREADS=1): the suite runs two processes on two cores
    try:
        torch.manual_seed(seed)
        model = Tudui()
        initial = {k: v.clone() for k, v in model.state_dict().items()}
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        losses = []
        for idx in batches:
            loss = nn.CrossEntropyLoss()(model(images[idx]), labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    finally:
        torch.set_num_threads(threads)
    return initial, model, losses


def reference_accuracy(model, limit):
    """The model's accuracy on the limited test split of the sample."""
    import torch

    images, labels = sample_split("test", limit)
    with torch.no_grad():
        return (model(images).argmax(1) == labels).float().mean().item()


def distributed_batches(n, batch_size, epochs, seed=0):
    """The global batches of a DistributedSampler(shuffle=True, seed) run: each epoch e permutes the
    n positions with a generator seeded seed + e; global batch k is positions [k*B, (k+1)*B)."""
    import torch

    batches = []
    for epoch in range(epochs):
        g = torch.Generator()
        g.manual_seed(seed + epoch)
        perm = torch.randperm(n, generator=g).tolist()
        batches += [perm[k : k + batch_size] for k in range(0, n, batch_size)]
    return batches


def assert_same_state(a, b, atol=0.0, where="checkpoint"):
    """Walk two nested dicts / lists of tensors and plain values from both sides: the same keys,
    the same structure, tensors equal within ``atol`` (0: bit for bit), other values equal."""
    import torch

    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(map(str, a)) == sorted(map(str, b)), (where, sorted(a), sorted(b))
        for key in a:
            assert_same_state(a[key], b[key], atol, f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_state(x, y, atol, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor), where
        torch.testing.assert_close(a, b, rtol=0, atol=atol, msg=lambda m: f"{where}: {m}")
    else:
        assert a == b, (where, a, b)


def max_change(a, b):
    """The largest absolute difference between two state dicts with the same keys."""
    assert sorted(a) == sorted(b)
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


# -- an independent reference for what predict.py answers ------------------------------------------
# The weights read with ``torch.load(path, weights_only=True)`` into the course's Tudui (defined below from
# the notes), the picture prepared as the lesson documents it: RGB, Resize((32, 32)), ToTensor.

# The course's network (P27-P29), as its training script defines it; also written into the files
# that test whole-model saving, so those name __main__.Tudui as the course's do.
COURSE_TUDUI = """
import torch
from torch import nn
class Tudui(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(3, 32, 5, 1, 2), nn.MaxPool2d(2), nn.Conv2d(32, 32, 5, 1, 2), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, 1, 2), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 4 * 4, 64),
            nn.Linear(64, 10))
    def forward(self, x):
        return self.model(x)
"""

PRED = re.compile(r"^prediction: (\w+) \((0\.\d{4}|1\.0000)\)$")
TOP = re.compile(r"^  (\w+) +(0\.\d{4}|1\.0000)$", re.M)


def plain_weights(path):
    """The state_dict in one of our checkpoints ({"model": ...}) or a bare one (保存方式2)."""
    import torch

    ck = torch.load(path, map_location="cpu", weights_only=True)
    return ck["model"] if "model" in ck else ck


def course_model(weights):
    """The course's Tudui with ``weights`` (a state_dict, or a checkpoint path), in eval mode."""
    course = {}
    exec(COURSE_TUDUI, course)
    model = course["Tudui"]()
    model.load_state_dict(weights if isinstance(weights, dict) else plain_weights(weights))
    return model.eval()


def prepare(image):
    """A picture (path or PIL image) as the lesson documents it: RGB, Resize((32, 32)), ToTensor, batch of 1."""
    from PIL import Image
    from torchvision import transforms

    if not isinstance(image, Image.Image):
        image = Image.open(image)
    image = image.convert("RGB")
    return transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])(image).reshape(1, 3, 32, 32)


def probabilities(image, weights):
    import torch

    with torch.no_grad():
        return torch.softmax(course_model(weights)(prepare(image)), dim=1)[0]


def check_prediction(res, image, weights):
    """predict.py's printed top 3 and prediction are the ones computed here; returns the class."""
    import pytest
    import torch

    assert res.returncode == 0, res
    assert "Traceback" not in res.stderr, res
    m = PRED.match(last_line(res))
    assert m, res
    probs = probabilities(image, weights)
    top = torch.topk(probs, 3)
    printed = TOP.findall(res.stdout)
    assert [name for name, _ in printed] == [CIFAR10_ORDER[i] for i in top.indices.tolist()], res
    for (_, p), want in zip(printed, top.values.tolist(), strict=True):
        assert float(p) == pytest.approx(want, abs=1e-4 + 1e-6), res
    assert m.group(1) == CIFAR10_ORDER[probs.argmax().item()], res
    assert float(m.group(2)) == pytest.approx(probs.max().item(), abs=1e-4 + 1e-6), res
    return m.group(1)


# -- a picture folder as a learner makes one: Chinese class names, mixed sizes and modes, a stray file --
PET_CLASSES = ["狗", "猫", "鸟"]  # sorted: the label order ImageFolder gives
COLORS = {"狗": (200, 60, 40), "猫": (40, 180, 60), "鸟": (50, 70, 210)}


def picture(path, color, size=(40, 30), mode="RGB"):
    from PIL import Image

    img = Image.new("RGB", size, color)
    img.paste((255, 255, 255), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    if mode == "RGBA":
        img = img.convert("RGBA")
        img.putalpha(Image.new("L", size, 128))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.convert(mode).save(path)
    return path


def make_folder(root, classes=PET_CLASSES, train=3, val=2):
    """root/train/<class>/ and root/val/<class>/: mixed sizes, an RGBA PNG, a gray JPEG, a stray text file."""
    for split, n in (("train", train), ("val", val)):
        for c in classes:
            for k in range(n):
                picture(root / split / c / f"{k}.jpg", COLORS.get(c, (90, 90, 90)), size=(40 + 9 * k, 30 + 13 * k))
    picture(root / "train" / classes[0] / "cutout.png", COLORS.get(classes[0]), size=(50, 50), mode="RGBA")
    picture(root / "train" / classes[-1] / "gray.jpg", COLORS.get(classes[-1]), size=(33, 61), mode="L")
    (root / "train" / classes[-1] / "notes.txt").write_text("not a picture")
    return root
