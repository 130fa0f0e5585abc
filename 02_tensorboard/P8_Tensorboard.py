"""TensorBoard的使用: draw curves with add_scalar and pictures with add_image.

Course P8-P9; note 000 "tensorboard" / "绘制函数writer.add_scalar()" /
"绘制图片SummaryWriter.add_image()", note 001 "二、记录日志：Tensorboard", note 003
"4.4 torch.utils.tenserBoard".

SummaryWriter writes event files into a folder; the tensorboard program reads
that folder and draws what is in it. Training scripts use the same two calls:
add_scalar for the loss curve, add_image to see what the model is fed.

Run:     python 02_tensorboard/P8_Tensorboard.py
Look:    tensorboard --logdir logs --port 6007      then open http://localhost:6007
         SCALARS: "y=x", "y=2x", "y=x^2" (the pale line is the raw curve, the dark one
         is smoothed: the Smoothing slider). IMAGES: "test", step 1 an ant, step 2 a bee.
Port busy?  Windows: netstat -ano | findstr 6007  then  tasklist | findstr <PID>
            macOS/Linux: lsof -i :6007             (or just pick another --port)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors, hymenoptera, paths

import numpy as np
from PIL import Image
from torch.utils.tensorboard import SummaryWriter


def main():
    p = cli.parser(__doc__, data="ants_bees", device=False)
    args = p.parse_args()

    # The course writes SummaryWriter("logs") relative to wherever Python was started;
    # here it is logs/02_tensorboard/P8_Tensorboard under the repository root.
    logdir = paths.lesson_logdir(__file__, args.logdir)
    writer = SummaryWriter(str(logdir))

    # add_scalar(tag, scalar_value, global_step): tag names the chart, scalar_value is y,
    # global_step is x. Each run adds a new event file to the same folder: rerun with a
    # changed formula but the same tag and TensorBoard draws both, so the curve zigzags.
    # Delete the folder (or use a new tag / --logdir) when you change what you log.
    for i in range(100):
        writer.add_scalar("y=x", i, i)
        writer.add_scalar("y=2x", 2 * i, i)
        writer.add_scalar("y=x^2", i**2, i)
    print(_("add_scalar: y=x, y=2x, y=x^2 for x = 0..99"))

    # add_image wants a torch.Tensor or numpy array (or an encoded string), not a PIL image,
    # so the course goes PIL -> numpy first.
    image_path = hymenoptera.train_image("ants", "0013035.jpg", offline=args.offline)  # the course's ant picture
    img_PIL = Image.open(image_path)
    img_array = np.array(img_PIL)
    print(f"{type(img_PIL).__name__} -> {type(img_array).__name__} {img_array.shape} {img_array.dtype}  (H, W, C)")

    # What goes wrong without dataformats: add_image assumes CHW (channels first, PyTorch's
    # layout), so it reads (H, W, 3) as H "channels" of a W x 3 picture, and fails.
    try:
        writer.add_image("wrong", img_array, 0)
        print(_("add_image without dataformats: no error?!"))
    except Exception as exc:  # Pillow raises TypeError: it cannot build a 133-channel picture
        print(_("add_image without dataformats fails: {problem}").format(problem=f"{type(exc).__name__}: {exc}"))

    # dataformats="HWC" says where the channels are; step 1 and 2 show as a slider
    writer.add_image("test", img_array, 1, dataformats="HWC")
    bee = np.array(Image.open(hymenoptera.train_image("bees", "16838648_415acd9e3f.jpg", offline=args.offline)))
    writer.add_image("test", bee, 2, dataformats="HWC")
    print(
        _("add_image(dataformats='HWC'): tag 'test', step 1 ant {ant}, step 2 bee {bee}").format(
            ant=img_array.shape, bee=bee.shape
        )
    )
    writer.close()  # flushes everything to disk

    print(_("event files in {folder}").format(folder=logdir))
    # quoted as your shell needs it, so a folder like D:\我的 课程 pastes back as one argument
    print(
        _("view them: {command}").format(
            command=f"tensorboard --logdir {paths.shell_arg(args.logdir or paths.LOGS_DIR)} --port 6007"
        )
    )


if __name__ == "__main__":
    errors.run(main)
