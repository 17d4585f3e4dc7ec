"""English and Swedish question words mapped to the Finnish lemmas of the corpus.

The corpus is Finnish; dense retrieval is multilingual, but the lexical side (and the evidence test that
decides a refusal) needs Finnish terms. A small domain glossary does that without a translation model.
Keys are lower-case word prefixes (so "regions", "regional" both hit "region").
"""

from __future__ import annotations

import re

_GLOSSARY: dict[str, list[str]] = {
    # English
    "pilot": ["pilotti"],
    "elmo": ["elmo"],
    "industrial transition": ["elinkeino", "murros"],
    "transition": ["murros"],
    "industr": ["elinkeino"],
    "region": ["maakunta", "alue"],
    "province": ["maakunta"],
    "county": ["maakunta"],
    "strateg": ["strategia"],
    "smart": ["älykäs"],
    "specialis": ["erikoistua"],
    "specializ": ["erikoistua"],
    "project manager": ["projektipäällikkö"],
    "manager": ["päällikkö", "projektipäällikkö"],
    "project": ["hanke", "projekti"],
    "phone": ["puhelin", "puh"],
    "telephone": ["puhelin", "puh"],
    "number": ["numero", "puh"],
    "contact": ["lisätieto", "yhteystieto"],
    "email": ["sähköposti"],
    "e-mail": ["sähköposti"],
    "priorit": ["painopiste"],
    "focus": ["painopiste"],
    "clean": ["puhdas"],
    "digital": ["digitalisaatio"],
    "sustainab": ["kestävä"],
    "service": ["palvelutuotanto"],
    "cluster": ["klusteri", "klusteritoiminta"],
    "workshop": ["työpaja"],
    "core": ["keskiö"],
    "centre": ["keskiö"],
    "center": ["keskiö"],
    "heart": ["keskiö"],
    "oecd": ["oecd"],
    "commission": ["komissio"],
    "european": ["eurooppa", "euroopan"],
    "europe": ["eurooppa"],
    "implement": ["toimeenpano"],
    "lead": ["vetää"],
    "led by": ["vetää"],
    "coordinat": ["koordinointi", "koordinaatio", "koordinoida"],
    "chair": ["puheenjohtajamaakunta", "puheenjohtaja"],
    "fund": ["rahoittaa", "rahoitushaku"],
    "financ": ["rahoittaa", "rahoitushaku"],
    # a funding call, the noun: "call" alone is mostly the verb ("Who should I call?", "What is X called?")
    "funding call": ["rahoitushaku"],
    "call for": ["rahoitushaku"],
    "open call": ["rahoitushaku"],
    "expert": ["asiantuntijaryhmä", "asiantuntija"],
    "group": ["ryhmä", "asiantuntijaryhmä"],
    "internation": ["kansainvälistyä", "kansainvälisyys", "kansainvälisesti"],
    "network": ["verkostoitua"],
    "valid": ["voimassa"],
    "publish": ["julkaista"],
    "goal": ["tavoite"],
    "aim": ["tavoite"],
    "objective": ["tavoite"],
    "report": ["raportti"],
    "council": ["liitto"],
    "regional council": ["maakuntaliitto", "liitto"],
    "north ostrobothnia": ["pohjois-pohjanmaa"],
    "central ostrobothnia": ["keski-pohjanmaa"],
    "ostrobothnia": ["pohjanmaa"],
    "lapland": ["lappi"],
    "kainuu": ["kainuu"],
    "north karelia": ["pohjois-karjala"],
    "north savo": ["pohjois-savo"],
    "south savo": ["etelä-savo"],
    "savo": ["savo"],
    "eastern": ["itä"],
    "east": ["itä"],
    "northern": ["pohjois"],
    "north": ["pohjois"],
    "finland": ["suomi"],
    "budget": ["budjetti"],
    "population": ["väkiluku"],
    "inhabitant": ["asukas"],
    "start": ["alkaa", "käynnistää"],
    "began": ["alkaa"],
    "begin": ["alkaa"],
    "end": ["päättyä"],
    "year": ["vuosi"],
    "chosen": ["valita"],
    "select": ["valita"],
    "particip": ["osallistua", "mukaan"],
    "took part": ["osallistua", "mukaan"],
    "countr": ["maa"],
    "learn": ["oppia"],
    "energy": ["energiatalous", "energiamurros"],
    "climate": ["ilmastopolitiikka"],
    # Swedish
    "landskap": ["maakunta"],
    "region ": ["maakunta"],
    "projektledare": ["projektipäällikkö"],
    "telefon": ["puhelin", "puh"],
    "kontakt": ["lisätieto", "yhteystieto"],  # as "contact": kontaktuppgifter are yhteystiedot
    "når": ["lisätieto"],  # "Hur når jag henne?": to reach a person is to contact them ("nå" alone: någon, något)
    "nås": ["lisätieto"],
    "e-post": ["sähköposti"],
    # the e-mail channel as people write it in a chat ("och hennes mejl?", "mejla", "epost", "mailadress")
    "epost": ["sähköposti"],
    "mejl": ["sähköposti"],
    "mail": ["sähköposti"],
    "strategi": ["strategia"],
    "specialisering": ["erikoistua"],
    "kärna": ["keskiö"],
    "leder": ["vetää"],
    "leda": ["vetää"],
    "genomför": ["toimeenpano"],
    "smart specialisering": ["älykäs", "erikoistua"],
    "prioriter": ["painopiste"],
    "samarbete": ["yhteistyö"],
    "finansier": ["rahoittaa"],
    "budget ": ["budjetti"],
    "befolkning": ["väkiluku"],
    "invånare": ["asukas"],
    "lappland": ["lappi"],
    "norra österbotten": ["pohjois-pohjanmaa"],
    "mellersta österbotten": ["keski-pohjanmaa"],
    "kajanaland": ["kainuu"],
    "norra karelen": ["pohjois-karjala"],
    "norra savolax": ["pohjois-savo"],
    "södra savolax": ["etelä-savo"],
    "östra": ["itä"],
    "norra": ["pohjois"],
    "finland ": ["suomi"],
    "år": ["vuosi"],
    # the Swedish counterparts of the English keys above: a Swedish question is read as far as an English one
    "projekt": ["hanke", "projekti"],
    "chef": ["päällikkö", "projektipäällikkö"],
    "nummer": ["numero", "puh"],
    "börja": ["alkaa", "käynnistää"],
    "inled": ["alkaa", "käynnistää"],
    "slutar": ["päättyä"],
    "slutade": ["päättyä"],
    "upphör": ["päättyä"],
    "vald": ["valita"],  # vald, valda, valde
    "utvald": ["valita"],
    "delta": ["osallistua", "mukaan"],
    "deltog": ["osallistua", "mukaan"],
    "medverka": ["osallistua", "mukaan"],
    "länder": ["maa"],
    "lär": ["oppia"],
    "energi": ["energiatalous", "energiamurros"],
    "klimat": ["ilmastopolitiikka"],
    "publicer": ["julkaista"],
    "mål": ["tavoite"],
    "syfte": ["tavoite"],
    "rapport": ["raportti"],
    "förbund": ["liitto"],
    "landskapsförbund": ["maakuntaliitto", "liitto"],
    "nätverk": ["verkostoitua"],
    "gäller": ["voimassa"],
    "giltig": ["voimassa"],
    "grupp": ["ryhmä", "asiantuntijaryhmä"],
    "klust": ["klusteri", "klusteritoiminta"],  # kluster, klustret, klustren
    "hållbar": ["kestävä"],
    "rena": ["puhdas"],
    "kommission": ["komissio"],
    "ordförande": ["puheenjohtajamaakunta", "puheenjohtaja"],
    "samordn": ["koordinointi", "koordinaatio", "koordinoida"],
    "koordiner": ["koordinointi", "koordinaatio", "koordinoida"],
    "utlysning": ["rahoitushaku"],
    "näringsliv": ["elinkeino"],
    "omställning": ["murros"],
    "fokus": ["painopiste"],
    "tyngdpunkt": ["painopiste"],
}

_WORD = re.compile(r"[\w-]+", re.UNICODE)

# What a plan, programme or body concentrates on: one concept Finnish writes as a verb or as one of several
# nouns, and a question rarely uses the sources' word ("Mihin strategia keskittyy?" — "painopisteiksi on
# nostettu …", "Strategian keskiössä on …"). Lemmas for reading questions; the pattern finds it in running
# text (Finnish, English, Swedish). Not an aim (tavoite): most plans share theirs.
FOCUS_LEMMAS = frozenset({"keskittyä", "painottaa", "painotus", "painopiste", "keskiö", "pääpaino", "fokus"})
FOCUS_TEXT = re.compile(r"keskiö|painopist|painott|painotu|pääpaino|keskitty|\bfocus|\bpriorit|\bfokus|tyngdpunkt", re.I)


def finnish_terms(question: str) -> list[str]:
    """Finnish lemmas for the domain words of an English or Swedish question."""
    return list(dict.fromkeys(t for lemmas in concepts(question) for t in lemmas))


def concepts(question: str) -> list[list[str]]:
    """The glossary concepts of a question, each as its list of alternative Finnish terms."""
    spaced = _spaced(question)
    return [lemmas for key, lemmas in _GLOSSARY.items() if " " + key.rstrip(" ") in spaced]


def _spaced(question: str) -> str:
    """The question's words in lower case between spaces, a hyphenated word's parts also on their own
    ("ELMO-piloten" is read by "pilot" as "the ELMO pilot" is)."""
    words = _WORD.findall(question.lower())
    words += [part for w in words if "-" in w.strip("-") for part in w.split("-") if part]
    return " " + " ".join(words) + " "


def read_words(question: str) -> set[str]:
    """The question's words (lower case) that a glossary key reads, a multi-word key's every word included."""
    words = _WORD.findall(question.lower())
    low = " " + " ".join(words) + " "
    out: set[str] = set()
    for key in _GLOSSARY:
        parts = key.split()
        if " " + " ".join(parts) not in low:
            continue
        for i in range(len(words) - len(parts) + 1):  # where the key matches: its last part a prefix
            if words[i : i + len(parts) - 1] == parts[:-1] and words[i + len(parts) - 1].startswith(parts[-1]):
                out.update(words[i : i + len(parts)])
    return out


def covered(question: str) -> int:
    """How many glossary keys the question hits (0: nothing we can map to the corpus's words)."""
    return len(finnish_terms(question))
