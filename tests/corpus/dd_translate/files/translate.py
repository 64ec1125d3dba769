"""UI string translation with English fallback."""

TRANSLATIONS = {
    "de": {"Save": "Speichern", "Cancel": "Abbrechen"},
    "fr": {"Save": "Enregistrer"},
}


def translate(key, lang):
    """The translation of `key` into `lang`; the key itself when there is none."""
    table = TRANSLATIONS.get(lang, {})
    return table[key]
