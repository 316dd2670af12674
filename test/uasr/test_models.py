"""wav2vec-U GAN parts: shapes and masks, segmenter runs, each loss on hand-made inputs."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from speechssl.models.uasr import (
    Discriminator, DiscriminatorConfig, GANConfig, Generator, GeneratorConfig, SegmenterConfig, UASRGAN,
)
from speechssl.models.uasr.eodm import eodm_loss, segment_entropy, text_ngram_stats
from speechssl.models.uasr.losses import (
    aux_loss, code_penalty, discriminator_adversarial_loss, gradient_penalty, smoothness_penalty,
)
from speechssl.models.uasr.segmenter import JoinSegmenter, join_segments
from speechssl.uasr.data import PhoneVocab


def _mask(lengths, t):
    return torch.arange(t)[None, :] >= torch.tensor(lengths)[:, None]


@pytest.mark.parametrize("kernel,stride,bn,res,t_out", [(4, 1, False, False, 17), (9, 3, True, True, 6)])
def test_generator_shapes_and_masks(kernel, stride, bn, res, t_out):
    torch.manual_seed(0)
    g = Generator(20, 7, GeneratorConfig(kernel=kernel, stride=stride, batch_norm=bn, residual=res), aux_classes=5)
    mask = _mask([17, 10], 17)
    out = g(torch.randn(2, 17, 20), mask)
    assert out["logits"].shape == (2, t_out, 7)
    assert torch.equal(out["padding_mask"], mask[:, ::stride])
    assert (out["logits"][out["padding_mask"]] == 0).all()
    assert out["aux_logits"].shape == (2, 17, 5)
    if bn:
        assert torch.allclose(g.bn.weight, torch.full((20,), 30.0))


def test_generator_padding_does_not_change_outputs():
    torch.manual_seed(0)
    g = Generator(8, 5, GeneratorConfig(kernel=9, stride=3, batch_norm=True, residual=True)).eval()
    x = torch.randn(1, 12, 8)
    short = g(x, _mask([12], 12))["logits"]
    padded = torch.cat([x, 100 * torch.randn(1, 6, 8)], dim=1)
    long = g(padded, _mask([12], 18))["logits"][:, :4]
    assert torch.allclose(short, long, atol=1e-5)


def test_discriminator_is_causal_and_ignores_padding():
    torch.manual_seed(0)
    d = Discriminator(6, DiscriminatorConfig(channels=16, kernel=3))
    x = torch.randn(1, 10, 6)
    scores = d.net(x.transpose(1, 2)).squeeze(1)
    x2 = x.clone()
    x2[:, 7:] = torch.randn(1, 3, 6)
    scores2 = d.net(x2.transpose(1, 2)).squeeze(1)
    assert torch.allclose(scores[:, :7], scores2[:, :7]) and not torch.allclose(scores[:, 7:], scores2[:, 7:])
    assert torch.allclose(d(x[:, :7], None), d(x2, _mask([7], 10)))
    assert d(torch.randn(3, 5, 6), _mask([5, 3, 1], 5)).shape == (3,)


def test_join_segmenter_runs():
    # argmax per frame: row 0 = 0 0 1 1 1 0 (3 runs), row 1 = 2 2 | pad (1 run)
    preds = torch.tensor([[0, 0, 1, 1, 1, 0], [2, 2, 0, 0, 0, 0]])
    logits = torch.nn.functional.one_hot(preds, 3).float() * 5 + torch.arange(6.0)[None, :, None] / 100
    mask = _mask([6, 2], 6)
    mean, mmask = join_segments(logits, mask, "mean")
    assert mean.shape == (2, 3, 3) and mmask.tolist() == [[False] * 3, [False, True, True]]
    assert torch.allclose(mean[0, 1], logits[0, 2:5].mean(0)) and torch.allclose(mean[1, 0], logits[1, :2].mean(0))
    assert (mean[1, 1:] == 0).all()
    torch.manual_seed(0)
    picks = set()
    for _ in range(30):
        rand, rmask = join_segments(logits, mask, "random")
        assert torch.equal(rmask, mmask)
        row = int(torch.nonzero((logits[0] == rand[0, 1]).all(-1))[0])
        assert 2 <= row <= 4
        picks.add(row)
    assert picks == {2, 3, 4}  # every frame of the run gets drawn
    seg = JoinSegmenter(SegmenterConfig())
    seg.eval()
    assert torch.equal(seg(logits, mask)[0], mean)


def test_join_segmenter_passes_gradients():
    logits = torch.randn(2, 8, 4, requires_grad=True)
    out, _ = join_segments(logits, _mask([8, 5], 8), "random")
    out.sum().backward()
    assert logits.grad.abs().sum() > 0 and (logits.grad[1, 5:] == 0).all()


def test_gradient_penalty_zero_for_unit_norm_linear_discriminator():
    w = torch.randn(4, 5)
    w = w / w.norm()

    def linear_d(x, mask):  # gradient wrt x is w for every sample: norm exactly 1
        return (x * w).sum(dim=(1, 2))

    real, fake = torch.randn(3, 4, 5), torch.randn(3, 6, 5)
    no_pad = torch.zeros(3, 4, dtype=torch.bool)
    gp = gradient_penalty(linear_d, real, fake, no_pad, torch.zeros(3, 6, dtype=torch.bool))
    assert gp.item() == pytest.approx(0.0, abs=1e-10)
    # scaled by 3 the gradient norm is 3: penalty (3 - 1)^2 = 4
    gp3 = gradient_penalty(lambda x, m: 3 * linear_d(x, m), real, fake, no_pad, no_pad)
    assert gp3.item() == pytest.approx(4.0, rel=1e-5)
    # fairseq's time-axis form takes one norm per phone column instead
    col = w.norm(dim=0)
    expected = ((col - 1) ** 2).sum().item()
    assert gradient_penalty(linear_d, real, fake, no_pad, no_pad, "time_axis").item() == pytest.approx(expected, rel=1e-5)


def test_code_penalty_and_smoothness():
    mask = torch.zeros(2, 4, dtype=torch.bool)
    uniform_usage = torch.eye(4).repeat(2, 1, 1) * 50  # every phone used equally, confidently
    assert code_penalty(uniform_usage, mask).item() == pytest.approx(0.0, abs=1e-4)
    collapsed = torch.zeros(2, 4, 4)
    collapsed[..., 0] = 50
    assert code_penalty(collapsed, mask).item() == pytest.approx(0.75, abs=1e-4)
    flat = torch.ones(2, 4, 3)
    assert smoothness_penalty(flat, mask).item() == 0
    steps = torch.arange(4.0)[None, :, None].expand(2, 4, 3)
    assert smoothness_penalty(steps, mask).item() == pytest.approx(1.0)
    jump = steps.clone()
    jump[1, 3] = 100  # a jump into a padded frame is ignored
    assert smoothness_penalty(jump, _mask([4, 3], 4)).item() == pytest.approx(1.0)


def test_adversarial_and_aux_losses():
    big = torch.tensor([20.0, 20.0])
    assert discriminator_adversarial_loss(big, -big).item() == pytest.approx(0.0, abs=1e-6)
    assert discriminator_adversarial_loss(torch.zeros(2), torch.zeros(2)).item() == pytest.approx(2 * math.log(2))
    logits = torch.full((1, 3, 4), -30.0)
    logits[0, torch.arange(3), torch.tensor([1, 2, 3])] = 30
    assert aux_loss(logits, torch.tensor([[1, 2, 3]])).item() == pytest.approx(0.0, abs=1e-6)
    assert aux_loss(logits, torch.tensor([[1, 2, -1]])).item() == pytest.approx(0.0, abs=1e-6)
    assert aux_loss(logits, torch.tensor([[1, 1, 2, 2, 3, 3]]), downsample=2).item() == pytest.approx(0.0, abs=1e-6)


def test_gan_losses_count_each_term_once():
    torch.manual_seed(0)
    cfg = GANConfig.from_dict({"discriminator": {"channels": 8}}, {"gradient_penalty": 2.0, "smoothness": 0.5,
                                                                   "code_penalty": 3.0})
    gan = UASRGAN(6, 5, cfg)
    feats, mask = torch.randn(3, 9, 6), _mask([9, 7, 4], 9)
    real = torch.nn.functional.one_hot(torch.randint(0, 5, (3, 6)), 5).float()
    d_loss, d = gan.discriminator_loss(feats, mask, real, _mask([6, 6, 2], 6))
    assert d_loss.item() == pytest.approx(d["d_adv"].item() + 2.0 * d["d_grad_pen"].item(), rel=1e-5)
    g_loss, g = gan.generator_loss(feats, mask)
    assert g_loss.item() == pytest.approx(g["g_adv"].item() + 0.5 * g["g_smooth"].item()
                                          + 3.0 * g["g_code_pen"].item(), rel=1e-5)
    gan.eval()
    hyps = gan.greedy_ids(feats, mask)
    assert [len(h) <= n for h, n in zip(hyps, [9, 7, 4])] == [True] * 3
    assert all(a != b for h in hyps for a, b in zip(h, h[1:]))


def test_lazy_gradient_penalty_on_every_kth_discriminator_step():
    torch.manual_seed(0)
    cfg = GANConfig.from_dict({"discriminator": {"channels": 8}},
                              {"gradient_penalty": 2.0, "gradient_penalty_every": 3})
    gan = UASRGAN(6, 5, cfg)
    feats, mask = torch.randn(3, 9, 6), _mask([9, 7, 4], 9)
    real = torch.nn.functional.one_hot(torch.randint(0, 5, (3, 6)), 5).float()
    real_mask = _mask([6, 6, 2], 6)
    with_gp = [u for u in (1, 3, 5, 7, 9) if "d_grad_pen" in gan.discriminator_loss(feats, mask, real, real_mask, u)[1]]
    assert with_gp == [1, 7]  # discriminator steps 0 and 3
    loss, d = gan.discriminator_loss(feats, mask, real, real_mask, 7)
    assert loss.item() == pytest.approx(d["d_adv"].item() + 2.0 * 3 * d["d_grad_pen"].item(), rel=1e-5)


def test_gumbel_path_runs():
    cfg = GANConfig.from_dict({"gumbel": {"enabled": True}, "discriminator": {"channels": 8}}, {})
    gan = UASRGAN(6, 5, cfg)
    out = gan.generate(torch.randn(2, 7, 6), _mask([7, 5], 7), update=10)
    valid = out["dist"][~out["dist_mask"]]
    assert torch.allclose(valid.sum(-1), torch.ones(len(valid))) and set(valid.unique().tolist()) <= {0.0, 1.0}
    assert cfg.gumbel.temperature(10**7) == cfg.gumbel.min_temp


def test_vocab_pad_id_is_padding():
    vocab = PhoneVocab(["a", "b", "<SIL>"])
    assert vocab.pad_id == 3 and vocab.sil_id == 2
    onehot = vocab.one_hot(torch.tensor([[0, 2, 3]]))
    assert onehot.shape == (1, 3, 3) and onehot[0, 2].sum() == 0 and onehot[0, 1, 2] == 1


def test_eodm_zero_on_the_texts_own_statistics():
    sents = [np.array([0, 1, 2, 0, 1]), np.array([2, 1, 0])]
    uni, bi = text_ngram_stats(sents, 3)
    assert uni.sum() == pytest.approx(1.0) and bi.sum() == pytest.approx(1.0)
    assert uni[0] == pytest.approx(3 / 8, abs=1e-4) and bi[0, 1] == pytest.approx(2 / 6, abs=1e-4)
    ids = torch.tensor([[0, 1, 2, 0, 1], [2, 1, 0, 0, 0]])
    mask = _mask([5, 3], 5)
    dist = torch.nn.functional.one_hot(ids, 3).float().masked_fill(mask.unsqueeze(-1), 0.0)
    u, b = torch.tensor(uni, dtype=torch.float32), torch.tensor(bi, dtype=torch.float32)
    assert eodm_loss(dist, mask, u, b).item() == pytest.approx(0.0, abs=1e-3)  # padding ignored
    assert segment_entropy(dist, mask).item() == pytest.approx(0.0, abs=1e-4)
    # a relabelled output costs more and has gradients; a uniform one has entropy log(3)
    shuffled = dist[..., [1, 2, 0]].clone().requires_grad_(True)
    loss = eodm_loss(shuffled, mask, u, b)
    assert loss.item() > 0.1
    loss.backward()
    assert shuffled.grad.abs().sum() > 0
    assert segment_entropy(torch.full((1, 2, 3), 1 / 3), _mask([2], 2)).item() == pytest.approx(math.log(3), abs=1e-4)


def test_gan_eodm_term_in_generator_loss():
    torch.manual_seed(0)
    cfg = GANConfig(generator=GeneratorConfig(kernel=3), discriminator=DiscriminatorConfig(channels=8, kernel=3))
    cfg.loss.eodm = 2.0
    gan = UASRGAN(6, 4, cfg)
    uni, bi = text_ngram_stats([np.array([0, 1, 2, 3, 1])], 4)
    gan.set_text_stats(uni, bi)
    loss, stats = gan.generator_loss(torch.randn(2, 9, 6), _mask([9, 5], 9))
    rest = stats["g_adv"] + cfg.loss.smoothness * stats["g_smooth"] + cfg.loss.code_penalty * stats["g_code_pen"]
    eodm = 2.0 * (stats["g_eodm"] + cfg.loss.eodm_entropy * stats["g_segment_entropy"])
    assert loss.item() == pytest.approx((rest + eodm).item(), rel=1e-5)
    assert "text_unigram" not in gan.state_dict()  # recomputed from the text, not checkpointed
