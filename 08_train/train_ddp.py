"""利用多个GPU训练 with DDP: each process trains on its share of the data, DDP averages their gradients.

Run:     torchrun --standalone --nproc_per_node=gpu 08_train/train_ddp.py   (every GPU here; README: more machines)
CPU:     torchrun --standalone --nproc_per_node=2 08_train/train_ddp.py     (2 processes, gloo; python: 1 process)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

import time

from common import _, cli, data
from common.beyond_course import amp, checkpoint, distributed, fastdata, models, pictures, recipe, runs
from common.beyond_course.recipe import LABEL_SMOOTHING, improved_optimizer, random_crop_flip
from common.model import CIFAR10_CLASSES, Tudui

import torch
import torch.distributed as dist
import torchvision
from torch import nn
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Subset
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

SCRIPT = Path(__file__).stem  # this file's name: its runs go to logs/<name>/ and checkpoints/<name>/


def main():
    p = cli.parser(__doc__, data="pictures")
    shown = {"epochs": "10 (course) / 24 (improved)", "lr": "0.01 (course) / 0.1 (improved)", "batch_size": 64}
    shown["batch_size"] = "64, the global batch: each of N processes takes 64/N"  # DDP (3)
    runs.add_train_args(p, shown)  # --epochs, --lr ... (shown: the defaults --help prints)
    distributed.add_join_timeout(p)  # --join-timeout SECONDS: how long to wait for the others to start
    args = amp.add_speed_args(recipe.add_recipe_args(p)).parse_args()
    # 定义训练的设备: the course's torch.device("cuda" if torch.cuda.is_available() else "cpu"), for any GPU
    job = distributed.start(args.device, args.join_timeout)  # DDP (1) join the other processes, (2) LOCAL_RANK's GPU
    rank, world_size, device = job.rank, job.world_size, job.device
    vars(args).update(distributed.restart_flags(SCRIPT, runs.run_flags(args)) if job.restarted else {})
    # beyond the course: --resume continues a run from its checkpoint, with that run's settings
    defaults, given = recipe.defaults(args.recipe), runs.given(args)  # the recipe's values, the flags given
    resumed = runs.load_for_resume(args.resume if rank == 0 else None, SCRIPT, defaults, given, args.checkpoint_dir)
    s = runs.settings(defaults, given, resumed)  # the flags, else the resumed run's, else the recipe's
    torch.manual_seed(s.seed + rank)  # different random crops per process; DDP copies rank 0's weights
    print(_("device: {0}, recipe: {1}, model: {2}, loader: {3}").format(device, s.recipe, s.model, args.loader))
    s.amp = amp.amp_precision(s.amp, device)  # beyond the course, --amp: "bfloat16", "float16" or "float32"
    s, resumed = distributed.from_rank0(s, resumed)  # DDP (6): rank 0's settings and checkpoint, for every process
    # 准备数据集 as in train.py; beyond the course: --data-root with your own pictures (DIR/<class>/ ...)
    if job.local_rank != 0:  # DDP: one process per machine downloads (and decodes) it, the others wait (no time limit)
        distributed.barrier()
    if s.data_root and not pictures.is_cifar10(s.data_root):
        train_data, test_data, classes = pictures.picture_data(
            s.data_root, limit=s.limit, val_fraction=args.val_fraction
        )
    else:
        root, classes = data.cifar10_root(s.data_root), CIFAR10_CLASSES
        dataset_transform = torchvision.transforms.ToTensor()
        try:
            with data.cifar10_download(root, offline=args.offline):
                train_data = torchvision.datasets.CIFAR10(root, train=True, transform=dataset_transform, download=True)
                test_data = torchvision.datasets.CIFAR10(root, train=False, transform=dataset_transform, download=True)
        except (OSError, RuntimeError) as exc:  # no network, --offline ...: the bundled sample, said in one line
            train_data = data.instead_of_download(exc, root, True, dataset_transform)
            test_data = data.instead_of_download(exc, root, False, dataset_transform)
        train_data, test_data = data.limit_dataset(train_data, s.limit), data.limit_dataset(test_data, s.limit)
    if job.local_rank == 0:
        if args.loader == "fast":
            fastdata.as_uint8_tensors(train_data), fastdata.as_uint8_tensors(test_data)  # fills the decode cache
        distributed.barrier()
    train_data_size, test_data_size = len(train_data), len(test_data)
    print(f"训练数据集的长度为: {train_data_size}, 测试数据集的长度为: {test_data_size}")
    trained_on = runs.note_data(train_data, s, resumed)  # on the bundled sample: what accuracy to expect
    # 利用 DataLoader 加载数据集 (--loader classic), or (beyond the course) the whole set as one tensor on the device
    local_batch = distributed.local_batch(s.batch_size, world_size)  # DDP (3): --batch-size is the global batch
    sampler = DistributedSampler(train_data, num_replicas=world_size, rank=rank, shuffle=True, seed=s.seed)
    test_data = Subset(test_data, range(rank, test_data_size, world_size))  # process r: r, r+N, ... (both sets)
    channels_last = args.channels_last and args.loader == "fast"
    if args.loader == "classic":
        train_dataloader = DataLoader(train_data, batch_size=local_batch, sampler=sampler)
        test_dataloader = DataLoader(test_data, batch_size=s.batch_size)
    else:
        train_dataloader, test_dataloader = fastdata.loaders(
            train_data, test_data, local_batch, device, channels_last, sampler
        )
    # 创建网络模型: the course's Tudui (common/model.py), or another --model (beyond the course)
    tudui = Tudui(len(classes)) if s.model == "tudui" else models.build_model(s.model, len(classes))
    if s.recipe == "improved" and device.type != "cpu":  # DDP (4): BatchNorm over the whole global batch
        tudui = nn.SyncBatchNorm.convert_sync_batchnorm(tudui)
    tudui = tudui.to(device)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING[s.recipe])  # 损失函数 (smoothing: improved)
    loss_fn = loss_fn.to(device)
    learning_rate = s.lr  # 优化器: the course's SGD; --recipe improved: momentum, weight decay, one-cycle schedule
    if s.recipe == "course":
        optimizer = torch.optim.SGD(tudui.parameters(), lr=learning_rate)
        scheduler = None
    else:
        optimizer, scheduler = improved_optimizer(tudui, learning_rate, s.epochs, len(train_dataloader))
    # beyond the course, --amp float16 only: GradScaler keeps small gradients from rounding to 0 in float16
    scaler = torch.amp.GradScaler(device.type) if s.amp == "float16" else None

    # 设置训练网络的一些参数
    total_train_step = 0  # 记录训练的次数
    total_test_step = 0  # 记录测试的次数
    epoch = s.epochs  # 训练的轮数
    start_epoch = resumed["epoch"] if resumed else 0  # (--resume: from where it ended)
    if resumed:  # beyond the course: --resume goes on where its checkpoint ended (P26 模型加载)
        with runs.loading(resumed):  # a checkpoint that does not fit: one line
            tudui.load_state_dict(resumed["model"])
            optimizer.load_state_dict(resumed["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(resumed["scheduler"])
            if scaler is not None:  # the factor the run had reached
                scaler.load_state_dict(resumed["scaler"])
            distributed.restore_rng(resumed, rank, world_size, device, s.seed)  # each process its own
            total_train_step, total_test_step = resumed["total_train_step"], resumed["total_test_step"]
        recipe.check_schedule(scheduler, s.epochs, len(train_dataloader), processes=world_size)
    if channels_last:  # beyond the course (README "Speed"), same results: NHWC, what conv kernels prefer
        tudui = tudui.to(memory_format=torch.channels_last)
    # DDP (5): wrap the model; training goes through ddp_model (it averages the gradients), testing through tudui
    ddp_model = DistributedDataParallel(tudui, device_ids=[device.index] if device.type == "cuda" else None)
    step_fn = torch.compile(ddp_model) if args.compile else ddp_model
    # beyond the course: logs/<script>/<time>[_<what differs>], the same under checkpoints/ (--resume: the run's)
    if rank == 0:  # DDP (6): only rank 0 writes curves, progress bars and checkpoints
        logdir, checkpoint_dir = runs.make_folders(SCRIPT, s, resumed, args.logdir, args.checkpoint_dir, args.overwrite)
        distributed.remember_run(SCRIPT, logdir, checkpoint_dir)  # for a restart
        writer = SummaryWriter(logdir, purge_step=total_train_step if resumed else None)  # 添加tensorboard
    ctrl_c = distributed.CtrlC(device)
    with runs.keep_finished_epochs(writer, checkpoint_dir, job.launcher) if rank == 0 else runs.silent_stop():
        for i in range(start_epoch, epoch):
            print(f"-------第 {i + 1} 轮训练开始-------")
            start, train_loss_sum = time.perf_counter(), torch.zeros((), device=device)  # (no GPU sync per step)
            sampler.set_epoch(i)  # DDP (3): a new shuffle each epoch, the same one in every process
            tudui.train()  # 训练步骤开始
            progress_bar = tqdm(train_dataloader, desc=f"epoch {i + 1}/{epoch}", leave=False, disable=rank != 0 or None)
            for imgs, targets in progress_bar:  # a progress bar around the loader (note 003 "4.8 tqdm")
                imgs = imgs.to(device)
                targets = targets.to(device)
                if s.augment:
                    imgs = random_crop_flip(imgs)
                with amp.autocast(device, s.amp):  # --amp: convolutions in the 16-bit float
                    outputs = step_fn(imgs)
                    loss = loss_fn(outputs, targets)
                # 优化器优化模型
                optimizer.zero_grad()
                if scaler is None:
                    loss.backward()
                    optimizer.step()
                else:  # --amp float16: the loss scaled up for backward(), the gradients back down for the step
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                if scheduler is not None:
                    scheduler.step()
                train_loss_sum += loss.detach() * len(targets)
                total_train_step = total_train_step + 1
                if rank == 0 and total_train_step % min(100, len(train_dataloader)) == 0:
                    print(f"训练次数: {total_train_step}, Loss: {loss.item():.4f}")
                    writer.add_scalar("train_loss", loss.item(), total_train_step)
                if total_train_step % 10 == 0 and ctrl_c.stop_now():  # DDP (8): all stop after the same step
                    raise KeyboardInterrupt

            for buffer in tudui.buffers():  # DDP: BatchNorm's running statistics (not averaged) from rank 0
                dist.broadcast(buffer, src=0)
            tudui.eval()  # 测试步骤开始
            total_test_loss = 0.0
            total_accuracy = 0
            with torch.no_grad():
                for imgs, targets in test_dataloader:
                    imgs = imgs.to(device)
                    targets = targets.to(device)
                    with amp.autocast(device, s.amp):
                        outputs = tudui(imgs).float()
                    total_test_loss += F.cross_entropy(outputs, targets, reduction="sum").item()  # per image
                    total_accuracy += (outputs.argmax(1) == targets).sum().item()
            sums = torch.tensor([total_test_loss, total_accuracy, float(train_loss_sum)], dtype=torch.double).to(device)
            dist.all_reduce(sums)  # DDP (7): adds up every process's sums: each knows the whole test set's
            total_test_loss, total_accuracy, train_loss_sum = sums.tolist()
            test_loss, test_accuracy = total_test_loss / test_data_size, total_accuracy / test_data_size
            print(f"整体测试集上的Loss: {test_loss:.4f}")
            print(f"整体测试集上的正确率: {test_accuracy:.4f}")
            if rank == 0:  # DDP (6)
                writer.add_scalar("test_loss", test_loss, total_test_step)
                writer.add_scalar("test_accuracy", test_accuracy, total_test_step)
            total_test_step = total_test_step + 1

            rng = distributed.rng_states(device)  # every process's random state (a collective: all call it)
            if rank != 0:  # DDP (6): rank 0 saves tudui (not ddp_model: no "module." prefix, any script loads it)
                continue
            # 保存每一轮的模型: a dict that torch.load(..., weights_only=True) reads safely, renamed when whole
            path, train_loss = checkpoint_dir / f"{s.model}_{i + 1}.pth", train_loss_sum / (len(sampler) * world_size)
            ckpt = {"arch": s.model, "classes": list(classes), "model": tudui.state_dict(), "epoch": i + 1}
            ckpt |= {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict() if scheduler else None}
            ckpt |= {"scaler": scaler.state_dict() if scaler else None, "rng_state": torch.get_rng_state()}
            ckpt |= {"world_size": world_size, **rng}  # DDP: every process's random state, for --resume
            ckpt |= {"total_train_step": total_train_step, "total_test_step": total_test_step}  # (--resume)
            ckpt |= {"test_accuracy": test_accuracy, "train_loss": train_loss, "settings": vars(s), "data": trained_on}
            ckpt |= {"script": SCRIPT, "logdir": str(logdir)}
            torch.save(ckpt, path.with_suffix(".tmp"))
            path.with_suffix(".tmp").replace(path)
            if s.model == "resnet34" and i > start_epoch:  # 85 MB each: keep only the newest
                (checkpoint_dir / f"{s.model}_{i}.pth").unlink(missing_ok=True)
            seconds = time.perf_counter() - start  # the epoch's loss, time, test results, checkpoint in one line
            spread = (test_data_size, world_size)  # DDP: the test images, split between the processes
            line = runs.epoch_line(i + 1, epoch, train_loss, seconds, (test_loss, test_accuracy), path.name, spread)
            print(line, flush=True)
    if rank == 0:  # DDP (6)
        writer.close()
        picture = None if classes is CIFAR10_CLASSES else pictures.files_of(test_data)[0]  # None: predict.py's dog
        print(f"next, the model on a picture: {checkpoint.predict_command(path, picture)}")
    print(f"final test accuracy: {test_accuracy:.4f}")
    dist.destroy_process_group()  # DDP (9): leave the group


if __name__ == "__main__":
    distributed.run(main)
