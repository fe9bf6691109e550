"""Pretrains the Shapes VLM contrastively on a Shapes captions split.

    /usr/bin/python3 eng/shapes-vlm/pretrain.py --data DATA --merges merges.txt \\
        --templates templates.txt --out weights.pt [--steps 6000] [--max-minutes 45] [--workers 2] --seed 0

Losses, each a multi-positive symmetric InfoNCE between image-side embeddings and the step's texts
(one prompt per category, a template around the class name, plus the generator's coloured caption
for a quarter of the objects; a text is a positive for an object when it names the object's
category and either no colour or the object's colour):

* crop loss: crops at the pretraining size through the image tower and attention pooling;
* region loss (RegionCLIP-style, ``--region-weight``, from ``--region-start`` of the run on):
  whole scenes at their own size, each annotated box RoIAlign-ed from C5 and attention-pooled.
  It uses the labels the crops carry (each object's caption), nothing else;
* prompt spread: mean squared cosine between the category prompts, so class names separate in
  the text tower from the start.

Speed on CPU: the image tower runs channels-last (oneDNN convolutions), the text tower only up to
the step's longest text, once per step for crops and regions together, and ``--workers`` processes
of one thread each split every step's crops and scenes and average their gradients over gloo
(two workers ran 1.36x faster than one process of two threads: docs/shapes-vlm.md).

The run ends at ``--steps`` or after ``--max-minutes``, whichever comes first; the learning-rate
schedule follows the larger fraction. Ended by steps, it is deterministic for a seed on one machine
and thread count. BatchNorm statistics are re-estimated on crops and scenes at the end. Prints the
pretraining time.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import List, Tuple

import torch
import torch.distributed as dist
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from clip_bpe import ClipBpeTokenizer  # noqa: E402
from shapes_clip import (Clip, clip_init, crop_embeddings, normalize,  # noqa: E402
                         region_embeddings, shapes_config, text_embeddings)
from shapes_data import Picture, Split, load_split, read_templates  # noqa: E402


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


class CaptionSampler:
    """Texts of a step: one prompt per category without colour ("a hexagon", or a prompt template
    around the name) and, for a ``1 - drop_color`` share of the objects, the caption as the
    generator writes it ("a red hexagon"). Objects share texts, which keeps the text batch small."""

    def __init__(self, names: List[str], templates: List[str], rng: random.Random, drop_color: float) -> None:
        self.names, self.templates, self.rng, self.drop_color = names, templates, rng, drop_color

    def prompt(self, category: int) -> Tuple[str, int, str]:
        name = self.names[category]
        if self.rng.random() < 0.25:
            return f"{article(name)} {name}", category, ""
        return self.rng.choice(self.templates).replace("{}", name), category, ""

    def texts(self, objects: List[Tuple[int, str]]) -> List[Tuple[str, int, str]]:
        """Unique (text, category, colour or "") triples."""
        items = [self.prompt(k) for k in range(len(self.names))]
        for category, color in objects:
            if self.rng.random() >= self.drop_color:
                items.append((f"{article(color)} {color} {self.names[category]}", category, color))
        seen, unique = set(), []
        for item in items:
            if item[0] not in seen:
                seen.add(item[0])
                unique.append(item)
        return unique


def contrastive_loss(image: torch.Tensor, cats: torch.Tensor, colors: List[str], texts: List[Tuple[str, int, str]],
                     text_emb: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Multi-positive symmetric InfoNCE; positives: same category and (no colour or same colour)."""
    t_cat = torch.tensor([t[1] for t in texts])
    palette = {c: i for i, c in enumerate(sorted(set(colors) | {t[2] for t in texts}))}
    i_col = torch.tensor([palette[c] for c in colors])
    t_col = torch.tensor([palette[t[2]] for t in texts])
    colorless = torch.tensor([t[2] == "" for t in texts])
    pos = (cats.view(-1, 1) == t_cat.view(1, -1)) & (colorless.view(1, -1) | (i_col.view(-1, 1) == t_col.view(1, -1)))
    logits = scale * F.normalize(image, dim=-1) @ F.normalize(text_emb, dim=-1).t()
    neg_inf = torch.finfo(logits.dtype).min
    i2t = torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(~pos, neg_inf), 1)
    has = pos.any(0)
    lt, pt = logits.t()[has], pos.t()[has]
    t2i = torch.logsumexp(lt, 1) - torch.logsumexp(lt.masked_fill(~pt, neg_inf), 1)
    hit = pos.gather(1, logits.argmax(1, keepdim=True)).float().mean()
    return 0.5 * (i2t.mean() + t2i.mean()), hit


def prompt_spread(prompts: torch.Tensor) -> torch.Tensor:
    """Mean squared cosine between the category prompts of a step (one per category, all
    different names): pushes class names apart in the text tower from the start, so the image
    tower gets a class signal before the towers have agreed on anything (otherwise both first
    learn the easy colour words and the names stay nearly collinear for hundreds of steps)."""
    u = F.normalize(prompts, dim=-1)
    sim = u @ u.t()
    off = ~torch.eye(len(u), dtype=torch.bool)
    return sim[off].pow(2).mean()


def lr_at(step: int, progress: float, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, times a cosine decay over the run's progress (0 to 1)."""
    return min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def make_optimizer(model: Clip, lr: float, text_lr: float, wd: float) -> torch.optim.Optimizer:
    groups = {("v", True): [], ("v", False): [], ("t", True): [], ("t", False): []}
    for name, p in model.named_parameters():
        tower = "v" if name.startswith("visual.") else "t"
        decay = p.ndim >= 2 and "embedding" not in name
        groups[(tower, decay)].append(p)
    return torch.optim.AdamW([
        {"params": groups[("v", True)], "lr": lr, "weight_decay": wd, "base_lr": lr},
        {"params": groups[("v", False)], "lr": lr, "weight_decay": 0.0, "base_lr": lr},
        {"params": groups[("t", True)], "lr": text_lr, "weight_decay": wd, "base_lr": text_lr},
        {"params": groups[("t", False)], "lr": text_lr, "weight_decay": 0.0, "base_lr": text_lr},
    ], betas=(0.9, 0.98), eps=1e-6)


def train(args: argparse.Namespace) -> None:
    """Loads the split once, then runs ``args.workers`` data-parallel workers (forked, so they share
    the loaded pixels) or, for one worker, trains in this process."""
    if args.batch % args.workers or args.scenes % args.workers:
        raise ValueError(f"--batch ({args.batch}) and --scenes ({args.scenes}) must be multiples of --workers ({args.workers})")
    # One intra-op thread per worker, set before any tensor work: a process forked after OpenMP has
    # started its thread pool can hang in the child.
    torch.set_num_threads(args.threads if args.workers == 1 else 1)
    data = load_data(args)
    if args.workers == 1:
        run_worker(0, args, data)
        return
    rendezvous = tempfile.mkdtemp(prefix="pretrain-")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=run_worker, args=(rank, args, data, os.path.join(rendezvous, "init")))
               for rank in range(args.workers)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    shutil.rmtree(rendezvous, ignore_errors=True)
    failed = [rank for rank, w in enumerate(workers) if w.exitcode != 0]
    if failed:
        raise SystemExit(f"pretraining worker(s) {failed} failed (exit codes {[workers[r].exitcode for r in failed]})")


@dataclass
class PretrainData:
    split: Split
    templates: List[str]
    crop_px: torch.Tensor        # uint8 [N, 3, s, s]
    crop_cat: torch.Tensor       # [N] category indices
    crop_col: List[str]
    scenes: List[Picture]


def load_data(args: argparse.Namespace) -> PretrainData:
    split = load_split(args.data, args.max_images)
    crops = split.crops()
    return PretrainData(split, read_templates(args.templates), torch.stack([p.pixels for p in crops]),
                        torch.tensor([p.instances[0].category for p in crops]),
                        [p.instances[0].color for p in crops], split.scenes())


class GradientAverager:
    """Data parallelism over gloo without DistributedDataParallel (the towers are called piecewise,
    not through one forward): after each backward, every worker's gradients are summed in one
    flat all-reduce and divided by the number of workers. Parameters start equal (same seed, then
    a broadcast from rank 0), so they stay equal."""

    def __init__(self, model: Clip, world: int) -> None:
        self.params = list(model.parameters())
        self.world = world
        for p in self.params:
            dist.broadcast(p.data, 0)

    def check_equal(self) -> None:
        """Raises if this worker's parameters differ from rank 0's (they must not drift apart)."""
        mine = torch.cat([p.data.reshape(-1) for p in self.params])
        lead = mine.clone()
        dist.broadcast(lead, 0)
        if not torch.equal(mine, lead):
            raise RuntimeError(f"worker {dist.get_rank()}: parameters differ from worker 0's by up to {float((mine - lead).abs().max())}")

    def average(self) -> None:
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for p in self.params:
            mean = flat[offset:offset + p.numel()].view_as(p)
            if p.grad is None:
                p.grad = mean.clone()
            else:
                p.grad.copy_(mean)
            offset += p.numel()


def run_worker(rank: int, args: argparse.Namespace, data: PretrainData, rendezvous: str = "") -> None:
    world = args.workers
    if world > 1:
        dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world)
    lead = rank == 0
    torch.manual_seed(args.seed)
    tok = ClipBpeTokenizer.from_file(args.merges)
    split, crop_px, crop_cat, crop_col, scenes = data.split, data.crop_px, data.crop_cat, data.crop_col, data.scenes
    size = crop_px.shape[-1]
    if lead:
        print(f"pretrain: {len(crop_px)} crops ({size} px), {len(scenes)} scenes, {len(split.categories)} categories, "
              f"vocabulary {tok.vocab_size}; {world} worker(s) x {torch.get_num_threads()} thread(s)", flush=True)
    model = Clip(shapes_config(tok.vocab_size, image_resolution=size, context_length=args.context_length))
    clip_init(model)
    model.logit_scale.data.fill_(math.log(1 / args.init_temperature))
    if args.init:
        model.load_state_dict(torch.load(args.init, map_location="cpu")["state_dict"])
    if args.channels_last:
        model.visual.to(memory_format=torch.channels_last)
    averager = GradientAverager(model, world) if world > 1 else None
    # Each worker draws its own share of the step's crops and scenes (rank 0 draws what one worker would).
    torch.manual_seed(args.seed + 1_000_003 * rank)
    rng = random.Random(args.seed + 1_000_003 * rank)
    opt = make_optimizer(model, args.lr, args.text_lr, args.weight_decay)

    def to_layout(pixels: torch.Tensor) -> torch.Tensor:
        return pixels.contiguous(memory_format=torch.channels_last) if args.channels_last else pixels
    sampler = CaptionSampler(split.categories, data.templates, rng, args.drop_color)
    n_cats = len(split.categories)
    batch, n_scenes = args.batch // world, args.scenes // world
    budget = args.max_minutes * 60 if args.max_minutes > 0 else float("inf")
    start = time.time()
    log = []
    model.train()
    step, progress = 0, 0.0
    while progress < 1.0:
        f = lr_at(step, progress, args.warmup)
        for g in opt.param_groups:
            g["lr"] = g["base_lr"] * f
        idx = torch.randint(len(crop_px), (batch,))
        px = crop_px[idx]
        flip = torch.rand(len(idx)) < 0.5
        px[flip] = px[flip].flip(-1)
        objects = [(int(crop_cat[i]), crop_col[i]) for i in idx]
        regions = args.region_weight > 0 and progress >= args.region_start and scenes
        if regions:
            chosen = [scenes[rng.randrange(len(scenes))] for _ in range(n_scenes)]
            robj = [(inst.category, inst.color) for s in chosen for inst in s.instances]
        # One text batch for crops and regions: the text tower runs once per step.
        texts = sampler.texts(objects + robj if regions else objects)
        t_emb = text_embeddings(model, tok, [t[0] for t in texts])
        scale = model.logit_scale.exp().clamp(max=100)
        img = crop_embeddings(model, to_layout(px))
        loss_c, acc_c = contrastive_loss(img, crop_cat[idx], [o[1] for o in objects], texts, t_emb, scale)
        loss = loss_c + args.spread_weight * prompt_spread(t_emb[:n_cats])
        loss_r, acc_r = torch.zeros(()), torch.zeros(())
        if regions:
            spx = torch.stack([s.pixels for s in chosen])
            boxes = [torch.tensor([inst.box for inst in s.instances]) for s in chosen]
            if rng.random() < 0.5:
                w = spx.shape[-1]
                spx = spx.flip(-1)
                boxes = [torch.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], 1) for b in boxes]
            c5 = model.visual.features(normalize(to_layout(spx)))[-1]
            reg = region_embeddings(model, c5.contiguous(), boxes)
            loss_r, acc_r = contrastive_loss(reg, torch.tensor([o[0] for o in robj]), [o[1] for o in robj], texts, t_emb, scale)
            loss = loss + args.region_weight * loss_r
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if averager:
            averager.average()
        opt.step()
        el = time.time() - start
        if world > 1:
            # The lead's clock decides, so every worker takes the same branches and stops together.
            clock = torch.tensor([el], dtype=torch.float64)
            dist.broadcast(clock, 0)
            el = float(clock)
        progress = max((step + 1) / args.steps, el / budget)
        if lead and (step % args.log_every == 0 or progress >= 1.0):
            entry = {"step": step, "progress": round(progress, 4), "loss_crop": round(float(loss_c), 4), "loss_region": round(float(loss_r), 4),
                     "acc_crop": round(float(acc_c), 3), "acc_region": round(float(acc_r), 3),
                     "scale": round(float(scale), 2), "elapsed_s": round(el, 1)}
            log.append(entry)
            print(json.dumps(entry), flush=True)
        if lead and args.checkpoint_every and step > 0 and step % args.checkpoint_every == 0:
            save(model, args, log, time.time() - start, True, crop_px, scenes)
        step += 1
    if averager:
        averager.check_equal()
    if lead:
        save(model, args, log, time.time() - start, False, crop_px, scenes)
        elapsed = time.time() - start
        ended = "step budget" if step >= args.steps else f"time budget of {args.max_minutes} min"
        print(f"pretraining time: {elapsed / 60:.1f} min ({elapsed:.0f} s), {step} steps, {world} worker(s) x "
              f"{torch.get_num_threads()} thread(s), ended by the {ended} (BatchNorm calibration included)", flush=True)
    if world > 1:
        dist.destroy_process_group()


@torch.no_grad()
def calibrate_batch_norm(model: Clip, crop_px: torch.Tensor, scenes, batches: int, seed: int) -> None:
    """Re-estimates BatchNorm running statistics as plain averages over ``batches`` crop batches
    and as many scene batches, so the frozen graphs see statistics of both kinds of input (the
    momentum averages of training lean towards whichever kind came last in a step)."""
    generator = torch.Generator().manual_seed(seed)
    norms = [m for m in model.visual.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for _ in range(batches):
        idx = torch.randint(len(crop_px), (256,), generator=generator)
        model.visual.features(normalize(crop_px[idx]))
        if scenes:
            pick = torch.randint(len(scenes), (8,), generator=generator)
            model.visual.features(normalize(torch.stack([scenes[int(i)].pixels for i in pick])))
    for m, momentum in zip(norms, saved):
        m.momentum = momentum


def save(model: Clip, args: argparse.Namespace, log, elapsed: float, partial: bool, crop_px, scenes) -> None:
    target = copy.deepcopy(model)
    if args.calibration_batches > 0:
        calibrate_batch_norm(target, crop_px, scenes, args.calibration_batches, args.seed)
    target.eval()
    state = {"config": target.config.to_dict(), "state_dict": target.state_dict(),
             "args": vars(args), "log": log, "elapsed_s": elapsed, "partial": partial}
    torch.save(state, args.out + (".partial" if partial else ""))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Pretrain the Shapes VLM (small CLIP) on a Shapes captions split.")
    p.add_argument("--data", required=True, help="captions split folder (captions.json + captions/)")
    p.add_argument("--merges", required=True, help="BPE merges file (learn_bpe.py)")
    p.add_argument("--templates", required=True, help="prompt templates file")
    p.add_argument("--out", required=True, help="weights file to write (config + state dict)")
    p.add_argument("--max-images", type=int, default=0, help="use only the first N images of the split (0: all)")
    p.add_argument("--init", help="start from a weights file written by this script (continued pretraining)")
    p.add_argument("--steps", type=int, default=9000, help="step budget")
    p.add_argument("--max-minutes", type=float, default=0,
                   help="time budget: the schedule's progress is the larger of steps and time used (0: steps only, deterministic)")
    p.add_argument("--batch", type=int, default=128, help="crops per step")
    p.add_argument("--scenes", type=int, default=12, help="scenes per step for the region loss")
    p.add_argument("--region-weight", type=float, default=1.0, help="0 disables the region-caption loss")
    p.add_argument("--region-start", type=float, default=0.2, help="progress (0 to 1) at which the region loss starts")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--text-lr", type=float, default=3e-3)
    p.add_argument("--init-temperature", type=float, default=0.07, help="initial logit temperature (CLIP: 0.07)")
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--spread-weight", type=float, default=1.0, help="weight of the category-prompt spread loss")
    p.add_argument("--drop-color", type=float, default=0.75, help="fraction of captions without their colour word")
    p.add_argument("--context-length", type=int, default=16)
    p.add_argument("--calibration-batches", type=int, default=10,
                   help="crop and scene batches for the final BatchNorm statistics (0: keep training's)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                   help="image tower in channels-last layout (oneDNN convolutions; same model, about 1.4x faster on CPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="intra-op threads (one worker; several workers use one each)")
    p.add_argument("--workers", type=int, default=1,
                   help="data-parallel worker processes (gloo); --batch and --scenes are split between them")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--checkpoint-every", type=int, default=0, help="also save OUT.partial every N steps")
    return p.parse_args(argv)


if __name__ == "__main__":
    train(parse_args())
