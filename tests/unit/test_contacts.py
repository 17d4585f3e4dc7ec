"""Tests for assistant.text.contacts.extract_contacts."""

from __future__ import annotations

from pathlib import Path

from assistant.text.contacts import Contact, extract_contacts

CORPUS = Path("/work/shared/corpus")


def test_real_corpus_line() -> None:
    text = "Lisätietoa: Projektipäällikkö Gitte Meriläinen, puh. 040 6854 053"
    [c] = extract_contacts(text)
    assert c.name == "Gitte Meriläinen"
    assert c.title == "Projektipäällikkö"
    assert c.phone == "+358 40 6854053"
    assert c.phone_raw == "040 6854 053"
    assert c.email is None
    assert c.organisation is None  # not stated: never invented
    assert text[c.start : c.end] == "Projektipäällikkö Gitte Meriläinen, puh. 040 6854 053"
    d = c.to_dict()
    assert (
        d["name"] == "Gitte Meriläinen"
        and d["start"] == c.start
        and set(d)
        == {
            "name",
            "title",
            "organisation",
            "phone",
            "phone_raw",
            "email",
            "start",
            "end",
        }
    )


def test_real_corpus_file() -> None:
    text = (CORPUS / "elinkeinot-murroksessa.txt").read_text(encoding="utf-8")
    contacts = extract_contacts(text)
    assert [(c.name, c.phone) for c in contacts] == [("Gitte Meriläinen", "+358 40 6854053")]
    other = (CORPUS / "ip-suomen-alykkaan-erikoistumisen-strategia-2024.txt").read_text(encoding="utf-8")
    assert extract_contacts(other) == []


def test_lowercase_title_is_capitalised() -> None:
    [c] = extract_contacts("Lisätietoja antaa projektipäällikkö Gitte Meriläinen, puh. 040 6854 053.")
    assert c.title == "Projektipäällikkö"


def test_email_with_at_spelling_and_org_from_previous_sentence() -> None:
    text = (
        "Hanketta hallinnoi Lapin liitto. "
        "Yhteyshenkilö: kehittämispäällikkö Matti Virtanen, etunimi.sukunimi(at)lapinliitto.fi"
    )
    [c] = extract_contacts(text)
    assert c.name == "Matti Virtanen"
    assert c.title == "Kehittämispäällikkö"
    assert c.email == "etunimi.sukunimi@lapinliitto.fi"
    assert c.phone is None
    assert c.organisation == "Lapin liitto"


def test_email_spellings() -> None:
    for written in ["liisa.heikkinen (at) oulu.fi", "liisa.heikkinen[at]oulu.fi", "liisa.heikkinen@oulu.fi"]:
        [c] = extract_contacts(f"Asiantuntija Liisa Heikkinen, {written}.")
        assert c.email == "liisa.heikkinen@oulu.fi", written


def test_not_phones() -> None:
    text = (
        "Y-tunnus 1234567-8. Tilinumero IBAN FI21 1234 5600 0007 85. Päätös Dnro 123/2023. "
        "Strategia 2019-2023 ja 2022 – 2027. Koordinaattori Anna Korhonen."
    )
    [c] = extract_contacts(text)
    assert c.name == "Anna Korhonen"
    assert c.title == "Koordinaattori"
    assert c.phone is None and c.phone_raw is None


def test_two_contacts_in_one_paragraph() -> None:
    text = (
        "Lisätietoja antavat projektipäällikkö Gitte Meriläinen, Pohjois-Pohjanmaan liitto, "
        "puh. 040 6854 053, ja erityisasiantuntija Matti Virtanen, puh. 050 123 4567. "
        "Voit myös soittaa Liisa Heikkiselle, p. 044-765 4321."
    )
    contacts = extract_contacts(text)
    by_name = {c.name: c for c in contacts}
    assert list(by_name) == ["Gitte Meriläinen", "Matti Virtanen", "Liisa Heikkinen"]
    assert by_name["Gitte Meriläinen"].phone == "+358 40 6854053"
    assert by_name["Gitte Meriläinen"].organisation == "Pohjois-Pohjanmaan liitto"
    assert by_name["Matti Virtanen"].phone == "+358 50 1234567"
    assert by_name["Matti Virtanen"].title == "Erityisasiantuntija"
    assert by_name["Matti Virtanen"].organisation is None  # that liitto belongs to the other contact
    assert by_name["Liisa Heikkinen"].phone == "+358 44 7654321"
    assert by_name["Liisa Heikkinen"].title is None


def test_english_contact() -> None:
    text = "Contact: Project Manager John Smith, tel. +358 50 123 4567, john.smith@example.fi"
    [c] = extract_contacts(text)
    assert c.name == "John Smith"
    assert c.title == "Project Manager"
    assert c.phone == "+358 50 1234567"
    assert c.phone_raw == "+358 50 123 4567"
    assert c.email == "john.smith@example.fi"
    assert text[c.start : c.end].startswith("Project Manager John Smith")
    assert text[c.start : c.end].endswith("john.smith@example.fi")


def test_name_without_title_needs_phone_or_email() -> None:
    [c] = extract_contacts(
        "Lisätietoja: Matti Virtanen, Oulun yliopisto, p. 044-123 4567, matti.virtanen@oulu.fi"
    )
    assert (c.name, c.title, c.organisation) == ("Matti Virtanen", None, "Oulun yliopisto")
    assert c.phone == "+358 44 1234567" and c.email == "matti.virtanen@oulu.fi"
    # a name alone, or a phone alone, is not a contact
    assert extract_contacts("Matti Virtanen kävi Oulussa.") == []
    assert extract_contacts("Soita numeroon 040 123 4567.") == []


def test_places_are_not_names() -> None:
    text = "Puheenjohtaja Keski-Pohjanmaa vastaa koordinoinnista. Johtaja Lapin liitosta, puh. 040 123 4567."
    assert extract_contacts(text) == []


def test_surnames_that_are_also_words_or_places() -> None:
    """Many Finnish surnames are common nouns or places (Lahti, Salo, Koski) and some first names are places
    (Mari): next to a first or last name Voikko knows, a capitalised nominative word is the rest of the name."""
    [c] = extract_contacts(
        "Lisätietoja: projektipäällikkö Petri Lahti, Centria-ammattikorkeakoulu, puh. 050 441 9087, petri.lahti@centria.fi"
    )
    assert (c.name, c.title, c.organisation, c.email) == (
        "Petri Lahti", "Projektipäällikkö", "Centria-ammattikorkeakoulu", "petri.lahti@centria.fi"
    )
    assert [c.name for c in extract_contacts("Yhteyshenkilö: Matti Salo, puh. 040 123 4567.")] == ["Matti Salo"]
    assert [c.name for c in extract_contacts("Lisätietoja: asiantuntija Mari Virtanen, puh. 040 123 4567")] == ["Mari Virtanen"]
    assert [c.name for c in extract_contacts("Lisätietoja: Anna Koski, p. 040 123 4567")] == ["Anna Koski"]
    # an inflected place after a first name is not a surname ("Anna Oulusta" = Anna from Oulu)
    assert [c.name for c in extract_contacts("Johtaja Anna Oulusta, puh. 040 123 4567.")] == ["Anna"]


def test_a_company_is_named_by_the_words_before_its_tag_and_a_mention_yields_to_the_reachable_record() -> None:
    [c] = extract_contacts("Lisätietoja: Kainuun Etu Oy, toimitusjohtaja Pekka Kauppinen, puh. 044 551 2345")
    assert c.organisation == "Kainuun Etu Oy"  # not "Oy" (common nouns name companies too)
    assert extract_contacts("Yhteyshenkilö: Anna Korhonen, Oy, puh. 040 123 4567")[0].organisation is None
    text = (
        "Osatoteuttajina ovat Kokkolan yliopistokeskus Chydenius ja Kokkolanseudun Kehitys Oy.\n\n"
        "– Vety on mahdollisuus, sanoo hankkeen projektipäällikkö Petri Lahti.\n\n"
        "Lisätietoja: projektipäällikkö Petri Lahti, Centria-ammattikorkeakoulu, puh. 050 441 9087"
    )
    # the quote's organisation is only guessed from the sentence before; one record, the one that reaches him
    [one] = extract_contacts(text)
    assert (one.name, one.organisation, one.phone_raw) == ("Petri Lahti", "Centria-ammattikorkeakoulu", "050 441 9087")


def test_returns_contact_objects() -> None:
    out = extract_contacts("Johtaja Anna Korhonen, Kainuun liitto.")
    assert all(isinstance(c, Contact) for c in out)
    assert out[0].organisation == "Kainuun liitto"
