"""CLIP's byte-level BPE rules, for a small merges file in CLIP's format.

The vocabulary is built as CLIP builds it: the 256 byte symbols in CLIP's byte-to-unicode order,
the same 256 with the end-of-word marker ``</w>``, one token per merge in file order, then
``<|startoftext|>`` and ``<|endoftext|>``. Text is cleaned (HTML unescaped, whitespace collapsed,
lower-cased), split with CLIP's pre-tokenisation pattern
``'s|'t|'re|'ve|'m|'ll|'d|letters+|one number|other+`` (scanned by hand over code points, since
Debian's Python has no ``regex`` module), and each piece's UTF-8 bytes are merged by rank.
ftfy's repairs are not reproduced; the Shapes vocabulary is plain ASCII.
"""

from __future__ import annotations

import gzip
import html
import unicodedata
from typing import Dict, Iterable, List, Sequence, Tuple

END_OF_WORD = "</w>"
START_TEXT, END_TEXT = "<|startoftext|>", "<|endoftext|>"
HEADER = "#version: 0.2"
_CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


def bytes_to_unicode() -> Dict[int, str]:
    """CLIP's reversible map from the 256 byte values to printable characters."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars)))


def clean(text: str) -> str:
    """HTML unescaped twice, whitespace collapsed to single spaces, trimmed, lower-cased."""
    text = html.unescape(html.unescape(text))
    return " ".join(text.split()).lower()


def _kind(ch: str) -> str:
    if ch.isspace():
        return "space"
    cat = unicodedata.category(ch)
    if cat in ("Lu", "Ll", "Lt", "Lm", "Lo"):
        return "letter"
    if cat in ("Nd", "Nl", "No"):
        return "number"
    return "other"


def pre_tokenize(text: str) -> List[str]:
    """The pieces CLIP's pattern finds in cleaned text, in order."""
    pieces, i = [], 0
    while i < len(text):
        kind = _kind(text[i])
        if kind == "space":
            i += 1
            continue
        special = next((s for s in (START_TEXT, END_TEXT) + _CONTRACTIONS if text.startswith(s, i)), None)
        if special is not None:
            pieces.append(special)
            i += len(special)
            continue
        if kind == "number":
            pieces.append(text[i])
            i += 1
            continue
        end = i + 1
        while end < len(text) and _kind(text[end]) == kind:
            end += 1
        pieces.append(text[i:end])
        i = end
    return pieces


def word_symbols(piece: str, byte_map: Dict[int, str]) -> Tuple[str, ...]:
    """A piece as byte symbols, the last one carrying the end-of-word marker."""
    chars = [byte_map[b] for b in piece.encode("utf-8")]
    return tuple(chars[:-1]) + (chars[-1] + END_OF_WORD,)


def read_merges(path: str) -> List[Tuple[str, str]]:
    """Reads a merges file (plain or gzip): a header line, then one "left right" pair per line."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    lines = data.decode("utf-8").split("\n")[1:]
    return [tuple(line.split()) for line in lines if line.strip()]


def write_merges(path: str, merges: Sequence[Tuple[str, str]]) -> None:
    """Writes a plain-text merges file in CLIP's format."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(HEADER + "\n")
        for left, right in merges:
            f.write(f"{left} {right}\n")


class ClipBpeTokenizer:
    """Token ids for text, with CLIP's rules: start id 512 + merges, end id start + 1, pad 0."""

    def __init__(self, merges: Sequence[Tuple[str, str]]) -> None:
        self.byte_map = bytes_to_unicode()
        vocab = list(self.byte_map.values())
        vocab += [v + END_OF_WORD for v in vocab]
        vocab += ["".join(m) for m in merges]
        vocab += [START_TEXT, END_TEXT]
        self.encoder = {token: i for i, token in enumerate(vocab)}
        self.ranks = {tuple(m): i for i, m in reversed(list(enumerate(merges)))}
        self.start_id = self.encoder[START_TEXT]
        self.end_id = self.encoder[END_TEXT]
        self.vocab_size = len(vocab)
        self._cache: Dict[str, List[str]] = {}

    @classmethod
    def from_file(cls, path: str) -> "ClipBpeTokenizer":
        return cls(read_merges(path))

    def bpe(self, piece: str) -> List[str]:
        """Merges a piece's byte symbols by rank until no ranked pair is left."""
        if piece in self._cache:
            return self._cache[piece]
        word = list(word_symbols(piece, self.byte_map))
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self._cache[piece] = word
        return word

    def encode(self, text: str) -> List[int]:
        """Ids of the text, without start and end tokens."""
        ids = []
        for piece in pre_tokenize(clean(text)):
            if piece in (START_TEXT, END_TEXT):
                ids.append(self.encoder[piece])
            else:
                ids.extend(self.encoder[t] for t in self.bpe(piece))
        return ids

    def tokenize(self, texts: Iterable[str], context_length: int) -> List[List[int]]:
        """Rows of start + ids + end, zero-padded to context_length; too long rows keep the end token."""
        rows = []
        for text in texts:
            ids = [self.start_id] + self.encode(text) + [self.end_id]
            if len(ids) > context_length:
                ids = ids[:context_length - 1] + [self.end_id]
            rows.append(ids + [0] * (context_length - len(ids)))
        return rows
