"""PyTorch side of `xfer finetune`: three small networks, the fine-tuning protocol, the
ONNX export and the data loaders, shared by tests/ref/gen_finetune.py (fixtures) and
bench/finetune.py (timing). PyTorch here is the independent reference the C code is
compared with; nothing in this file calls xfer.

Networks (all take (N, 1, H, W) and end in GlobalAveragePool -> Flatten -> Linear `head`;
`width` scales every channel count, H and W are free because of the global pool):
  resnet     3x3 stem conv + BN + ReLU, 3 stages of basic blocks (16/32/64 at width 1),
             a stride-2 stage start has a 1x1 conv + BN skip; D = 64*width.
  mobilenet  MobileNetV2-style (Sandler et al. 2018): stem conv + BN + ReLU6, inverted
             residuals (1x1 expand + BN + ReLU6, depthwise 3x3 groups=C + BN + ReLU6,
             1x1 project + BN, identity residual when shapes match), 1x1 conv to the
             last width + BN + ReLU6; D = 128*width.
  groupnorm  plain conv net, GroupNorm (Wu & He 2018) instead of BatchNorm, ReLU, one
             residual block at each of the first two widths; D = 64*width.

Protocol (identical to xfer's, seeds aside): the final classifier is replaced by a new
Linear(D, C) with nn.Linear's default init, U(-1/sqrt(D), 1/sqrt(D)) for weight and bias;
mode `full` trains everything with BatchNorm in train mode, mode `head` trains only the new
Linear with the backbone frozen in eval mode. SGD momentum 0.9 (buf = g on the first step,
then buf = 0.9 buf + g; p -= lr buf), weight decay 0, batch 64, a fresh random permutation
each epoch, the last partial batch used if it has >= 2 images, cosine learning rate per
step lr_t = 0.5 lr (1 + cos(pi t / T)), t = 0..T-1. The learning rate is chosen among
LRS on a class-stratified 80/20 split of the training images (best validation accuracy,
ties to the first listed), then the model is retrained from the pretrained weights on all
training images and the test accuracy reported. Images are uint8 / 255, no normalisation.

Randomness of one protocol run (`protocol(..., seed)`): one torch.Generator seeded with
`seed` draws, in order, the split (one permutation per class, classes in ascending order),
then for each training run (the sweep's lrs in order, then the retrain) the head init
(weight then bias) and the per-epoch permutations.
"""
import copy
import gzip
import io
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LRS = (0.1, 0.03, 0.01)
MOMENTUM = 0.9
BATCH = 64
VAL_FRACTION = 0.2
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
DIGITS_CSV = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"


# ---------------------------------------------------------------- networks

class BasicBlock(nn.Module):
    """He et al. 2016 basic block: conv3x3-BN-ReLU-conv3x3-BN + skip, ReLU."""

    def __init__(self, cin, c, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.skip = None
        if stride != 1 or cin != c:
            self.skip = nn.Sequential(nn.Conv2d(cin, c, 1, stride, 0, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + (x if self.skip is None else self.skip(x)))


class ResNet(nn.Module):
    def __init__(self, classes=10, width=1, blocks=1):
        super().__init__()
        w = [16 * width, 32 * width, 64 * width]
        self.stem = nn.Sequential(nn.Conv2d(1, w[0], 3, 1, 1, bias=False), nn.BatchNorm2d(w[0]), nn.ReLU())
        layers, cin = [], w[0]
        for s, c in enumerate(w):
            for k in range(blocks):
                layers.append(BasicBlock(cin, c, 2 if (s > 0 and k == 0) else 1))
                cin = c
        self.stages = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.head = nn.Linear(cin, classes)

    def forward(self, x):
        return self.head(self.flatten(self.pool(self.stages(self.stem(x)))))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand-BN-ReLU6, depthwise 3x3-BN-ReLU6, 1x1 project-BN."""

    def __init__(self, cin, c, stride, expand):
        super().__init__()
        e = cin * expand
        self.body = nn.Sequential(
            nn.Conv2d(cin, e, 1, 1, 0, bias=False), nn.BatchNorm2d(e), nn.ReLU6(),
            nn.Conv2d(e, e, 3, stride, 1, groups=e, bias=False), nn.BatchNorm2d(e), nn.ReLU6(),
            nn.Conv2d(e, c, 1, 1, 0, bias=False), nn.BatchNorm2d(c))
        self.residual = stride == 1 and cin == c

    def forward(self, x):
        h = self.body(x)
        return x + h if self.residual else h


class MobileNet(nn.Module):
    # (output channels at width 1, stride, expansion) per inverted residual
    CONFIG = ((16, 1, 4), (24, 2, 4), (24, 1, 4), (32, 2, 4), (32, 1, 4))

    def __init__(self, classes=10, width=1):
        super().__init__()
        cin = 16 * width
        self.stem = nn.Sequential(nn.Conv2d(1, cin, 3, 1, 1, bias=False), nn.BatchNorm2d(cin), nn.ReLU6())
        blocks = []
        for c, s, t in self.CONFIG:
            blocks.append(InvertedResidual(cin, c * width, s, t))
            cin = c * width
        self.blocks = nn.Sequential(*blocks)
        last = 128 * width
        self.last = nn.Sequential(nn.Conv2d(cin, last, 1, 1, 0, bias=False), nn.BatchNorm2d(last), nn.ReLU6())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.head = nn.Linear(last, classes)

    def forward(self, x):
        return self.head(self.flatten(self.pool(self.last(self.blocks(self.stem(x))))))


class GNResidual(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.gn1 = nn.GroupNorm(groups, c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.gn2 = nn.GroupNorm(groups, c)

    def forward(self, x):
        h = F.relu(self.gn1(self.conv1(x)))
        return F.relu(x + self.gn2(self.conv2(h)))


class GroupNormNet(nn.Module):
    def __init__(self, classes=10, width=1, groups=4):
        super().__init__()
        w = [16 * width, 32 * width, 64 * width]

        def conv_gn(cin, c, stride):
            return nn.Sequential(nn.Conv2d(cin, c, 3, stride, 1, bias=False), nn.GroupNorm(groups, c), nn.ReLU())

        self.features = nn.Sequential(
            conv_gn(1, w[0], 1), GNResidual(w[0], groups),
            conv_gn(w[0], w[1], 2), GNResidual(w[1], groups),
            conv_gn(w[1], w[2], 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.head = nn.Linear(w[2], classes)

    def forward(self, x):
        return self.head(self.flatten(self.pool(self.features(x))))


NETS = {"resnet": ResNet, "mobilenet": MobileNet, "groupnorm": GroupNormNet}


def make_net(name, classes=10, width=1):
    return NETS[name](classes=classes, width=width)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def has_batchnorm(model):
    return any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


# ---------------------------------------------------------------- data

def read_idx(path):
    """IDX (LeCun's MNIST format): magic 0 0 dtype ndim, big-endian int32 dims, data."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    nd = data[3]
    dims = np.frombuffer(data, dtype=">i4", count=nd, offset=4).astype(np.int64)
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(tuple(dims))


def load_fashion(split="train"):
    """Fashion-MNIST as (uint8 (N, 28, 28), int64 (N,))."""
    pre = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(FASHION_DIR, "%s-images-idx3-ubyte.gz" % pre))
    y = read_idx(os.path.join(FASHION_DIR, "%s-labels-idx1-ubyte.gz" % pre)).astype(np.int64)
    return x, y


def load_digits():
    """sklearn's digits: (float64 (1797, 8, 8) in [0, 1] (counts / 16), int64 labels)."""
    with gzip.open(DIGITS_CSV, "rt") as f:
        a = np.loadtxt(f, delimiter=",")
    return (a[:, :64] / 16.0).reshape(-1, 8, 8), a[:, 64].astype(np.int64)


def resize(x, hw, mode):
    """(N, h, w) floats in [0, 1] -> float32 (N, 1, hw, hw) with F.interpolate: `area`
    (averages over the source footprint, for downsampling) or `bilinear`
    (align_corners=False, for upsampling)."""
    t = torch.from_numpy(np.asarray(x, dtype=np.float32))[:, None]
    if mode == "area":
        return F.interpolate(t, size=(hw, hw), mode="area").numpy()
    return F.interpolate(t, size=(hw, hw), mode="bilinear", align_corners=False).clamp_(0, 1).numpy()


def to_uint8(x):
    """float [0, 1] -> uint8 round(255 x): the stored form xfer reads (then / 255)."""
    return np.clip(np.rint(255.0 * x), 0, 255).astype(np.uint8)


def class_balanced(y, per_class, rng, exclude=None):
    """Indices of `per_class` images of each class, drawn without replacement by rng,
    avoiding `exclude`; sorted."""
    taken = np.zeros(len(y), bool) if exclude is None else np.isin(np.arange(len(y)), exclude)
    out = []
    for c in np.unique(y):
        idx = np.flatnonzero((y == c) & ~taken)
        out.append(rng.choice(idx, size=per_class, replace=False))
    return np.sort(np.concatenate(out))


# ---------------------------------------------------------------- protocol

def stratified_split(y, gen, fraction=VAL_FRACTION):
    """Per class (ascending), a random permutation of that class's indices; the first
    round(fraction * n_c) go to validation. Returns (train_idx, val_idx), sorted."""
    tr, va = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[torch.randperm(len(idx), generator=gen).numpy()]
        k = int(round(fraction * len(idx)))
        va.append(idx[:k])
        tr.append(idx[k:])
    return np.sort(np.concatenate(tr)), np.sort(np.concatenate(va))


def new_head(model, classes, gen):
    """Replace model.head by Linear(D, C) with nn.Linear's init drawn from gen:
    weight then bias, each U(-1/sqrt(D), 1/sqrt(D))."""
    d = model.head.in_features
    head = nn.Linear(d, classes).to(next(model.parameters()).dtype)
    bound = 1.0 / math.sqrt(d)
    with torch.no_grad():
        head.weight.copy_(torch.rand(head.weight.shape, generator=gen, dtype=torch.float64) * 2 * bound - bound)
        head.bias.copy_(torch.rand(head.bias.shape, generator=gen, dtype=torch.float64) * 2 * bound - bound)
    model.head = head
    return model


def batches(n, gen, batch=BATCH):
    """One epoch: a random permutation cut into batches; the last partial batch is kept if
    it has >= 2 images (BatchNorm needs two) and dropped if it has one."""
    perm = torch.randperm(n, generator=gen)
    out = [perm[i:i + batch] for i in range(0, n, batch)]
    if len(out[-1]) < 2:
        out.pop()
    return out


def steps_per_epoch(n, batch=BATCH):
    full, rest = divmod(n, batch)
    return full + (1 if rest >= 2 else 0)


def cosine_lr(lr, t, total):
    return 0.5 * lr * (1.0 + math.cos(math.pi * t / total))


def set_mode(model, mode):
    """full: everything trains, norm layers in train mode; head: only model.head trains,
    the backbone is frozen and in eval mode (BatchNorm uses its running statistics)."""
    if mode == "full":
        model.train()
        for p in model.parameters():
            p.requires_grad_(True)
    elif mode == "head":
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        for p in model.head.parameters():
            p.requires_grad_(True)
    else:
        raise ValueError("mode must be full or head, not %r" % mode)


def sgd_step(params, bufs, lr):
    """PyTorch SGD with momentum 0.9, dampening 0, no Nesterov, weight decay 0."""
    with torch.no_grad():
        for p in params:
            if p.grad is None:
                continue
            b = bufs.get(p)
            if b is None:
                b = bufs[p] = p.grad.detach().clone()
            else:
                b.mul_(MOMENTUM).add_(p.grad)
            p.add_(b, alpha=-lr)


def train(model, x, y, mode, lr, epochs, gen, batch=BATCH):
    """x float (N, 1, H, W) already / 255, y int64 (N,). Trains in place; returns the
    number of steps taken."""
    set_mode(model, mode)
    params = [p for p in model.parameters() if p.requires_grad]
    bufs = {}
    total = epochs * steps_per_epoch(len(y), batch)
    t = 0
    for _ in range(epochs):
        for b in batches(len(y), gen, batch):
            for p in params:
                p.grad = None
            loss = F.cross_entropy(model(x[b]), y[b])
            loss.backward()
            sgd_step(params, bufs, cosine_lr(lr, t, total))
            t += 1
    return t


def accuracy(model, x, y, batch=256):
    """Top-1 accuracy in % with the model in eval mode."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), batch):
            correct += int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    return 100.0 * correct / len(y)


def finetune_once(pretrained, x, y, mode, lr, epochs, gen, classes):
    model = copy_model(pretrained)
    new_head(model, classes, gen)
    train(model, x, y, mode, lr, epochs, gen)
    return model


def copy_model(model):
    return copy.deepcopy(model)


class HeadOnly(nn.Module):
    """The classifier alone, run on cached backbone features (N, D)."""

    def __init__(self, d, classes):
        super().__init__()
        self.head = nn.Linear(d, classes)

    def forward(self, f):
        return self.head(f)


def backbone_features(model, x, batch=256):
    """The input of model.head for every image, the backbone in eval mode."""
    body = copy_model(model)
    body.head = nn.Identity()
    body.eval()
    with torch.no_grad():
        return torch.cat([body(x[i:i + batch]) for i in range(0, len(x), batch)])


def protocol(pretrained, train_x, train_y, test_x, test_y, mode, epochs, seed, lrs=LRS, cache_features=True):
    """The whole protocol on uint8 images: sweep lrs on a stratified 80/20 split, retrain
    with the best on all training images, test. Returns a dict with best_lr,
    val_accuracy {lr: %}, train_accuracy (retrained model on all training images, %),
    test_accuracy (%).

    In mode head the backbone is frozen and in eval mode and there is no augmentation, so
    its output for an image never changes: with cache_features the features of every
    image are computed once and only the Linear runs per step - the same arithmetic as
    running the backbone each step (up to float32 summation order across batch sizes),
    and what a PyTorch user would write; the random draws are consumed identically."""
    classes = int(max(train_y.max(), test_y.max())) + 1
    gen = torch.Generator().manual_seed(seed)
    dtype = next(pretrained.parameters()).dtype
    xt = torch.from_numpy(train_x).to(dtype) / 255.0
    yt = torch.from_numpy(train_y)
    xs = torch.from_numpy(test_x).to(dtype) / 255.0
    if mode == "head" and cache_features:
        xt, xs = backbone_features(pretrained, xt), backbone_features(pretrained, xs)
        pretrained = HeadOnly(pretrained.head.in_features, pretrained.head.out_features).to(dtype)
    tr, va = stratified_split(train_y, gen)
    tr_t, va_t = torch.from_numpy(tr), torch.from_numpy(va)
    val = {}
    best = None
    for lr in lrs:
        m = finetune_once(pretrained, xt[tr_t], yt[tr_t], mode, lr, epochs, gen, classes)
        val[lr] = accuracy(m, xt[va_t], yt[va_t])
        if best is None or val[lr] > val[best]:
            best = lr
    m = finetune_once(pretrained, xt, yt, mode, best, epochs, gen, classes)
    return {"best_lr": best, "val_accuracy": val, "train_accuracy": accuracy(m, xt, yt),
            "test_accuracy": accuracy(m, xs, torch.from_numpy(test_y))}


def pretrain(model, x, y, epochs, lr, seed, batch=BATCH):
    """Upstream training (x float (N, 1, H, W) in [0, 1]): SGD momentum 0.9, cosine
    schedule, all parameters, the same loop as the protocol's `full` mode."""
    gen = torch.Generator().manual_seed(seed)
    train(model, torch.from_numpy(x), torch.from_numpy(y), "full", lr, epochs, gen, batch)
    model.eval()
    return model


# ---------------------------------------------------------------- ONNX

def export_onnx(model, path, hw, rename_folded=True):
    """Export opset 13 with the project's settings (tests/ref/gen_onnx.py export()): the
    model in eval mode, training=PRESERVE, do_constant_folding, input "input" (N, 1, hw, hw)
    and output "logits" with a dynamic batch axis N, initializers not listed as inputs.

    BatchNorm must reach the file as BatchNormalization nodes: torch 1.13 folds BN into the
    preceding Conv only in its eval-mode peephole pass (_jit_pass_onnx_eval_peephole),
    which it runs for training=EVAL or None but not for PRESERVE. This is checked below
    with onnx: the number of BatchNormalization nodes must equal the number of
    nn.BatchNorm2d modules, and every BN module's weight, bias, running_mean and
    running_var must be an initializer under its state_dict name.

    Equal-valued initializers that the exporter deduplicated into Identity nodes are
    split again (undo_deduplication()).

    Initializer names: they match the state_dict keys except where constant folding
    rewrote a parameter. GroupNorm below opset 18 exports as Reshape ->
    InstanceNormalization(ones, zeros) -> Reshape -> Mul(weight) -> Add(bias) with weight
    and bias unsqueezed to (C, 1, 1), and the fold stores those as new initializers named
    like "onnx::Mul_134". initializer_names() finds them (by value), and when
    rename_folded is set they are renamed back to their state_dict keys in the written
    file (initializer and node inputs), so every trainable tensor of the file is named
    after its PyTorch parameter; the (C, 1, 1) shape stays.

    Returns (onnx ModelProto as written, {state_dict key: ONNX initializer name} for
    every parameter and BN running statistic, {"deduplicated": [names restored from
    Identity nodes], "renamed": {exporter's name: name in the file}})."""
    import onnx
    model = model.float().eval()
    x = torch.zeros(2, 1, hw, hw)
    buf = io.BytesIO()
    torch.onnx.export(model, x, buf, opset_version=13, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True,
                      keep_initializers_as_inputs=False)
    proto = onnx.load_from_string(buf.getvalue())
    restored = undo_deduplication(proto)
    names = initializer_names(model, proto)
    rename = {v: k for k, v in names.items() if k != v}
    if rename_folded:
        for init in proto.graph.initializer:
            init.name = rename.get(init.name, init.name)
        for node in proto.graph.node:
            for i, name in enumerate(node.input):
                node.input[i] = rename.get(name, name)
        names = initializer_names(model, proto)
        assert all(k == v for k, v in names.items())
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    n_bn_nodes = sum(n.op_type == "BatchNormalization" for n in proto.graph.node)
    if n_bn_nodes != n_bn:
        raise RuntimeError("%s: %d BatchNormalization nodes for %d BatchNorm2d modules (folded into Conv?)"
                           % (path, n_bn_nodes, n_bn))
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)
    return proto, names, {"deduplicated": restored, "renamed": rename if rename_folded else {}}


def undo_deduplication(proto):
    """torch 1.13's exporter (_jit_pass_onnx_deduplicate_initializers, by value when the
    model is in eval mode) keeps one initializer of each set with equal values and turns
    the others into Identity(kept) nodes. Trained models hit this: in a ResNet block the
    bias of the last BN and of the skip BN get identical gradients (both are added to the
    same sum) and stay equal. An importer that reads Identity(initializer) as an alias
    would tie the two parameters (one gradient of twice the size), so each Identity of an
    initializer is replaced by its own copy named after the Identity's output. Returns the
    names restored."""
    from onnx import numpy_helper
    inits = {i.name: i for i in proto.graph.initializer}
    restored = []
    for node in list(proto.graph.node):
        if node.op_type == "Identity" and node.input[0] in inits:
            copy_ = proto.graph.initializer.add()
            copy_.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(inits[node.input[0]]), node.output[0]))
            proto.graph.node.remove(node)
            restored.append(node.output[0])
    return restored


def initializer_names(model, proto):
    """{state_dict key: initializer name} for every parameter and BN running statistic
    (num_batches_tracked has no ONNX counterpart). A key that is an initializer name is
    taken as is; otherwise the initializer is found by value: the unique initializer with
    the same elements (any shape with the same element count) - for the folded GroupNorm
    weight/bias. Raises if a tensor has no match or more than one, or was deduplicated
    into an Identity of another initializer (equal values, as in an untrained BN)."""
    from onnx import numpy_helper
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    out = {}
    used = set()
    sd = model.state_dict()
    for k, v in sd.items():
        if k.endswith("num_batches_tracked"):
            continue
        a = v.detach().cpu().float().numpy()
        if k in inits:
            if inits[k].size != a.size or not np.array_equal(inits[k].reshape(-1), a.reshape(-1)):
                raise RuntimeError("initializer %s differs from the state_dict entry" % k)
            out[k] = k
            used.add(k)
            continue
        aliases = [n.input[0] for n in proto.graph.node if n.op_type == "Identity" and n.output[0] == k]
        if aliases:
            # torch's export deduplicates initializers with equal values (a fresh BN's ones
            # and zeros) into Identity nodes; the fixtures need one tensor per parameter
            raise RuntimeError("state_dict entry %s was exported as Identity(%s): equal-valued "
                               "parameters were deduplicated; export a trained model" % (k, aliases[0]))
        hits = [n for n, b in inits.items()
                if n not in sd and b.size == a.size and b.dtype == a.dtype and np.array_equal(b.reshape(-1), a.reshape(-1))]
        if len(hits) != 1:
            raise RuntimeError("state_dict entry %s: %d initializers with its values (%s)" % (k, len(hits), hits))
        if hits[0] in used:
            raise RuntimeError("initializer %s matched twice" % hits[0])
        out[k] = hits[0]
        used.add(hits[0])
    return out


def graph_tail(proto, n=4):
    """The op types of the last n nodes, e.g. ['Relu', 'GlobalAveragePool', 'Flatten', 'Gemm']."""
    return [node.op_type for node in proto.graph.node[-n:]]
