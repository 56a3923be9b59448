"""Small dense-prediction networks shared by the pixel-label methods (torch).

:class:`TinyUNet` is the CPU-scale stand-in for the large matting and segmentation backbones of the ZIM (paper 1),
MLB (paper 28) and LAD (paper 8) notes: the papers' contributions are the labels and losses around the network, not
the network, so one small U-Net serves them all (0.1-0.5 M parameters at ``base=16``). :class:`DilatedFCN` is the
LAD notes' "4-layer dilated FCN (32 channels)" with an auxiliary head, standing in for DeepLabV3/PSPNet (which train
with an auxiliary loss on an intermediate layer).

Shapes: input ``(B, in_channels, H, W)`` float, output ``(B, out_channels, H, W)`` raw scores (logits; apply a
sigmoid for a matte, a softmax over channels for classes). ``H`` and ``W`` need not be multiples of ``2 ** depth``:
the decoder crops or pads each skip connection to its partner's size.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["DilatedFCN", "TinyUNet", "conv_block"]


def conv_block(c_in: int, c_out: int, dilation: int = 1) -> nn.Sequential:
    """Two 3x3 convolutions (``dilation``), each followed by GroupNorm and ReLU (GroupNorm: batch-size free, so a
    batch of one behaves as in training)."""
    groups = max(1, min(8, c_out // 4))
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation),
        nn.GroupNorm(groups, c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=dilation, dilation=dilation),
        nn.GroupNorm(groups, c_out),
        nn.ReLU(inplace=True),
    )


class TinyUNet(nn.Module):
    """A U-Net with ``depth`` poolings; channels ``base * 2**level`` (capped at ``base * 8``).

    in_channels: e.g. 3 (RGB) or 4 (RGB + a label channel); out_channels: 1 for a matte, K for K classes, 2 for a
    matte and a boundary map.
    """

    def __init__(self, in_channels: int, out_channels: int, *, base: int = 16, depth: int = 3):
        super().__init__()
        if depth < 1 or base < 1:
            raise ValueError(f"depth and base must be at least 1 (got depth={depth}, base={base})")
        self.in_channels, self.out_channels, self.base, self.depth = in_channels, out_channels, base, depth
        widths = [base * min(2 ** level, 8) for level in range(depth + 1)]
        self.down = nn.ModuleList()
        c = in_channels
        for w in widths[:-1]:
            self.down.append(conv_block(c, w))
            c = w
        self.bottom = conv_block(c, widths[-1])
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        c = widths[-1]
        for w in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(c, w, 2, stride=2))
            self.merge.append(conv_block(2 * w, w))
            c = w
        self.head = nn.Conv2d(c, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2, ceil_mode=True)
        x = self.bottom(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips)):
            x = up(x)
            x = _match(x, skip.shape[-2:])
            x = merge(torch.cat([x, skip], dim=1))
        return self.head(x)


def _match(x: torch.Tensor, size) -> torch.Tensor:
    """Crop or zero-pad ``x`` (B, C, h, w) to ``size`` (H, W)."""
    dh, dw = size[0] - x.shape[-2], size[1] - x.shape[-1]
    if dh or dw:
        x = F.pad(x, (0, max(dw, 0), 0, max(dh, 0)))[..., : size[0], : size[1]]
    return x


class DilatedFCN(nn.Module):
    """A fully convolutional net without pooling: ``len(dilations)`` 3x3 convolutions (``width`` channels, dilation
    ``dilations[i]``, GroupNorm, ReLU), a 1x1 classifier, and an auxiliary 1x1 classifier on the output of layer
    ``aux_layer`` (default: the one before last), as the auxiliary head of DeepLabV3/PSPNet.

    in_channels: e.g. 4 (RGB + a label channel); out_channels: K classes. The default dilations (1, 2, 4, 8) see
    31 x 31 pixels. ``forward(x)``: ``(B, in, H, W) -> (B, out, H, W)`` logits; ``forward_with_aux(x)``: the pair
    (main, aux) logits, both ``(B, out, H, W)``.
    """

    def __init__(self, in_channels: int, out_channels: int, *, width: int = 32, dilations: tuple = (1, 2, 4, 8),
                 aux_layer: int = -2, stride: int = 1):
        super().__init__()
        if width < 1 or not dilations:
            raise ValueError(f"width must be at least 1 and dilations non-empty (got width={width}, "
                             f"dilations={dilations})")
        self.in_channels, self.out_channels, self.width = in_channels, out_channels, width
        self.dilations = tuple(int(d) for d in dilations)
        self.aux_layer = aux_layer % len(self.dilations)
        self.stride = int(stride)
        groups = max(1, min(8, width // 4))
        self.layers = nn.ModuleList()
        c = in_channels
        for i, d in enumerate(self.dilations):
            step = self.stride if i == 0 else 1
            self.layers.append(nn.Sequential(nn.Conv2d(c, width, 3, stride=step, padding=d, dilation=d),
                                             nn.GroupNorm(groups, width), nn.ReLU(inplace=True)))
            c = width
        self.head = nn.Conv2d(width, out_channels, 1)
        self.aux_head = nn.Conv2d(width, out_channels, 1)

    def forward_with_aux(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        size, aux = x.shape[-2:], None
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i == self.aux_layer:
                aux = self._full(self.aux_head(x), size)
        return self._full(self.head(x), size), aux

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        for layer in self.layers:
            x = layer(x)
        return self._full(self.head(x), size)

    def _full(self, logits: torch.Tensor, size) -> torch.Tensor:
        """Bilinear upsampling back to the input's size when the first layer strides."""
        if logits.shape[-2:] == size:
            return logits
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
