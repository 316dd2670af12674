"""RESULTS.md of a UASR recipe, gathered from what its stages wrote under exp/.

Every number comes from a file a stage wrote (stage times, the seed sweep,
decoding scores, self-training rounds); nothing is typed in by hand.
Supervised numbers are labelled as such, and PER against reference phones is
always marked as an oracle measurement: the UASR system never sees them.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
from pathlib import Path
from typing import Any

from speechssl.utils.atomic import atomic_write


def machine_description() -> str:
    """CPU model and core count (and the GPU, when torch sees one)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    desc = f"{cpu}, {os.cpu_count()} cores"
    try:
        import torch

        if torch.cuda.is_available():
            desc += f", GPU {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return desc


def run_times(path: str | Path, current: str | None = None) -> list[tuple[str, list[tuple[str, str, float]]]]:
    """Each run.sh run recorded in ``exp/stage_times.tsv``, oldest first: ``(command, [(stage, what, seconds)])``.

    A run opens with a ``start`` line (files written before those lines have
    none) and closes with a ``done`` line; a stage's time runs from its start
    to the next line of its run.  A run stopped before its ``done`` line (killed
    or failed) is named "COMMAND (stopped in stage N)" and its last stage, whose
    end is unknown, is left out.  Stages after the last ``done`` line belong to
    the run now writing RESULTS.md, recorded as ``current`` when given; its last
    stage (still running) has no time yet and is left out.
    """
    path = Path(path)
    if not path.is_file():
        return []
    rows = [line.split("\t", 2) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def timed(stages, ends):
        return [(s[0], s[2], float(e[1]) - float(s[1])) for s, e in zip(stages, ends)]
    runs, stages, command = [], [], None
    for row in rows:
        if row[0] == "start":
            if stages:
                runs.append((f"{command or '-'} (stopped in stage {stages[-1][0]})", timed(stages, stages[1:])))
            stages, command = [], row[2] if len(row) == 3 else None
        elif row[0] == "done":
            runs.append((row[2] if len(row) == 3 else "-", timed(stages, stages[1:] + [row])))
            stages, command = [], None
        else:
            stages.append(row)
    if stages and current is not None:
        runs.append((current, timed(stages, stages[1:])))
    return runs


def main_run(runs: list[tuple[str, list[tuple[str, str, float]]]]):
    """The latest run that started from the corpus (stage 0-1), else the latest run; None when none."""
    full = [r for r in runs if r[1] and r[1][0][0] == "0-1"]
    return (full or runs or [None])[-1]


def _scores_path(decode_dir: Path) -> Path | None:
    for path in (decode_dir / "scoring" / "scores.json", decode_dir / "scores.json"):
        if path.is_file():
            return path
    return None


def _score(decode_dir: Path) -> dict[str, Any] | None:
    path = _scores_path(decode_dir)
    return None if path is None else json.loads(path.read_text(encoding="utf-8"))["total"]


def metric_of(decode_dir: Path) -> str:
    """PER or WER, as recorded by the scoring."""
    path = _scores_path(decode_dir)
    return json.loads(path.read_text(encoding="utf-8")).get("metric", "-") if path else "-"


def decode_rows(exp_dir: Path, sets: list[str]) -> list[list[str]]:
    """One row per (set, decoder) found as ``<exp_dir>/decode_<set>_<decoder>``."""
    rows = []
    for x in sets:
        for d in sorted(exp_dir.glob(f"decode_{x}_*")):
            total = _score(d)
            if total is None:
                continue
            decoder = d.name[len(f"decode_{x}_"):]
            rows.append([x, decoder, metric_of(d), f"{total['error_rate']:.2f}", str(total["ref_tokens"]),
                         str(total["sub"]), str(total["del"]), str(total["ins"])])
    return rows


def breakdown_rows(exp_dir: Path, sets: list[str]) -> list[list[str]]:
    """One row per (set, decoder, breakdown, value) recorded under ``breakdowns`` in the scores of decode_*."""
    rows = []
    for x in sets:
        for d in sorted(exp_dir.glob(f"decode_{x}_*")):
            path = _scores_path(d)
            if path is None:
                continue
            decoder = d.name[len(f"decode_{x}_"):]
            for name, values in json.loads(path.read_text(encoding="utf-8")).get("breakdowns", {}).items():
                for value, c in values.items():
                    rows.append([x, decoder, name, value, f"{c['error_rate']:.2f}", str(c["ref_tokens"]),
                                 str(c["sentences"])])
    return rows


def _rounds(path: Path) -> dict[str, dict[str, float]]:
    """``{round: {set: PER}}`` of a ``rounds.json`` written by pseudo_label (empty when absent)."""
    if not path.is_file():
        return {}
    return {r["round"]: r["per"] for r in json.loads(path.read_text(encoding="utf-8"))}


def _per_cell(values: dict[str, float] | None, sets: list[str]) -> str:
    """PERs of ``sets`` as ``dev / test ...`` (one decimal), or ``-`` when any is missing."""
    if not values or any(x not in values for x in sets):
        return "-"
    return " / ".join(f"{values[x]:.1f}" for x in sets)


def pipeline_rows(recipe_dir: Path, sets: list[str]) -> list[list[str]]:
    """One row per GAN sweep ``exp/uasr_<feat>_<version>`` with a selected run: every PER that pipeline measured.

    Columns: pipeline, selected run, GAN greedy, GAN with the 6-gram, last
    self-training round, supervised CTC twin, supervised generator twin (each
    ``dev / test ...`` in ``sets`` order); whether the GAN's greedy PER is
    at most twice the generator twin's and the last self-training round
    within 5 points of the CTC twin, on the first set; and the selection gap
    (oracle PER of the chosen checkpoint minus the best validated one's, on
    the validation set of the sweep).
    """
    def cell(values: dict[str, float] | None) -> str:
        return _per_cell(values, sets)

    def decoded(gan: Path, decoder: str) -> dict[str, float]:
        out = {}
        for x in sets:
            total = _score(gan / f"decode_{x}_{decoder}")
            if total is not None:
                out[x] = total["error_rate"]
        return out

    def verdict(value: dict[str, float] | None, bound: float | None) -> str:
        if not value or bound is None or sets[0] not in value:
            return "-"
        return "yes" if value[sets[0]] <= bound else "no"

    rows = []
    for gan in sorted((recipe_dir / "exp").glob("uasr_*")):
        selected_path = gan / "selected.json"
        if not selected_path.is_file():
            continue
        sweep = json.loads(selected_path.read_text(encoding="utf-8"))
        selected, gap = sweep["selected"], sweep.get("selection_gap")
        twins = _rounds(gan.parent / ("supervised_" + gan.name[len("uasr_"):]) / "rounds.json")
        ctc, generator = twins.get("supervised-ctc"), twins.get("supervised-generator")
        self_training = list(_rounds(gan / "self_training" / "rounds.json").items())
        last = self_training[-1][1] if len(self_training) > 1 else None
        greedy = decoded(gan, "greedy")
        rows.append([gan.name[len("uasr_"):], f"{selected['run']} @ {selected.get('best_update')}", cell(greedy),
                     cell(decoded(gan, "phn6")), cell(last), cell(ctc), cell(generator),
                     verdict(greedy, 2 * generator[sets[0]] if generator and sets[0] in generator else None),
                     verdict(last, ctc[sets[0]] + 5 if ctc and sets[0] in ctc else None),
                     "-" if gap is None else f"{gap['gap_points']:.1f}"])
    return rows


def method_rows(recipe_dir: Path, sets: list[str]) -> list[list[str]]:
    """One row per way of getting round-0 labels without transcripts, self-training included: the GAN sweeps
    ``exp/uasr_<feat>_<version>`` and the decipherment runs ``exp/decipher_<feat>``.

    Columns: method, features, round-0 labels, the last self-training round and
    the supervised CTC twin of those features (each ``dev / test ...``).
    """
    def cell(values: dict[str, float] | None) -> str:
        return _per_cell(values, sets)

    rows = []
    for kind, pattern in (("GAN", "uasr_*"), ("decipherment (trigram HMM, no GAN)", "decipher_*")):
        for d in sorted((recipe_dir / "exp").glob(pattern)):
            rounds = list(_rounds(d / "self_training" / "rounds.json").items())
            if not rounds:
                continue
            name = d.name.split("_", 1)[1]
            feat = name.rsplit("_", 1)[0] if kind == "GAN" else name
            twins = [_rounds(p / "rounds.json").get("supervised-ctc")
                     for p in sorted((recipe_dir / "exp").glob(f"supervised_{feat}_*"))]
            twin = next((t for t in twins if t), None)
            label = f"{kind} {name.rsplit('_', 1)[1]}" if kind == "GAN" else kind
            rows.append([label, feat, f"{rounds[0][0]}: {cell(rounds[0][1])}",
                         f"{rounds[-1][0]}: {cell(rounds[-1][1])}" if len(rounds) > 1 else "-", cell(twin)])
    return rows


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def write_results(recipe_dir: str | Path, *, title: str, sets: list[str], gan_dir: str, command: str | None = None,
                  extra_dirs: dict[str, str] | None = None, tables: dict[str, str] | None = None,
                  notes: list[str] = ()) -> Path:
    """Write ``<recipe_dir>/RESULTS.md``; return its path.

    ``command`` is the run writing the file (not yet recorded as done);
    ``gan_dir`` is the seed-sweep directory (runs.md, selected.json, decode_*);
    ``extra_dirs`` maps a section title to another experiment directory with
    decode_* results; ``tables`` maps a section title to a markdown table a
    stage wrote (self-training rounds, supervised twins).  Missing ones are
    left out.
    """
    recipe_dir = Path(recipe_dir)
    exp = recipe_dir / "exp"
    gan = recipe_dir / gan_dir
    lines = [f"# {title}", ""]
    timed = run_times(exp / "stage_times.tsv", command)
    runs = [c for c, _ in timed]
    lines += [f"- date: {datetime.date.today().isoformat()}", f"- machine: {machine_description()}",
              "- runs that produced these outputs (oldest first): " + ("; ".join(f"`{r}`" for r in runs) or "-"),
              ""]
    lines += list(notes) + ([""] if notes else [])

    main = main_run(timed)
    if main is not None and main[1]:
        lines += ["## Time per stage", "", f"Run: `{main[0]}`", ""]
        lines += _table(["stage", "what", "seconds"], [[s, d, f"{t:.0f}"] for s, d, t in main[1]])
        lines += ["", f"Total: {sum(t for _, _, t in main[1]) / 60:.1f} min.", ""]
        others = [r for r in timed if r is not main and r[1]]
        if others:
            lines += ["Other runs recorded in `exp/stage_times.tsv` (oldest first):", ""]
            lines += _table(["run", "stages", "minutes"],
                            [[f"`{c}`", f"{st[0][0]} to {st[-1][0]}", f"{sum(t for _, _, t in st) / 60:.1f}"]
                             for c, st in others]) + [""]

    if (gan / "runs.md").is_file():
        selected = json.loads((gan / "selected.json").read_text(encoding="utf-8"))["selected"]
        lines += ["## GAN seed sweep", "",
                  f"Selected without labels: **{selected['run']}** (update {selected.get('best_update')}).", ""]
        lines += (gan / "runs.md").read_text(encoding="utf-8").rstrip("\n").splitlines() + [""]
        curves = recipe_dir / selected["dir"] / "curves.png"
        if curves.is_file():
            shutil.copyfile(curves, recipe_dir / "RESULTS.curves.png")
            lines += [f"Training curves of the selected run (`{os.path.relpath(curves, recipe_dir)}`):", "",
                      "![training curves](RESULTS.curves.png)", ""]

    sections = {"GAN (selected seed)": gan_dir, **(extra_dirs or {})}
    header = ["set", "decoder", "metric", "error rate % (oracle)", "ref tokens", "sub", "del", "ins"]
    for name, d in sections.items():
        rows = decode_rows(recipe_dir / d, sets)
        if rows:
            lines += [f"## {name}: error rates", "", f"Directory: `{d}`", ""]
            lines += _table(header, rows) + [""]
        rows = breakdown_rows(recipe_dir / d, sets)
        if rows:
            lines += [f"## {name}: error rates by group", "",
                      "Per utterance group, or per reference-token tag (`tags`: substitutions and deletions "
                      "charged to the reference token's tag, insertions to the token before them).", ""]
            lines += _table(["set", "decoder", "by", "value", "error rate % (oracle)", "ref tokens",
                             "utterances"], rows) + [""]
    rows = pipeline_rows(recipe_dir, sets)
    if rows:
        lines += ["## Every pipeline run in this directory (oracle PER %)", "",
                  f"One row per GAN sweep under `exp/uasr_<features>_<version>`, with its twins under "
                  f"`exp/supervised_<features>_<version>`; each cell is {' / '.join(sets)}. The targets (issue 4) "
                  f"are checked on {sets[0]}: GAN greedy PER at most twice the supervised generator twin's, and "
                  "the last self-training round within 5 points of the supervised CTC twin; the unsupervised choice "
                  "within 2 points of the best validated checkpoint by oracle PER (selection gap, from the sweep's "
                  "selected.json).", ""]
        lines += _table(["pipeline", "selected", "GAN greedy", "GAN + 6-gram", "self-training (last round)",
                         "supervised CTC twin", "supervised generator twin", "GAN <= 2x twin",
                         "self-training <= CTC twin + 5", "selection gap (points)"], rows) + [""]
    rows = method_rows(recipe_dir, sets)
    if len(rows) > 1:
        lines += ["## Unsupervised methods side by side (oracle PER %)", "",
                  f"Labels learnt without transcripts (round 0) and after self-training, beside the supervised CTC "
                  f"twin of the same features; each cell is {' / '.join(sets)}.", ""]
        lines += _table(["method", "features", "round 0", "self-training (last round)", "supervised CTC twin"],
                        rows) + [""]
    for name, path in (tables or {}).items():
        path = recipe_dir / path
        if path.is_file():
            lines += [f"## {name}", "", f"From `{os.path.relpath(path, recipe_dir)}`.", ""]
            lines += path.read_text(encoding="utf-8").rstrip("\n").splitlines() + [""]
    benches = sorted((exp / "bench").glob("*.md"))
    if benches:
        lines += ["## Benchmarks", "", "Written by the scripts `bench/run_uasr_frontend.sh` and `bench/run_uasr_peer.sh`; "
                  "each names its command, date and machine.", ""]
        for b in benches:
            lines += b.read_text(encoding="utf-8").rstrip("\n").splitlines() + [""]
    out = recipe_dir / "RESULTS.md"
    with atomic_write(out) as f:
        f.write("\n".join(lines).rstrip("\n") + "\n")
    return out
