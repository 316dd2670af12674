"""The 102 FLEURS languages, with the espeak-ng voice and the epitran code of each.

FLEURS names a language ``<language>_<region>`` (``sw_ke``, ``es_419``,
``cmn_hans_cn``); its directory in the corpus has that name.  For each one the
table gives:

``espeak``
    the espeak-ng 1.51 voice (a language code accepted by ``espeak-ng -v`` and
    by ``prepare_text --lang``), or ``none``: 29 FLEURS languages have no
    espeak-ng voice.  Those are prepared for their audio, but the text side of
    UASR (lexicon, phone LMs) and the oracle phone references need a lexicon
    from the user (``prepare_text --lexicon``).
``epitran``
    the epitran grapheme-to-phoneme code for the script FLEURS uses (epitran
    1.35), or ``none``.  20 of the 29 languages without a voice have one; a
    lexicon can be written with it.

Caveats (in ``note``): espeak-ng reads Japanese kana only, not kanji; ``ku``
(Kurmanji) is not Sorani (``ckb``), so ``ckb_iq`` has no voice; Bosnian uses
the ``bs`` voice.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from speechssl.utils.errors import SpeechSSLError

NONE = "none"


@dataclass(frozen=True)
class FleursLanguage:
    """One FLEURS language: its code, English name, espeak-ng voice and epitran code (or ``none``)."""

    code: str
    name: str
    espeak: str
    epitran: str
    note: str = ""

    @property
    def has_voice(self) -> bool:
        return self.espeak != NONE


_TABLE = """
af_za   Afrikaans            af       afr-Latn
am_et   Amharic              am       amh-Ethi
ar_eg   Arabic               ar       ara-Arab
as_in   Assamese             as       none
ast_es  Asturian             none     none
az_az   Azerbaijani          az       aze-Latn
be_by   Belarusian           be       none
bg_bg   Bulgarian            bg       none
bn_in   Bengali              bn       ben-Beng
bs_ba   Bosnian              bs       none
ca_es   Catalan              ca       cat-Latn
ceb_ph  Cebuano              none     ceb-Latn
ckb_iq  Sorani_Kurdish       none     ckb-Arab
cmn_hans_cn Mandarin_Chinese cmn      none
cs_cz   Czech                cs       ces-Latn
cy_gb   Welsh                cy       cym-Latn
da_dk   Danish               da       none
de_de   German               de       deu-Latn
el_gr   Greek                el       none
en_us   English              en-us    none
es_419  Spanish              es-419   spa-Latn
et_ee   Estonian             et       est-Latn
fa_ir   Persian              fa       fas-Arab
ff_sn   Fula                 none     ful-Latn
fi_fi   Finnish              fi       fin-Latn
fil_ph  Filipino             none     tgl-Latn
fr_fr   French               fr-fr    fra-Latn
ga_ie   Irish                ga       gle-Latn
gl_es   Galician             none     glg-Latn
gu_in   Gujarati             gu       none
ha_ng   Hausa                none     hau-Latn
he_il   Hebrew               he       none
hi_in   Hindi                hi       hin-Deva
hr_hr   Croatian             hr       hrv-Latn
hu_hu   Hungarian            hu       hun-Latn
hy_am   Armenian             hy       none
id_id   Indonesian           id       ind-Latn
ig_ng   Igbo                 none     none
is_is   Icelandic            is       none
it_it   Italian              it       ita-Latn
ja_jp   Japanese             ja       none
jv_id   Javanese             none     jav-Latn
ka_ge   Georgian             ka       kat-Geor
kam_ke  Kamba                none     none
kea_cv  Kabuverdianu         none     none
kk_kz   Kazakh               kk       kaz-Cyrl
km_kh   Khmer                none     khm-Khmr
kn_in   Kannada              kn       kan-Knda
ko_kr   Korean               ko       kor-Hang
ky_kg   Kyrgyz               ky       kir-Cyrl
lb_lu   Luxembourgish        lb       none
lg_ug   Ganda                none     lug-Latn
ln_cd   Lingala              none     none
lo_la   Lao                  none     lao-Laoo
lt_lt   Lithuanian           lt       lit-Latn
luo_ke  Luo                  none     none
lv_lv   Latvian              lv       lav-Latn
mi_nz   Maori                mi       mri-Latn
mk_mk   Macedonian           mk       none
ml_in   Malayalam            ml       mal-Mlym
mn_mn   Mongolian            none     mon-Cyrl-bab
mr_in   Marathi              mr       mar-Deva
ms_my   Malay                ms       msa-Latn
mt_mt   Maltese              mt       mlt-Latn
my_mm   Burmese              my       mya-Mymr
nb_no   Norwegian            nb       none
ne_np   Nepali               ne       npi-Deva
nl_nl   Dutch                nl       nld-Latn
nso_za  Northern_Sotho       none     none
ny_mw   Nyanja               none     nya-Latn
oc_fr   Occitan              none     oci-Latn
om_et   Oromo                om       orm-Latn
or_in   Odia                 or       ori-Orya
pa_in   Punjabi              pa       pan-Guru
pl_pl   Polish               pl       pol-Latn
ps_af   Pashto               none     pbu-Arab
pt_br   Portuguese           pt-br    por-Latn
ro_ro   Romanian             ro       ron-Latn
ru_ru   Russian              ru       rus-Cyrl
sd_in   Sindhi               sd       none
sk_sk   Slovak               sk       none
sl_si   Slovenian            sl       slv-Latn
sn_zw   Shona                none     sna-Latn
so_so   Somali               none     som-Latn
sr_rs   Serbian              sr       srp-Cyrl
sv_se   Swedish              sv       swe-Latn
sw_ke   Swahili              sw       swa-Latn
ta_in   Tamil                ta       tam-Taml
te_in   Telugu               te       tel-Telu
tg_tj   Tajik                none     tgk-Cyrl
th_th   Thai                 th       tha-Thai
tr_tr   Turkish              tr       tur-Latn
uk_ua   Ukrainian            uk       ukr-Cyrl
umb_ao  Umbundu              none     none
ur_pk   Urdu                 ur       urd-Arab
uz_uz   Uzbek                uz       uzb-Latn
vi_vn   Vietnamese           vi       vie-Latn
wo_sn   Wolof                none     none
xh_za   Xhosa                none     xho-Latn
yo_ng   Yoruba               none     yor-Latn
yue_hant_hk Cantonese        yue      none
zu_za   Zulu                 none     zul-Latn
"""
_NOTES = {
    "ja_jp": "espeak-ng reads kana only; FLEURS text has kanji (give a lexicon)",
    "ckb_iq": "espeak-ng's ku voice is Kurmanji, not Sorani",
    "cmn_hans_cn": "epitran's Mandarin needs pinyin (cmn-Latn), FLEURS text is Hanzi",
    "yue_hant_hk": "epitran's yue-Latn needs Jyutping, FLEURS text is Hanzi",
}


def _parse_table() -> dict[str, FleursLanguage]:
    langs = {}
    for line in _TABLE.strip().splitlines():
        code, name, espeak, epitran = line.split()
        langs[code] = FleursLanguage(code, name.replace("_", " "), espeak, epitran, _NOTES.get(code, ""))
    return langs


LANGUAGES: dict[str, FleursLanguage] = _parse_table()


def get_language(code: str) -> FleursLanguage:
    """The table row of a FLEURS language code (e.g. ``sw_ke``), or a clear error."""
    if code not in LANGUAGES:
        close = [c for c in LANGUAGES if c.split("_")[0] == code.split("_")[0]]
        hint = f"; did you mean {', '.join(close)}?" if close else "; FLEURS codes look like sw_ke, es_419, cmn_hans_cn"
        raise SpeechSSLError(f"unknown FLEURS language {code!r}{hint}")
    return LANGUAGES[code]


def parse_langs(spec: str) -> list[str]:
    """``all`` or a comma/space separated list of FLEURS codes -> the codes, checked, in table order."""
    if spec.strip() == "all":
        return list(LANGUAGES)
    codes = [c for c in re.split(r"[,\s]+", spec.strip()) if c]
    if not codes:
        raise SpeechSSLError("no FLEURS language given; use --langs all or e.g. --langs sw_ke,es_419")
    for c in codes:
        get_language(c)
    return [c for c in LANGUAGES if c in set(codes)]


def installed_voices() -> set[str]:
    """Language codes of the installed espeak-ng voices (``espeak-ng --voices``), lower case."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SpeechSSLError("espeak-ng is not installed; run `apt-get install espeak-ng` (tools/install_system.sh)")
    out = subprocess.run([exe, "--voices"], capture_output=True, text=True, check=True).stdout
    return {line.split()[1].lower() for line in out.splitlines()[1:] if len(line.split()) > 1}


def voice_status(lang: FleursLanguage, voices: set[str]) -> str:
    """``ok`` (voice installed), ``no_voice`` (espeak-ng has none) or ``missing`` (not installed here)."""
    if not lang.has_voice:
        return "no_voice"
    return "ok" if lang.espeak.lower() in voices else "missing"
