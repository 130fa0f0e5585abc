"""The learner's language (common/beyond_course/lang.py and its catalogues, issue 29).

Also a tool for whoever converts a file: ``python tests/test_lang.py`` prints, as .po entries
to fill in, every message of the code that locale/zh.po lacks.
"""

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common import cli  # noqa: E402
from common.beyond_course import lang  # noqa: E402

from helpers import CJK, Result, english_sentences, one_line_error  # noqa: E402

ZH = lang.LOCALE_DIR / "zh.po"

# The files whose every printed line is in the learner's language. The rest follow once the helpers
# rewriting them have merged (recipe: /work/wt/notes/i18n.md).
CONVERTED = sorted(
    [
        "01_dataset/read_data.py",
        "01_dataset/dataloader.py",
        "01_dataset/image_folder.py",
        "05_loss_optim/nn_loss.py",
        "05_loss_optim/nn_loss_network.py",
        "07_save_load/model_save.py",
        "01_dataset/install_check.py",
        "01_dataset/rename_dataset.py",
        "02_tensorboard/P8_Tensorboard.py",
        "03_transforms/P9_transforms.py",
        "03_transforms/P10_dataset_transform.py",
        "03_transforms/useful_transforms.py",
        "04_nn_layers/nn_conv.py",
        "04_nn_layers/nn_conv2d.py",
        "04_nn_layers/nn_linear.py",
        "04_nn_layers/nn_maxpool.py",
        "04_nn_layers/nn_module.py",
        "04_nn_layers/nn_other_layers.py",
        "04_nn_layers/nn_relu.py",
        "04_nn_layers/nn_rnn.py",
        "04_nn_layers/nn_seq.py",
        "04_nn_layers/nn_resnet.py",
        "05_loss_optim/nn_optim.py",
        "05_loss_optim/tensor_basics.py",
        "05_loss_optim/gradient_descent.py",
        "07_save_load/model_load.py",
        "common/__init__.py",
        "common/errors.py",
        "common/paths.py",
        "common/cli.py",
        "common/device.py",
        "common/images.py",
        "common/hymenoptera.py",
        "common/beyond_course/download.py",
        "common/beyond_course/checkpoint.py",
        "08_train/train.py",
        "08_train/train_gpu_1.py",
        "08_train/train_gpu.py",
        "08_train/train_ddp.py",
        "common/data.py",
        "common/beyond_course/runs.py",
        "common/beyond_course/recipe.py",
        "common/beyond_course/dataset_files.py",
        "common/beyond_course/amp.py",
        "common/beyond_course/fastdata.py",
        "09_inference/predict.py",
        "common/beyond_course/pictures.py",
        "common/beyond_course/transfer.py",
        "common/beyond_course/distributed.py",
        "06_pretrained/transfer_learning.py",
        "06_pretrained/model_pretrained.py",
        "06_pretrained/benchmark_transfer.py",
        "08_train/benchmark.py",
    ]
)


def code_messages(path):
    """The msgids of a file: the literal first arguments of _() and ngettext(), and, for a script
    that builds its --help from its docstring (cli.parser(__doc__ ...)), that summary and examples."""
    text = (REPO / path).read_text(encoding="utf-8")
    tree = ast.parse(text)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "ngettext"):
            n = 2 if node.func.id == "ngettext" else 1
            args = node.args[:n]
            if path == "common/cli.py" and isinstance(args[0], ast.Name):
                continue  # _(summary), _(examples): the scripts' docstrings, found below
            assert len(args) == n and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args), (
                f"{path}:{node.lineno}: _() takes a plain string literal (format it afterwards with .format)"
            )
            found.append(tuple(a.value for a in args) if n == 2 else args[0].value)
    if "cli.parser(__doc__" in text:
        found += [m for m in cli._help_parts(ast.get_docstring(tree, clean=False)) if m]
    return found


def catalogue(path=ZH):
    return {
        (e["msgid"], e["msgid_plural"]) if e["msgid_plural"] else e["msgid"]: e
        for e in lang.parse_po(path.read_text(encoding="utf-8"), path.name)
    }


def po_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", '\\n"\n"') + '"'


# -- choosing the language ---------------------------------------------------------------------------


def test_lessons_lang_overrides_the_system():
    assert lang.detect({"LESSONS_LANG": "zh", "LANG": "en_US.UTF-8"}, "linux") == "zh"
    assert lang.detect({"LESSONS_LANG": "en", "LANG": "zh_CN.UTF-8", "LANGUAGE": "zh_CN"}, "linux") == "en"
    assert lang.detect({"LESSONS_LANG": "en"}, "win32") == "en"  # before asking Windows


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "zh_TW.Big5"}, "zh"),
        ({"LANGUAGE": "zh_CN:en_US", "LANG": "en_US.UTF-8"}, "zh"),  # LANGUAGE first, its first entry
        ({"LC_ALL": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),  # LC_ALL before LANG
        ({"LC_MESSAGES": "zh_CN.GB2312", "LANG": "C"}, "zh"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "POSIX"}, "en"),
        ({}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),  # no French catalogue: English
        ({"LESSONS_LANG": "", "LANG": "zh_CN.UTF-8"}, "zh"),  # empty = unset
    ],
)
def test_the_system_language(environ, expected):
    assert lang.detect(environ, "linux") == expected


def test_windows_asks_for_the_users_display_language(monkeypatch):
    monkeypatch.setattr(lang, "_windows_ui_language", lambda: "zh_CN")
    assert lang.detect({"LANG": "en_US.UTF-8"}, "win32") == "zh"
    monkeypatch.setattr(lang, "_windows_ui_language", lambda: None)
    assert lang.detect({}, "win32") == "en"
    monkeypatch.undo()
    assert lang._windows_ui_language() is None  # here there is no ctypes.windll: no error, no language


# -- the catalogues ----------------------------------------------------------------------------------


def test_missing_or_incomplete_catalogue_falls_back_to_english(tmp_path):
    (tmp_path / "xx.po").write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "no network"\nmsgstr "kein Netz"\n\n'
        '#, fuzzy\nmsgid "no answer from the server"\nmsgstr "keine Antwort"\n\n'
        'msgid "could not load {path}: {problem}"\nmsgstr "{pfad} geht nicht"\n\n'
        'msgid "interrupted"\nmsgstr ""\n',
        encoding="utf-8",
    )
    t = lang.load("xx", tmp_path)
    assert t.gettext("no network") == "kein Netz"
    assert t.gettext("no answer from the server") == "no answer from the server"  # fuzzy: not used
    assert t.gettext("could not load {path}: {problem}") == "could not load {path}: {problem}"  # lost {path}
    assert t.gettext("interrupted") == "interrupted"  # untranslated
    assert t.gettext("usage: ") == "usage: "  # not in the file at all
    assert lang.load("fr", tmp_path).gettext("no network") == "no network"  # no file
    (tmp_path / "yy.po").write_text('msgid "a"\nmsgstr "b\n', encoding="utf-8")  # broken: English, no error
    assert lang.load("yy", tmp_path).gettext("a") == "a"


def test_the_compiler_writes_what_msgfmt_writes(tmp_path):
    mine = lang.compile_mo(lang.parse_po(ZH.read_text(encoding="utf-8")))
    if shutil.which("msgfmt"):
        subprocess.run(["msgfmt", "--no-hash", "-o", str(tmp_path / "zh.mo"), str(ZH)], check=True)
        assert (tmp_path / "zh.mo").read_bytes() == mine
    t = lang.load("zh")
    assert (
        t.gettext("usage: ") == "用法："
        and t.ngettext("expected %s argument", "expected %s arguments", 2) == "后面需要跟 %s 个值"
    )


def test_every_message_of_the_converted_files_is_in_chinese():
    entries = catalogue()
    header = entries.pop("")
    assert "charset=UTF-8" in header["msgstr"][0] and "nplurals=1" in header["msgstr"][0]
    missing = [(f, m) for f in CONVERTED for m in code_messages(f) if m not in entries]
    assert not missing, "not in zh.po (python tests/test_lang.py prints them):\n" + "\n".join(map(str, missing))
    for key, e in entries.items():
        assert not e["fuzzy"] and all(e["msgstr"]), f"untranslated: {key!r}"
        assert lang.usable(e), f"the translation of {key!r} does not keep its placeholders"


def test_no_message_in_the_catalogue_is_unused():
    import argparse

    argparse_words = set(re.findall(r"\b(?:_|ngettext)\(\s*'([^']*)'", Path(argparse.__file__).read_text()))
    used = {
        m
        for f in sorted(p.relative_to(REPO).as_posix() for p in REPO.rglob("*.py") if ".git" not in p.parts)
        for m in code_messages(f)
    }
    unused = [
        k for k in catalogue() if k and k not in used and (k[0] if isinstance(k, tuple) else k) not in argparse_words
    ]
    assert not unused, unused


if __name__ == "__main__":
    have = catalogue()
    files = sys.argv[1:] or sorted(p.relative_to(REPO).as_posix() for p in REPO.rglob("*.py") if ".git" not in p.parts)
    seen = set()
    for f in files:
        for m in code_messages(f):
            if m in have or m in seen:
                continue
            seen.add(m)
            print(f"#: {f}")
            if isinstance(m, tuple):
                print(f'msgid {po_string(m[0])}\nmsgid_plural {po_string(m[1])}\nmsgstr[0] ""\n')
            else:
                print(f'msgid {po_string(m)}\nmsgstr ""\n')


# -- what a learner sees -----------------------------------------------------------------------------

# the course's own Chinese (its section names and terms quoted in English lines and in --help)
COURSE_CHINESE = {
    "陷阱",
    "损失函数",
    "损失函数与反向传播",
    "网络模型的保存",
    "网络模型的读取",
    "类代码实战",
    "的使用",
    "梯度下降",
    "训练数据集的长度为",
    "测试数据集的长度为",
    "第",
    "轮训练开始",
    "训练次数",
    "整体测试集上的",
    "整体测试集上的正确率",
    "模型已保存",
    "固定特征提取",
    "微调",
    "从头训练",
    "现有网络模型的使用及修改",
}
ON_A_CHINESE_SYSTEM = {"LESSONS_LANG": "", "LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": "", "LANG": "zh_CN.UTF-8"}
ON_AN_ENGLISH_SYSTEM = dict(ON_A_CHINESE_SYSTEM, LANG="en_US.UTF-8")


def chinese_words(text):
    return [
        m
        for line in text.splitlines()
        for m in CJK.findall(line)
        if m not in COURSE_CHINESE and not set(m) <= set("（），：；。、")
    ]


# Each lesson once in each language, forked from the warm process (helpers.run_forked). Left out, for time:
# the full runs of useful_transforms, nn_conv2d, nn_maxpool, nn_rnn, nn_seq and gradient_descent (0.5-2 s each;
# nn_relu stands for the TensorBoard-image lessons, their lines are the same kind), model_save (its trap demo
# starts a fresh Python, ~3 s) and model_load (it needs model_save's files): their --help and one-line errors
# are here, their English output is asserted by their own test files, and every message they print is in
# zh.po with its placeholders (test_every_message_of_the_converted_files_is_in_chinese).
LESSON_RUNS = [
    ("01_dataset/install_check.py",),
    ("01_dataset/read_data.py", "--offline"),
    ("01_dataset/rename_dataset.py", "--offline"),
    ("01_dataset/image_folder.py", "--offline"),
    ("01_dataset/dataloader.py", "--offline", "--limit", "64", "--batch-size", "32"),
    ("02_tensorboard/P8_Tensorboard.py", "--offline"),
    ("03_transforms/P9_transforms.py", "--offline"),
    ("03_transforms/P10_dataset_transform.py", "--offline", "--limit", "20"),
    ("04_nn_layers/nn_module.py",),
    ("04_nn_layers/nn_conv.py",),
    ("04_nn_layers/nn_relu.py", "--offline", "--limit", "64", "--batches", "1"),
    ("04_nn_layers/nn_linear.py", "--offline", "--limit", "64", "--batches", "1"),
    ("04_nn_layers/nn_other_layers.py",),
    ("05_loss_optim/tensor_basics.py",),
    ("05_loss_optim/nn_loss.py",),
    ("05_loss_optim/nn_loss_network.py", "--offline", "--limit", "8", "--batches", "2"),
    ("05_loss_optim/nn_optim.py", "--offline", "--limit", "16", "--epochs", "1", "--batch-size", "8"),
    ("08_train/train_gpu.py", "--limit", "64", "--epochs", "1", "--offline"),  # the main job
    ("09_inference/predict.py",),
    ("06_pretrained/transfer_learning.py", "--offline", "--epochs", "1", "--ways", "feature"),
    ("05_loss_optim/nn_loss_network.py", "--help"),
    ("05_loss_optim/gradient_descent.py", "--help"),
    ("07_save_load/model_save.py", "--help"),
    ("07_save_load/model_load.py", "--help"),
    ("06_pretrained/model_pretrained.py", "--help"),  # its full run builds VGG16 twice (~15 s)
    ("08_train/benchmark.py", "--help"),
]


@pytest.mark.parametrize("run", LESSON_RUNS, ids=lambda r: " ".join(r))
def test_a_lesson_speaks_the_systems_language(run_script, run):
    zh = run_script(*run, env=ON_A_CHINESE_SYSTEM)
    assert zh.returncode == 0 and "Traceback" not in zh.stderr, zh
    assert not english_sentences(zh.stdout + zh.stderr), (english_sentences(zh.stdout + zh.stderr), zh)
    en = run_script(*run, env=ON_AN_ENGLISH_SYSTEM)
    assert en.returncode == 0, en
    assert not chinese_words(en.stdout + en.stderr), (chinese_words(en.stdout + en.stderr), en)
    if "--help" not in run:  # (help texts wrap differently)
        assert len(zh.lines) == len(en.lines)  # the same lines, each said once


BAD_INPUT = [  # (run, English needles, Chinese needles): each ends in one line in either language
    (
        ("05_loss_optim/nn_loss.py", "--bogus"),
        ["unrecognized arguments: --bogus (see --help)"],
        ["不认识的参数：--bogus（用法见 --help）"],
    ),
    (
        ("01_dataset/dataloader.py", "--limit", "0"),
        ["argument --limit: must be a whole number above 0, got '0'"],
        ["参数 --limit：应该是大于 0 的整数，但收到的是 '0'"],
    ),
    (("07_save_load/model_save.py", "--model", "resnet"), ["invalid choice: 'resnet'"], ["无效的选项：'resnet'"]),
    (
        ("01_dataset/dataloader.py", "--offline", "--data-root", "nowhere"),
        ["--data-root nowhere (", "does not exist"],
        ["--data-root nowhere (", "不存在"],
    ),
    (
        ("01_dataset/dataloader.py", "--offline", "--logdir", "a_file"),
        ["is a file, not a folder; give a folder"],
        ["是文件，不是文件夹；请给一个文件夹"],
    ),
    (
        ("04_nn_layers/nn_linear.py", "--offline", "--limit", "10"),
        ["only 10 test images: drop_last=True"],
        ["只有 10 张测试图片：drop_last=True 凑不出"],
    ),
    (
        ("07_save_load/model_load.py",),
        ["not found: run 07_save_load/model_save.py first"],
        ["请先运行 07_save_load/model_save.py"],
    ),
]


@pytest.mark.parametrize("run, en_needles, zh_needles", BAD_INPUT, ids=lambda r: " ".join(r) if r[0][0] != "[" else "")
def test_one_line_errors_in_both_languages(run_script, tmp_path, run, en_needles, zh_needles):
    (tmp_path / "a_file").write_text("not a folder")
    script = Path(run[0]).name
    en = run_script(*run, env=ON_AN_ENGLISH_SYSTEM)
    argparse_error = len(run) > 1 and run[1] != "--offline"
    prefix = f"{script}: error: " if argparse_error else "error: "
    one_line_error(en, *en_needles, prefix=prefix, zh=zh_needles, zh_env=ON_A_CHINESE_SYSTEM)  # and again in zh
    assert not chinese_words(en.stderr), en


def test_the_check_of_a_chinese_error_line_finds_english_left_in_it(tmp_path):
    """helpers.one_line_error's rule on made-up runs: the line in Chinese may keep the names the run was given
    and a library's own quoted words; an English sentence, an English line, a second line, another exit fail."""
    picture = tmp_path / "my cat.png"
    english = f"error: --image {picture} does not exist\n"

    def run(zh_stderr, zh_code=2, stderr=english):
        zh = Result(zh_code, "", zh_stderr + "\n", tmp_path)
        return Result(2, "", stderr, tmp_path, ["--image", picture], again=lambda env: zh)

    one_line_error(run(f"错误：--image {picture} 不存在"), "does not exist", zh=["不存在"])
    one_line_error(run(f"错误：{picture} 已损坏或不完整（image file is truncated (47 bytes not processed)）"))
    one_line_error(run("错误：--logdir /proc/x：无法写入 /proc（No such file or directory）；请换一个位置"))
    for wrong in [
        run(f"错误：--image {picture} does not exist"),  # untranslated, with the Chinese prefix
        run(english.strip()),  # all English
        run(f"错误：--image {picture} 不存在；please check the name"),  # half English
        run(f"错误：--image {picture} 不存在\nTraceback (most recent call last):"),
        run(f"错误：--image {picture} 不存在", zh_code=1),
        run(f"错误：--image {picture}"),  # no Chinese beyond the prefix
        run("", stderr=f"error: --image {picture} 不存在\n"),  # Chinese in the English line
    ]:
        with pytest.raises(AssertionError):
            one_line_error(wrong)


def test_a_name_the_console_cannot_encode_is_replaced_not_a_traceback(tmp_path):
    """Chinese Windows with output redirected (GBK): an emoji in a file name, through predict.py."""
    from helpers import SAMPLE, launcher, lesson_env

    folder = tmp_path / "照片"
    folder.mkdir()
    shutil.copy(SAMPLE / "test" / "cat" / "0000.jpg", folder / "猫🐱.jpg")
    out, err = tmp_path / "out", tmp_path / "err"  # raw bytes: helpers.run_forked reads them as UTF-8
    code = launcher.launch(
        str(REPO / "09_inference" / "predict.py"),
        [str(folder)],
        tmp_path,
        lesson_env(tmp_path, {"PYTHONIOENCODING": "gbk", "LESSONS_LANG": "zh"}),
        out,
        err,
        120,
    )
    out, err = out.read_bytes().decode("gbk"), err.read_bytes().decode("gbk")
    assert code == 0 and "Traceback" not in err, (out, err)
    assert any(line.startswith("猫?.jpg: cat") for line in out.splitlines()), out
