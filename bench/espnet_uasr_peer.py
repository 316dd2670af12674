"""Peer benchmark: speechssl's UASR GAN against ESPnet's ESPnetUASRModel, side by side in one process.

For each seed, both models are built from one speechssl GAN config (ESPnet's
ConvGenerator, ConvDiscriminator, JoinSegmenter and UASR losses get the same
hyper-parameters), trained for the same number of updates on the same
batches (the same audio and text samplers, same seed), alternating
discriminator and generator updates, with the two sides interleaved update
by update under the same torch thread count.  Only the update itself is
timed (batch collation included on both sides).  Then both decode the dev
set greedily (frame argmax, repeats merged) and are scored against
``utt2phones`` with ``<SIL>`` and word separators removed.  One markdown row
per seed is printed (and appended to ``--output``).

    tools/venv/bin/python bench/espnet_uasr_peer.py \\
        --feats dump/mfcc_v2/train_clean_5 --valid-feats dump/mfcc_v2/dev_clean_2 --text-dir data/text \\
        --config egs/TEMPLATE/conf/uasr_tiny.yaml --updates 200 --seeds 1 2

Needs ESPnet (``bash tools/install_espnet.sh``).  How ESPnet 202511 is made to
run without changing it (see bench/README.md):

- typeguard: ``JoinSegmenter.pre_segment``/``logit_segment`` return tuples but
  are annotated ``-> torch.Tensor``; type-check failures are turned into
  (silenced) warnings with ``typeguard.config.typecheck_fail_callback``.
- ``ESPnetUASRModel`` asserts that ``kenlm`` is importable even without an LM;
  it is (tools/requirements.txt).  No LM is passed: selection metrics are not compared.
- The gradient penalty is added to the loss twice; ESPnet gets half of our weight.
- Special ids are hard-coded (``pad=1``, ids ``< 4`` dropped in validation); the
  token list is ``<eps> <pad> <s> </s> <unk>`` followed by our phones, so the
  model's pad id 1 really is ``<pad>`` and phone ``i`` is ESPnet id ``i + 5``.
- ``use_gumbel=True`` crashes (``self.curr_temp``); configs with Gumbel are refused.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from speechssl.models.uasr.gan import GANConfig
from speechssl.trainers.uasr_gan import UASRGANTrainer, load_config
from speechssl.uasr.data import EpochSampler, FeatureSet, PhoneText, PhoneVocab, TextSampler
from speechssl.uasr.selection import phone_error_rate, read_references
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging

log = get_logger("speechssl.bench.espnet_uasr_peer")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "egs/TEMPLATE/conf/uasr_tiny.yaml"
#: ESPnet token list head; ``<pad>`` sits at ESPnet's hard-coded pad id 1.
ESPNET_SPECIALS = ["<eps>", "<pad>", "<s>", "</s>", "<unk>"]
ESPNET_PAD = 1
#: Tokens removed from references before scoring (word separators of utt2phones).
REF_SEPARATORS = {"|"}
TABLE_HEADER = ("| date | machine | command | seed | updates | speechssl upd/s | ESPnet upd/s | speed-up "
                "| speechssl PER | ESPnet PER |\n|---|---|---|---|---|---|---|---|---|---|")


def import_espnet():
    """Import ESPnet's UASR classes with typeguard failures turned into silenced warnings."""
    try:
        import typeguard
        from espnet2.uasr.discriminator.conv_discriminator import ConvDiscriminator
        from espnet2.uasr.espnet_model import ESPnetUASRModel
        from espnet2.uasr.generator.conv_generator import ConvGenerator
        from espnet2.uasr.loss.discriminator_loss import UASRDiscriminatorLoss
        from espnet2.uasr.loss.gradient_penalty import UASRGradientPenalty
        from espnet2.uasr.loss.phoneme_diversity_loss import UASRPhonemeDiversityLoss
        from espnet2.uasr.loss.pseudo_label_loss import UASRPseudoLabelLoss
        from espnet2.uasr.loss.smoothness_penalty import UASRSmoothnessPenalty
        from espnet2.uasr.segmenter.join_segmenter import JoinSegmenter
    except ImportError as e:
        raise SpeechSSLError(f"ESPnet is not importable ({e}); install it with: bash tools/install_espnet.sh") from None
    typeguard.config.typecheck_fail_callback = typeguard.warn_on_error
    warnings.filterwarnings("ignore", category=typeguard.TypeCheckWarning)
    return dict(ESPnetUASRModel=ESPnetUASRModel, ConvGenerator=ConvGenerator, ConvDiscriminator=ConvDiscriminator,
                JoinSegmenter=JoinSegmenter, UASRDiscriminatorLoss=UASRDiscriminatorLoss,
                UASRGradientPenalty=UASRGradientPenalty, UASRSmoothnessPenalty=UASRSmoothnessPenalty,
                UASRPhonemeDiversityLoss=UASRPhonemeDiversityLoss, UASRPseudoLabelLoss=UASRPseudoLabelLoss)


class RngSlot:
    """A private copy of torch's global RNG state, swapped in while one side runs.

    Dropout, the segmenter's random frames and the gradient-penalty mixing all
    draw from the global generator; giving each side its own state keeps each
    trajectory independent of the interleaving.
    """

    def __init__(self, seed: int, cuda: bool):
        self.cuda = cuda
        saved = self._get()
        torch.manual_seed(seed)
        self.state = self._get()
        self._set(saved)

    def _get(self):
        return torch.get_rng_state(), (torch.cuda.get_rng_state() if self.cuda else None)

    def _set(self, state) -> None:
        torch.set_rng_state(state[0])
        if self.cuda:
            torch.cuda.set_rng_state(state[1])

    @contextmanager
    def active(self):
        saved = self._get()
        self._set(self.state)
        try:
            yield
        finally:
            self.state = self._get()
            self._set(saved)


class EspnetSide:
    """ESPnet's UASR model built from a speechssl GAN config, trained like espnet2.train.uasr_trainer."""

    def __init__(self, cfg: GANConfig, optim: dict, input_dim: int, vocab: PhoneVocab, device: torch.device):
        if cfg.gumbel.enabled:
            raise SpeechSSLError("model.gumbel.enabled is true, but ESPnet 202511 crashes with use_gumbel=True "
                                 "(it reads self.curr_temp); benchmark with gumbel disabled")
        if cfg.loss.aux_weight > 0 and not cfg.generator.residual:
            raise SpeechSSLError("loss.aux_weight > 0 needs model.generator.residual: true on the ESPnet side "
                                 "(its pseudo-label loss reads the residual layer's output)")
        es = import_espnet()
        g, d, loss = cfg.generator, cfg.discriminator, cfg.loss
        self.token_list = ESPNET_SPECIALS + vocab.tokens
        self.offset = len(ESPNET_SPECIALS)
        vocab_size = len(self.token_list)
        generator = es["ConvGenerator"](
            input_dim, vocab_size, conv_kernel=g.kernel, conv_dilation=g.dilation, conv_stride=g.stride, pad=-1,
            bias=g.bias, dropout=g.dropout, batch_norm=g.batch_norm, batch_norm_weight=float(g.batch_norm_weight),
            residual=g.residual)
        discriminator = es["ConvDiscriminator"](
            vocab_size, conv_channels=d.channels, conv_kernel=d.kernel, conv_dilation=d.dilation,
            conv_depth=d.depth, causal=d.causal, dropout=d.dropout)
        losses = {
            "discriminator_loss": es["UASRDiscriminatorLoss"](weight=1.0, smoothing=float(loss.label_smoothing)),
            # ESPnet adds the gradient penalty to the loss twice: half the weight gives ours.
            "gradient_penalty": es["UASRGradientPenalty"](discriminator, weight=loss.gradient_penalty / 2),
            "smoothness_penalty": es["UASRSmoothnessPenalty"](weight=float(loss.smoothness)),
            "phoneme_diversity_loss": es["UASRPhonemeDiversityLoss"](weight=float(loss.code_penalty)),
        }
        if loss.aux_weight > 0:
            losses["pseudo_label_loss"] = es["UASRPseudoLabelLoss"](
                weight=float(loss.aux_weight), input_dim=input_dim, output_dim=loss.aux_classes,
                downsample_rate=loss.aux_downsample)
        segmenter = es["JoinSegmenter"](mean_pool=True, mean_join_pool=cfg.segmenter.train_pool == "mean")
        self.model = es["ESPnetUASRModel"](
            frontend=None, segmenter=segmenter, generator=generator, discriminator=discriminator, losses=losses,
            kenlm_path=None, token_list=self.token_list, max_epoch=None, vocab_size=vocab_size,
            pad=ESPNET_PAD).to(device)
        self.device = device
        self.use_aux = loss.aux_weight > 0
        # espnet2.tasks.uasr.UASRTask.build_optimizers: generator (+ segmenter, + pseudo-label decoder), discriminator.
        gen_params = list(self.model.generator.parameters()) + list(self.model.segmenter.parameters())
        if self.use_aux:
            gen_params += list(self.model.losses["pseudo_label_loss"].decoder.parameters())
        self.optimizers = []
        for name, params in (("generator", gen_params), ("discriminator", self.model.discriminator.parameters())):
            o = optim[name]
            self.optimizers.append(torch.optim.AdamW(params, lr=float(o["lr"]), betas=tuple(o["betas"]),
                                                     eps=float(o["eps"]), weight_decay=float(o["weight_decay"])))
        self.clip = float(optim["clip_norm"])
        self.skipped = 0

    def text_batch(self, text: PhoneText, indices) -> tuple[torch.Tensor, torch.Tensor]:
        """Our phone ids shifted past ESPnet's special tokens, padded with ESPnet's pad id."""
        ids, mask = text.collate(indices)
        ids = (ids + self.offset).masked_fill(mask, ESPNET_PAD)
        return ids.to(self.device), (~mask).sum(dim=1).to(self.device)

    def step(self, update: int, feats: FeatureSet, audio_idx, text: PhoneText, text_idx) -> None:
        """One update, as espnet2.train.uasr_trainer.UASRTrainer.train_one_epoch does it.

        ``number_updates = update`` (the trainer uses ``iiter - 1``) puts the
        discriminator on odd updates as in speechssl, so each batch meets the same network on both sides.
        """
        self.model.train()
        batch = feats.collate(audio_idx, self.device)
        lengths = (~batch.padding_mask).sum(dim=1)
        text_ids, text_lengths = self.text_batch(text, text_idx[: len(audio_idx)])
        self.model.number_updates = update
        optim_idx = self.model.get_optim_index()
        loss, _, _, _ = self.model(speech=batch.feats, speech_lengths=lengths, text=text_ids,
                                   text_lengths=text_lengths, pseudo_labels=batch.aux if self.use_aux else None)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm=self.clip) if self.clip > 0 else None
        if norm is None or torch.isfinite(norm):
            self.optimizers[optim_idx].step()
        else:
            self.skipped += 1  # ESPnet skips the update on a non-finite gradient norm
        for optimizer in self.optimizers:
            optimizer.zero_grad()

    @torch.no_grad()
    def greedy_outputs(self, feats: FeatureSet, batch_size: int) -> dict[str, list[str]]:
        """Frame argmax of ESPnet's generator, repeats merged, special tokens dropped."""
        self.model.eval()
        order = np.argsort(feats.lengths, kind="stable")
        hyps = {}
        for start in range(0, len(order), batch_size):
            batch = feats.collate(order[start: start + batch_size], self.device)
            lengths = (~batch.padding_mask).sum(dim=1)
            logits, mask = self.model.inference(batch.feats, lengths)
            for utt, row, pad in zip(batch.utts, logits.argmax(-1).tolist(), mask.tolist()):
                ids = [p for p, m in zip(row, pad) if not m]
                merged = [p for i, p in enumerate(ids) if i == 0 or p != ids[i - 1]]
                hyps[utt] = [self.token_list[p] for p in merged if p >= self.offset]
        return hyps


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def machine(device: torch.device) -> str:
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            name = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    where = f"{name}, {os.cpu_count()} cores, {torch.get_num_threads()} threads"
    if device.type == "cuda":
        where = f"{torch.cuda.get_device_name(device)}, {where}"
    return f"{where}, torch {torch.__version__}"


def clean_references(path: Path) -> dict[str, list[str]]:
    return {utt: [p for p in phones if p not in REF_SEPARATORS] for utt, phones in read_references(path).items()}


def run_seed(args, seed: int, refs: dict[str, list[str]], device: torch.device) -> dict:
    """Build both sides for ``seed``, train them interleaved, and score them."""
    overrides = list(args.overrides) + [f"trainer.seed={seed}", f"trainer.max_updates={args.updates}",
                                        f"trainer.device={device}", f"trainer.precision={args.precision}",
                                        "trainer.progress=false"]
    config = load_config(args.config, overrides)
    with tempfile.TemporaryDirectory(prefix="peer_exp_") as exp_dir:
        ours = UASRGANTrainer(config, exp_dir, args.feats, args.valid_feats, args.text_dir)
        ours_rng = RngSlot(seed, device.type == "cuda")
        espnet_rng = RngSlot(seed, device.type == "cuda")
        with espnet_rng.active():
            peer = EspnetSide(ours.gan_cfg, config["optim"], ours.train_set.dim, ours.vocab, device)
        n_peer = {k: sum(p.numel() for p in getattr(peer.model, k).parameters()) for k in ("generator", "discriminator")}
        log.info("seed %d: speechssl parameters %s, ESPnet parameters %s", seed, ours.model.num_parameters(), n_peer)
        batch_size = int(config["data"]["batch_size"])
        audio = EpochSampler(len(ours.train_set), batch_size, seed)
        text = TextSampler(len(ours.text), batch_size, seed)
        elapsed = {"ours": 0.0, "espnet": 0.0}
        for update in tqdm(range(1, args.updates + 1), desc=f"seed {seed}", unit="upd", disable=not args.progress):
            sides = [("ours", ours_rng, lambda u=update: ours.train_step(u)),
                     ("espnet", espnet_rng, lambda u=update: peer.step(u, ours.train_set, audio.next_indices(),
                                                                        ours.text, text.indices(u)))]
            if update % 2 == 0:
                sides.reverse()  # alternate which side runs first
            for name, rng, step in sides:
                with rng.active():
                    sync(device)
                    start = time.perf_counter()
                    step()
                    sync(device)
                    if update > args.warmup:
                        elapsed[name] += time.perf_counter() - start
        timed = args.updates - args.warmup
        with ours_rng.active():
            ours_hyps = ours.greedy_outputs(ours.valid_set)
        with espnet_rng.active():
            peer_hyps = peer.greedy_outputs(ours.valid_set, int(config["data"]["valid_batch_size"]))
        ours.close()
    return {"seed": seed, "ours_ups": timed / elapsed["ours"], "espnet_ups": timed / elapsed["espnet"],
            "ours_per": phone_error_rate(ours_hyps, refs)[0], "espnet_per": phone_error_rate(peer_hyps, refs)[0],
            "espnet_skipped": peer.skipped}


def table_row(result: dict, date: str, where: str, command: str, updates: int) -> str:
    ratio = result["ours_ups"] / result["espnet_ups"]
    return (f"| {date} | {where} | `{command}` | {result['seed']} | {updates} | {result['ours_ups']:.2f} | "
            f"{result['espnet_ups']:.2f} | {ratio:.2f}x | {100 * result['ours_per']:.1f} % | "
            f"{100 * result['espnet_per']:.1f} % |")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--feats", required=True, help="training feature directory (feats.scp, utt2num_frames)")
    p.add_argument("--valid-feats", required=True, help="dev feature directory, decoded greedily for the PER")
    p.add_argument("--valid-ref", default=None,
                   help="utt2phones references of the dev set (default: <valid-feats>/utt2phones); "
                        "<SIL> and '|' are removed before scoring")
    p.add_argument("--text-dir", required=True, help="text directory with phones_sil.txt, dict.phn.txt, lm.phones.4.bin")
    p.add_argument("--config", default=str(DEFAULT_CONFIG),
                   help="speechssl GAN config (YAML) that both sides follow (default: %(default)s)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (e.g. data.batch_size=16); repeatable")
    p.add_argument("--updates", type=int, default=200, help="training updates per side and seed (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=2,
                   help="first updates left out of the timing on both sides (default: %(default)s)")
    p.add_argument("--seeds", type=int, nargs="+", default=[1], help="seeds, one table row each (default: 1)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads for both sides (default: torch's own choice)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "auto", "bf16"],
                   help="speechssl's trainer.precision on CUDA; ESPnet runs fp32 (its use_amp off). "
                        "Default fp32 so both sides compute alike")
    p.add_argument("--output", default=None, help="markdown file to append the rows to (header written when new)")
    p.add_argument("--progress", action="store_true", help="show a progress bar per seed")
    p.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")
    return p


@cli_main
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    if args.updates <= args.warmup:
        raise SpeechSSLError(f"--updates {args.updates} must exceed --warmup {args.warmup}")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SpeechSSLError("--device cuda but CUDA is not available")
    import_espnet()
    ref_path = Path(args.valid_ref) if args.valid_ref else Path(args.valid_feats) / "utt2phones"
    if not ref_path.is_file():
        raise SpeechSSLError(f"{ref_path}: no phone references; pass --valid-ref data/<dev>/utt2phones")
    refs = clean_references(ref_path)
    date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    where = machine(device)
    command = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, "bench/espnet_uasr_peer.py",
                                                 *(sys.argv[1:] if argv is None else argv)])
    rows = []
    for seed in args.seeds:
        result = run_seed(args, seed, refs, device)
        if result["espnet_skipped"]:
            log.warning("seed %d: ESPnet skipped %d update(s) with a non-finite gradient norm", seed,
                        result["espnet_skipped"])
        rows.append(table_row(result, date, where, command, args.updates))
        met = result["ours_ups"] >= 1.5 * result["espnet_ups"] and result["ours_per"] <= result["espnet_per"]
        log.info("seed %d: speed-up %.2fx, PER %.1f %% vs %.1f %%: target (>= 1.5x, PER no worse) %s", seed,
                 result["ours_ups"] / result["espnet_ups"], 100 * result["ours_per"], 100 * result["espnet_per"],
                 "met" if met else "NOT met")
    text = "\n".join(rows)
    print(TABLE_HEADER)
    print(text)
    if args.output:
        out = Path(args.output)
        new = not out.is_file() or out.stat().st_size == 0
        with out.open("a", encoding="utf-8") as f:
            f.write((TABLE_HEADER + "\n" if new else "") + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
