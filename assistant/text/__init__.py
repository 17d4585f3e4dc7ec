"""Pure language functions: normalisation, sentences, language, Finnish lemmas, contacts, glossary."""
