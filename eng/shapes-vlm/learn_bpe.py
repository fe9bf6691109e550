"""Learns a small BPE merges file in CLIP's format from the Shapes captions and prompt templates.

    /usr/bin/python3 eng/shapes-vlm/learn_bpe.py --captions DATA/captions.json \\
        --templates src/Microsoft.ML.FVlm.Shapes/Vlm/templates.txt --out merges.txt

Words are the pieces of CLIP's pre-tokenisation (clip_bpe.pre_tokenize) of every caption (image
and per-object), every category name, colour name and template. Starting from byte symbols (the
last one with ``</w>``), the most frequent adjacent pair (ties: smallest pair in string order) is
merged until every word is one symbol, so every corpus word is one token. Deterministic.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
from typing import Counter, Dict, Iterable, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from clip_bpe import ClipBpeTokenizer, bytes_to_unicode, clean, pre_tokenize, word_symbols, write_merges  # noqa: E402
from shapes_data import read_templates  # noqa: E402


def corpus_texts(captions_json: str, templates: List[str]) -> Iterable[str]:
    with open(captions_json, encoding="utf-8") as f:
        data = json.load(f)
    for image in data["images"]:
        if image.get("caption"):
            yield image["caption"]
    for ann in data["annotations"]:
        if ann.get("caption"):
            yield ann["caption"]
    for cat in data["categories"]:
        yield cat["name"]
    yield from templates


def word_counts(texts: Iterable[str]) -> Counter:
    byte_map = bytes_to_unicode()
    counts: Counter = collections.Counter()
    for text in texts:
        for piece in pre_tokenize(clean(text)):
            counts[word_symbols(piece, byte_map)] += 1
    return counts


def learn_merges(counts: Counter) -> List[Tuple[str, str]]:
    """Greedy BPE until every word is a single symbol."""
    words: Dict[Tuple[str, ...], int] = dict(counts)
    merges: List[Tuple[str, str]] = []
    while True:
        pairs: Counter = collections.Counter()
        for word, n in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += n
        if not pairs:
            return merges
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        joined = best[0] + best[1]
        updated = {}
        for word, n in words.items():
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    out.append(joined)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            updated[tuple(out)] = updated.get(tuple(out), 0) + n
        words = updated


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Learn a CLIP-format BPE merges file from Shapes captions.")
    p.add_argument("--captions", required=True, help="captions.json written by `fvlm shapes --split captions`")
    p.add_argument("--templates", required=True, help="prompt templates file, one per line, {} = class name")
    p.add_argument("--out", required=True, help="merges file to write (plain text, CLIP format)")
    args = p.parse_args(argv)
    texts = list(corpus_texts(args.captions, read_templates(args.templates)))
    counts = word_counts(texts)
    merges = learn_merges(counts)
    write_merges(args.out, merges)
    tok = ClipBpeTokenizer(merges)
    split = [w for w in counts if len(tok.bpe(_piece(w))) != 1]
    if split:
        sys.exit(f"learn_bpe: {len(split)} corpus words are not single tokens, e.g. {split[:3]}")
    print(f"learn_bpe: {len(counts)} words, {len(merges)} merges, vocabulary {tok.vocab_size} -> {args.out}")


def _piece(symbols: Tuple[str, ...]) -> str:
    decoder = {v: k for k, v in bytes_to_unicode().items()}
    text = "".join(symbols).replace("</w>", "")
    return bytes(decoder[c] for c in text).decode("utf-8")


if __name__ == "__main__":
    main()
