"""The error guide (ERRORS.md and ERRORS.zh-CN.md, one link from each README) against today's libraries.

Each row of the guide quotes how the line a learner compares starts: a traceback's last line, the one
that names the error (``RuntimeError: ...``; of a message over several lines, its first line), or the
line a script or a shell prints. Here every row is reproduced on this machine -- the mistake made for
real, the line taken from the exception, warning or output -- and must start with the quoted text
(whitespace collapsed). When PyTorch, torchvision or a lesson changes its wording, the test names the
row to update. A row whose situation this machine can't produce is skipped here and runs where it
can: the CUDA rows need a GPU; a GPU-saved file failing to load and is_available() saying False need a
machine without one; the HTTPS row needs the openssl program. Rows that only Windows shows (its
shells' messages, BrokenPipeError) are listed in NOT_REPRODUCED with the reason, and skipped.
The code the guide gives for loading checkpoints is run too.
"""

import contextlib
import functools
import http.server
import re
import socket
import threading
import warnings
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers import COURSE_TUDUI, REPO, as_saved_on_gpu, assert_same_state, run_forked

GUIDES = {"ERRORS.md": "# Common errors (常见报错)", "ERRORS.zh-CN.md": "# 常见报错"}
CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")


def code_span(cell):
    """The text of the first code span in a table cell (`x` or ``x `y` z``), as Markdown shows it."""
    m = CODE_SPAN.search(cell)
    if not m:
        return None
    text = m.group(2)
    return text[1:-1] if len(text) > 2 and text[0] == text[-1] == " " else text


def guide_section(readme):
    """The text of a guide page under its title: the table, then the snippet for loading checkpoints."""
    heading = GUIDES[readme]
    text = (REPO / readme).read_text(encoding="utf-8")
    assert text.startswith(f"{heading}\n"), f"{readme}: the page's title is not {heading!r}"
    return text.split("\n", 1)[1]


def guide(readme):
    """The rows of a guide page's error table: (message, why, fix, lesson) with ``\\|`` unescaped."""
    heading = GUIDES[readme]
    lines = [line for line in guide_section(readme).splitlines() if line.startswith("|")]
    assert len(lines) > 2 and set(lines[1]) <= set("|-: "), f"{readme}: no table under {heading!r}"
    rows = []
    for line in lines[2:]:
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        assert len(cells) == 4, f"{readme}: this row has {len(cells)} columns, not 4: {line}"
        message, why, fix, lesson = cells
        assert code_span(message) is not None and CODE_SPAN.fullmatch(message), (
            f"{readme}: the message column must be one `quoted` message: {line}"
        )
        rows.append((code_span(message), why, fix, code_span(lesson)))
    return rows


def shown(exc):
    """An exception or warning as a traceback's last line shows it (a message of several lines: its
    first line), whitespace collapsed."""
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    return " ".join(f"{name}: {str(exc).splitlines()[0] if str(exc) else ''}".split())


def raised(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 -- any exception: its message is what we compare
        return shown(exc)
    raise AssertionError(f"{getattr(call, '__name__', call)} raised nothing")


# ---- one reproduction per row: key (part of the quoted message) -> the message today ----------

REPRODUCE = {}


def reproduces(key):
    def register(fn):
        REPRODUCE[key] = fn
        return fn

    return register


# the course's model, defined in the saving script as in the course (P26 陷阱), saved whole (保存方式1)
SAVE_TUDUI = COURSE_TUDUI + "import sys\ntorch.save(Tudui(), sys.argv[1])\n"

_method1 = {}


def method1_file(tmp_path_factory):
    """A course-style method-1 file (the whole Tudui, saved by a script run as __main__), made once."""
    if "path" not in _method1:
        home = tmp_path_factory.mktemp("method1")
        (home / "save_tudui.py").write_text(SAVE_TUDUI, encoding="utf-8")
        res = run_forked(home / "save_tudui.py", [home / "tudui_method1.pth"], home)
        assert res.returncode == 0, res
        _method1["path"] = home / "tudui_method1.pth"
    return _method1["path"]


@reproduces("Can't get attribute 'Tudui'")
def _(ctx):
    # another script, without the class, loads it the pre-2.6 way
    path = method1_file(ctx.tmp_path_factory)
    (ctx.tmp_path / "load_tudui.py").write_text(
        "import sys, torch\ntorch.load(sys.argv[1], weights_only=False)\n", encoding="utf-8"
    )
    res = ctx.run_script(ctx.tmp_path / "load_tudui.py", path)
    assert res.returncode == 1 and "Traceback" in res.stderr, res
    return " ".join(res.stderr.strip().splitlines()[-1].split())


@reproduces("Weights only load failed")
def _(ctx):
    import torch

    return raised(torch.load, method1_file(ctx.tmp_path_factory))  # today's default: weights_only=True


@reproduces("deserialize object on a CUDA device")
def _(ctx):
    from common.model import Tudui

    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: a GPU-saved file loads here")
    cpu_file, gpu_file = ctx.tmp_path / "cpu.pth", ctx.tmp_path / "gpu.pth"
    torch.save(Tudui().state_dict(), cpu_file)
    return raised(torch.load, as_saved_on_gpu(cpu_file, gpu_file))  # a file saved from cuda:0


@reproduces("weight type (torch.cuda.FloatTensor)")
def _(ctx):
    from common.model import Tudui

    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU: the model on the GPU, the batch left on the CPU")
    return raised(Tudui().cuda(), torch.rand(1, 3, 32, 32))


@reproduces("Expected all tensors to be on the same device")
def _(ctx):
    from common.model import Tudui

    import torch
    from torch import nn

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU: model and pictures moved with .cuda(), the labels left on the CPU")
    imgs, targets = torch.rand(4, 3, 32, 32).cuda(), torch.tensor([0, 1, 2, 3])  # P30 without targets.cuda()
    return raised(nn.CrossEntropyLoss(), Tudui().cuda()(imgs), targets)


@reproduces("Input type (double)")
def _(ctx):
    from common.model import Tudui

    import numpy as np
    import torch

    return raised(Tudui(), torch.from_numpy(np.random.rand(1, 3, 32, 32)))  # NumPy floats are float64


@reproduces("Input type (unsigned char)")
def _(ctx):
    from common.model import Tudui

    import numpy as np
    import torch
    from PIL import Image

    # a picture as a NumPy array (what cv2.imread gives too), into a tensor without ToTensor
    img = np.array(Image.open(REPO / "09_inference" / "imgs" / "dog.png").convert("RGB").resize((32, 32)))
    return raised(Tudui(), torch.reshape(torch.tensor(img), (1, 3, 32, 32)))  # the course's reshape


@reproduces("mat1 and mat2 must have the same dtype")
def _(ctx):
    import numpy as np
    import torch
    from torch import nn

    return raised(nn.Linear(3072, 10), torch.from_numpy(np.random.rand(64, 3072)))  # float64 into float32 weights


@reproduces("'dict' object has no attribute 'eval'")
def _(ctx):
    import torch

    # the course's P32 on one of this repository's checkpoints: a dict, not a model
    model = torch.load(REPO / "09_inference" / "weights" / "tudui_cifar10.pth", weights_only=True)
    return raised(lambda: model.eval())


def rgba_picture(tmp):
    """A PNG with transparency, opened and prepared as the course's P32 does, minus convert('RGB')."""
    from PIL import Image
    from torchvision import transforms

    Image.new("RGBA", (64, 48), (200, 60, 30, 128)).save(tmp / "screenshot.png")
    image = Image.open(tmp / "screenshot.png")
    return transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])(image)


@reproduces("Given groups=1")
def _(ctx):
    from common.model import Tudui

    return raised(Tudui(), rgba_picture(ctx.tmp_path).unsqueeze(0))


@reproduces("is invalid for input of size")
def _(ctx):
    import torch

    return raised(torch.reshape, rgba_picture(ctx.tmp_path), (1, 3, 32, 32))  # the course's reshape


@reproduces("Cannot handle this data type")
def _(ctx):
    from common import paths

    import numpy as np
    from PIL import Image
    from torch.utils.tensorboard import SummaryWriter

    img_array = np.array(Image.open(paths.HYMENOPTERA_SAMPLE / "train" / "ants" / "0013035.jpg"))  # P8's ant
    writer = SummaryWriter(str(ctx.tmp_path / "logs"))
    try:
        return raised(writer.add_image, "test", img_array, 1)  # no dataformats="HWC"
    finally:
        writer.close()


def vgg16_warning(**kwargs):
    """The first warning vgg16(**kwargs) gives, raised before anything is built or downloaded."""
    import torch
    from torchvision.models import vgg16

    with warnings.catch_warnings(), torch.device("meta"):  # meta: shapes only, no 138 M weights
        warnings.simplefilter("error")  # the warning becomes an exception: weights=True never downloads
        return raised(vgg16, **kwargs)


@reproduces("'pretrained' is deprecated")
def _(ctx):
    return vgg16_warning(pretrained=False)


@reproduces("Arguments other than a weight enum")
def _(ctx):
    return vgg16_warning(weights=True)


@reproduces("DataLoader worker (pid(s)")
def _(ctx):
    from test_spawn_workers import BOOTSTRAP, unguarded_spawn_run

    res, _, _ = unguarded_spawn_run(ctx.tmp_path_factory)
    assert BOOTSTRAP in " ".join(res.stderr.split()), res  # above the last line, as the guide says
    return res.stderr.strip().splitlines()[-1]


@reproduces("Loss: nan")
def _(ctx):
    from common.data import bundled_cifar10

    # 10 steps of 64 pictures (the whole test split: --limit is above its 500) are enough to overflow
    res = ctx.run_script("08_train/train.py", "--offline", "--lr", "1", "--epochs", "1", "--limit", "640")
    assert res.returncode == 0, res
    loss = [line for line in res.lines if line.startswith("整体测试集上的Loss")]
    accuracy = [float(line.split(":")[1]) for line in res.lines if line.startswith("整体测试集上的正确率")]
    # every picture in the same class: the accuracy is that class's share of the test set
    targets = bundled_cifar10(train=False).targets
    assert "测试数据集的长度为: 500" in res.stdout, res
    shares = [targets.count(c) / len(targets) for c in set(targets)]
    assert len(accuracy) == 1 and any(abs(accuracy[0] - s) < 1e-4 for s in shares), res
    return loss[0] if loss else res.stdout[-300:]


@reproduces("is_available(): False")
def _(ctx):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a usable CUDA GPU")
    res = ctx.run_script("01_dataset/install_check.py")
    assert res.returncode == 0, res
    return next((line for line in res.lines if line.startswith("torch.cuda.is_available()")), res.stdout[:300])


@reproduces("No dashboards are active")
def _(ctx):
    # TensorBoard's page says it, in the browser, for a --logdir without event files: the text is in
    # the web app that the installed tensorboard serves
    import tensorboard

    with zipfile.ZipFile(Path(tensorboard.__file__).parent / "webfiles.zip") as z:
        pages = [z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith((".js", ".html"))]
    found = [m.group(0) for page in pages for m in re.finditer(r"No dashboards are active[^.<\"]*\.", page)]
    return found[0] if found else "(not in TensorBoard's web app)"


@reproduces("URLError")
def _(ctx):
    from torchvision import datasets

    # a host that can never resolve (.invalid is reserved): what a blocked or missing network gives
    ctx.monkeypatch.setattr(datasets.CIFAR10, "url", "https://cifar10.invalid/cifar-10-python.tar.gz")
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(10)
    try:
        return raised(datasets.CIFAR10, str(ctx.tmp_path / "dataset"), download=True)
    finally:
        socket.setdefaulttimeout(old)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def cifar10_served_from(folder, ctx, tls=None):
    """CIFAR10's download pointed at a server on this machine that serves ``folder`` (HTTPS with the ssl
    context ``tls``), for the duration of the ``with``."""
    from torchvision import datasets

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    if tls:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ctx.monkeypatch.setenv("no_proxy", "127.0.0.1")
    ctx.monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    ctx.monkeypatch.setattr(
        datasets.CIFAR10,
        "url",
        f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}/cifar-10-python.tar.gz",
    )
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


@reproduces("CERTIFICATE_VERIFY_FAILED")
def _(ctx):
    import shutil
    import ssl
    import subprocess

    from torchvision import datasets

    # an HTTPS server whose certificate Python cannot check (here: self-signed; on a python.org Python
    # for macOS before "Install Certificates.command": every certificate)
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl program, to make a certificate for a local HTTPS server")
    cert, key = ctx.tmp_path / "cert.pem", ctx.tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            key,
            "-out",
            cert,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    with cifar10_served_from(ctx.tmp_path, ctx, tls):
        return raised(datasets.CIFAR10, str(ctx.tmp_path / "dataset"), download=True)


@reproduces("File not found or corrupted")
def _(ctx):
    import io
    import tarfile

    from torchvision import datasets

    # a server on this machine hands out half of an archive: a download cut short
    served = ctx.tmp_path / "server"
    served.mkdir()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        data = bytes(range(256)) * 4096
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (served / "cifar-10-python.tar.gz").write_bytes(archive.getvalue()[: len(archive.getvalue()) // 2])
    with cifar10_served_from(served, ctx):
        return raised(datasets.CIFAR10, str(ctx.tmp_path / "dataset"), download=True)


# Rows this test cannot reproduce on any machine it runs on, and why (the key: part of the quoted line)
NOT_REPRODUCED = {
    "不是内部或外部命令": "Windows cmd's own message (Chinese Windows): needs Windows",
    "有效语句分隔符": "Windows PowerShell 5.1's own message (Chinese Windows): needs Windows",
    "BrokenPipeError": "needs Windows: there the script's process is still writing the worker's data into a pipe "
    "when the worker dies at bootstrapping; on Linux and macOS the parent keeps the pipe's other "
    "end open while it writes (multiprocessing's popen_spawn_posix), so the same mistake ends in "
    "'DataLoader worker ... exited unexpectedly', or waits forever when the data overfill the pipe",
}


# ---- the tests ------------------------------------------------------------------------------


def key_of(message):
    """The reproduction a quoted line belongs to: the longest key in it (the HTTPS row also says URLError)."""
    keys = [key for key in [*REPRODUCE, *NOT_REPRODUCED] if key in message]
    return max(keys, key=len) if keys else None


def rows_with(key, rows):
    return [row for row in rows if key_of(row[0]) == key]


def test_both_guides_have_the_same_rows_in_the_same_order():
    english, chinese = guide("ERRORS.md"), guide("ERRORS.zh-CN.md")
    assert len(english) == len(chinese), "ERRORS.md and ERRORS.zh-CN.md: the error tables differ in length"
    for (msg_en, _, _, lesson_en), (msg_zh, _, _, lesson_zh) in zip(english, chinese, strict=True):
        assert msg_en == msg_zh, (
            f"same row, different messages:\n  ERRORS.md:       {msg_en}\n  ERRORS.zh-CN.md: {msg_zh}"
        )
        assert lesson_en == lesson_zh, f"row {msg_en!r}: the lessons differ ({lesson_en} vs {lesson_zh})"
        assert lesson_en and (REPO / lesson_en).is_file(), f"row {msg_en!r}: {lesson_en} is not a script here"


def test_every_row_has_a_reproduction():
    rows = guide("ERRORS.md")
    for key in [*REPRODUCE, *NOT_REPRODUCED]:
        assert len(rows_with(key, rows)) == 1, f"key {key!r} must match exactly one row of the guide"
    unchecked = [row[0] for row in rows if key_of(row[0]) is None]
    assert not unchecked, f"rows with no reproduction (nor a reason in NOT_REPRODUCED) in this test: {unchecked}"


def test_the_guide_gives_cifar10s_md5():
    from torchvision import datasets

    for readme in GUIDES:
        said = {md5 for row in guide(readme) for md5 in re.findall(r"\b[0-9a-f]{32}\b", " ".join(row))}
        assert said == {datasets.CIFAR10.tgz_md5}, f"{readme}: the error guide's MD5 of cifar-10-python.tar.gz"


# the DataLoader worker row reuses test_spawn_workers' run of the unguarded script: keep both on one worker
SAME_WORKER = {"DataLoader worker (pid(s)": pytest.mark.xdist_group("unguarded_spawn")}


@pytest.mark.parametrize(
    "key",
    [pytest.param(k, marks=SAME_WORKER.get(k, ())) for k in REPRODUCE]
    + [pytest.param(k, marks=pytest.mark.skip(reason=why)) for k, why in NOT_REPRODUCED.items()],
)
def test_the_guide_quotes_todays_message(key, tmp_path, tmp_path_factory, run_script, monkeypatch):
    ctx = SimpleNamespace(
        tmp_path=tmp_path, tmp_path_factory=tmp_path_factory, run_script=run_script, monkeypatch=monkeypatch
    )
    quoted = {readme: [row[0] for row in rows_with(key, guide(readme))] for readme in GUIDES}
    today = REPRODUCE[key](ctx)
    for readme, found in quoted.items():
        assert len(found) == 1, f"{readme} {GUIDES[readme]!r}: {len(found)} rows quote {key!r}, not one"
        assert today.startswith(found[0]), (
            f"{readme} {GUIDES[readme]!r}: update the row quoting\n    {found[0]}\n"
            f"today's message is\n    {today[:300]}"
        )


# ---- the code the guide gives for loading checkpoints, run ------------------------------------


def fix_code(readme, key, start):
    """The code span starting with ``start`` in the fix column of ``key``'s row."""
    (row,) = rows_with(key, guide(readme))
    found = [m.group(2) for m in CODE_SPAN.finditer(row[2]) if m.group(2).startswith(start)]
    assert len(found) == 1, f"{readme}: the fix for {key!r} should give one `{start}...`: {row[2]}"
    return found[0]


@pytest.mark.parametrize("readme", GUIDES)
def test_the_guides_allowlist_loads_the_courses_whole_model_file(readme, tmp_path_factory):
    import torch

    code = fix_code(readme, "Weights only load failed", "with torch.serialization.safe_globals(")
    learner = {"path": str(method1_file(tmp_path_factory))}
    exec(COURSE_TUDUI, learner)  # the loading script has the course's class, as the guide's fix says
    exec(code, learner)  # torch.load with today's default, weights_only=True
    assert type(learner["model"]).__name__ == "Tudui"
    assert learner["model"](torch.rand(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("readme", GUIDES)
def test_the_guides_snippet_loads_a_checkpoint_of_this_repository(readme, monkeypatch):
    from common.model import Tudui

    blocks = re.findall(r"^```python\n(.*?)^```", guide_section(readme), re.S | re.M)
    assert len(blocks) == 1, f"{readme}: one python snippet in the error guide"
    monkeypatch.chdir(REPO)  # the snippet's paths are the repository's, as from a script in its folder
    monkeypatch.syspath_prepend(str(REPO))
    learner = {}
    exec(blocks[0], learner)
    model, ck = learner["model"], learner["ck"]
    assert isinstance(model, Tudui) and not model.training  # eval() reached the model
    assert_same_state(model.state_dict(), ck["model"])
