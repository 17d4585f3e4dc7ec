"""The generated Finnish-like corpus: deterministic documents, questions about them, their chunk texts."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 1
STAGES = ("embed", "dense", "bm25", "fusion", "answer", "other", "total")
STAGE_KEYS = {
    "embed": "retrieve_embed",
    "dense": "retrieve_dense",
    "bm25": "retrieve_bm25",
    "fusion": "retrieve_fusion",
}

Log = Callable[[str], None]

# ------------------------------------------------------------------------------------------------------
# the generated corpus
# ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    nom: str
    gen: str
    loc: str  # inessive/adessive: "Kainuussa", "Pohjois-Pohjanmaalla"


REGIONS = [
    Place("Kainuu", "Kainuun", "Kainuussa"),
    Place("Lappi", "Lapin", "Lapissa"),
    Place("Pohjois-Karjala", "Pohjois-Karjalan", "Pohjois-Karjalassa"),
    Place("Pohjois-Savo", "Pohjois-Savon", "Pohjois-Savossa"),
    Place("Etelä-Savo", "Etelä-Savon", "Etelä-Savossa"),
    Place("Keski-Pohjanmaa", "Keski-Pohjanmaan", "Keski-Pohjanmaalla"),
    Place("Pohjois-Pohjanmaa", "Pohjois-Pohjanmaan", "Pohjois-Pohjanmaalla"),
    Place("Satakunta", "Satakunnan", "Satakunnassa"),
    Place("Pirkanmaa", "Pirkanmaan", "Pirkanmaalla"),
    Place("Varsinais-Suomi", "Varsinais-Suomen", "Varsinais-Suomessa"),
    Place("Pohjanmaa", "Pohjanmaan", "Pohjanmaalla"),
    Place("Keski-Suomi", "Keski-Suomen", "Keski-Suomessa"),
    Place("Päijät-Häme", "Päijät-Hämeen", "Päijät-Hämeessä"),
    Place("Kymenlaakso", "Kymenlaakson", "Kymenlaaksossa"),
    Place("Etelä-Karjala", "Etelä-Karjalan", "Etelä-Karjalassa"),
    Place("Etelä-Pohjanmaa", "Etelä-Pohjanmaan", "Etelä-Pohjanmaalla"),
    Place("Kanta-Häme", "Kanta-Hämeen", "Kanta-Hämeessä"),
    Place("Uusimaa", "Uudenmaan", "Uudellamaalla"),
]
CITIES = [
    Place("Oulu", "Oulun", "Oulussa"),
    Place("Kajaani", "Kajaanin", "Kajaanissa"),
    Place("Rovaniemi", "Rovaniemen", "Rovaniemellä"),
    Place("Joensuu", "Joensuun", "Joensuussa"),
    Place("Kuopio", "Kuopion", "Kuopiossa"),
    Place("Mikkeli", "Mikkelin", "Mikkelissä"),
    Place("Kokkola", "Kokkolan", "Kokkolassa"),
    Place("Savonlinna", "Savonlinnan", "Savonlinnassa"),
    Place("Kemi", "Kemin", "Kemissä"),
    Place("Tornio", "Tornion", "Torniossa"),
    Place("Iisalmi", "Iisalmen", "Iisalmessa"),
    Place("Raahe", "Raahen", "Raahessa"),
    Place("Nurmes", "Nurmeksen", "Nurmeksessa"),
    Place("Sodankylä", "Sodankylän", "Sodankylässä"),
    Place("Seinäjoki", "Seinäjoen", "Seinäjoella"),
    Place("Lappeenranta", "Lappeenrannan", "Lappeenrannassa"),
]
THEMES = [
    ("vetytalous", "vetytalouden"),
    ("kiertotalous", "kiertotalouden"),
    ("biotalous", "biotalouden"),
    ("matkailu", "matkailun"),
    ("akkuteollisuus", "akkuteollisuuden"),
    ("digitalisaatio", "digitalisaation"),
    ("metsäteollisuus", "metsäteollisuuden"),
    ("kaivosala", "kaivosalan"),
    ("elintarviketuotanto", "elintarviketuotannon"),
    ("terveysteknologia", "terveysteknologian"),
    ("energiamurros", "energiamurroksen"),
    ("tekoäly", "tekoälyn"),
    ("puurakentaminen", "puurakentamisen"),
    ("arktinen testaus", "arktisen testauksen"),
    ("vesiosaaminen", "vesiosaamisen"),
    ("kyberturvallisuus", "kyberturvallisuuden"),
    ("teknologiateollisuus", "teknologiateollisuuden"),
    ("uusiutuva energia", "uusiutuvan energian"),
]
ORGS = [  # nominative, genitive, elative
    ("Oulun yliopisto", "Oulun yliopiston", "Oulun yliopistosta"),
    ("Lapin yliopisto", "Lapin yliopiston", "Lapin yliopistosta"),
    ("Itä-Suomen yliopisto", "Itä-Suomen yliopiston", "Itä-Suomen yliopistosta"),
    ("Kajaanin ammattikorkeakoulu", "Kajaanin ammattikorkeakoulun", "Kajaanin ammattikorkeakoulusta"),
    ("Savonia-ammattikorkeakoulu", "Savonia-ammattikorkeakoulun", "Savonia-ammattikorkeakoulusta"),
    (
        "Pohjois-Pohjanmaan ELY-keskus",
        "Pohjois-Pohjanmaan ELY-keskuksen",
        "Pohjois-Pohjanmaan ELY-keskuksesta",
    ),
    ("Luonnonvarakeskus", "Luonnonvarakeskuksen", "Luonnonvarakeskuksesta"),
    ("Business Finland", "Business Finlandin", "Business Finlandista"),
    ("Euroopan komissio", "Euroopan komission", "Euroopan komissiosta"),
    ("Kainuun liitto", "Kainuun liiton", "Kainuun liitosta"),
    ("Lapin liitto", "Lapin liiton", "Lapin liitosta"),
    ("Pohjois-Savon liitto", "Pohjois-Savon liiton", "Pohjois-Savon liitosta"),
]
FUNDERS = [
    "Euroopan aluekehitysrahasto",
    "Oikeudenmukaisen siirtymän rahasto",
    "Business Finland",
    "Euroopan sosiaalirahasto plus",
    "Interreg Aurora -ohjelma",
]
TITLES = [
    "projektipäällikkö",
    "kehittämispäällikkö",
    "erityisasiantuntija",
    "hankekoordinaattori",
    "aluekehitysjohtaja",
    "innovaatioasiantuntija",
    "elinkeinoasiantuntija",
    "tutkimuspäällikkö",
    "suunnittelija",
    "maakuntajohtaja",
]
FIRST_NAMES = (
    "Anna Maija Liisa Sanna Kaisa Heidi Minna Tiina Sari Päivi Eeva Riikka Laura Elina Hanna Katja Johanna "
    "Jukka Matti Timo Pekka Antti Mikko Juha Kari Ville Janne Olli Tuomas Petri Markku Jari Harri Esa Lauri"
).split()
LAST_NAMES = (
    "Virtanen Korhonen Mäkinen Nieminen Mäkelä Hämäläinen Laine Heikkinen Koskinen Järvinen Lehtonen Saarinen "
    "Salminen Heinonen Niemi Heikkilä Kinnunen Salonen Turunen Salo Laitinen Tuominen Rantanen Karjalainen "
    "Jokinen Mattila Savolainen Lahtinen Ahonen Meriläinen Pesonen Hiltunen Kemppainen Kärkkäinen Huttunen"
).split()
PREFIXES = (
    "Kasvu Voima Sampo Revontuli Tunturi Järvi Kide Kuura Routa Tuuli Kipinä Verso Lumo Taimi Helmi Aalto "
    "Kaarna Kivi Hanki Virta Salama Usva Valo Kajo Tähti Louhi Otava Ahti Vuoksi Kaamos"
).split()
SUFFIXES = (
    "silta väylä polku verkko virta ranta kaari lähde tie pilotti foorumi klusteri kiihdytin paja labra "
    "areena ketju tehdas satama portti"
).split()
MONTHS_LOC = (
    "tammikuussa helmikuussa maaliskuussa huhtikuussa toukokuussa kesäkuussa heinäkuussa elokuussa "
    "syyskuussa lokakuussa marraskuussa joulukuussa"
).split()
PHONE_PREFIXES = ("040", "044", "050", "045")
SUFFIX_GENITIVE = {
    "silta": "sillan",
    "väylä": "väylän",
    "polku": "polun",
    "verkko": "verkon",
    "virta": "virran",
    "ranta": "rannan",
    "kaari": "kaaren",
    "lähde": "lähteen",
    "tie": "tien",
    "pilotti": "pilotin",
    "foorumi": "foorumin",
    "klusteri": "klusterin",
    "kiihdytin": "kiihdyttimen",
    "paja": "pajan",
    "labra": "labran",
    "areena": "areenan",
    "ketju": "ketjun",
    "tehdas": "tehtaan",
    "satama": "sataman",
    "portti": "portin",
}

_N_PROJECTS = len(PREFIXES) * len(SUFFIXES) * len(REGIONS)
_PROJECT_STEP = 7907  # a prime not dividing _N_PROJECTS: i -> i*step mod N is a bijection
assert math.gcd(_PROJECT_STEP, _N_PROJECTS) == 1


@dataclass(frozen=True)
class GenDoc:
    index: int
    source: str  # relative path, "gen/doc-000123.md"
    title: str
    text: str  # the file's text: a Markdown heading, the lead paragraph, then filler paragraphs
    project: str  # "Kainuun Kasvusilta"
    project_gen: str  # "Kainuun Kasvusillan"
    person: str
    phone: str
    start_year: int
    funder: str
    budget: str


@dataclass(frozen=True)
class EvalItem:
    question: str
    source: str  # the source that must be retrieved...
    expect: str  # ...in a passage containing this text
    kind: str


def _project(i: int) -> tuple[Place, str, str]:
    """(region, name prefix, name suffix): unique for i < len(PREFIXES) * len(SUFFIXES) * len(REGIONS)."""
    combo = (i * _PROJECT_STEP) % _N_PROJECTS
    region = REGIONS[combo % len(REGIONS)]
    combo //= len(REGIONS)
    return region, PREFIXES[combo % len(PREFIXES)], SUFFIXES[(combo // len(PREFIXES)) % len(SUFFIXES)]


def _phone(i: int) -> str:
    n = (i * 7919 + 1_234_567) % 10_000_000  # a bijection on 0..10^7-1: unique for every document
    return f"{PHONE_PREFIXES[i % len(PHONE_PREFIXES)]} {n // 10_000:03d} {n % 10_000:04d}"


def _filler(rng: random.Random) -> str:
    region, region2 = rng.sample(REGIONS, 2)
    city = rng.choice(CITIES)
    t1, t2, t3 = rng.sample(THEMES, 3)
    org, org2 = rng.sample(ORGS, 2)
    y = rng.randint(2014, 2030)
    n = rng.randint(3, 40)
    templates = [
        lambda: (
            f"{region.gen} liitto valmistelee uutta älykkään erikoistumisen strategiaa vuosille {y}–{y + 4}."
        ),
        lambda: f"Strategian painopisteitä ovat {t1[0]}, {t2[0]} ja {t3[0]}.",
        lambda: (
            f"Pilotissa järjestettiin {n} työpajaa, joissa käsiteltiin {t1[1]} ennakointia ja osaamistarpeita."
        ),
        lambda: (
            f"{org[0]} koordinoi {region.gen} {t2[1]} verkostoa yhdessä yritysten ja korkeakoulujen kanssa."
        ),
        lambda: f"Vuonna {y} hankkeessa kokeiltiin uusia toimintamalleja {city.loc} ja {region2.loc}.",
        lambda: (
            f"Maakuntien yhteistyötä koordinoi vuorollaan puheenjohtajamaakunta, vuonna {y} {region.nom}."
        ),
        lambda: f"Hankkeen ohjausryhmään kuuluu edustajia {org[2]} ja {org2[2]}.",
        lambda: f"{city.loc} toteutetussa pilotissa kehitettiin {t3[1]} palveluja {n} yrityksen kanssa.",
        lambda: (
            f"Rahoitushaku avautuu {rng.choice(MONTHS_LOC)} {y}, ja hakemukset käsitellään {org[1]} kautta."
        ),
        lambda: f"Hankkeen tuloksena syntyi {n} uutta yhteistyöverkostoa ja {n // 2 + 1} kehittämishanketta.",
        lambda: (
            f"Arvioinnin mukaan {region.loc} on merkittäviä kasvumahdollisuuksia {t1[1]} alalla vuoteen {y} mennessä."
        ),
        lambda: f"Lisätietoa rahoitushauista julkaistaan {org[1]} viestintäkanavissa.",
        lambda: f"Työpajoihin osallistui yhteensä {n * 7} asiantuntijaa {n % 9 + 2} maakunnasta.",
        lambda: (
            f"{rng.choice(TITLES).capitalize()} {rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)} esitteli "
            f"{t2[1]} tiekarttaa {org[1]} seminaarissa {city.loc}."
        ),
        lambda: (
            f"Itä- ja Pohjois-Suomen maakunnat avaavat {t3[1]} ylimaakunnallisen rahoitushaun vuonna {y}."
        ),
    ]
    return rng.choice(templates)()


def generate_document(i: int, *, chunks: int = 1, seed: int = 0) -> GenDoc:
    """Document ``i`` of the generated corpus: deterministic for (i, seed). Its lead paragraph (one chunk:
    the project, its funding and a contact with a unique phone number) does not depend on ``chunks``, so
    the lead chunk of a long document embeds to the same vector as the one-chunk document ``i``."""
    lead = random.Random(f"elmo-bench:{seed}:{i}:lead")
    region, prefix, suffix = _project(i)
    project = f"{region.gen} {prefix}{suffix}"
    city = lead.choice(CITIES)
    theme = lead.choice(THEMES)
    start = lead.randint(2015, 2027)
    funder = lead.choice(FUNDERS)
    person = f"{lead.choice(FIRST_NAMES)} {lead.choice(LAST_NAMES)}"
    title_word = lead.choice(TITLES)
    phone = _phone(i)
    budget = f"{lead.randint(8, 95) * 25} 000"
    title = f"{project} -hanke"
    sentences = [
        f"{project} -hanke käynnistyi vuonna {start} {city.loc} ja vahvistaa {theme[1]} osaamista.",
        f"Hanketta rahoittaa {funder}, ja sen budjetti on {budget} euroa.",
        f"Hankkeen yhteyshenkilö on {title_word} {person}, puh. {phone}.",
    ]
    paragraphs = [" ".join(sentences)]
    fill = random.Random(f"elmo-bench:{seed}:{i}:fill")
    for _ in range(chunks - 1):
        paragraphs.append(" ".join(_filler(fill) for _ in range(3)))
    text = f"# {title}\n\n" + "\n\n".join(paragraphs) + "\n"
    return GenDoc(
        i,
        f"gen/doc-{i:06d}.md",
        title,
        text,
        project,
        f"{region.gen} {prefix}{SUFFIX_GENITIVE[suffix]}",
        person,
        phone,
        start,
        funder,
        budget,
    )


EVAL_KINDS = ("phone", "who", "when", "funder", "reverse", "inflected")


def eval_items(docs: Sequence[GenDoc]) -> list[EvalItem]:
    """Questions about the lead facts of these documents, in turn: the contact's phone, the contact person,
    the start year, the funder; the person behind a phone number (no project name: lexical, digits); and
    the budget asked with the project's name inflected and without "-hanke" (lemmas, compounds)."""
    out = []
    for j, d in enumerate(docs):
        kind = EVAL_KINDS[j % len(EVAL_KINDS)]  # by position: every kind, however the documents are spread
        if kind == "phone":
            q, expect = f"Mikä on {d.project} -hankkeen yhteyshenkilön puhelinnumero?", d.phone
        elif kind == "who":
            q, expect = f"Kuka on {d.project} -hankkeen yhteyshenkilö?", d.person
        elif kind == "when":
            q, expect = (
                f"Minä vuonna {d.project} -hanke käynnistyi?",
                f"-hanke käynnistyi vuonna {d.start_year}",
            )
        elif kind == "funder":
            q, expect = f"Kuka rahoittaa {d.project} -hanketta?", f"Hanketta rahoittaa {d.funder}"
        elif kind == "reverse":
            q, expect = f"Kenen puhelinnumero on {d.phone}?", d.person
        else:
            q, expect = f"Kuinka suuri on {d.project_gen} budjetti?", f"budjetti on {d.budget} euroa"
        out.append(EvalItem(q, d.source, expect, kind))
    return out


def spread(n_total: int, n: int) -> list[int]:
    """``n`` indices spread evenly over ``range(n_total)``."""
    n = max(0, min(n, n_total))
    return sorted({int(i * n_total / n) for i in range(n)}) if n else []


# Hand-written questions on knowledge/ (the default corpus), with the text the answer passage contains.
KNOWLEDGE_EVAL = [
    EvalItem(
        "Mitkä maakunnat valittiin mukaan ELMO-pilottiin?",
        "elinkeinot-murroksessa.txt",
        "Etelä-Savo, Kainuu",
        "list",
    ),
    EvalItem(
        "Minä vuonna ELMO-pilotti alkoi?", "elinkeinot-murroksessa.txt", "vuonna 2018 alkaneeseen", "when"
    ),
    EvalItem(
        "Mikä on Gitte Meriläisen puhelinnumero?", "elinkeinot-murroksessa.txt", "040 6854 053", "phone"
    ),
    EvalItem(
        "Mitä muita alueita pilottiin valittiin?", "elinkeinot-murroksessa.txt", "Hauts-de-France", "list"
    ),
    EvalItem(
        "Kuka järjesti pilotin työpajat?",
        "elinkeinot-murroksessa.txt",
        "OECD:n järjestämiin työpajoihin",
        "who",
    ),
    EvalItem(
        "Milloin strategian toimeenpano käynnistetään?",
        "elinkeinot-murroksessa.txt",
        "Vuonna 2019 käynnistetään strategian toimeenpano",
        "when",
    ),
    EvalItem(
        "Kuka toimii puheenjohtajamaakuntana vuonna 2024?",
        "ip-suomen-alykkaan-erikoistumisen-strategia-2024.txt",
        "puheenjohtajana toimii Keski-Pohjanmaa",
        "who",
    ),
    EvalItem(
        "Kuka on rahoittanut ELMO II -hanketta?",
        "ip-suomen-alykkaan-erikoistumisen-strategia-2024.txt",
        "Hanketta on rahoittanut Pohjois-Savon liitto",
        "who",
    ),
    EvalItem(
        "Mitkä ovat strategian yhteiset painopisteet?",
        "ip-suomen-alykkaan-erikoistumisen-strategia-2024.txt",
        "puhtaat ratkaisut",
        "list",
    ),
    EvalItem(
        "Kuka toteuttaa strategian toimeenpanoa ja seurantaa?",
        "ip-suomen-alykkaan-erikoistumisen-strategia-2024.txt",
        "asiantuntijaryhmä",
        "who",
    ),
    EvalItem(
        "Who funded the ELMO II project?",
        "ip-suomen-alykkaan-erikoistumisen-strategia-2024.txt",
        "Hanketta on rahoittanut Pohjois-Savon liitto",
        "who",
    ),
    EvalItem(
        "Mistä vuodesta alkaen uusi strategia on voimassa?",
        "ip-suomen-alykkaan-erikoistumisen-strategia-2024.txt",
        "voimassa vuoden 2024 alusta",
        "when",
    ),
]

# ------------------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------------------


def write_corpus(folder: Path, docs: Sequence[GenDoc]) -> None:
    for d in docs:
        path = folder / d.source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(d.text, encoding="utf-8")


def embed_texts_of(docs: Sequence[GenDoc], chunk_chars: int) -> list[str]:
    """The texts the refresh will embed for these documents (same loader path for .md, chunker, title)."""
    from assistant.knowledge.chunking import chunk
    from assistant.knowledge.ingest import embed_text
    from assistant.text.normalise import normalise

    out: list[str] = []
    for d in docs:
        norm = normalise(d.text)
        for c in chunk(
            norm, source=d.source, version=content_version(norm.text, chunk_chars), max_chars=chunk_chars
        ):
            out.append(embed_text(d.title, c.text))
    return out


def content_version(text: str, chunk_chars: int) -> str:
    return hashlib.sha256(f"{text}\0{chunk_chars}".encode()).hexdigest()[:20]


def synth_vectors(pool: np.ndarray, n: int, rng: np.random.Generator, noise: float = 0.25) -> np.ndarray:
    """``n`` unit vectors: a random mixture of two real pool vectors plus Gaussian noise, normalised."""
    a = pool[rng.integers(0, len(pool), n)]
    b = pool[rng.integers(0, len(pool), n)]
    w = rng.uniform(0.3, 0.7, (n, 1)).astype(np.float32)
    g = rng.standard_normal((n, pool.shape[1])).astype(np.float32) / math.sqrt(pool.shape[1])
    v = w * a + (1 - w) * b + noise * g
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

