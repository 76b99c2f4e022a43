"""Our own small re-implementations of the two MobileOne code bases whose checkpoints users have.

They reproduce the module names, registration and shapes (hence the state-dict keys) and the forward
pass of:

* apple/ml-mobileone ``mobileone.py`` (commit b7f4e6d): ``MobileOne`` with ``stage0`` (stem, one conv
  branch), ``stage1..4``, ``gap``, ``linear``; ``MobileOneBlock`` registers ``se`` (``SEBlock``:
  ``reduce``/``expand`` 1x1 convs with bias, ``int(C * 0.0625)`` channels), then ``reparam_conv``
  (inference mode) or ``rbr_skip`` (BatchNorm), ``rbr_conv.N`` (``conv``, ``bn``), ``rbr_scale``;
  ``reparameterize_model`` fuses every block.
* open-mmlab/mmpretrain ``mmpretrain/models/backbones/mobileone.py`` (commit ee7f2e88), inside an
  ``ImageClassifier`` (``configs/_base_/models/mobileone/mobileone_s*.py``: ``backbone``, a
  parameter-free ``GlobalAveragePooling`` neck, ``LinearClsHead`` = ``head.fc``): ``MobileOneBlock``
  registers ``se`` (``mmpretrain/models/utils/se_layer.py`` ``SELayer``: ``conv1.conv``/``conv2.conv``,
  mmcv ``ConvModule`` with bias, ``make_divisible(C // 16, 8)`` channels), then ``branch_reparam``
  (deploy) or ``branch_norm``, ``branch_scale`` (``conv``, ``norm``), ``branch_conv_list.N``;
  ``switch_to_deploy`` (what ``tools/model_converters/reparameterize_model.py`` calls) fuses them.

Neither project is installed: these classes stand in for them so that tests can write checkpoints
with the same names, shapes and numbers a user's file has, and compare against the same function.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

# apple mobileone.py PARAMS / mmpretrain MobileOne.arch_zoo (identical): widths, k, SE
VARIANTS = {
    "s0": dict(width=(0.75, 1.0, 1.0, 2.0), branches=4, se=(0, 0, 0, 0)),
    "s1": dict(width=(1.5, 1.5, 2.0, 2.5), branches=1, se=(0, 0, 0, 0)),
    "s2": dict(width=(1.5, 2.0, 2.5, 4.0), branches=1, se=(0, 0, 0, 0)),
    "s3": dict(width=(2.0, 2.5, 3.0, 4.0), branches=1, se=(0, 0, 0, 0)),
    "s4": dict(width=(3.0, 3.5, 3.5, 4.0), branches=1, se=(0, 0, 5, 1)),
}
BLOCKS = (2, 8, 10, 1)
BASE = (64, 128, 256, 512)


def _fuse_conv_bn(weight, bn):
    """Conv kernel followed by BatchNorm -> (kernel, bias) (both projects' ``_fuse_bn_tensor``)."""
    std = (bn.running_var + bn.eps).sqrt()
    t = (bn.weight / std).reshape(-1, 1, 1, 1)
    return weight * t, bn.bias - bn.running_mean * bn.weight / std


def _identity_kernel(channels, groups, k, like):
    """The kernel of a BatchNorm-only skip (apple ``id_tensor``, mmpretrain ``_norm_to_conv``)."""
    input_dim = channels // groups
    w = torch.zeros((channels, input_dim, k, k), dtype=like.dtype)
    i = torch.arange(channels)
    w[i, i % input_dim, k // 2, k // 2] = 1   # their loop, vectorised
    return w


def _fused_kernel_bias(convs, scale, skip, channels, groups, k):
    """Sum of the fused branches: k x k convs (conv, bn) pairs, 1x1 scale (padded), BatchNorm skip."""
    kernel, bias = 0, 0
    for conv, bn in convs:
        w, b = _fuse_conv_bn(conv.weight, bn)
        kernel, bias = kernel + w, bias + b
    if scale is not None:
        w, b = _fuse_conv_bn(scale[0].weight, scale[1])
        pad = k // 2
        kernel, bias = kernel + F.pad(w, [pad, pad, pad, pad]), bias + b
    if skip is not None:
        w, b = _fuse_conv_bn(_identity_kernel(channels, groups, k, skip.weight), skip)
        kernel, bias = kernel + w, bias + b
    return kernel, bias


# ------------------------------------------------------------------------------------------------
# apple/ml-mobileone mobileone.py
# ------------------------------------------------------------------------------------------------
class AppleSEBlock(nn.Module):
    def __init__(self, c, rd_ratio=0.0625):
        super().__init__()
        self.reduce = nn.Conv2d(c, int(c * rd_ratio), 1, 1, bias=True)
        self.expand = nn.Conv2d(int(c * rd_ratio), c, 1, 1, bias=True)

    def forward(self, x):
        b, c, h, w = x.size()
        s = torch.sigmoid(self.expand(F.relu(self.reduce(F.avg_pool2d(x, kernel_size=[h, w])))))
        return x * s.view(-1, c, 1, 1)


class AppleBlock(nn.Module):
    def __init__(self, cin, cout, k, stride=1, padding=0, groups=1, inference_mode=False, use_se=False, branches=1):
        super().__init__()
        self.inference_mode, self.groups, self.stride, self.k = inference_mode, groups, stride, k
        self.cin, self.cout, self.padding, self.branches = cin, cout, padding, branches
        self.se = AppleSEBlock(cout) if use_se else nn.Identity()
        self.activation = nn.ReLU()
        if inference_mode:
            self.reparam_conv = nn.Conv2d(cin, cout, k, stride, padding, groups=groups, bias=True)
        else:
            self.rbr_skip = nn.BatchNorm2d(cin) if cout == cin and stride == 1 else None
            self.rbr_conv = nn.ModuleList([self._conv_bn(k, padding) for _ in range(branches)])
            self.rbr_scale = self._conv_bn(1, 0) if k > 1 else None

    def _conv_bn(self, k, padding):
        m = nn.Sequential()
        m.add_module("conv", nn.Conv2d(self.cin, self.cout, k, self.stride, padding, groups=self.groups, bias=False))
        m.add_module("bn", nn.BatchNorm2d(self.cout))
        return m

    def forward(self, x):
        if self.inference_mode:
            return self.activation(self.se(self.reparam_conv(x)))
        out = (self.rbr_scale(x) if self.rbr_scale is not None else 0) + \
              (self.rbr_skip(x) if self.rbr_skip is not None else 0)
        for conv in self.rbr_conv:
            out = out + conv(x)
        return self.activation(self.se(out))

    def fused(self):
        kernel, bias = _fused_kernel_bias([(b.conv, b.bn) for b in self.rbr_conv],
                                          (self.rbr_scale.conv, self.rbr_scale.bn) if self.rbr_scale is not None else None,
                                          self.rbr_skip, self.cin, self.groups, self.k)
        new = AppleBlock(self.cin, self.cout, self.k, self.stride, self.padding, self.groups, True,
                         isinstance(self.se, AppleSEBlock), self.branches)
        new.se = self.se
        new.reparam_conv.weight.data, new.reparam_conv.bias.data = kernel.detach(), bias.detach()
        return new


class AppleMobileOne(nn.Module):
    def __init__(self, variant="s0", num_classes=1000, inference_mode=False):
        super().__init__()
        v = VARIANTS[variant]
        self.in_planes = min(64, int(64 * v["width"][0]))
        self.stage0 = AppleBlock(3, self.in_planes, 3, 2, 1, inference_mode=inference_mode)  # one branch
        for i in range(4):
            se = v["se"][i]
            self.add_module(f"stage{i + 1}", self._make_stage(int(BASE[i] * v["width"][i]), BLOCKS[i], se,
                                                              inference_mode, v["branches"]))
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(int(512 * v["width"][3]), num_classes)

    def _make_stage(self, planes, n, n_se, inference_mode, branches):
        blocks = []
        for ix, stride in enumerate([2] + [1] * (n - 1)):
            use_se = ix >= n - n_se
            blocks.append(AppleBlock(self.in_planes, self.in_planes, 3, stride, 1, self.in_planes,
                                     inference_mode, use_se, branches))
            blocks.append(AppleBlock(self.in_planes, planes, 1, 1, 0, 1, inference_mode, use_se, branches))
            self.in_planes = planes
        return nn.Sequential(*blocks)

    def forward(self, x):
        for i in range(5):
            x = getattr(self, f"stage{i}")(x)
        return self.linear(self.gap(x).view(x.size(0), -1))


def apple_reparameterize(model: AppleMobileOne) -> AppleMobileOne:
    """apple ``reparameterize_model``: every block fused, the SE modules kept."""
    import copy

    fused = copy.deepcopy(model)
    for name, m in list(fused.named_modules()):
        for child_name, child in list(m.named_children()):
            if isinstance(child, AppleBlock) and not child.inference_mode:
                setattr(m, child_name, child.fused())
    return fused.eval()


# ------------------------------------------------------------------------------------------------
# open-mmlab/mmpretrain (ImageClassifier with the MobileOne backbone)
# ------------------------------------------------------------------------------------------------
def make_divisible(value, divisor, min_value=None, min_ratio=0.9):  # mmpretrain/models/utils/make_divisible.py
    min_value = min_value or divisor
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < min_ratio * value else new


class _ConvModule(nn.Module):
    """mmcv ``ConvModule`` without norm: ``conv`` (bias) then the activation ``activate``."""

    def __init__(self, cin, cout, act):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, 1, bias=True)
        self.activate = act

    def forward(self, x):
        return self.activate(self.conv(x))


class MMSELayer(nn.Module):
    def __init__(self, channels, ratio=16, divisor=8):
        super().__init__()
        squeeze = make_divisible(channels // ratio, divisor)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = _ConvModule(channels, squeeze, nn.ReLU())
        self.conv2 = _ConvModule(squeeze, channels, nn.Sigmoid())

    def forward(self, x):
        return x * self.conv2(self.conv1(self.global_avgpool(x)))


class MMBlock(nn.Module):
    def __init__(self, cin, cout, k, num_convs, stride=1, padding=1, groups=1, se=False, deploy=False):
        super().__init__()
        self.se = MMSELayer(cout) if se else nn.Identity()
        self.cin, self.cout, self.k, self.num_convs, self.stride = cin, cout, k, num_convs, stride
        self.padding, self.groups, self.deploy = padding, groups, deploy
        if deploy:
            self.branch_reparam = nn.Conv2d(cin, cout, k, stride, padding, groups=groups, bias=True)
        else:
            self.branch_norm = nn.BatchNorm2d(cin) if cout == cin and stride == 1 else None
            self.branch_scale = self._conv_bn(1) if k > 1 else None
            self.branch_conv_list = nn.ModuleList([self._conv_bn(k, padding) for _ in range(num_convs)])
        self.act = nn.ReLU()

    def _conv_bn(self, k, padding=0):
        m = nn.Sequential()
        m.add_module("conv", nn.Conv2d(self.cin, self.cout, k, self.stride, padding, groups=self.groups, bias=False))
        m.add_module("norm", nn.BatchNorm2d(self.cout))
        return m

    def forward(self, x):
        if self.deploy:
            out = self.branch_reparam(x)
        else:
            out = self.branch_norm(x) if self.branch_norm is not None else 0
            if self.branch_scale is not None:
                out = out + self.branch_scale(x)
            for b in self.branch_conv_list:
                out = out + b(x)
        return self.act(self.se(out))

    def switch_to_deploy(self):
        kernel, bias = _fused_kernel_bias([(b.conv, b.norm) for b in self.branch_conv_list],
                                          (self.branch_scale.conv, self.branch_scale.norm) if self.branch_scale is not None else None,
                                          self.branch_norm, self.cin, self.groups, self.k)
        self.branch_reparam = nn.Conv2d(self.cin, self.cout, self.k, self.stride, self.padding,
                                        groups=self.groups, bias=True)
        self.branch_reparam.weight.data, self.branch_reparam.bias.data = kernel.detach(), bias.detach()
        del self.branch_conv_list, self.branch_scale, self.branch_norm
        self.deploy = True


class MMBackbone(nn.Module):
    def __init__(self, variant="s0", deploy=False):
        super().__init__()
        v = VARIANTS[variant]
        channels = min(64, int(BASE[0] * v["width"][0]))
        self.stage0 = MMBlock(3, channels, 3, 1, stride=2, deploy=deploy)
        self.in_planes = channels
        for i in range(4):
            planes = int(BASE[i] * v["width"][i])
            blocks = []
            for j, stride in enumerate([2] + [1] * (BLOCKS[i] - 1)):
                se = j >= BLOCKS[i] - v["se"][i]
                blocks.append(MMBlock(self.in_planes, self.in_planes, 3, v["branches"], stride, 1,
                                      self.in_planes, se, deploy))
                blocks.append(MMBlock(self.in_planes, planes, 1, v["branches"], 1, 0, 1, se, deploy))
                self.in_planes = planes
            self.add_module(f"stage{i + 1}", nn.Sequential(*blocks))

    def forward(self, x):
        for i in range(5):
            x = getattr(self, f"stage{i}")(x)
        return x


class _LinearClsHead(nn.Module):
    def __init__(self, cin, num_classes):
        super().__init__()
        self.fc = nn.Linear(cin, num_classes)


class MMImageClassifier(nn.Module):
    def __init__(self, variant="s0", num_classes=1000, deploy=False):
        super().__init__()
        self.backbone = MMBackbone(variant, deploy)
        self.head = _LinearClsHead(int(512 * VARIANTS[variant]["width"][3]), num_classes)

    def forward(self, x):
        return self.head.fc(F.adaptive_avg_pool2d(self.backbone(x), 1).flatten(1))

    def switch_to_deploy(self):
        for m in self.modules():
            if isinstance(m, MMBlock) and not m.deploy:
                m.switch_to_deploy()
        return self.eval()
