"""TinyUNet: shapes for any image size, and it can fit a small dense target."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from labelwise.learn.segmentation_nets import TinyUNet  # noqa: E402


@pytest.mark.parametrize("size", [(64, 64), (33, 47), (5, 3), (1, 1)])
@pytest.mark.parametrize("depth", [1, 3])
def test_output_keeps_the_input_size(size, depth):
    net = TinyUNet(4, 3, base=8, depth=depth)
    assert net(torch.zeros(2, 4, *size)).shape == (2, 3, *size)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="depth"):
        TinyUNet(3, 1, depth=0)


def test_learns_a_pixel_copy_task():
    # target: the first input channel thresholded; a U-Net fits it in a few steps
    torch.manual_seed(0)
    x = torch.rand(8, 2, 16, 16)
    y = (x[:, :1] > 0.5).float()
    net = TinyUNet(2, 1, base=8, depth=2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(60):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    acc = ((net(x) > 0).float() == y).float().mean().item()
    assert acc > 0.95
