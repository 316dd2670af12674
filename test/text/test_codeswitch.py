"""Code-switched text: the common IPA convention, tags, statistics, word-by-word lexicon."""
from __future__ import annotations

import pytest

from speechssl.text.codeswitch import (TaggedPhonemizer, build_lexicon, common_ipa, common_phones, cs_stats,
                                       pair_languages, parse_tags, stats_markdown, switch_points, utt_lang)
from speechssl.utils.errors import SpeechSSLError


@pytest.mark.parametrize("phone, expected", [
    ("eː", ["e"]),            # length removed
    ("ˈa", ["a"]),            # stress removed
    ("g", ["ɡ"]),             # ASCII g -> IPA ɡ
    ("s-", ["s"]),            # espeak-ng's - mark dropped
    ("t͡ʃ", ["t", "ʃ"]),        # tie bar removed, affricate split
    ("ts", ["t", "s"]),
    ("dʒ", ["d", "ʒ"]),
    ("aɪ", ["aɪ"]),           # diphthongs stay whole
    ("ǁʰ", ["ǁʰ"]),           # aspiration stays on its click
    ("ŋ̤", ["ŋ̤"]),             # breathy voice stays on its nasal
    ("ˈ", []),
])
def test_common_ipa(phone, expected):
    assert common_ipa(phone) == expected


def test_common_phones_joins_stray_marks():
    # epitran's trans_list splits some phones from their combining mark
    assert common_phones(["ŋ̤", "ǃ", "\u0324", "ɔ"]) == ["ŋ̤", "ǃ̤", "ɔ"]


def test_tags_and_switches():
    assert utt_lang(["zul", "eng", "zul"]) == "eng+zul"
    assert utt_lang(["tsn", "tsn"]) == "tsn"
    assert switch_points(["eng", "zul", "zul", "eng"]) == 2
    assert switch_points(["eng"]) == 0
    assert pair_languages("engsot") == ("eng", "sot")
    assert parse_tags("eng zul", 2, "x") == ["eng", "zul"]
    with pytest.raises(SpeechSSLError, match="2 language tags for 3 words"):
        parse_tags("eng zul", 3, "f:4")
    with pytest.raises(SpeechSSLError, match="unknown language tag 'nso'"):
        parse_tags("eng nso", 2, "f:4")
    with pytest.raises(SpeechSSLError, match="unknown language pair"):
        pair_languages("engnso")


def test_cs_stats_counts():
    stats = cs_stats({"a": ["eng", "eng", "zul", "zul", "eng"], "b": ["zul", "zul"], "c": ["eng"]})
    assert stats["utterances"] == 3 and stats["words"] == 8
    assert stats["words_per_language"] == {"eng": 4, "zul": 4}
    assert stats["share_of_words"] == {"eng": 0.5, "zul": 0.5}
    assert stats["utterances_per_language_set"] == {"eng": 1, "eng+zul": 1, "zul": 1}
    assert stats["code_switched_utterances"] == 1 and stats["monolingual_utterances"] == 2
    assert stats["switch_points"] == 2 and stats["max_switch_points"] == 2
    assert stats["cmi_code_switched_utterances"] == 40.0  # 100 * (1 - 3/5)
    table = stats_markdown({"set1": stats})
    assert "| set1 | 3 | 8 | 50.0 | 50.0 | 1 | 0.67 | 40.0 |" in table


class FakePhonemizer(TaggedPhonemizer):
    """Phones spelled letter by letter, the language as a prefix of the first phone (no G2P engine)."""

    def prime(self, pairs):
        for w, l in pairs:
            self._cache[(w, l)] = tuple([f"{l}:{w[0]}", *w[1:]]) if w != "mute" else ()


def test_build_lexicon_majority_language():
    sentences = [(["into", "yami"], ["xho", "xho"]), (["into", "the"], ["eng", "eng"]),
                 (["into", "mute"], ["xho", "eng"])]
    lexicon, stats = build_lexicon(sentences, FakePhonemizer())
    assert lexicon["into"] == ("xho:i", "n", "t", "o")  # tagged xho twice, eng once
    assert lexicon["the"] == ("eng:t", "h", "e")
    assert "mute" not in lexicon
    assert stats["tagged_in_two_languages"] == 1 and stats["no_phones_per_language"] == {"eng": 1}


def test_epitran_words_offline():
    p = TaggedPhonemizer()
    assert p.word("ixhosa", "xho") == ("i", "k", "ǁʰ", "ɔ", "s", "a")
    assert p.word("hlala", "zul") == ("ɬ", "a", "l", "a")
    assert p.word("tshwanelo", "tsn")[:2] == ("t", "sʰ")
    assert p.word("tshwanelo", "sot") == p.word("tshwanelo", "tsn")  # Sesotho read as Setswana
    phones, tags = p.utterance(["hlala"], ["zul"])
    assert phones == [["ɬ", "a", "l", "a"]] and tags == [["zul"] * 4]
