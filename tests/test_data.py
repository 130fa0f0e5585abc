"""Where the data comes from (common/data.py): a half-downloaded or damaged CIFAR-10, a mirror, the
course's own folders in dataset/, the ants/bees zip as Windows unpacks it, and the README section the
data lines point to. In-process, no network: every way out is recorded (``attempts``)."""

import functools
import http.server
import re
import shutil
import threading
import zipfile

from common import data, hymenoptera, paths
from common.beyond_course import dataset_files, download, runs
from common.errors import LessonError

import numpy as np
import pytest
from torchvision import datasets
from torchvision.datasets import utils as tv_utils

from course_data import cifar10
from helpers import REPO, make_cifar10_archive, make_folder, picture


@pytest.fixture
def home(tmp_path, monkeypatch):
    """dataset/ in a temp folder; the fallback line said afresh."""
    monkeypatch.setattr(paths, "DATASET_DIR", tmp_path / "dataset")
    monkeypatch.setattr(download, "_said", set())
    return tmp_path


def cut_short(archive, keep):
    whole = archive.read_bytes()
    archive.write_bytes(whole[:keep])
    return whole


def test_the_readme_section_the_data_lines_name_is_in_both_readmes():
    """Every fallback line and data error names one README section (dataset_files.see_data_help()), in both
    languages: each README has it as a ### subsection of its ## section."""
    for readme, (section, subsection) in dataset_files.DATA_HELP.items():
        text = (REPO / readme).read_text(encoding="utf-8")
        m = re.search(rf"^## {re.escape(section)}[ \t]*$(.*?)(?=^## |\Z)", text, re.M | re.S)
        assert m, f"{readme} has no section '## {section}'"
        assert re.search(rf"^### {re.escape(subsection)}[ \t]*$", m.group(1), re.M), (
            f"{readme}: no '### {subsection}' in its '## {section}'"
        )
        assert " → ".join((section, subsection)) in dataset_files.see_data_help("zh" if "zh" in readme else "en")


def test_partial_archive_with_offline_or_no_network_is_one_line_naming_file_and_size(home, attempts, monkeypatch):
    make_cifar10_archive(home / "dataset", monkeypatch)
    archive = home / "dataset" / datasets.CIFAR10.filename
    cut_short(archive, 1000)
    # --offline: no download starts, one line: which file, how much of it, what to do, where to read more
    with pytest.raises(LessonError) as e:
        cifar10(train=False, download=False)
    line = str(e.value)
    assert line.startswith(f"{archive} is incomplete: 1,000 of 170,498,071 bytes")
    assert "--offline does not download it again: delete it and run without --offline" in line
    assert dataset_files.see_data_help() in line and "\n" not in line
    assert not attempts and not (home / "dataset" / "cifar-10-batches-py").exists()
    # without --offline and no network: the same file named, and why it was not downloaded again
    with pytest.raises(
        LessonError,
        match=re.escape(f"{archive} is incomplete: 1,000 of 170,498,071 bytes")
        + r".*it could not be downloaded again \(no network\): delete it and run again when",
    ):
        cifar10(train=False)
    assert attempts == [datasets.CIFAR10.url]  # the probe, nothing more


def test_whole_size_but_wrong_md5_is_named_by_its_md5(home, attempts, monkeypatch):
    make_cifar10_archive(home / "dataset", monkeypatch)
    archive = home / "dataset" / datasets.CIFAR10.filename
    whole = archive.read_bytes()
    archive.write_bytes(whole[:-1] + bytes([whole[-1] ^ 1]))  # one bit flipped
    monkeypatch.setattr(dataset_files, "CIFAR10_BYTES", len(whole))  # the real one's size, for this small one
    with pytest.raises(
        LessonError,
        match=re.escape(f"{archive} is damaged: its MD5 is ")
        + f"[0-9a-f]{{32}}, not {datasets.CIFAR10.tgz_md5}; --offline",
    ):
        cifar10(train=True, download=False)
    assert not attempts


def test_partial_archive_is_downloaded_again_as_torchvision_does(home, monkeypatch, capsys):
    make_cifar10_archive(home / "dataset", monkeypatch)
    archive = home / "dataset" / datasets.CIFAR10.filename
    whole = cut_short(archive, 1000)
    fetched = []
    monkeypatch.setattr(download, "_probe", lambda url, seconds: None)  # the server answers
    monkeypatch.setattr(tv_utils, "_get_redirect_url", lambda url, max_hops: url)
    monkeypatch.setattr(
        tv_utils, "_urlretrieve", lambda url, path: fetched.append(url) or open(path, "wb").write(whole)
    )
    test = cifar10(train=False)
    assert isinstance(test, datasets.CIFAR10) and len(test) == 4
    assert fetched == [datasets.CIFAR10.url]  # from the start, into the same file
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{archive} is incomplete: 1,000 of 170,498,071 bytes (a download cut short?): downloading it again",
        f"data: CIFAR-10 from {home / 'dataset'}",
    ]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_cifar10_url_mirror_over_http_replaces_a_partial_archive(home, monkeypatch, capsys):
    """CIFAR10_URL: an http:// mirror with a port (the probe tries that port), set the way Windows cmd
    keeps it (`set CIFAR10_URL="..."`: with the quotes); a value that is no address is one line."""
    served = home / "mirror"
    batches = make_cifar10_archive(served, monkeypatch)
    make_cifar10_archive(home / "dataset", monkeypatch)
    cut_short(home / "dataset" / datasets.CIFAR10.filename, 1000)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("CIFAR10_URL", f'"http://127.0.0.1:{server.server_address[1]}/cifar-10-python.tar.gz"')
    try:
        test = cifar10(train=False)
    finally:
        server.shutdown()
        server.server_close()
    assert test.targets == batches["test_batch"][1]
    assert "downloading it again" in capsys.readouterr().out
    monkeypatch.setenv("CIFAR10_URL", "mirror.example.com/cifar-10-python.tar.gz")
    shutil.rmtree(home / "dataset")
    with pytest.raises(
        LessonError,
        match="CIFAR10_URL=mirror.example.com/cifar-10-python.tar.gz: expected the http:// or https:// address",
    ):
        cifar10(train=False)


def test_damaged_unpacked_copy_is_unpacked_again_or_named_never_downloaded_offline(home, attempts, monkeypatch):
    batches = make_cifar10_archive(home / "dataset", monkeypatch)
    cifar10(train=False, download=False)  # unpacked from the archive
    batch = home / "dataset" / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:50])
    # the whole archive is still there: torchvision unpacks it again, with no network
    train = cifar10(train=True, download=False)
    assert len(train) == 10
    assert np.array_equal(train.data[4:6].transpose(0, 3, 1, 2).reshape(2, -1), batches["data_batch_3"][0])
    # without it: one line names the damaged file, and no download starts
    (home / "dataset" / datasets.CIFAR10.filename).unlink()
    batch.write_bytes(b"")
    with pytest.raises(
        LessonError,
        match=re.escape(
            f"{batch.parent} is incomplete (data_batch_3 fails its MD5 check); --offline does not download it again"
        ),
    ):
        cifar10(train=True, download=False)
    assert not attempts


def test_the_course_read_data_folders_in_dataset_are_not_taken_for_cifar10(home, attempts, capsys):
    """P6-P7 (read_data) leave dataset/train/ants_image, ants_label ... (or train/ants, train/bees):
    the CIFAR-10 lessons do not read them as CIFAR-10's class folders. A folder named with --data-root
    is still checked as CIFAR-10 pictures, so its missing classes are named."""
    for folder in ("ants_image", "bees_image", "ants", "bees"):
        picture(home / "dataset" / "train" / folder / "0.jpg", (90, 90, 90))
    (home / "dataset" / "train" / "ants_label").mkdir()
    test = cifar10(train=False)
    assert runs.is_bundled_sample(test) and len(test) == 500
    assert "could not download CIFAR-10 (no network) -> using the bundled sample" in capsys.readouterr().out
    mine = home / "mine"
    shutil.copytree(home / "dataset", mine)
    with pytest.raises(LessonError, match="missing class folder.*airplane"):
        cifar10(mine, train=True)
    with pytest.raises(LessonError, match=f"{mine} has train/ but no test/"):
        cifar10(mine, train=False)


def test_ants_bees_unpacked_by_windows_extract_all_are_found(home, attempts):
    """全部解压缩 (Extract All) of hymenoptera_data.zip in dataset/ makes hymenoptera_data/hymenoptera_data/."""
    nested = home / "dataset" / "hymenoptera_data" / "hymenoptera_data"
    make_folder(nested, classes=["ants", "bees"])
    assert data.hymenoptera_root() == nested
    assert hymenoptera.train_image("bees", "1.jpg") == nested / "train" / "bees" / "1.jpg"
    assert not attempts


def test_ants_bees_zip_in_dataset_is_unpacked_offline_and_a_partial_one_is_one_line(home, attempts):
    make_folder(home / "made" / "hymenoptera_data", classes=["ants", "bees"])
    archive = home / "dataset" / "hymenoptera_data.zip"
    archive.parent.mkdir()
    shutil.make_archive(str(archive.with_suffix("")), "zip", home / "made", "hymenoptera_data")
    assert zipfile.is_zipfile(archive)
    assert data.hymenoptera_root(offline=True) == home / "dataset" / "hymenoptera_data"
    assert (home / "dataset" / "hymenoptera_data" / "val" / "ants" / "1.jpg").is_file()
    shutil.rmtree(home / "dataset" / "hymenoptera_data")
    size = len(cut_short(archive, 600))
    assert size > 600
    with pytest.raises(
        LessonError,
        match=re.escape(
            f"{archive} is not a whole zip file (600 bytes: a download cut short?): delete it and run again"
        ),
    ):
        data.hymenoptera_root()
    assert not attempts
